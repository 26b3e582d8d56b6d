"""The holding party's side of Article 7: study, opinion, decision.

Study (accept, return, submit) and decision by the holder's controller; the prior opinion of the
holder's DPO, whose recommendations bind: approving answers each of them, adopted ones become
conditions, which the requesting party's controller accepts before anything is sent
(:mod:`.conditions`). DPOs of either party annotate; the requesting party's DPO advises.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..audit.canonical import text_digest
from ..domain.actions import Action
from ..domain.dates import procedure_date
from ..domain.lifecycle import next_status
from ..domain.models import (
    Advice,
    Annotation,
    Decision,
    ExchangeRequest,
    Member,
    Opinion,
    Status,
    Verdict,
)
from ..domain.recommendations import (
    Recommendation,
    RecommendationKind,
    conditions_of,
    parse_answers,
    parse_recommendation,
)
from ..domain.requirements import check_answered, check_approval
from ..domain.rules import authorise
from ..domain.step_payloads import (
    Approve,
    OpinionGiven,
    RecommendationDigest,
    Reject,
    SetAside,
)
from ..errors import InvalidInput
from ..i18n import _
from ..policy.model import Policy
from ..store.base import Reads, Tx
from .remoting import remotable, said
from .requests import load_request, record_step, required_text, text_or_none
from .session import Recorder, Session, perform


def _opinion_said(a: dict[str, Any]) -> dict[str, Any]:
    """What an opinion's event says, from its arguments (the member's client checks it)."""
    texts = [text.strip() for text in a["recommendations"]]
    numbered = [parse_recommendation(i, t) for i, t in enumerate(texts, start=1)]
    return {
        "verdict": Verdict(a["verdict"]).value,
        "text_sha256": said(a["note"]),
        "recommendations": [{"kind": r.kind.value, "sha256": said(r.text)} for r in numbered],
    }


def _approval_said(a: dict[str, Any]) -> dict[str, Any]:
    """What an approval's event says of the answers given (numbers, reasons' digests)."""

    def number(label: str) -> int:
        digits = label.strip().upper().removeprefix("R")
        return int(digits) if digits.isdigit() else -1

    set_aside = [item.partition("=") for item in a["set_aside"]]
    return {
        "text_sha256": said(a["justification"]),
        "adopted": lambda got: sorted(got or ()) == sorted(number(x) for x in a["adopt"]),
        "set_aside": lambda got: (
            sorted((s["number"], s["reason_sha256"]) for s in got or ())
            == sorted((number(label), said(reason)) for label, _, reason in set_aside)
        ),
    }


def _simple_step(
    session: Session, request_id: str, action: Action, text: str | None, **changes: Any
) -> ExchangeRequest:
    def operation(tx: Tx, actor: Member, recorder: Recorder) -> ExchangeRequest:
        request = load_request(tx, request_id)
        return record_step(tx, recorder, actor, request, action, text=text, **changes)

    return perform(session, operation, Reads(request=request_id))


@remotable(Action.STUDY_ACCEPT, expect=lambda a: {"text_sha256": said(a["note"])})
def study_accept(session: Session, request_id: str, note: str) -> ExchangeRequest:
    return _simple_step(session, request_id, Action.STUDY_ACCEPT, required_text(note, "--note"))


@remotable(Action.STUDY_RETURN, expect=lambda a: {"text_sha256": said(a["reason"])})
def study_return(session: Session, request_id: str, reason: str) -> ExchangeRequest:
    text = required_text(reason, "--reason")
    return _simple_step(session, request_id, Action.STUDY_RETURN, text)


@remotable(Action.STUDY_SUBMIT, expect=lambda a: {"text_sha256": said(a["note"])})
def study_submit(session: Session, request_id: str, note: str | None = None) -> ExchangeRequest:
    return _simple_step(
        session,
        request_id,
        Action.STUDY_SUBMIT,
        text_or_none(note),
        submitted_on=procedure_date,  # of its event's time
    )


def _check_against_request(
    recommendation: Recommendation, request: ExchangeRequest, policy: Policy
) -> None:
    """A machine-checkable recommendation must make sense for this request."""
    label = recommendation.label
    if recommendation.columns:
        known = [
            column
            for category_id in request.content.categories
            if (category := policy.category(category_id)) is not None
            for column in category.columns
        ]
        unknown = [c for c in recommendation.columns if c not in known]
        if unknown:
            raise InvalidInput(
                _(
                    "{label} names columns the request does not carry: {unknown} (it carries "
                    "{known})"
                ).format(label=label, unknown=", ".join(unknown), known=", ".join(known))
            )
    if recommendation.kind is RecommendationKind.AGGREGATE_MIN_COUNT and not any(
        (category := policy.category(c)) is not None and category.count_columns
        for c in request.content.categories
    ):
        raise InvalidInput(
            _("{label} checks count cells, and the request carries no count column").format(
                label=label
            )
        )
    if (
        recommendation.kind is RecommendationKind.MAX_RETENTION_DAYS
        and recommendation.value is not None
        and recommendation.value >= request.content.kept_days  # use and archiving together
    ):
        raise InvalidInput(
            _(
                "{label} would keep the data {days} days, not less than the {requested} days "
                "requested"
            ).format(label=label, days=recommendation.value, requested=request.content.kept_days)
        )


@remotable(Action.OPINION, expect=_opinion_said)
def give_opinion(
    session: Session,
    request_id: str,
    verdict: Verdict,
    note: str,
    recommendations: Sequence[str] = (),
) -> ExchangeRequest:
    note = required_text(note, "--note")
    texts = [required_text(text, "--recommend") for text in recommendations]
    if verdict is Verdict.FAVOURABLE and texts:
        raise InvalidInput(
            _(
                "a favourable opinion carries no recommendations: "
                "use --verdict favourable_with_recommendations"
            )
        )
    if verdict is Verdict.FAVOURABLE_WITH_RECOMMENDATIONS and not texts:
        raise InvalidInput(_("favourable_with_recommendations needs at least one --recommend"))
    numbered = tuple(parse_recommendation(i, t) for i, t in enumerate(texts, start=1))
    today = session.clock.today()

    def operation(tx: Tx, actor: Member, recorder: Recorder) -> ExchangeRequest:
        request = load_request(tx, request_id)
        policy = session.workspace.current_policy(tx).policy
        for recommendation in numbered:
            _check_against_request(recommendation, request, policy)
        opinion = Opinion(
            verdict=verdict,
            note=note,
            by=actor.id,
            at=recorder.now,
            on=today,
            recommendations=numbered,
        )
        digests = tuple(
            RecommendationDigest(kind=r.kind, sha256=text_digest(r.text)) for r in numbered
        )
        return record_step(
            tx,
            recorder,
            actor,
            request,
            Action.OPINION,
            text=note,
            payload=lambda head: OpinionGiven(**head, verdict=verdict, recommendations=digests),
            opinion=opinion,
        )

    return perform(session, operation, Reads(request=request_id, policy=True))


@remotable(Action.ANNOTATE, expect=lambda a: {"text_sha256": said(a["note"])})
def annotate(session: Session, request_id: str, note: str) -> ExchangeRequest:
    note = required_text(note, "--note")
    today = session.clock.today()

    def operation(tx: Tx, actor: Member, recorder: Recorder) -> ExchangeRequest:
        request = load_request(tx, request_id)
        annotation = Annotation(
            by=actor.id, party=actor.party, at=recorder.now, on=today, note=note
        )
        return record_step(
            tx,
            recorder,
            actor,
            request,
            Action.ANNOTATE,
            text=note,
            annotations=(*request.annotations, annotation),
        )

    return perform(session, operation, Reads(request=request_id))


@remotable(Action.ADVISE, expect=lambda a: {"text_sha256": said(a["note"])})
def advise(session: Session, request_id: str, note: str) -> ExchangeRequest:
    """The requesting party's DPO advises its own party on a request (it runs the DPIA and
    informs the families, GDPR art. 14, 35): recorded with the request, blocking no step."""
    note = required_text(note, "--note")
    today = session.clock.today()

    def operation(tx: Tx, actor: Member, recorder: Recorder) -> ExchangeRequest:
        request = load_request(tx, request_id)
        advice = Advice(by=actor.id, at=recorder.now, on=today, note=note)
        return record_step(
            tx, recorder, actor, request, Action.ADVISE, text=note,
            advices=(*request.advices, advice),
        )  # fmt: skip

    return perform(session, operation, Reads(request=request_id))


@remotable(Action.APPROVE, expect=_approval_said)
def approve(
    session: Session,
    request_id: str,
    justification: str | None = None,
    adopt: Sequence[str] = (),
    set_aside: Sequence[str] = (),
) -> ExchangeRequest:
    """Approve, answering every recommendation; against an unfavourable or out_of_scope
    opinion, with written reasons (flagged as against the opinion)."""
    text = text_or_none(justification)
    today = session.clock.today()
    rules = session.workspace.rules  # read before the transaction: it reads the genesis

    def operation(tx: Tx, actor: Member, recorder: Recorder) -> ExchangeRequest:
        request = load_request(tx, request_id)
        authorise(Action.APPROVE, actor, request)
        next_status(Action.APPROVE, request)
        state = session.workspace.convention(tx)
        state.ensure_in_force(today, _("approval"))
        state.ensure_same_period(request.filed_on, None, _("approval"))
        recommendations = request.opinion.recommendations if request.opinion else ()
        answers = parse_answers(recommendations, list(adopt), list(set_aside))
        check_answered(
            request.id,
            len(recommendations),
            [a.number for a in answers if a.adopted],
            [a.number for a in answers if not a.adopted],
        )
        verdict = request.opinion.verdict.value if request.opinion else None
        against = check_approval(request.id, verdict, text is not None, rules)
        decision = Decision(
            outcome=Status.APPROVED,
            by=actor.id,
            at=recorder.now,
            on=today,
            text=text,
            against_opinion=against,
            answers=answers,
        )
        conditions = conditions_of(recommendations, answers)
        adopted = tuple(a.number for a in answers if a.adopted)
        reasons = tuple(
            SetAside(number=a.number, reason_sha256=text_digest(a.reason or ""))
            for a in answers
            if not a.adopted
        )
        return record_step(
            tx,
            recorder,
            actor,
            request,
            Action.APPROVE,
            text=text,
            payload=lambda head: Approve(
                **head,
                outcome="approved",
                against_opinion=against,
                adopted=adopted,
                set_aside=reasons,
            ),
            decision=decision,
            conditions=conditions,
        )

    return perform(session, operation, Reads(request=request_id, policy=True))


@remotable(Action.REJECT, expect=lambda a: {"text_sha256": said(a["reason"])})
def reject(session: Session, request_id: str, reason: str) -> ExchangeRequest:
    reason = required_text(reason, "--reason")
    today = session.clock.today()

    def operation(tx: Tx, actor: Member, recorder: Recorder) -> ExchangeRequest:
        decision = Decision(
            outcome=Status.REJECTED, by=actor.id, at=recorder.now, on=today, text=reason
        )
        request = load_request(tx, request_id)
        return record_step(
            tx,
            recorder,
            actor,
            request,
            Action.REJECT,
            text=reason,
            payload=lambda head: Reject(**head, outcome="rejected"),
            decision=decision,
        )

    return perform(session, operation, Reads(request=request_id))
