"""Payload models of the request steps (Article 7), and what each says of its request.

Every step but the filing names the request, the state it found it in and the state it leaves
it in, and the SHA-256 of its text (a note, a reason), when it has one; the step's own fields
follow. Applied to the replay's :class:`~.facts.FactBook`, a step moves its request to the
state it claims (the replay checks the claim against the state machine and the rules), records
its line of the request's history, and updates or creates the records it binds.
"""

from __future__ import annotations

from sys import intern
from typing import Annotated, Literal, TypedDict

from pydantic import AfterValidator, Field, StrictBool, StringConstraints

from .actions import Action
from .dates import day_of
from .facts import (
    AcceptanceFacts,
    AdviceFacts,
    AnnotationFacts,
    DecisionFacts,
    DeliveryFacts,
    DestructionFacts,
    FactBook,
    Logged,
    OpinionFacts,
    PseudonymKeyFacts,
    ReceptionFacts,
    RecommendationFacts,
    RequestFacts,
    ReviewFacts,
    SetAsideFacts,
    ShapeFacts,
    SuspensionFacts,
)
from .models import Frequency, Status, Triage, Verdict
from .payloads import (
    Column,
    Count,
    Day,
    Number,
    Payload,
    RecipientText,
    RequestId,
    RuleCode,
    Sha256,
    sorted_once,
)
from .recommendations import RecommendationKind
from .types import Doc, Frozen, Ref

Label = Annotated[str, StringConstraints(max_length=128), Doc("label")]


class StepHead(TypedDict):
    """What every step after the filing starts with (``record_step`` fills it in)."""

    request: str
    from_status: Status
    to_status: Status
    text_sha256: str | None


class ContentSummary(Frozen):
    """What the log says of a request's content: its shape and the digest of all of it."""

    to: Ref
    field: Ref
    purpose_kind: Ref
    categories: tuple[Ref, ...] = Field(min_length=1)
    legal_basis: Ref | None
    retention_days: Number
    frequency: Frequency
    content_sha256: Sha256
    triage: Triage
    findings: Annotated[tuple[RuleCode, ...], AfterValidator(sorted_once)] = Field(
        description="the screening's rule codes, sorted, each once"
    )
    dpia_required: StrictBool
    policy_version: Number

    def shape(self) -> ShapeFacts:
        return ShapeFacts(
            self.to, self.field, self.purpose_kind, self.categories, self.legal_basis,
            self.retention_days, self.frequency.value,
        )  # fmt: skip


class RequestFile(ContentSummary, Payload):
    action = Action.FILE
    subject = "request id"
    request: RequestId
    to_status: Status

    def subject_of(self) -> str | None:
        return self.request

    def apply(self, book: FactBook, event: Logged) -> None:
        book.request[self.request] = RequestFacts(
            id=self.request,
            status=Status.FILED,
            from_party=event.party,
            to_party=self.to,
            filed_by=event.actor,
            filed_at=event.time,
            policy_version=self.policy_version,
            content_sha256=self.content_sha256,
            shape=self.shape(),
            triage=self.triage,
            findings=tuple(sorted(set(self.findings))),
            dpia_required=self.dpia_required,
            filed_on=day_of(event.time),
        )
        action = intern(self.action.value)
        book.steps[event.seq] = (self.request, action, None, Status.FILED.value, None)

    def highlights(self) -> dict[str, str]:
        return {"states": f"— → {self.to_status.value}"}


class RequestStep(Payload):
    """A step after the filing."""

    subject = "request id"
    omitted_when_none = frozenset({"text_sha256"})
    request: RequestId
    from_status: Status = Field(description="the state the step found the request in")
    to_status: Status = Field(description="the state the step leaves it in")
    text_sha256: Sha256 | None = Field(None, description="of the note or reason, when given")

    def subject_of(self) -> str | None:
        return self.request

    def apply(self, book: FactBook, event: Logged) -> None:
        request = book.known_request(self.request)
        self.update(request, event)
        request.status = self.to_status
        text = None if self.text_sha256 is None else bytes.fromhex(self.text_sha256)
        action, states = intern(self.action.value), (self.from_status.value, self.to_status.value)
        book.steps[event.seq] = (request.id, action, *states, text)
        self.bind(book, event)

    @property
    def closes(self) -> bool:
        """Whether the step closes the exchange (a yearly review's ``close``)."""
        return False

    def update(self, request: RequestFacts, event: Logged) -> None:
        """What this step says of its request, besides its state (default: nothing)."""

    def bind(self, book: FactBook, event: Logged) -> None:
        """The records this step creates besides its request's (default: none)."""

    def highlights(self) -> dict[str, str]:
        return {"states": f"{self.from_status.value} → {self.to_status.value}"}


