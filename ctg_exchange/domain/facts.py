"""What the audit log binds about each stored record: the facts a replay derives.

Replaying the log (``audit/replay.py``) applies each event's payload (``domain/actions.py``) to a
:class:`FactBook`; reading the store (``services/replay_check.py``) builds the same records from
the rows. Each record kind is one type below, written once for both sides, so comparing them is
comparing two values of one type. Only states, ids, counts and SHA-256 digests appear here,
never a text: a difference can be reported without disclosing anything.
"""

from __future__ import annotations

from collections.abc import MutableMapping, Sequence
from dataclasses import dataclass, field, fields, is_dataclass
from operator import attrgetter
from typing import Any, Protocol

from ..errors import ReplayError
from ..i18n import _
from .models import Status, Triage


class Logged(Protocol):
    """What a payload needs to know of its event: where it is, when, by whom, on what."""

    @property
    def seq(self) -> int: ...
    @property
    def time(self) -> str: ...
    @property
    def actor(self) -> str: ...
    @property
    def party(self) -> str: ...
    @property
    def subject(self) -> str: ...


@dataclass(slots=True)
class MemberFacts:
    party: str
    roles: tuple[str, ...]  # sorted
    public_key: str
    fingerprint: str
    name_sha256: str
    added_by: str
    added_at: str
    revoked_at: str | None = None
    revoked_by: str | None = None
    revoke_reason_sha256: str | None = None
    until: str | None = None  # the last day it may act or read (an auditor's --until)


@dataclass(frozen=True, slots=True)
class RecommendationFacts:
    kind: str
    sha256: str


@dataclass(frozen=True, slots=True)
class OpinionFacts:
    by: str
    verdict: str
    recommendations: tuple[RecommendationFacts, ...]
    note_sha256: str | None
    at: str = ""  # its event's time
    on: str = ""  # the day in France of it


@dataclass(frozen=True, slots=True)
class SetAsideFacts:
    number: int
    reason_sha256: str


@dataclass(frozen=True, slots=True)
class DecisionFacts:
    by: str
    outcome: str
    against_opinion: bool
    adopted: tuple[int, ...]
    set_aside: tuple[SetAsideFacts, ...]
    text_sha256: str | None
    at: str = ""
    on: str = ""


@dataclass(frozen=True, slots=True)
class AcceptanceFacts:
    by: str
    conditions: int
    conditions_sha256: str
    dpia_ref_sha256: str | None
    at: str = ""
    on: str = ""
    information_sha256: str | None = None  # GDPR art. 14, CRPA L114-8 (rules 3)
    l311_mention_sha256: str | None = None  # CRPA L311-3-1 (rules 3)


@dataclass(frozen=True, slots=True)
class ShapeFacts:
    """A request's content as its filing or amendment summarises it in the log: the stored
    content must say the same (its digest alone would let a re-signed summary lie)."""

    to: str
    field: str
    purpose_kind: str
    categories: tuple[str, ...]
    legal_basis: str | None
    retention_days: int
    frequency: str


@dataclass(frozen=True, slots=True)
class AnnotationFacts:
    by: str
    party: str
    note_sha256: str
    at: str = ""
    on: str = ""


@dataclass(frozen=True, slots=True)
class AdviceFacts:
    by: str
    note_sha256: str
    at: str = ""
    on: str = ""


@dataclass(frozen=True, slots=True)
class SuspensionFacts:
    by: str
    from_status: str
    reason_sha256: str
    at: str = ""
    on: str = ""


@dataclass(frozen=True, slots=True)
class ReviewFacts:
    by: str
    outcome: str
    note_sha256: str
    at: str = ""
    on: str = ""


@dataclass(frozen=True, slots=True)
class HandOverFacts:
    """A follow-up handed over (issue 19): which side, from whom, to whom, by whom, when."""

    side: str
    previous: str
    successor: str
    by: str
    at: str


