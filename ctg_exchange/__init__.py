"""ctg-exchange: the GDPR personal-data exchange procedure of a Convention territoriale globale.

The command line lives in :mod:`ctg_exchange.cli`; the use cases in :mod:`ctg_exchange.services`.
"""

__version__ = "0.1.0"
