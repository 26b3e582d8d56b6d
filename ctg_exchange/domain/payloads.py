"""Payload models of the audited actions other than request steps, and what they all share.

Each model is the payload of one action (:mod:`.actions`): the services build it, the recorder
signs what :meth:`Payload.to_json` dumps, and the replay parses each stored payload with it
(:mod:`.catalogue`) and applies it to the records the log binds (:mod:`.facts`). The JSON a
model dumps is exactly what release 0.1.0 wrote, key for key: a ``None`` in a field named by
``omitted_when_none`` leaves the key out, as before.

Types are strict where JSON is ambiguous (an integer is never a string or a float, a boolean
never ``1``) and unknown keys are refused: a payload the tool would not have written is not a
payload of its action.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date
from typing import Annotated, Any, ClassVar, Literal

from pydantic import AfterValidator, BeforeValidator, Field, StrictInt, StringConstraints

from ..errors import ReplayError
from ..i18n import _
from .actions import Action
from .facts import (
    ConventionChangeFacts,
    FactBook,
    Logged,
    MemberFacts,
    PolicyFacts,
    RecipientFacts,
    RegisterVersionFacts,
)
from .models import Role
from .types import Doc, Frozen, MemberId, Ref

_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _iso_date(value: object) -> object:
    """A date as the log writes it, ``YYYY-MM-DD``, and nothing else a lax parser would take."""
    if isinstance(value, date) or (isinstance(value, str) and _DAY.fullmatch(value)):
        return value
    raise ValueError(_("a date is written YYYY-MM-DD"))


def sorted_once(values: tuple[Any, ...]) -> tuple[Any, ...]:
    """A list the tool writes sorted, each item once: anything else was not written by it."""
    if list(values) != sorted(set(values)):
        raise ValueError(_("the items are written sorted, each once"))
    return values


def each_once(values: tuple[Any, ...]) -> tuple[Any, ...]:
    if len(set(values)) != len(values):
        raise ValueError(_("an item is listed twice"))
    return values


Sha256 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$"), Doc("SHA-256")]
Day = Annotated[date, BeforeValidator(_iso_date), Doc("date")]
Count = Annotated[StrictInt, Field(ge=0), Doc("integer ≥ 0")]
Number = Annotated[StrictInt, Field(ge=1), Doc("integer ≥ 1")]
RequestId = Annotated[str, StringConstraints(pattern=r"^DX-[0-9]{4}-[0-9]{4,}$"), Doc("request id")]
RuleCode = Annotated[
    str, StringConstraints(pattern=r"^[A-Z][A-Z0-9_]*$", max_length=64), Doc("rule code")
]
Column = Annotated[str, StringConstraints(min_length=1, max_length=128), Doc("column")]
RecipientText = Annotated[
    str, StringConstraints(pattern=r"^age1[02-9ac-hj-np-z]{58}$"), Doc("age1… recipient")
]
OpenSshKey = Annotated[
    str, StringConstraints(pattern=r"^ssh-ed25519 [A-Za-z0-9+/]+={0,2}$"), Doc("ssh-ed25519 key")
]
PolicyId = Annotated[
    str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]*$", max_length=64), Doc("policy id")
]
EntryRef = Annotated[
    str, StringConstraints(pattern=r"^[A-Z0-9][A-Z0-9-]{1,64}$"), Doc("register reference")
]
Fingerprint = Annotated[
    str, StringConstraints(pattern=r"^SHA256:[A-Za-z0-9+/]{43}$"), Doc("SHA256:… fingerprint")
]
WorkspaceId = Annotated[str, StringConstraints(pattern=r"^[0-9a-f-]{36}$"), Doc("workspace id")]


class PayloadInvalid(ValueError):
    """A stored payload is not one this action's model accepts; the message names the field."""