@dataclass(slots=True)
class RequestFacts:
    """A request: also where it stands for the rules and the state machine (``Standing``).

    Members, requests and recipients change as the log moves them: the replay updates them in
    place (a log holds millions of steps, and copying a record at each would cost a third of
    ``audit verify``); the records a single event makes are frozen."""

    id: str
    status: Status
    from_party: str
    to_party: str
    filed_by: str
    filed_at: str
    policy_version: int
    content_sha256: str
    shape: ShapeFacts  # what the log says of the content besides its digest
    triage: Triage
    findings: tuple[str, ...]  # rule codes, sorted, each once
    dpia_required: bool
    opinion: OpinionFacts | None = None
    decision: DecisionFacts | None = None
    acceptance: AcceptanceFacts | None = None
    annotations: tuple[AnnotationFacts, ...] = ()
    filed_on: str = ""  # the day in France of its filing's event
    submitted_on: str | None = None  # of its last submission to the DPO
    advices: tuple[AdviceFacts, ...] = ()
    suspension: SuspensionFacts | None = None  # while suspended
    reviews: tuple[ReviewFacts, ...] = ()
    handovers: tuple[HandOverFacts, ...] = ()

    @property
    def suspended_from(self) -> Status | None:
        return None if self.suspension is None else Status(self.suspension.from_status)


@dataclass(frozen=True, slots=True)
class DeliveryFacts:
    seq: int | None
    payload_sha256: str
    payload_size: int
    manifest_sha256: str
    rows: int
    columns: tuple[str, ...]
    conditions: tuple[str, ...]  # "R1 max_retention_days": the labels applied
    retention_deadline: str
    on: str = ""  # the day it was sent (in France), its event's


@dataclass(frozen=True, slots=True)
class PseudonymKeyFacts:
    sealed_sha256: str  # of the request's pseudonymisation key as kept, sealed to the holder


@dataclass(frozen=True, slots=True)
class ReceptionFacts:
    seq: int
    path_sha256: str
    on: str = ""


@dataclass(frozen=True, slots=True)
class DestructionFacts:
    seq: int
    method: str
    path_sha256: str | None
    file_sha256: str | None
    note_sha256: str | None
    on: str = ""
    approval_sha256: str | None = None  # of the archives service's reference (its visa)


@dataclass(frozen=True, slots=True)
class RegisterVersionFacts:
    controller: str
    seq: int
    doc_sha256: str
    reason_sha256: str


@dataclass(frozen=True, slots=True)
class ConventionChangeFacts:
    kind: str
    effective: str
    reference_sha256: str
    policy_version: int | None = None  # an avenant's
    # the event by which it took effect: a termination's own (unilateral, Article 12), a
    # renewal's or avenant's countersignature by the other party (its own, in a 0.1.0 log)
    agreed_seq: int | None = None
    agreed_reference_sha256: str | None = None  # the countersigning party's decision
    withdrawn_seq: int | None = None
    withdrawn_reason_sha256: str | None = None
    until: str | None = None  # a successor's last day
    deliberation_sha256: str | None = None  # a successor's proposing party's deliberation
    case: str | None = None  # a termination's case under Article 12 (rules 3)
    notice_date: str | None = None  # a termination's notice


@dataclass(frozen=True, slots=True)
class PolicyFacts:
    sha256: str


@dataclass(frozen=True, slots=True)
class KeyRotationFacts:
    """A member's signing key replaced (issue 19): which key it retires, which it registers,
    and, for a lost or compromised key replaced by an admin, the digest of the reason."""

    member: str
    previous_fingerprint: str
    public_key: str
    fingerprint: str
    by: str
    lost: bool
    reason_sha256: str | None


@dataclass(slots=True)
class RecipientFacts:
    party: str
    added_seq: int
    retired_seq: int | None = None


# a request step as ``request_steps`` keeps it: request, action, from, to, SHA-256 of the text;
# a tuple, because a log holds millions of them
StepFacts = tuple[str, str, str | None, str | None, bytes | None]
STEP_FIELDS = ("request", "action", "from_status", "to_status", "text_sha256")

DeliveryKey = tuple[str, int]  # request id, delivery number
Facts = (
    MemberFacts
    | RequestFacts
    | DeliveryFacts
    | PseudonymKeyFacts
    | ReceptionFacts
    | DestructionFacts
    | RegisterVersionFacts
    | ConventionChangeFacts
    | PolicyFacts
    | RecipientFacts
    | KeyRotationFacts
)


