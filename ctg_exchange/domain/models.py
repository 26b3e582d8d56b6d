"""The procedure's records: members, requests, opinions, decisions (DESIGN §3-§4)."""

from __future__ import annotations

import re
from datetime import date
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

REQUEST_ID = re.compile(r"^DX-(\d{4})-(\d{4,})$")

MemberId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$")]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20000)]
Ref = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Role(StrEnum):
    STAFF = "staff"
    CONTROLLER = "controller"
    DPO = "dpo"
    ADMIN = "admin"


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


class Member(_Frozen):
    """A person of one party, with roles and a registered signing key."""

    id: MemberId
    name: Text
    party: Ref
    roles: tuple[Role, ...] = Field(min_length=1)
    public_key: str
    fingerprint: str
    added_by: str
    added_at: str
    revoked_at: str | None = None
    revoked_by: str | None = None
    revoke_reason: str | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def has(self, role: Role) -> bool:
        return role in self.roles


class RequestContent(_Frozen):
    """What the requesting party writes when it files (DOMAIN §2, step 1)."""

    to: Ref
    field: Ref
    purpose: Text
    purpose_kind: Ref
    categories: tuple[Ref, ...] = Field(min_length=1)
    subjects: Text
    legal_basis: Ref
    legal_text: Text
    retention_days: int = Field(ge=1, le=3650)
    frequency: Frequency
    recipients: Text | None = None
    volume: int | None = Field(default=None, ge=0)

    @field_validator("categories")
    @classmethod
    def _unique(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        duplicates = sorted({c for c in value if value.count(c) > 1})
        if duplicates:
            raise ValueError(f"category listed twice: {', '.join(duplicates)}")
        return value


class Recommendation(_Frozen):
    """One numbered recommendation of the DPO (R1, R2, …)."""

    number: int = Field(ge=1)
    text: Text

    @property
    def label(self) -> str:
        return f"R{self.number}"


class Opinion(_Frozen):
    verdict: Verdict
    note: Text
    by: MemberId
    at: str
    on: date
    recommendations: tuple[Recommendation, ...] = ()


class Decision(_Frozen):
    outcome: Status
    by: MemberId
    at: str
    on: date
    text: Text | None = None
    against_opinion: bool = False


class Annotation(_Frozen):
    by: MemberId
    party: Ref
    at: str
    on: date
    note: Text


class ExchangeRequest(_Frozen):
    """A request and where it stands. Its history lives in the audit log."""

    id: str
    status: Status
    from_party: Ref
    content: RequestContent
    filed_by: MemberId
    filed_on: date
    filed_at: str
    updated_at: str
    policy_version: int
    submitted_on: date | None = None
    opinion: Opinion | None = None
    decision: Decision | None = None
    annotations: tuple[Annotation, ...] = ()

    @property
    def to_party(self) -> str:
        return self.content.to

    def evolve(self, **changes: Any) -> ExchangeRequest:
        """A copy with ``changes``, validated again."""
        return ExchangeRequest.model_validate({**self.model_dump(), **changes})


class Step(_Frozen):
    """One line of a request's history, joined from its audit event."""

    seq: int
    at: str
    actor: str
    role: str
    action: str
    from_status: Status | None
    to_status: Status | None
    text: str | None = None


def format_request_id(year: int, number: int) -> str:
    return f"DX-{year:04d}-{number:04d}"
