"""The end of the convention before its term: the cases of Article 12 and the dates each allows.

Article 12 of the convention names who may terminate it, for what, and from when:

- *résiliation de plein droit avec mise en demeure*: for a breach of the convention's
  obligations, either party, « à l'expiration d'un délai d'un mois suivant l'envoi d'une lettre
  recommandée avec avis de réception valant mise en demeure […] et restée infructueuse »
  (``breach``); for a breach of laws and regulations, the Caf alone, with the same month after
  its formal notice (``breach_of_law``);
- *résiliation de plein droit sans mise en demeure*: the Caf alone, at once, « en cas de
  modification d'un des termes de la présente convention sans la signature d'un avenant »
  (``modification_without_avenant``);
- *dénonciation*: either party, « moyennant un délai de prévenance de 6 mois »
  (``denunciation``).

A period of months runs from the day the notice was sent and expires at the end of the day of
the last month with the same number (the last day of that month when it has none: Code de
procédure civile, articles 641 and 642); the convention is no longer in force from the next day.

These rules hold from rules 3; a termination recorded under earlier rules named no case.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from .convention import ConventionState, ConventionStatus, Refusal

TERMINATION_CASE = "TERMINATION_CASE"  # a case of Article 12, with the notice it needs
TERMINATION_CAF_ONLY = "TERMINATION_CAF_ONLY"  # a case Article 12 reserves to the Caf
TERMINATION_NOTICE = "TERMINATION_NOTICE"  # effective before the notice period has run
TERMINATION_NOT_ALLOWED = "TERMINATION_NOT_ALLOWED"  # ended already, or terminated already


class TerminationCase(StrEnum):
    BREACH = "breach"
    BREACH_OF_LAW = "breach_of_law"
    MODIFICATION_WITHOUT_AVENANT = "modification_without_avenant"
    DENUNCIATION = "denunciation"


@dataclass(frozen=True)
class CaseRule:
    """Who may terminate in a case, after how many months' notice (None: without notice), and
    the words of Article 12 that say so."""

    caf_only: bool
    months: int | None
    quote: str


ARTICLE_12: dict[TerminationCase, CaseRule] = {
    TerminationCase.BREACH: CaseRule(
        False,
        1,
        "« résiliée de plein droit par l'une ou l'autre partie, à l'expiration d'un délai d'un "
        "mois suivant l'envoi d'une lettre recommandée avec avis de réception valant mise en "
        "demeure »",
    ),
    TerminationCase.BREACH_OF_LAW: CaseRule(
        True,
        1,
        "« les infractions […] aux lois et règlements en vigueur entraîneront la résiliation de "
        "plein droit de la présente convention par la Caf, à l'expiration d'un délai d'un mois "
        "suivant l'envoi d'une lettre recommandée avec avis de réception valant mise en "
        "demeure »",
    ),
    TerminationCase.MODIFICATION_WITHOUT_AVENANT: CaseRule(
        True,
        None,
        "« résiliée de plein droit par la Caf, sans qu'il soit besoin de procéder à une mise en "
        "demeure […], en cas de modification d'un des termes de la présente convention sans la "
        "signature d'un avenant »",
    ),
    TerminationCase.DENUNCIATION: CaseRule(
        False,
        6,
        "« dénoncée par l'une ou l'autre des parties moyennant un délai de prévenance de 6 mois »",
    ),
}


def add_months(day: date, months: int) -> date:
    """The day ``months`` months after ``day``: same number, or the month's last day."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def why_not_terminated(
    state: ConventionState,
    case: str | None,
    party_kind: str | None,
    notice: date | None,
    effective: date,
    today: date,
) -> Refusal | None:
    """Why a termination of ``case`` by a party of ``party_kind``, after a notice sent on
    ``notice``, with effect from ``effective``, is not allowed on ``today`` (rules 3)."""
    if state.rules < 3:
        return None
    if state.termination is not None:
        return Refusal(
            TERMINATION_NOT_ALLOWED,
            f"the convention is already terminated with effect "
            f"from {state.termination.effective} (Article 12)",
        )
    if state.status(today) is ConventionStatus.EXPIRED:
        return Refusal(
            TERMINATION_NOT_ALLOWED,
            f"the convention ended on {state.end} (Article 10): there is nothing left to terminate",
        )
    try:
        known = TerminationCase(case or "")
    except ValueError:
        cases = ", ".join(c.value for c in TerminationCase)
        return Refusal(TERMINATION_CASE, f"a termination names its case ({cases})")
    rule = ARTICLE_12[known]
    if rule.caf_only and party_kind != "caf":
        return Refusal(
            TERMINATION_CAF_ONLY,
            f"only the Caf terminates the convention for {known.value} (Article 12: {rule.quote})",
        )
    if rule.months is None:
        if notice is not None:
            return Refusal(
                TERMINATION_CASE,
                f"{known.value} needs no formal notice (Article 12: "
                f"{rule.quote}): give no --notice-date",
            )
        return None
    if notice is None:
        return Refusal(
            TERMINATION_CASE,
            f"{known.value} runs from a notice: --notice-date is required "
            f"(Article 12: {rule.quote})",
        )
    if notice > today:
        return Refusal(
            TERMINATION_NOTICE,
            f"the notice is dated {notice}, after today ({today}): the "
            "period runs from the day it was sent",
        )
    expires = add_months(notice, rule.months)
    if effective <= expires:
        return Refusal(
            TERMINATION_NOTICE,
            f"the notice of {notice} runs until {expires}: the "
            f"termination takes effect on {expires + timedelta(days=1)} at the earliest, not "
            f"{effective} (Article 12: {rule.quote})",
        )
    return None