@dataclass
class FactBook:
    """Every record the log binds, by kind and key, as the log's events made them.

    The kinds that grow with the log (requests and what they hold, register versions) may be
    mappings kept on disk (``audit/spill.py``); ``steps`` holds only the steps not yet compared
    with the store."""

    member: dict[str, MemberFacts] = field(default_factory=dict)
    request: MutableMapping[str, RequestFacts] = field(default_factory=dict)
    delivery: MutableMapping[DeliveryKey, DeliveryFacts] = field(default_factory=dict)
    reception: MutableMapping[DeliveryKey, ReceptionFacts] = field(default_factory=dict)
    destruction: MutableMapping[DeliveryKey, DestructionFacts] = field(default_factory=dict)
    register_version: MutableMapping[tuple[str, int], RegisterVersionFacts] = field(
        default_factory=dict
    )
    convention_change: dict[int, ConventionChangeFacts] = field(default_factory=dict)
    policy: dict[int, PolicyFacts] = field(default_factory=dict)
    recipient: dict[str, RecipientFacts] = field(default_factory=dict)
    pseudonym_key: MutableMapping[str, PseudonymKeyFacts] = field(default_factory=dict)
    steps: dict[int, StepFacts] = field(default_factory=dict)
    key_rotation: dict[int, KeyRotationFacts] = field(default_factory=dict)  # by event seq

    def records(self) -> dict[str, MutableMapping[Any, Any]]:
        """Each kind of record, by the name failures give it (the dicts themselves)."""
        return {
            "member": self.member,
            "request": self.request,
            "delivery": self.delivery,
            "reception": self.reception,
            "destruction": self.destruction,
            "register_version": self.register_version,
            "convention_change": self.convention_change,
            "policy": self.policy,
            "recipient": self.recipient,
            "pseudonym_key": self.pseudonym_key,
            "key_rotation": self.key_rotation,
        }

    def known_request(self, request_id: str) -> RequestFacts:
        found = self.request.get(request_id)
        if found is None:
            raise ReplayError(
                _("the event refers to an unknown request {request}").format(request=request_id)
            )
        return found

    def hand_over(
        self, request_id: str, side: str, previous: str, successor: str, event: Logged
    ) -> None:
        """Record that ``event`` handed ``request_id``'s follow-up for ``side`` over."""
        request = self.known_request(request_id)
        handed = HandOverFacts(side, previous, successor, event.actor, event.time)
        request.handovers = (*request.handovers, handed)
        self.request[request_id] = request  # a request kept on disk is written back

    def known_member(self, member_id: str) -> MemberFacts:
        found = self.member.get(member_id)
        if found is None:
            raise ReplayError(_("the event revokes an unknown member"))
        return found

    def known_recipient(self, recipient: str) -> RecipientFacts:
        found = self.recipient.get(recipient)
        if found is None:
            raise ReplayError(
                _("the event refers to an unknown recipient {recipient}").format(
                    recipient=recipient
                )
            )
        return found


def _quick_pickling(cls: type) -> None:
    """Pickle a frozen slotted record by its field values in order, as ``dataclasses`` does,
    without its ``fields()`` call at each record: a large log's replay spills hundreds of
    thousands to disk and reads them back (``audit/spill.py``). Either state loads in either."""
    names = tuple(f.name for f in fields(cls))
    get = attrgetter(*names)
    single = len(names) == 1

    def getstate(self: object) -> tuple[Any, ...]:
        return (get(self),) if single else get(self)

    def setstate(self: object, state: Sequence[Any]) -> None:
        for name, value in zip(names, state, strict=False):
            object.__setattr__(self, name, value)

    setattr(cls, "__getstate__", getstate)  # noqa: B010 - a method replaced on the class
    setattr(cls, "__setstate__", setstate)  # noqa: B010


for _record in list(globals().values()):
    if (
        isinstance(_record, type)
        and _record.__module__ == __name__
        and is_dataclass(_record)
        and _record.__dataclass_params__.frozen  # type: ignore[attr-defined]
        and "__slots__" in _record.__dict__
    ):
        _quick_pickling(_record)
del _record
