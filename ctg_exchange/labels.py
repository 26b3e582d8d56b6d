"""What a person reads for an enumerated value: its code in English, its French label in French.

Statuses, verdicts and frequencies keep their codes in ``--json``, in files and in the audit
log; only human output shows :func:`label`. The catalog holds one entry per code, under the
kind as gettext context (``tools/catalog.py`` adds every member of the enums in :data:`KINDS`),
so a code new to an enum lacks French until it is translated, and the catalog check says so.
"""

from __future__ import annotations

from .i18n import pgettext

# kind (gettext context) -> the enum of ctg_exchange.domain.models whose codes it labels
KINDS = {"status": "Status", "verdict": "Verdict", "frequency": "Frequency"}


def label(kind: str, code: str) -> str:
    """The label of ``code`` (a member of the ``kind`` enum) in the current language."""
    assert kind in KINDS, kind
    return pgettext(kind, code)
