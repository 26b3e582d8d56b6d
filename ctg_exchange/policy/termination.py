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
the last month with the same number, or the last day of that month when it has none (Code de
procédure civile, art. 641); a period that would expire on a Saturday, a Sunday or a public
holiday is extended to the next working day (art. 642): :func:`notice_expires` applies both,
with France's public holidays (Code du travail L3133-1, Easter Monday, Ascension and Whit Monday
computed from Easter; the two extra days of Alsace-Moselle do not apply in the Hauts-de-Seine).
The convention is no longer in force from the day after the notice expires.

A termination is dated within the period it ends (rules 3): it takes effect no earlier than
the day it is recorded (it is not retroactive) and no later than the convention's last day (one
that would take effect after the end ends nothing: the convention ends by itself, Article 10);
its notice is dated within the period in force, not in the future.

Each case of Article 12 is a right of its own (« l'une ou l'autre partie », « par la Caf »): a
dénonciation still running its six months does not take away the Caf's right to terminate at
once for a modification without avenant, nor either party's right to terminate a month after
a formal notice for a breach. So a later termination whose effect comes earlier than the one
pending takes its place (the convention ends at the earliest date one of them takes effect;
the first stays recorded); one with the same or a later effect adds nothing and is refused, and
once a termination has taken effect there is nothing left to terminate.

These rules hold from rules 3; a termination recorded under earlier rules named no case.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from ..i18n import _, date_text
from .convention import ConventionState, ConventionStatus, Refusal

TERMINATION_CASE = "TERMINATION_CASE"  # a case of Article 12, with the notice it needs
TERMINATION_CAF_ONLY = "TERMINATION_CAF_ONLY"  # a case Article 12 reserves to the Caf
TERMINATION_NOTICE = "TERMINATION_NOTICE"  # effective before the notice period has run
TERMINATION_NOT_ALLOWED = "TERMINATION_NOT_ALLOWED"  # ended already, or terminated already
TERMINATION_DATE = "TERMINATION_DATE"  # backdated, after the end, or a notice outside the period


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


def easter(year: int) -> date:
    """Easter Sunday of ``year`` in the Gregorian calendar (the anonymous algorithm, as Meeus
    gives it)."""
    a, (b, c) = year % 19, divmod(year, 100)
    d, e = divmod(b, 4)
    g = (b - (b + 8) // 25 + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    weekday = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * weekday) // 451
    month, day = divmod(h + weekday - 7 * m + 114, 31)
    return date(year, month, day + 1)


def public_holidays(year: int) -> frozenset[date]:
    """France's public holidays (Code du travail L3133-1) in ``year``."""
    sunday = easter(year)
    fixed = ((1, 1), (5, 1), (5, 8), (7, 14), (8, 15), (11, 1), (11, 11), (12, 25))
    movable = (sunday + timedelta(days=1), sunday + timedelta(days=39), sunday + timedelta(days=50))
    return frozenset({date(year, m, d) for m, d in fixed} | set(movable))


def working_day(day: date) -> bool:
    return day.weekday() < 5 and day not in public_holidays(day.year)


def notice_expires(notice: date, months: int) -> date:
    """The last day of a notice of ``months`` months sent on ``notice``: the day with the same
    number ``months`` months later (CPC art. 641), extended to the next working day when it is a
    Saturday, a Sunday or a public holiday (CPC art. 642)."""
    day = add_months(notice, months)
    while not working_day(day):
        day += timedelta(days=1)
    return day


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
    current = state.termination
    if current is not None and (today >= current.effective or effective >= current.effective):
        message = (
            _("the convention is already terminated with effect from {date} (Article 12)")
            if today >= current.effective
            else _(
                "the convention is already terminated with effect from {date} (Article 12): a "
                "later termination takes its place only with an earlier effect"
            )
        )
        return Refusal(TERMINATION_NOT_ALLOWED, message.format(date=date_text(current.effective)))
    if state.status(today) is ConventionStatus.EXPIRED:
        return Refusal(
            TERMINATION_NOT_ALLOWED,
            _(
                "the convention ended on {date} (Article 10): there is nothing left to terminate"
            ).format(date=date_text(state.end)),
        )
    try:
        known = TerminationCase(case or "")
    except ValueError:
        cases = ", ".join(c.value for c in TerminationCase)
        return Refusal(
            TERMINATION_CASE, _("a termination names its case ({cases})").format(cases=cases)
        )
    rule = ARTICLE_12[known]
    if rule.caf_only and party_kind != "caf":
        return Refusal(
            TERMINATION_CAF_ONLY,
            _("only the Caf terminates the convention for {case} (Article 12: {quote})").format(
                case=known.value, quote=rule.quote
            ),
        )
    if rule.months is None:
        if notice is not None:
            return Refusal(
                TERMINATION_CASE,
                _(
                    "{case} needs no formal notice (Article 12: {quote}): give no --notice-date"
                ).format(case=known.value, quote=rule.quote),
            )
        return _dated(state, effective, today)
    if notice is None:
        return Refusal(
            TERMINATION_CASE,
            _("{case} runs from a notice: --notice-date is required (Article 12: {quote})").format(
                case=known.value, quote=rule.quote
            ),
        )
    if notice > today:
        return Refusal(
            TERMINATION_NOTICE,
            _(
                "the notice is dated {notice}, after today ({today}): the period runs from the "
                "day it was sent"
            ).format(notice=date_text(notice), today=date_text(today)),
        )
    if notice < state.start:
        return Refusal(
            TERMINATION_DATE,
            _(
                "the notice is dated {notice}, before the convention in force took effect on "
                "{start}: a notice is given under the convention it ends"
            ).format(notice=date_text(notice), start=date_text(state.start)),
        )
    dated = _dated(state, effective, today)
    if dated is not None:
        return dated
    expires = notice_expires(notice, rule.months)
    if effective <= expires:
        extended = add_months(notice, rule.months)
        message = (
            _(
                "the notice of {notice} runs until {expires}: the termination takes effect on "
                "{first} at the earliest, not {effective} (Article 12: {quote})"
            )
            if extended == expires
            else _(
                "the notice of {notice} runs until {expires} ({extended} is not a working day: "
                "Code de procédure civile art. 642): the termination takes effect on {first} at "
                "the earliest, not {effective} (Article 12: {quote})"
            )
        )
        return Refusal(
            TERMINATION_NOTICE,
            message.format(
                notice=date_text(notice),
                expires=date_text(expires),
                extended=date_text(extended),
                first=date_text(expires + timedelta(days=1)),
                effective=date_text(effective),
                quote=rule.quote,
            ),
        )
    return None


def _dated(state: ConventionState, effective: date, today: date) -> Refusal | None:
    """Why a termination cannot take effect on ``effective``, recorded on ``today``: not
    before the day it is recorded, nor before the period began, nor after its end."""
    if effective < today:
        return Refusal(
            TERMINATION_DATE,
            _(
                "--on {effective} is before today ({today}): a termination takes effect no "
                "earlier than the day it is recorded, it is not retroactive"
            ).format(effective=effective, today=date_text(today)),
        )
    if effective < state.start:
        return Refusal(
            TERMINATION_DATE,
            _("--on {effective} is before the convention in force takes effect, on {start}").format(
                effective=effective, start=date_text(state.start)
            ),
        )
    if effective > state.end:
        return Refusal(
            TERMINATION_DATE,
            _(
                "--on {effective} is after the convention's end, {end} (Article 10): a "
                "termination taking effect after the end ends nothing; it takes effect by {end} "
                "at the latest"
            ).format(effective=effective, end=date_text(state.end)),
        )
    return None
