"""The states and roles a stored record names, as plain enumerations (no pydantic): what the
read commands check a stored row against, and the models (:mod:`.models`) type their fields by."""

from __future__ import annotations

from enum import StrEnum
from typing import Protocol


class Role(StrEnum):
    STAFF = "staff"
    CONTROLLER = "controller"
    DPO = "dpo"
    ADMIN = "admin"
    # reads what a member of its party reads and verifies the log; takes no step (issue 19)
    AUDITOR = "auditor"


class Status(StrEnum):
    FILED = "filed"
    UNDER_STUDY = "under_study"
    RETURNED = "returned"
    AWAITING_DPO = "awaiting_dpo"
    OPINION_GIVEN = "opinion_given"
    APPROVED = "approved"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"
    CONDITIONS_ACCEPTED = "conditions_accepted"
    EXCHANGED = "exchanged"
    CLOSED = "closed"
    LAPSED = "lapsed"
    SUSPENDED = "suspended"  # a breach of the conditions suspends the exchange (DOMAIN §2.5)


class Verdict(StrEnum):
    FAVOURABLE = "favourable"
    FAVOURABLE_WITH_RECOMMENDATIONS = "favourable_with_recommendations"
    UNFAVOURABLE = "unfavourable"
    OUT_OF_SCOPE = "out_of_scope"


class Frequency(StrEnum):
    ONCE = "once"
    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"
    QUARTERLY = "quarterly"
    YEARLY = "yearly"


class AutomatedDecision(StrEnum):
    """Whether the data feed individual decisions taken by an algorithm (CRPA L311-3-1; loi
    Informatique et Libertés art. 47; GDPR art. 22)."""

    NONE = "none"
    ASSISTED = "assisted"  # an agent decides, helped by the computation
    SOLELY_AUTOMATED = "solely_automated"  # the computation decides (a tariff from a scale)


class Triage(StrEnum):
    """DOMAIN §2 step 0: anonymous aggregates skip the DPO; everything else is personal."""

    PERSONAL = "personal"
    NON_PERSONAL = "non_personal"


class Acting(Protocol):
    """Who acts, as the rules see them: a stored :class:`Member`, or one the log declared."""

    @property
    def id(self) -> str: ...
    @property
    def party(self) -> str: ...
    @property
    def roles(self) -> tuple[Role, ...]: ...
    @property
    def revoked_at(self) -> str | None: ...
    @property
    def active(self) -> bool: ...
    def has(self, role: Role) -> bool: ...


class Standing(Protocol):
    """Where a request stands, as the rules and the state machine see it: a stored
    :class:`ExchangeRequest`, or the request as the audit log replays it."""

    @property
    def id(self) -> str: ...
    @property
    def status(self) -> Status: ...
    @property
    def triage(self) -> Triage: ...
    @property
    def filed_by(self) -> str: ...
    @property
    def from_party(self) -> str: ...
    @property
    def to_party(self) -> str: ...
    @property
    def suspended_from(self) -> Status | None: ...