class Payload(Frozen):
    """The payload of one action; each subclass sets ``action`` and says what the event's
    ``subject`` is."""

    action: ClassVar[Action]
    subject: ClassVar[str]
    omitted_when_none: ClassVar[frozenset[str]] = frozenset()

    def to_json(self) -> dict[str, Any]:
        """The payload as the event carries it."""
        data = self.model_dump(mode="json")
        for name in self.omitted_when_none:
            if data[name] is None:
                del data[name]
        return data

    def apply(self, book: FactBook, event: Logged) -> None:
        """Record in ``book`` what this event says of the records it binds (default: none)."""

    def subject_of(self) -> str | None:
        """What the event's ``subject`` must be, when the payload names it (the replay checks;
        a convention change's subject, the policy id, comes from the log's genesis)."""
        return None

    def highlights(self) -> dict[str, str]:
        """A few words for a person reading the log (``audit log``): states, verdict, outcome."""
        return {}


# -- membership --------------------------------------------------------------------------------
class MemberDeclaration(Frozen):
    """What the log says of a member: no name, only its digest (names are personal data)."""

    member: MemberId
    party: Ref
    roles: Annotated[tuple[Role, ...], AfterValidator(each_once)] = Field(min_length=1)
    public_key: OpenSshKey
    fingerprint: Fingerprint
    name_sha256: Sha256

    def facts(self, event: Logged) -> MemberFacts:
        return MemberFacts(
            party=self.party,
            roles=tuple(sorted(role.value for role in self.roles)),
            public_key=self.public_key,
            fingerprint=self.fingerprint,
            name_sha256=self.name_sha256,
            added_by=event.actor,
            added_at=event.time,
        )


class PolicyRef(Frozen):
    id: PolicyId
    version: Number
    sha256: Sha256 = Field(description="of the policy file's bytes")


RULES = 3  # the rules a new workspace's log is verified by; a log without ``procedure``: 1


class Procedure(Frozen):
    """What the genesis says of how the log is to be verified (absent: written by 0.1.0)."""

    rules: Literal[2, 3] = Field(
        description="2: audit verify re-applies every rule (separation of duties, screening, "
        "the convention in force, dates from the events' times); 3: besides, a renewal only "
        "before the end, then a successor convention; no avenant to an ended convention; "
        "a termination in a case of Article 12, with its notice; reasons to approve after an "
        "out_of_scope opinion, and the Art. 14 information (and CRPA L311-3-1 mention) at the "
        "acceptance of the conditions"
    )
    clock: Literal["real", "simulated"] = Field(
        description="simulated: a rehearsal, whose dates CTG_TODAY sets (shown on every output)"
    )


class WorkspaceInit(Payload):
    action = Action.INIT
    subject = "workspace id"
    omitted_when_none = frozenset({"procedure"})
    workspace: WorkspaceId
    policy: PolicyRef
    admin: MemberDeclaration
    procedure: Procedure | None = Field(None, description="left out by 0.1.0")

    def subject_of(self) -> str | None:
        return self.workspace

    def apply(self, book: FactBook, event: Logged) -> None:
        book.member[self.admin.member] = self.admin.facts(event)
        book.policy[self.policy.version] = PolicyFacts(self.policy.sha256)


class MemberAdd(MemberDeclaration, Payload):
    action = Action.MEMBER_ADD
    subject = "member id"
    omitted_when_none = frozenset({"until"})
    until: Day | None = Field(None, description="the last day it may act or read (issue 19)")

    def subject_of(self) -> str | None:
        return self.member

    def apply(self, book: FactBook, event: Logged) -> None:
        until = None if self.until is None else self.until.isoformat()
        book.member[self.member] = replace(self.facts(event), until=until)

    def highlights(self) -> dict[str, str]:
        return {"member": self.member}


class HandedOver(Frozen):
    """One follow-up a revocation hands over to the successor (issue 19)."""

    request: RequestId
    side: Literal["requester", "holder"]


def _by_request(values: tuple[HandedOver, ...]) -> tuple[HandedOver, ...]:
    keys = tuple((v.request, v.side) for v in values)
    sorted_once(keys)
    return values


