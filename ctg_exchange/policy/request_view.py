"""A request as screening reads it: its catalogue entries looked up once, and what they say.

Shared by the rules of :mod:`.screening` and those on what the requester declares
(:mod:`.declarations`).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..domain.models import AutomatedDecision, RequestContent
from .model import Category, Policy, PurposeKind, Sensitivity

SENSITIVE = frozenset(
    {
        Sensitivity.PERCEIVED_SENSITIVE,
        Sensitivity.SPECIAL_ART9,
        Sensitivity.OFFENCE_ART10,
        Sensitivity.RESTRICTED_IDENTIFIER,
    }
)


@dataclass(frozen=True)
class ScreenedRequest:
    """The request with its catalogue entries looked up once."""

    policy: Policy
    content: RequestContent
    categories: tuple[Category, ...]
    convention_problem: str | None

    @property
    def personal(self) -> tuple[Category, ...]:
        return tuple(c for c in self.categories if c.sensitivity is not Sensitivity.NOT_PERSONAL)

    @property
    def allowed(self) -> tuple[Category, ...]:
        return tuple(c for c in self.categories if c.exchange == "allowed")

    @property
    def exchangeable(self) -> tuple[Category, ...]:
        """Personal data that may be exchanged at all: what warnings and the DPIA weigh."""
        return tuple(c for c in self.personal if c.exchange == "allowed")

    def of(self, *sensitivities: Sensitivity) -> tuple[Category, ...]:
        return tuple(c for c in self.allowed if c.sensitivity in sensitivities)

    @property
    def counted(self) -> tuple[Category, ...]:
        """The categories anonymous counts count (``aggregates_of``)."""
        found = map(self.policy.category, self.content.aggregates_of)
        return tuple(c for c in found if c is not None)

    @property
    def asked(self) -> tuple[Category, ...]:
        """What the request reaches: its categories, and what its counts count (counts of
        data the holder does not hold, or never discloses, are refused as they are)."""
        return tuple({c.id: c for c in (*self.categories, *self.counted)}.values())

    @property
    def requester(self) -> str:
        """The requesting party: the convention's other party than the holder asked."""
        return self.policy.other_party(self.content.to).id

    @property
    def kind(self) -> PurposeKind | None:
        return self.policy.purpose_kind(self.content.purpose_kind)

    @property
    def automated(self) -> AutomatedDecision:
        """How the decisions the data feed are taken: as declared, or, for a purpose whose
        decisions are computed (a tariff from a scale), solely automated unless declared
        assisted."""
        declared = self.content.automated_decision
        if declared is AutomatedDecision.NONE and self.kind and self.kind.algorithmic_decisions:
            return AutomatedDecision.SOLELY_AUTOMATED
        return declared


def _ids(categories: tuple[Category, ...]) -> str:
    return ", ".join(c.id for c in categories)


def ids(categories: tuple[Category, ...]) -> str:
    return ", ".join(c.id for c in categories)


def identifiers(r: ScreenedRequest) -> tuple[Category, ...]:
    """The direct identifiers asked for: with them the requester can match its own files."""
    return tuple(c for c in r.exchangeable if c.id in r.policy.screening.matching_categories)
