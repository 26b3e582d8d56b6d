"""The DPO's recommendations, the controller's answers, and the conditions they become.

A recommendation is either free text or one of four machine-checkable forms, written
``KIND:ARGS``::

    limit_columns:COL,COL         only these columns travel
    max_retention_days:N          the recipient keeps the data N days at most
    pseudonymise:COL,COL          these columns travel as keyed hashes
    aggregate_min_count:N         no count cell below N

A recommendation cannot change kind by a slip of the keyboard: a new one that starts with a
single word and a colon, the word not one of the four kinds (``max_retention:180``,
``Attention: …``), is refused with the closest kind; free text that must start so is written
``free:…`` (stored without the prefix) or in quotes. Only new input is read so: the opinions
already recorded keep the kinds and texts they were recorded with.

Approving answers every recommendation: adopted ones become the conditions of the exchange,
set-aside ones carry written reasons (DESIGN §4).
"""

from __future__ import annotations

import difflib
import re
from enum import StrEnum

from pydantic import Field

from ..errors import InvalidInput
from ..i18n import N_, _
from .types import Frozen, Ref, Text

Column = Ref


class RecommendationKind(StrEnum):
    FREE = "free"
    LIMIT_COLUMNS = "limit_columns"
    MAX_RETENTION_DAYS = "max_retention_days"
    PSEUDONYMISE = "pseudonymise"
    AGGREGATE_MIN_COUNT = "aggregate_min_count"


_COLUMN_KINDS = {RecommendationKind.LIMIT_COLUMNS, RecommendationKind.PSEUDONYMISE}
_NUMBER_KINDS = {RecommendationKind.MAX_RETENTION_DAYS, RecommendationKind.AGGREGATE_MIN_COUNT}
_FORM = re.compile(r"^\s*([a-z_]+)\s*:\s*(.*?)\s*$", re.DOTALL)
_WORD_COLON = re.compile(r"^\s*([^\W\d]\w*)\s*:")  # one word (no space), then a colon
_FREE = re.compile(r"^\s*free\s*:(.*)$", re.DOTALL | re.IGNORECASE)
FREE_HINT = N_(
    'free text that starts with a word and a colon is written "free:…" '
    "(the prefix is not kept) or in quotes"
)


# the checkable kinds a delivery applies to its file, each recorded by its label
APPLIED_KINDS = (
    RecommendationKind.LIMIT_COLUMNS,
    RecommendationKind.MAX_RETENTION_DAYS,
    RecommendationKind.PSEUDONYMISE,
    RecommendationKind.AGGREGATE_MIN_COUNT,
)


class Recommendation(Frozen):
    """One numbered recommendation of the DPO (R1, R2, …)."""

    number: int = Field(ge=1)
    text: Text
    kind: RecommendationKind = RecommendationKind.FREE
    columns: tuple[Column, ...] = ()
    value: int | None = None

    @property
    def label(self) -> str:
        return f"R{self.number}"


class Answer(Frozen):
    """The controller's answer to one recommendation."""

    number: int = Field(ge=1)
    adopted: bool
    reason: Text | None = None


class Condition(Frozen):
    """An adopted recommendation: a condition the exchange must meet."""

    source: int = Field(ge=1)
    kind: RecommendationKind
    text: Text
    columns: tuple[Column, ...] = ()
    value: int | None = None

    @property
    def label(self) -> str:
        return f"R{self.source}"