class MemberRevoke(Payload):
    action = Action.MEMBER_REVOKE
    subject = "member id"
    omitted_when_none = frozenset({"successor", "handed_over"})
    member: MemberId
    reason_sha256: Sha256
    successor: MemberId | None = Field(
        None, description="who takes over its open requests (--successor; issue 19)"
    )
    handed_over: Annotated[tuple[HandedOver, ...], AfterValidator(_by_request)] | None = Field(
        None, description="the follow-ups handed over to the successor, by request and side"
    )

    def subject_of(self) -> str | None:
        return self.member

    def apply(self, book: FactBook, event: Logged) -> None:
        known = book.known_member(self.member)
        known.revoked_at, known.revoked_by = event.time, event.actor
        known.revoke_reason_sha256 = self.reason_sha256
        if self.successor is not None:
            for handed in self.handed_over or ():
                book.hand_over(handed.request, handed.side, self.member, self.successor, event)

    def highlights(self) -> dict[str, str]:
        return {"member": self.member}


class MemberContact(Payload):
    """How a member is told what waits on them (issue 18): whether the change sets their e-mail
    address, removes it or keeps it, and the preference it sets (left out: kept). Never the
    address, nor its digest: an address is personal data, and its SHA-256 is found again by
    trying the usual first.last@domain. The payload is a function of the command's arguments
    alone, so that a member's client foresees it without the addresses."""

    action = Action.MEMBER_CONTACT
    subject = "member id"
    omitted_when_none = frozenset({"notify"})
    member: MemberId
    email: Literal["set", "removed", "kept"]
    notify: Literal["immediate", "digest", "none"] | None = None

    def subject_of(self) -> str | None:
        return self.member

    def highlights(self) -> dict[str, str]:
        return {"member": self.member}


# -- the convention, keys, the register --------------------------------------------------------
class ConventionChange(Payload):
    """Renewal (Article 10), avenant (Article 11), termination (Article 12), or successor
    convention (rules 3)."""

    subject = "policy id"
    effective: Day = Field(
        description="renewal: the new last day; avenant: its date; termination: the first day "
        "no longer in force; successor: its first day in force"
    )
    reference_sha256: Sha256

    def apply(self, book: FactBook, event: Logged) -> None:
        book.convention_change[event.seq] = ConventionChangeFacts(
            kind=self.change_kind,
            effective=self.effective.isoformat(),
            reference_sha256=self.reference_sha256,
        )

    @property
    def change_kind(self) -> str:
        """The payload's ``kind`` (``renewal``, ``amendment``, ``termination``): each subclass
        fixes it to the end of its action's name."""
        return self.action.value.removeprefix("convention.")


class Renewal(ConventionChange):
    action = Action.RENEWAL
    kind: Literal["renewal"]
    previous_end: Day


class Amendment(ConventionChange):
    action = Action.AMENDMENT
    kind: Literal["amendment"]
    policy: PolicyRef
    previous_version: Number

    def apply(self, book: FactBook, event: Logged) -> None:
        super().apply(book, event)
        book.convention_change[event.seq] = replace(
            book.convention_change[event.seq], policy_version=self.policy.version
        )
        if self.policy.version not in book.policy:  # a version is never replaced
            book.policy[self.policy.version] = PolicyFacts(self.policy.sha256)


class Termination(ConventionChange):
    """Unilateral (Article 12): in effect as recorded, with its notice."""

    action = Action.TERMINATION
    kind: Literal["termination"]
    reason_sha256: Sha256
    case: (
        Literal["breach", "breach_of_law", "modification_without_avenant", "denunciation"] | None
    ) = Field(None, description="its case under Article 12 (rules 3); left out when null")
    notice_date: Day | None = Field(
        None, description="the formal notice's or the dénonciation's date; left out when null"
    )
    omitted_when_none = frozenset({"case", "notice_date"})

    def apply(self, book: FactBook, event: Logged) -> None:
        super().apply(book, event)
        book.convention_change[event.seq] = replace(
            book.convention_change[event.seq],
            agreed_seq=event.seq,
            case=self.case,
            notice_date=None if self.notice_date is None else self.notice_date.isoformat(),
        )


