"""The Article 7 procedure, filing through decision (DESIGN §4).

Each step authorises the actor (:mod:`~ctg_exchange.domain.rules`), checks the transition
(:mod:`~ctg_exchange.domain.lifecycle`), updates the request, and records one signed event whose
payload binds any free text by its SHA-256 (the text itself stays in the request's history, out
of the evidence log).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from pydantic import ValidationError

from ..audit.canonical import canonical_json, text_digest
from ..domain.lifecycle import Action, next_status
from ..domain.models import (
    Annotation,
    Decision,
    ExchangeRequest,
    Member,
    Opinion,
    Recommendation,
    RequestContent,
    Role,
    Status,
    Step,
    Verdict,
    format_request_id,
)
from ..domain.rules import RULE_HOLDER_DPO, authorise, authorise_filing
from ..errors import InvalidInput, NotAuthorised, NotFound
from ..policy.checks import check_references, ensure_in_force
from ..store.base import Tx
from .session import Recorder, Session, load_actor, perform
from .workspace import Workspace


def content_digest(content: RequestContent) -> str:
    import hashlib

    return hashlib.sha256(canonical_json(content.model_dump(mode="json"))).hexdigest()


def parse_content(values: dict[str, Any]) -> RequestContent:
    """Build request content from plain values, as one ``InvalidInput`` line on failure."""
    try:
        return RequestContent.model_validate(values)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"]) or "request"
        message = "unknown field" if first["type"] == "extra_forbidden" else first["msg"]
        if first["type"] == "missing":
            message = "is required"
        raise InvalidInput(f"{where}: {str(message).removeprefix('Value error, ')}") from None


def _text(value: str | None, option: str) -> str:
    text = (value or "").strip()
    if not text:
        raise InvalidInput(f"{option} must not be empty")
    return text


def _load(tx: Tx, request_id: str) -> ExchangeRequest:
    request = tx.get_request(request_id)
    if request is None:
        raise NotFound(f"no request {request_id!r}", hint="`ctg-exchange request list` shows them")
    return request


def _step(
    tx: Tx,
    recorder: Recorder,
    actor: Member,
    request: ExchangeRequest,
    action: Action,
    *,
    text: str | None = None,
    payload: dict[str, Any] | None = None,
    **changes: Any,
) -> ExchangeRequest:
    """Authorise, move, store and record one step of ``request``."""
    role = authorise(action, actor, request)
    status = next_status(action, request.id, request.status)
    updated = request.evolve(status=status, updated_at=recorder.now, **changes)
    tx.update_request(updated)
    body: dict[str, Any] = {
        "request": request.id,
        "from_status": request.status.value,
        "to_status": status.value,
        **(payload or {}),
    }
    if text is not None:
        body["text_sha256"] = text_digest(text)
    event = recorder.record(actor, role, action.value, request.id, body)
    tx.insert_step(event.seq, request.id, action.value, request.status, status, text)
    return updated


def _content_payload(content: RequestContent) -> dict[str, Any]:
    return {
        "to": content.to,
        "field": content.field,
        "purpose_kind": content.purpose_kind,
        "categories": list(content.categories),
        "legal_basis": content.legal_basis,
        "retention_days": content.retention_days,
        "frequency": content.frequency.value,
        "content_sha256": content_digest(content),
    }


def file_request(session: Session, content: RequestContent) -> ExchangeRequest:
    workspace = session.workspace
    policy = workspace.loaded_policy.policy
    today = session.clock.today()

    def operation(tx: Tx, actor: Member, recorder: Recorder) -> ExchangeRequest:
        role = authorise_filing(actor, content.to)
        check_references(policy, content)
        ensure_in_force(policy, today, "filing")
        request = ExchangeRequest(
            id=format_request_id(today.year, tx.next_number(f"request-{today.year}")),
            status=Status.FILED,
            from_party=actor.party,
            content=content,
            filed_by=actor.id,
            filed_on=today,
            filed_at=recorder.now,
            updated_at=recorder.now,
            policy_version=workspace.policy_record.version,
        )
        tx.insert_request(request)
        event = recorder.record(
            actor,
            role,
            Action.FILE.value,
            request.id,
            {
                "request": request.id,
                "to_status": Status.FILED.value,
                "policy_version": request.policy_version,
                **_content_payload(content),
            },
        )
        tx.insert_step(event.seq, request.id, Action.FILE.value, None, Status.FILED, None)
        return request

    return perform(session, operation)


def amend_request(session: Session, request_id: str, changes: dict[str, Any]) -> ExchangeRequest:
    if not changes:
        raise InvalidInput("nothing to amend: give at least one field to change")
    policy = session.workspace.loaded_policy.policy

    def operation(tx: Tx, actor: Member, recorder: Recorder) -> ExchangeRequest:
        request = _load(tx, request_id)
        authorise(Action.AMEND, actor, request)
        next_status(Action.AMEND, request.id, request.status)
        content = parse_content({**request.content.model_dump(), **changes})
        check_references(policy, content)
        if content.to == actor.party:
            raise InvalidInput(f"a request is addressed to the other party, not to {actor.party}")
        changed = sorted(k for k in changes if getattr(content, k) != getattr(request.content, k))
        if not changed:
            raise InvalidInput("nothing to amend: the values given are the current ones")
        return _step(
            tx,
            recorder,
            actor,
            request,
            Action.AMEND,
            text=f"changed: {', '.join(changed)}",
            payload={"changed": changed, **_content_payload(content)},
            content=content,
        )

    return perform(session, operation)


def _simple_step(
    session: Session, request_id: str, action: Action, text: str | None, **changes: Any
) -> ExchangeRequest:
    def operation(tx: Tx, actor: Member, recorder: Recorder) -> ExchangeRequest:
        return _step(tx, recorder, actor, _load(tx, request_id), action, text=text, **changes)

    return perform(session, operation)


def withdraw_request(session: Session, request_id: str, reason: str) -> ExchangeRequest:
    return _simple_step(session, request_id, Action.WITHDRAW, _text(reason, "--reason"))


def study_accept(session: Session, request_id: str, note: str) -> ExchangeRequest:
    return _simple_step(session, request_id, Action.STUDY_ACCEPT, _text(note, "--note"))


def study_return(session: Session, request_id: str, reason: str) -> ExchangeRequest:
    return _simple_step(session, request_id, Action.STUDY_RETURN, _text(reason, "--reason"))


def study_submit(session: Session, request_id: str, note: str | None = None) -> ExchangeRequest:
    text = note.strip() if note and note.strip() else None
    return _simple_step(
        session, request_id, Action.STUDY_SUBMIT, text, submitted_on=session.clock.today()
    )


def give_opinion(
    session: Session,
    request_id: str,
    verdict: Verdict,
    note: str,
    recommendations: Sequence[str] = (),
) -> ExchangeRequest:
    note = _text(note, "--note")
    texts = [_text(text, "--recommend") for text in recommendations]
    if verdict is Verdict.FAVOURABLE and texts:
        raise InvalidInput(
            "a favourable opinion carries no recommendations: "
            "use --verdict favourable_with_recommendations"
        )
    if verdict is Verdict.FAVOURABLE_WITH_RECOMMENDATIONS and not texts:
        raise InvalidInput("favourable_with_recommendations needs at least one --recommend")
    numbered = tuple(Recommendation(number=i, text=t) for i, t in enumerate(texts, start=1))
    today = session.clock.today()

    def operation(tx: Tx, actor: Member, recorder: Recorder) -> ExchangeRequest:
        opinion = Opinion(
            verdict=verdict,
            note=note,
            by=actor.id,
            at=recorder.now,
            on=today,
            recommendations=numbered,
        )
        return _step(
            tx,
            recorder,
            actor,
            _load(tx, request_id),
            Action.OPINION,
            text=note,
            payload={
                "verdict": verdict.value,
                "recommendations": [text_digest(r.text) for r in numbered],
            },
            opinion=opinion,
        )

    return perform(session, operation)


def annotate(session: Session, request_id: str, note: str) -> ExchangeRequest:
    note = _text(note, "--note")
    today = session.clock.today()

    def operation(tx: Tx, actor: Member, recorder: Recorder) -> ExchangeRequest:
        request = _load(tx, request_id)
        annotation = Annotation(
            by=actor.id, party=actor.party, at=recorder.now, on=today, note=note
        )
        return _step(
            tx,
            recorder,
            actor,
            request,
            Action.ANNOTATE,
            text=note,
            annotations=(*request.annotations, annotation),
        )

    return perform(session, operation)


def approve(session: Session, request_id: str, justification: str | None = None) -> ExchangeRequest:
    text = justification.strip() if justification and justification.strip() else None
    policy = session.workspace.loaded_policy.policy
    today = session.clock.today()

    def operation(tx: Tx, actor: Member, recorder: Recorder) -> ExchangeRequest:
        request = _load(tx, request_id)
        authorise(Action.APPROVE, actor, request)
        next_status(Action.APPROVE, request.id, request.status)
        ensure_in_force(policy, today, "approval")
        assert request.opinion is not None
        against = request.opinion.verdict is Verdict.UNFAVOURABLE
        if against and text is None:
            raise InvalidInput(
                f"the DPO's opinion on {request.id} is unfavourable: approving needs written "
                "reasons in --justification"
            )
        decision = Decision(
            outcome=Status.APPROVED,
            by=actor.id,
            at=recorder.now,
            on=today,
            text=text,
            against_opinion=against,
        )
        return _step(
            tx,
            recorder,
            actor,
            request,
            Action.APPROVE,
            text=text,
            payload={"outcome": "approved", "against_opinion": against},
            decision=decision,
        )

    return perform(session, operation)


def reject(session: Session, request_id: str, reason: str) -> ExchangeRequest:
    reason = _text(reason, "--reason")
    today = session.clock.today()

    def operation(tx: Tx, actor: Member, recorder: Recorder) -> ExchangeRequest:
        decision = Decision(
            outcome=Status.REJECTED, by=actor.id, at=recorder.now, on=today, text=reason
        )
        return _step(
            tx,
            recorder,
            actor,
            _load(tx, request_id),
            Action.REJECT,
            text=reason,
            payload={"outcome": "rejected"},
            decision=decision,
        )

    return perform(session, operation)


# -- reading -------------------------------------------------------------------------------


def get_request(workspace: Workspace, request_id: str) -> tuple[ExchangeRequest, list[Step]]:
    with workspace.store.transaction() as tx:
        return _load(tx, request_id), tx.steps(request_id)


def list_requests(workspace: Workspace, status: Status | None = None) -> list[ExchangeRequest]:
    with workspace.store.transaction() as tx:
        return tx.list_requests(status=status)


@dataclass(frozen=True)
class InboxItem:
    request: ExchangeRequest
    due: date
    overdue: bool


def dpo_inbox(session: Session) -> list[InboxItem]:
    """Requests awaiting the acting DPO's opinion, by due date (overdue first)."""
    workspace = session.workspace
    deadline = timedelta(days=workspace.loaded_policy.policy.opinion_deadline_days)
    today = session.clock.today()
    with workspace.store.transaction() as tx:
        actor = load_actor(tx, session.require_actor())
        if not actor.has(Role.DPO):
            raise NotAuthorised(RULE_HOLDER_DPO, f"{actor.id} is not a DPO: the inbox is the DPO's")
        waiting = tx.list_requests(status=Status.AWAITING_DPO, to_party=actor.party)
    items = []
    for request in waiting:
        due = (request.submitted_on or request.filed_on) + deadline
        items.append(InboxItem(request=request, due=due, overdue=due < today))
    return sorted(items, key=lambda item: (item.due, item.request.id))
