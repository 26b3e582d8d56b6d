"""Use cases: initialise, manage members, file / study / opine / decide, audit.

Services take models and return models; they never print. A state change goes through
:func:`~ctg_exchange.services.session.perform`, which commits the change and its signed audit
event in one transaction.
"""
