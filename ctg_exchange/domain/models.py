"""The procedure's records: members, requests, opinions, decisions (DESIGN §3-§4)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    BeforeValidator,
    Field,
    StrictBool,
    StrictInt,
    StringConstraints,
    ValidationInfo,
    field_validator,
)

from ..i18n import _
from .recommendations import Answer, Condition, Recommendation
from .states import (  # named here as before: the models type their fields by them
    Acting as Acting,
)
from .states import (
    AutomatedDecision as AutomatedDecision,
)
from .states import (
    Frequency as Frequency,
)
from .states import (
    Role as Role,
)
from .states import (
    Standing as Standing,
)
from .states import (
    Status as Status,
)
from .states import (
    Triage as Triage,
)
from .states import (
    Verdict as Verdict,
)
from .types import Frozen, MemberId, Ref, Text


class Member(Frozen):
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
    until: date | None = None  # the last day the member may act or read (``--until``)

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def has(self, role: Role) -> bool:
        return role in self.roles


def _blank_is_none(value: object) -> object:
    """An optional text left blank is not given: a blank legal text is no legal text."""
    return None if isinstance(value, str) and not value.strip() else value


OptionalText = Annotated[Text | None, BeforeValidator(_blank_is_none)]


Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
MAX_DECLARED = 20  # processors, or onward recipients, one request declares


class Processor(Frozen):
    """A processor acting for the requester (GDPR art. 28): a software vendor, a host."""

    name: Name
    contract: Annotated[Name | None, BeforeValidator(_blank_is_none)] = None  # art. 28 contract


# fields added after release 0.1.0's requests: left out of the digest while at their default,
# so a content filed before them keeps the digest its log binds
_LATER_FIELDS = (
    "legal_refs",
    "archive_days",
    "aggregates_of",
    "automated_decision",
    "profiling",
    "decides_access",
    "new_technology",
    "combines_with_own_files",
    "processors",
    "onward_recipients",
    "necessity",
    "right_to_object",
)


class RequestContent(Frozen):
    """What the requesting party writes when it files (DOMAIN §2, step 1)."""

    to: Ref
    field: Ref
    purpose: Text
    purpose_kind: Ref
    categories: tuple[Ref, ...] = Field(min_length=1)
    subjects: Text
    legal_basis: Ref | None = None
    legal_text: OptionalText = None
    retention_days: StrictInt = Field(ge=1, le=3650)  # never a boolean or "365"
    frequency: Frequency
    recipients: OptionalText = None
    volume: StrictInt | None = Field(default=None, ge=0)
    art9_condition: Ref | None = None
    transfer_outside_eu: StrictBool = False
    nir_case: Ref | None = None
    # texts of the policy's list that ground the basis (GDPR art. 6(3)); ``legal_text`` adds
    legal_refs: tuple[Ref, ...] = ()
    # intermediate archiving after ``retention_days`` of active use (Code du patrimoine)
    archive_days: StrictInt = Field(default=0, ge=0, le=3650)
    # what anonymous counts are computed from: a sensitive category raises the smallest cell
    aggregates_of: tuple[Ref, ...] = ()
    automated_decision: AutomatedDecision = AutomatedDecision.NONE
    profiling: StrictBool = False  # evaluation or scoring of the persons (EDPB criterion 1)
    decides_access: StrictBool = False  # the result opens or bars a service or a right (9)
    new_technology: StrictBool = False  # an innovative use or new technology (criterion 8)
    # matched against the requester's own files (criterion 6); None: not declared
    combines_with_own_files: StrictBool | None = None
    processors: tuple[Processor, ...] = Field(default=(), max_length=MAX_DECLARED)
    # other controllers the requester would pass the data on to
    onward_recipients: tuple[Name, ...] = Field(default=(), max_length=MAX_DECLARED)
    necessity: OptionalText = None  # CRPA L114-8 II: why a nominative list is strictly needed
    right_to_object: OptionalText = None  # how the persons are told they may object

    @field_validator("categories", "legal_refs", "aggregates_of", "onward_recipients")
    @classmethod
    def _unique(cls, value: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        duplicates = sorted({c for c in value if value.count(c) > 1})
        if duplicates:
            if info.field_name == "legal_refs":
                message = _("legal text listed twice: {items}")
            elif info.field_name == "onward_recipients":
                message = _("recipient listed twice: {items}")
            else:
                message = _("category listed twice: {items}")
            raise ValueError(message.format(items=", ".join(duplicates)))
        return value

    @field_validator("processors")
    @classmethod
    def _one_each(cls, value: tuple[Processor, ...]) -> tuple[Processor, ...]:
        names = [p.name.casefold() for p in value]
        twice = sorted({p.name for p in value if names.count(p.name.casefold()) > 1})
        if twice:
            raise ValueError(_("processor listed twice: {names}").format(names=", ".join(twice)))
        return value

    @property
    def kept_days(self) -> int:
        """Active use and intermediate archiving: the longest the recipient keeps the data."""
        return self.retention_days + self.archive_days

    def kept(self, limits: Iterable[int] = ()) -> tuple[int, int]:
        """The days of active use and of keeping in all, each within the adopted
        ``max_retention_days`` ``limits`` (the DPO's "at most N days"): a delivery has an
        archiving phase when the second exceeds the first."""
        caps = list(limits)
        return min([self.retention_days, *caps]), min([self.kept_days, *caps])

    def digest_document(self) -> dict[str, Any]:
        """What the content's digest covers: later fields only once given."""
        document = self.model_dump(mode="json")
        defaults = RequestContent.model_fields
        for name in _LATER_FIELDS:
            default = defaults[name].default
            dumped = default.value if isinstance(default, StrEnum) else default
            if document[name] == (list(dumped) if isinstance(dumped, tuple) else dumped):
                del document[name]
        return document


class Severity(StrEnum):
    BLOCKING = "blocking"
    WARNING = "warning"


class Finding(Frozen):
    """What pre-screening says of a request: a rule code, its severity, why, and where to go."""

    code: str
    severity: Severity
    message: str
    channel: str | None = None


class Opinion(Frozen):
    verdict: Verdict
    note: Text
    by: MemberId
    at: str
    on: date
    recommendations: tuple[Recommendation, ...] = ()


class Decision(Frozen):
    outcome: Status
    by: MemberId
    at: str
    on: date
    text: Text | None = None
    against_opinion: bool = False
    answers: tuple[Answer, ...] = ()


class Acceptance(Frozen):
    """The requesting party's controller accepts the conditions (DOMAIN §2, step 5)."""

    by: MemberId
    at: str
    on: date
    dpia_ref: Text | None = None  # required when pre-screening found a DPIA necessary
    # how and when the persons concerned are told which data came from the other party
    # (GDPR art. 14, CRPA L114-8): required of a personal request from rules 3
    information: Text | None = None
    # where the decisions taken on the data say they rest on an algorithmic processing
    # (CRPA L311-3-1): required when screening found ALGORITHMIC_DECISION, from rules 3
    l311_mention: Text | None = None


class Annotation(Frozen):
    by: MemberId
    party: Ref
    at: str
    on: date
    note: Text


class Advice(Frozen):
    """The requesting party's DPO's advice (it runs the DPIA and informs the families): recorded,
    never blocking a step."""

    by: MemberId
    at: str
    on: date
    note: Text


class Suspension(Frozen):
    """The holder's controller suspends an exchange whose conditions were breached."""

    by: MemberId
    at: str
    on: date
    reason: Text
    from_status: Status  # where ``exchange resume`` returns it


class ReviewOutcome(StrEnum):
    CONTINUE = "continue"
    CLOSE = "close"


class Review(Frozen):
    """The yearly review of an active exchange by the holder's controller (DOMAIN §2.8)."""

    by: MemberId
    at: str
    on: date
    outcome: ReviewOutcome
    note: Text


class HandOver(Frozen):
    """A follow-up handed over (issue 19, :mod:`.handover`): the requester's or the holder's."""

    side: Literal["requester", "holder"]
    previous: MemberId
    successor: MemberId
    by: MemberId
    at: str


class ExchangeRequest(Frozen):
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
    triage: Triage = Triage.PERSONAL
    findings: tuple[Finding, ...] = ()
    dpia_required: bool = False
    submitted_on: date | None = None
    opinion: Opinion | None = None
    decision: Decision | None = None
    conditions: tuple[Condition, ...] = ()
    acceptance: Acceptance | None = None
    annotations: tuple[Annotation, ...] = ()
    advices: tuple[Advice, ...] = ()
    suspension: Suspension | None = None  # while suspended
    reviews: tuple[Review, ...] = ()
    handovers: tuple[HandOver, ...] = ()

    @property
    def suspended_from(self) -> Status | None:
        return None if self.suspension is None else self.suspension.from_status

    @property
    def approved_against_dpo_opinion(self) -> bool:
        return self.decision is not None and self.decision.against_opinion

    @property
    def to_party(self) -> str:
        return self.content.to

    def opinion_due(self, deadline_days: int) -> date:
        """The day the holder's DPO's opinion is due: the policy's deadline after submission."""
        return (self.submitted_on or self.filed_on) + timedelta(days=deadline_days)

    def evolve(self, **changes: Any) -> ExchangeRequest:
        """A copy with ``changes``, validated again."""
        return ExchangeRequest.model_validate({**self.model_dump(), **changes})


class Step(Frozen):
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