class RequestAmend(ContentSummary, RequestStep):
    action = Action.AMEND
    changed: tuple[Ref, ...] = Field(min_length=1, description="the content fields changed")

    def update(self, request: RequestFacts, event: Logged) -> None:
        request.to_party, request.policy_version = self.to, self.policy_version
        request.content_sha256, request.triage = self.content_sha256, self.triage
        request.shape = self.shape()
        request.findings = tuple(sorted(set(self.findings)))
        request.dpia_required = self.dpia_required

    def highlights(self) -> dict[str, str]:
        return {**super().highlights(), "changed": ", ".join(self.changed)}


class RequestWithdraw(RequestStep):
    action = Action.WITHDRAW


class StudyAccept(RequestStep):
    action = Action.STUDY_ACCEPT


class StudyReturn(RequestStep):
    action = Action.STUDY_RETURN


class StudySubmit(RequestStep):
    action = Action.STUDY_SUBMIT

    def update(self, request: RequestFacts, event: Logged) -> None:
        request.submitted_on = day_of(event.time)


class RecommendationDigest(Frozen):
    kind: RecommendationKind
    sha256: Sha256 = Field(description="of the recommendation's text")


class OpinionGiven(RequestStep):
    action = Action.OPINION
    verdict: Verdict
    recommendations: tuple[RecommendationDigest, ...] = Field(description="in order: R1, R2, …")
    text_sha256: Sha256 = Field(description="of the note")

    def update(self, request: RequestFacts, event: Logged) -> None:
        recommendations = tuple(
            RecommendationFacts(r.kind.value, r.sha256) for r in self.recommendations
        )
        opinion = OpinionFacts(
            event.actor, self.verdict.value, recommendations, self.text_sha256,
            event.time, day_of(event.time),
        )  # fmt: skip
        request.opinion = opinion

    def highlights(self) -> dict[str, str]:
        return {**super().highlights(), "verdict": self.verdict.value}


class Annotate(RequestStep):
    action = Action.ANNOTATE
    text_sha256: Sha256 = Field(description="of the note")

    def update(self, request: RequestFacts, event: Logged) -> None:
        note = AnnotationFacts(
            event.actor, event.party, self.text_sha256, event.time, day_of(event.time)
        )
        request.annotations = (*request.annotations, note)


class Advise(RequestStep):
    action = Action.ADVISE
    text_sha256: Sha256 = Field(description="of the advice")

    def update(self, request: RequestFacts, event: Logged) -> None:
        advice = AdviceFacts(event.actor, self.text_sha256, event.time, day_of(event.time))
        request.advices = (*request.advices, advice)


class SetAside(Frozen):
    number: Number
    reason_sha256: Sha256


class Approve(RequestStep):
    action = Action.APPROVE
    text_sha256: Sha256 | None = Field(None, description="of the justification, when given")
    outcome: Literal["approved"]
    against_opinion: StrictBool
    adopted: tuple[Number, ...] = Field(description="the numbers of the adopted recommendations")
    set_aside: tuple[SetAside, ...]

    def update(self, request: RequestFacts, event: Logged) -> None:
        set_aside = tuple(SetAsideFacts(s.number, s.reason_sha256) for s in self.set_aside)
        decision = DecisionFacts(
            event.actor, self.outcome, self.against_opinion, self.adopted, set_aside,
            self.text_sha256, event.time, day_of(event.time),
        )  # fmt: skip
        request.decision = decision

    def highlights(self) -> dict[str, str]:
        return {**super().highlights(), "outcome": self.outcome}


class Reject(RequestStep):
    action = Action.REJECT
    outcome: Literal["rejected"]
    text_sha256: Sha256 = Field(description="of the reasons")

    def update(self, request: RequestFacts, event: Logged) -> None:
        decision = DecisionFacts(
            event.actor, self.outcome, False, (), (), self.text_sha256,
            event.time, day_of(event.time),
        )  # fmt: skip
        request.decision = decision

    def highlights(self) -> dict[str, str]:
        return {**super().highlights(), "outcome": self.outcome}


class AcceptConditions(RequestStep):
    action = Action.ACCEPT_CONDITIONS
    omitted_when_none = RequestStep.omitted_when_none | {
        "information_sha256",
        "l311_mention_sha256",
    }
    conditions: Count = Field(description="how many")
    conditions_sha256: Sha256 = Field(description="of the canonical JSON of the conditions")
    dpia_ref_sha256: Sha256 | None = Field(description="of the DPIA reference, or null")
    information_sha256: Sha256 | None = Field(
        None, description="of how the persons concerned are informed (GDPR art. 14), if given"
    )
    l311_mention_sha256: Sha256 | None = Field(
        None, description="of where decisions mention the algorithmic processing (L311-3-1)"
    )

    def update(self, request: RequestFacts, event: Logged) -> None:
        acceptance = AcceptanceFacts(
            event.actor, self.conditions, self.conditions_sha256, self.dpia_ref_sha256,
            event.time, day_of(event.time), self.information_sha256, self.l311_mention_sha256,
        )  # fmt: skip
        request.acceptance = acceptance