class Successor(ConventionChange):
    """A new convention once the last has ended (rules 3), for a new period: proposed by one
    party's admin with its deliberation, in effect once the other's countersigns with its own."""

    action = Action.SUCCESSOR
    kind: Literal["successor"]
    until: Day = Field(description="its last day")
    previous_end: Day = Field(description="the last day the convention it follows was in force")
    deliberation_sha256: Sha256 = Field(description="of the proposing party's deliberation")

    def apply(self, book: FactBook, event: Logged) -> None:
        super().apply(book, event)
        book.convention_change[event.seq] = replace(
            book.convention_change[event.seq],
            until=self.until.isoformat(),
            deliberation_sha256=self.deliberation_sha256,
        )


class ProposalAnswer(Payload):
    """The other party's countersignature of a renewal, avenant or successor, or its
    withdrawal."""

    subject = "policy id"
    proposal: Number = Field(description="the sequence number of the renewal or avenant")

    def proposal_facts(self, book: FactBook) -> ConventionChangeFacts:
        found = book.convention_change.get(self.proposal)
        if found is None or found.kind == "termination":
            raise ReplayError(
                _("event #{seq} is not a renewal or an avenant").format(seq=self.proposal)
            )
        return found


class Countersignature(ProposalAnswer):
    """An admin of the other party countersigns: the renewal or avenant takes effect. It
    repeats what it countersigns, so the signature binds it."""

    action = Action.COUNTERSIGNATURE
    kind: Literal["renewal", "amendment", "successor"]
    effective: Day = Field(description="the proposal's")
    until: Day | None = Field(None, description="a successor's last day; left out when null")
    proposal_reference_sha256: Sha256 = Field(description="of the proposal's reference")
    policy_sha256: Sha256 | None = Field(None, description="of the avenant's policy file")
    reference_sha256: Sha256 = Field(description="of the countersigning party's decision")
    omitted_when_none = frozenset({"policy_sha256", "until"})

    def apply(self, book: FactBook, event: Logged) -> None:
        found = self.proposal_facts(book)
        book.convention_change[self.proposal] = replace(
            found, agreed_seq=event.seq, agreed_reference_sha256=self.reference_sha256
        )


class Withdrawal(ProposalAnswer):
    """A renewal or avenant withdrawn by its party, or declined by the other: it never takes
    effect."""

    action = Action.WITHDRAWAL
    reason_sha256: Sha256

    def apply(self, book: FactBook, event: Logged) -> None:
        found = self.proposal_facts(book)
        book.convention_change[self.proposal] = replace(
            found, withdrawn_seq=event.seq, withdrawn_reason_sha256=self.reason_sha256
        )


class EncryptionKey(Payload):
    action = Action.ENCRYPTION_KEY
    subject = "party id"
    party: Ref
    recipient: RecipientText
    replaces: RecipientText | None = Field(description="the retired recipient, or null")

    def subject_of(self) -> str | None:
        return self.party

    def apply(self, book: FactBook, event: Logged) -> None:
        book.recipient[self.recipient] = RecipientFacts(self.party, added_seq=event.seq)
        if self.replaces is not None:
            book.known_recipient(self.replaces).retired_seq = event.seq


class RegisterVersion(Payload):
    action = Action.REGISTER_VERSION
    subject = "register reference"
    ref: EntryRef
    controller: Ref
    version: Number = Field(description="1 for a new fiche, then one more per change")
    doc_sha256: Sha256 = Field(
        description="of the canonical JSON of the whole fiche (`processors` and "
        "`ctg_exchange_tool`, added after 0.1.0, left out while empty or false)"
    )
    reason_sha256: Sha256

    def subject_of(self) -> str | None:
        return self.ref

    def apply(self, book: FactBook, event: Logged) -> None:
        book.register_version[(self.ref, self.version)] = RegisterVersionFacts(
            controller=self.controller,
            seq=event.seq,
            doc_sha256=self.doc_sha256,
            reason_sha256=self.reason_sha256,
        )


class RegisterExport(Payload):
    action = Action.REGISTER_EXPORT
    subject = "controller (party id)"
    controller: Ref
    ref: EntryRef | None = Field(description="the one fiche exported, or null")
    files: Count = Field(description="lines of SHA256SUMS")
    sha256sums_sha256: Sha256 = Field(description="of SHA256SUMS")

    def subject_of(self) -> str | None:
        return self.controller