def parse_recommendation(number: int, text: str) -> Recommendation:
    """Read a new recommendation: ``KIND:ARGS`` for the four checkable kinds, ``free:TEXT`` or
    any text not starting with one word and a colon for free text.

    Any other ``word:`` start is refused, naming the closest kind: a typo in a kind must not
    turn a condition the delivery checks into free text nobody checks.
    """
    text = text.strip()
    free = _FREE.match(text)
    if free is not None:
        rest = free.group(1).strip()
        if not rest:
            raise InvalidInput(
                _("{label} is empty: write the text after free:").format(label=f"R{number}")
            )
        return Recommendation(number=number, text=rest)
    match = _FORM.match(text)
    kinds = [kind.value for kind in APPLIED_KINDS]
    if match is None or match.group(1) not in kinds:
        word = _WORD_COLON.match(text)
        if word is not None:
            raise _not_a_kind(number, word.group(1), kinds)
        return Recommendation(number=number, text=text)
    kind = RecommendationKind(match.group(1))
    args = match.group(2)
    label = f"R{number} ({kind.value})"
    if kind in _COLUMN_KINDS:
        columns = tuple(c.strip() for c in args.split(",") if c.strip())
        if not columns or any(not re.fullmatch(r"[a-z][a-z0-9_]*", c) for c in columns):
            raise InvalidInput(
                _("{label} needs column names: {kind}:COL,COL").format(label=label, kind=kind.value)
            )
        if len(set(columns)) != len(columns):
            raise InvalidInput(_("{label} lists a column twice").format(label=label))
        return Recommendation(number=number, text=text, kind=kind, columns=columns)
    if not args.isdigit() or int(args) < 1:
        raise InvalidInput(
            _("{label} needs a whole number of at least 1: {kind}:N").format(
                label=label, kind=kind.value
            )
        )
    return Recommendation(number=number, text=text, kind=kind, value=int(args))


def _not_a_kind(number: int, word: str, kinds: list[str]) -> InvalidInput:
    close = difflib.get_close_matches(word.lower(), kinds, n=1, cutoff=0.6)
    if close:
        message = _('{label}: "{word}:" is not a checkable kind; did you mean "{kind}:"?').format(
            label=f"R{number}", word=word, kind=close[0]
        )
    else:
        message = _('{label}: "{word}:" is not a checkable kind ({kinds})').format(
            label=f"R{number}", word=word, kinds=", ".join(kinds)
        )
    return InvalidInput(message, hint=_(FREE_HINT))


def parse_answers(
    recommendations: tuple[Recommendation, ...],
    adopt: list[str],
    set_aside: list[str],
) -> tuple[Answer, ...]:
    """Match ``--adopt R1`` and ``--set-aside R2=reason`` to the recommendations.

    Every recommendation must be answered exactly once.
    """
    by_label = {rec.label: rec for rec in recommendations}
    answers: dict[int, Answer] = {}

    def find(label: str) -> Recommendation:
        key = label.strip().upper()
        if key not in by_label:
            if by_label:
                message = _("no recommendation {label!r} (the opinion has: {known})")
            else:
                message = _("no recommendation {label!r} (the opinion has: none)")
            raise InvalidInput(message.format(label=label.strip(), known=", ".join(by_label)))
        if by_label[key].number in answers:
            raise InvalidInput(_("{label} is answered twice").format(label=key))
        return by_label[key]

    for label in adopt:
        rec = find(label)
        answers[rec.number] = Answer(number=rec.number, adopted=True)
    for item in set_aside:
        label, _equals, reason = item.partition("=")
        rec = find(label)
        if not reason.strip():
            raise InvalidInput(
                _('setting {label} aside needs written reasons: {label}="…"').format(
                    label=rec.label
                )
            )
        answers[rec.number] = Answer(number=rec.number, adopted=False, reason=reason.strip())
    return tuple(answers[n] for n in sorted(answers))


def unanswered(
    recommendations: tuple[Recommendation, ...], answers: tuple[Answer, ...]
) -> list[str]:
    answered = {a.number for a in answers}
    return [rec.label for rec in recommendations if rec.number not in answered]


def conditions_of(
    recommendations: tuple[Recommendation, ...], answers: tuple[Answer, ...]
) -> tuple[Condition, ...]:
    adopted = {a.number for a in answers if a.adopted}
    return tuple(
        Condition(source=r.number, kind=r.kind, text=r.text, columns=r.columns, value=r.value)
        for r in recommendations
        if r.number in adopted
    )
