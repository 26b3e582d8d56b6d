"""What a person reads for an enumerated value: its code in English, its French label in French.

Statuses, verdicts, frequencies and the other enumerations keep their codes in ``--json``, in
files and in the audit log; only human output shows :func:`label`, and the documents that are
French by design (the register's exports, the audit bundle's documents, which follow the CNIL's
French model) show :func:`french` whatever the locale. The catalog holds one entry per code,
under the kind as gettext context (``tools/catalog.py`` adds every member of the enums in
:data:`KINDS`), so a code new to an enum lacks French until it is translated, and the catalog
check says so.

Input goes the other way: :func:`code_of` takes a code or its French spelling (the label, or a
short form in :data:`_SPELLINGS`, accents and case ignored) and gives the code.
"""

from __future__ import annotations

import unicodedata

from .i18n import catalog, pgettext

# kind (gettext context) -> the module and enum whose codes it labels
KINDS = {
    "status": ("ctg_exchange.domain.models", "Status"),
    "verdict": ("ctg_exchange.domain.models", "Verdict"),
    "frequency": ("ctg_exchange.domain.models", "Frequency"),
    "triage": ("ctg_exchange.domain.models", "Triage"),
    "severity": ("ctg_exchange.domain.models", "Severity"),
    "review": ("ctg_exchange.domain.models", "ReviewOutcome"),
    "sensitive": ("ctg_exchange.register.model", "SensitiveKind"),
    "role": ("ctg_exchange.domain.models", "Role"),
    "action": ("ctg_exchange.domain.actions", "Action"),
    "decision": ("ctg_exchange.domain.models", "AutomatedDecision"),
    "termination": ("ctg_exchange.policy.termination", "TerminationCase"),
}

# short French spellings typed on a command line, beside the labels themselves
_SPELLINGS = {
    "verdict": {
        "favorable": "favourable",
        "favorable_avec_recommandations": "favourable_with_recommendations",
        "defavorable": "unfavourable",
        "hors_champ": "out_of_scope",
    },
    "review": {"poursuivre": "continue", "clore": "close"},
    "termination": {
        "manquement": "breach",
        "manquement_a_la_loi": "breach_of_law",
        "modification_sans_avenant": "modification_without_avenant",
        "denonciation": "denunciation",
    },
}


def label(kind: str, code: str) -> str:
    """The label of ``code`` (a member of the ``kind`` enum) in the current language."""
    assert kind in KINDS, kind
    return pgettext(kind, code)


def french(kind: str, code: str) -> str:
    """The French label of ``code``, whatever the locale (for documents French by design)."""
    assert kind in KINDS, kind
    return catalog("fr").pgettext(kind, code)


def _plain(text: str) -> str:
    """``text`` as typed on a command line: no accents, lower case, words joined by ``_``."""
    decomposed = unicodedata.normalize("NFKD", text.strip().lower())
    letters = "".join(c for c in decomposed if not unicodedata.combining(c))
    words = "".join(c if c.isalnum() else " " for c in letters).split()
    return "_".join(words)


def spellings(kind: str, codes: list[str]) -> dict[str, str]:
    """Every accepted spelling of ``codes`` (plain form) -> its code: the code itself, its
    French label, and the short French forms."""
    out = {_plain(french(kind, code)): code for code in codes}
    out.update({short: code for short, code in _SPELLINGS.get(kind, {}).items() if code in codes})
    out.update({_plain(code): code for code in codes})
    return out


def french_inputs(kind: str, codes: list[str]) -> list[str]:
    """The French words accepted for ``codes``, as an error lists them: the short forms if
    ``kind`` has some, else the labels in their typed form."""
    short = [s for s, code in _SPELLINGS.get(kind, {}).items() if code in codes]
    return short or [_plain(french(kind, code)) for code in codes]


def code_of(kind: str, text: str, codes: list[str]) -> str | None:
    """The code ``text`` stands for, among ``codes``: the code, or a French spelling."""
    return spellings(kind, codes).get(_plain(text))