class Suspend(RequestStep):
    action = Action.SUSPEND
    text_sha256: Sha256 = Field(description="of the reason (the condition breached)")

    def update(self, request: RequestFacts, event: Logged) -> None:
        request.suspension = SuspensionFacts(
            event.actor, self.from_status.value, self.text_sha256, event.time, day_of(event.time)
        )


class Resume(RequestStep):
    action = Action.RESUME
    text_sha256: Sha256 = Field(description="of the note (how the breach was remedied)")

    def update(self, request: RequestFacts, event: Logged) -> None:
        request.suspension = None


class ReviewRecord(RequestStep):
    action = Action.REVIEW
    outcome: Literal["continue", "close"]
    text_sha256: Sha256 = Field(description="of the review's note")

    @property
    def closes(self) -> bool:
        return self.outcome == "close"

    def update(self, request: RequestFacts, event: Logged) -> None:
        review = ReviewFacts(
            event.actor, self.outcome, self.text_sha256, event.time, day_of(event.time)
        )
        request.reviews = (*request.reviews, review)
        if self.closes:
            request.suspension = None

    def highlights(self) -> dict[str, str]:
        return {**super().highlights(), "outcome": self.outcome}


class Lapse(RequestStep):
    action = Action.LAPSE
    text_sha256: Sha256 = Field(description="of the reason, naming the date and the article")


class Send(RequestStep):
    action = Action.SEND
    omitted_when_none = RequestStep.omitted_when_none | {"sealed_key_sha256", "early"}
    text_sha256: Sha256 | None = Field(
        None, description="of the justification of an early delivery, when it is one"
    )
    early: StrictBool | None = Field(
        None,
        description="true: sent sooner than the request's frequency allows, with a "
        "justification (rules 3)",
    )
    delivery: Number
    payload_sha256: Sha256
    payload_size: Count
    manifest_sha256: Sha256
    rows: Count
    columns: tuple[Column, ...]
    recipients: tuple[RecipientText, ...]
    retention_deadline: Day
    conditions: tuple[Label, ...] = Field(description="the labels of the conditions applied")
    sealed_key_sha256: Sha256 | None = Field(
        None, description="of the request's pseudonymisation key as kept, sealed to the holder"
    )

    def bind(self, book: FactBook, event: Logged) -> None:
        if self.sealed_key_sha256 is not None:
            book.pseudonym_key[self.request] = PseudonymKeyFacts(self.sealed_key_sha256)
        book.delivery[(self.request, self.delivery)] = DeliveryFacts(
            seq=event.seq,
            payload_sha256=self.payload_sha256,
            payload_size=self.payload_size,
            manifest_sha256=self.manifest_sha256,
            rows=self.rows,
            columns=self.columns,
            conditions=self.conditions,
            retention_deadline=self.retention_deadline.isoformat(),
            on=day_of(event.time),
        )


class Receive(RequestStep):
    action = Action.RECEIVE
    delivery: Number
    payload_sha256: Sha256
    retention_deadline: Day
    path_sha256: Sha256

    def bind(self, book: FactBook, event: Logged) -> None:
        book.reception[(self.request, self.delivery)] = ReceptionFacts(
            event.seq, self.path_sha256, day_of(event.time)
        )


class Destroy(RequestStep):
    action = Action.DESTROY
    delivery: Number
    method: Literal["purge", "attest"]
    text_sha256: Sha256 | None = Field(None, description="of an attestation's note")
    path_sha256: Sha256
    file_sha256: Sha256 | None = Field(description="of what was deleted, for a purge")
    archives_approval_sha256: Sha256 | None = Field(
        None,
        description="of the reference of the archives service's approval of eliminating public "
        "archives (Code du patrimoine L212-3), for a request with intermediate archiving",
    )
    omitted_when_none = RequestStep.omitted_when_none | {"archives_approval_sha256"}

    def bind(self, book: FactBook, event: Logged) -> None:
        book.destruction[(self.request, self.delivery)] = DestructionFacts(
            seq=event.seq,
            method=self.method,
            path_sha256=self.path_sha256,
            file_sha256=self.file_sha256,
            note_sha256=self.text_sha256,
            on=day_of(event.time),
            approval_sha256=self.archives_approval_sha256,
        )


STEPS: tuple[type[RequestFile | RequestStep], ...] = (
    RequestFile,
    RequestAmend,
    RequestWithdraw,
    StudyAccept,
    StudyReturn,
    StudySubmit,
    OpinionGiven,
    Annotate,
    Advise,
    Approve,
    Reject,
    AcceptConditions,
    Lapse,
    Send,
    Receive,
    Destroy,
    Suspend,
    Resume,
    ReviewRecord,
)
