"""The requesting party's side of Article 7: check, file, amend, withdraw; and reading requests.

Filing and amending run pre-screening (:mod:`~ctg_exchange.policy.screening`): a blocking
finding refuses the action and names its rule; the findings, the triage and the DPIA flag are
stored with the request. Every step records one signed event whose payload binds free texts by
their SHA-256 (the texts stay in the request's history, out of the evidence log).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from ..audit.canonical import document_digest, text_digest
from ..domain.actions import Action
from ..domain.catalogue import CATALOGUE
from ..domain.dates import procedure_date
from ..domain.exchange import Delivery, Reception
from ..domain.lifecycle import next_status
from ..domain.models import (
    ExchangeRequest,
    Member,
    RequestContent,
    Role,
    Status,
    Step,
    format_request_id,
)
from ..domain.rules import (
    DUTY_OF,
    RULE_HOLDER_DPO,
    authorise,
    authorise_filing,
    separate_duties,
)
from ..domain.step_payloads import ContentSummary, RequestAmend, RequestFile, RequestStep, StepHead
from ..errors import (
    ExchangeError,
    InvalidInput,
    InvalidRequest,
    NotAuthorised,
    NotFound,
    Refused,
    cut,
)
from ..i18n import N_, _
from ..policy.checks import check_references
from ..policy.model import Policy
from ..policy.request_input import content_problems
from ..policy.screening import Screening, screen
from ..store.base import Reads, Tx
from .remoting import remotable, said
from .session import Recorder, Session, load_actor, perform
from .workspace import Workspace


@functools.lru_cache(maxsize=256)
def content_digest(content: RequestContent) -> str:
    """SHA-256 of the content's digest document. A content is a frozen value (equal contents
    have one digest): the few last are kept, since verifying a log computes each twice (the law
    re-applied, then the stored request compared) and many requests file the same content."""
    return document_digest(content.digest_document())


def parse_content(values: dict[str, Any], policy: Policy | None = None) -> RequestContent:
    """Build request content from plain values; every problem in one ``InvalidRequest``
    (with ``policy``, unknown references too, and its values in the messages)."""
    problems = content_problems(values, policy)
    if problems:
        raise InvalidRequest(problems)
    return RequestContent.model_validate(values)


# what a screening refuses (``filing``, ``amendment``): its one blocking finding, or its codes
_REFUSED = {
    "filing": (N_("filing refused: {code}: {problem}"), N_("filing refused: {codes}")),
    "amendment": (N_("amendment refused: {code}: {problem}"), N_("amendment refused: {codes}")),
}


class ScreeningRefused(Refused):
    """Filing or amending (``doing``: ``filing``, ``amendment``) refused by blocking findings;
    ``findings`` lists them all."""

    def __init__(self, doing: str, screening: Screening) -> None:
        blocking = screening.blocking
        one, many = _REFUSED[doing]
        codes = dict.fromkeys(f.code for f in blocking)  # each code once, in order
        message = (
            _(one).format(code=blocking[0].code, problem=blocking[0].message)
            if len(blocking) == 1
            else _(many).format(codes=", ".join(codes))
        )
        channels = [f"{f.code} → {f.channel}" for f in blocking if f.channel]
        super().__init__(
            blocking[0].code,
            message,
            hint=_("proper channel: {channels}").format(channels="; ".join(channels))
            if channels
            else None,
            details=[f"{f.code}: {f.message}" for f in blocking] if len(blocking) > 1 else (),
        )
        self.findings = screening.findings

    def to_json(self) -> dict[str, Any]:
        findings = [f.model_dump(mode="json") for f in self.findings]
        return {**super().to_json(), **({"findings": findings} if findings else {})}


def load_request(tx: Tx, request_id: str) -> ExchangeRequest:
    request = tx.get_request(request_id)
    if request is None:
        raise NotFound(
            _("no request {id!r}").format(id=cut(request_id)),
            hint=_("`ctg-exchange request list` shows them"),
        )
    return request


def decided_on(request: ExchangeRequest) -> date | None:
    """The day ``request`` was approved (or rejected), if it was."""
    return None if request.decision is None else request.decision.on


def text_or_none(value: str | None) -> str | None:
    return value.strip() if value and value.strip() else None


def required_text(value: str | None, option: str) -> str:
    text = text_or_none(value)
    if text is None:
        raise InvalidInput(_("{option} must not be empty").format(option=option))
    return text


StepBuilder = Callable[[StepHead], RequestStep]


def record_step(
    tx: Tx,
    recorder: Recorder,
    actor: Member,
    request: ExchangeRequest,
    action: Action,
    *,
    text: str | None = None,
    payload: StepBuilder | None = None,
    closing: bool = False,
    **changes: Any,
) -> ExchangeRequest:
    """Authorise, move, store and record one step of ``request``.

    ``payload`` builds the step's payload from its head (request, states, text digest); by
    default the action's model takes the head alone.
    """
    role = authorise(action, actor, request)
    if action in DUTY_OF:
        taken = [(step.action, step.actor) for step in tx.steps(request.id)]
        separate_duties(action, actor.id, request.id, taken)
    status = next_status(action, request, closing=closing)
    dated = {k: v(recorder.now) if callable(v) else v for k, v in changes.items()}
    updated = request.evolve(status=status, updated_at=recorder.now, **dated)
    tx.update_request(updated)
    head = StepHead(
        request=request.id,
        from_status=request.status,
        to_status=status,
        text_sha256=None if text is None else text_digest(text),
    )
    body = payload(head) if payload is not None else CATALOGUE[action].model_validate(head)
    assert body.action is action, f"{type(body).__name__} is not the payload of {action}"
    event = recorder.record(actor, role, request.id, body)
    tx.insert_step(event.seq, request.id, action.value, request.status, status, text)
    return updated


def _content(content: RequestContent, screening: Screening, version: int) -> ContentSummary:
    return ContentSummary(
        to=content.to,
        field=content.field,
        purpose_kind=content.purpose_kind,
        categories=content.categories,
        legal_basis=content.legal_basis,
        retention_days=content.retention_days,
        frequency=content.frequency,
        content_sha256=content_digest(content),
        triage=screening.triage,
        findings=tuple(sorted(screening.codes)),
        dpia_required=screening.dpia_required,
        policy_version=version,
    )


def _screen(session: Session, tx: Tx, content: RequestContent) -> tuple[Screening, int]:
    """Screen ``content`` under the current policy and the convention as it stands today."""
    workspace = session.workspace
    current = workspace.current_policy(tx)
    check_references(current.policy, content)
    why = workspace.convention(tx).why_not_in_force(session.clock.today())
    return screen(current.policy, content, why), current.version


@remotable("request.check")
def check_request(session: Session, content: RequestContent) -> Screening:
    """A dry run: screen a request without filing it (nothing is written, no key is needed)."""
    with session.workspace.store.transaction() as tx:
        screening, _version = _screen(session, tx, content)
    return screening


@remotable(
    Action.FILE,
    expect=lambda a: {"content_sha256": content_digest(a["content"]), "to_status": "filed"},
)
def file_request(session: Session, content: RequestContent) -> ExchangeRequest:
    today = session.clock.today()
    counter = f"request-{today.year}"

    def operation(tx: Tx, actor: Member, recorder: Recorder) -> ExchangeRequest:
        role = authorise_filing(actor, content.to)
        screening, version = _screen(session, tx, content)
        if screening.blocking:
            raise ScreeningRefused("filing", screening)
        request = ExchangeRequest(
            id=format_request_id(today.year, tx.next_number(counter)),
            status=Status.FILED,
            from_party=actor.party,
            content=content,
            filed_by=actor.id,
            filed_on=procedure_date(recorder.now),  # the day in France of its event
            filed_at=recorder.now,
            updated_at=recorder.now,
            policy_version=version,
            triage=screening.triage,
            findings=screening.findings,
            dpia_required=screening.dpia_required,
        )
        tx.insert_request(request)
        summary = _content(content, screening, version)
        tx.keep_content(request.id, summary.content_sha256, content)
        filed = RequestFile(request=request.id, to_status=Status.FILED, **summary.model_dump())
        event = recorder.record(actor, role, request.id, filed)
        tx.insert_step(event.seq, request.id, filed.action.value, None, Status.FILED, None)
        return request

    return perform(session, operation, Reads(policy=True, counter=counter))


@remotable(
    Action.AMEND,
    expect=lambda a: {
        "request": a["request_id"],
        "changed": lambda got: set(got) <= set(a["changes"]),
    },
)
def amend_request(session: Session, request_id: str, changes: dict[str, Any]) -> ExchangeRequest:
    """Change a filed or returned request; it is screened again and filed again."""
    if not changes:
        raise InvalidInput(_("nothing to amend: give at least one field to change"))

    def operation(tx: Tx, actor: Member, recorder: Recorder) -> ExchangeRequest:
        request = load_request(tx, request_id)
        authorise(Action.AMEND, actor, request)
        next_status(Action.AMEND, request)
        policy = session.workspace.current_policy(tx).policy
        content = parse_content({**request.content.model_dump(), **changes}, policy)
        if content.to == actor.party:
            raise InvalidInput(
                _("a request is addressed to the other party, not to {party}").format(
                    party=actor.party
                )
            )
        changed = sorted(k for k in changes if getattr(content, k) != getattr(request.content, k))
        if not changed:
            raise InvalidInput(_("nothing to amend: the values given are the current ones"))
        screening, version = _screen(session, tx, content)
        if screening.blocking:
            raise ScreeningRefused("amendment", screening)
        tx.keep_content(request.id, content_digest(content), content)
        return record_step(
            tx,
            recorder,
            actor,
            request,
            Action.AMEND,
            text=f"changed: {', '.join(changed)}",
            payload=lambda head: RequestAmend(
                **head, changed=tuple(changed), **_content(content, screening, version).model_dump()
            ),
            content=content,
            policy_version=version,
            triage=screening.triage,
            findings=screening.findings,
            dpia_required=screening.dpia_required,
        )

    return perform(session, operation, Reads(request=request_id, policy=True))


@remotable(Action.WITHDRAW, expect=lambda a: {"text_sha256": said(a["reason"])})
def withdraw_request(session: Session, request_id: str, reason: str) -> ExchangeRequest:
    text = required_text(reason, "--reason")

    def operation(tx: Tx, actor: Member, recorder: Recorder) -> ExchangeRequest:
        request = load_request(tx, request_id)
        return record_step(tx, recorder, actor, request, Action.WITHDRAW, text=text)

    return perform(session, operation, Reads(request=request_id))


# -- reading -------------------------------------------------------------------------------


@dataclass(frozen=True)
class RequestView:
    """A request with its history and its deliveries (each with its reception, if any)."""

    request: ExchangeRequest
    steps: list[Step]
    deliveries: list[tuple[Delivery, Reception | None]]


def findings_as_read(workspace: Workspace, tx: Tx, request: ExchangeRequest) -> ExchangeRequest:
    """``request`` with its findings' messages in the reader's language.

    The stored findings were written in the language of whoever filed or amended the request;
    their codes are what the log records. The request is screened again under the policy
    version it names; when that gives the very codes and severities stored, its messages are
    shown, else the stored ones are (a policy version missing, a row changed behind the tool's
    back: ``audit verify`` names it). The convention's state is not screened again: a filing
    or an amendment it refused was never stored. ``request show`` reads the same findings
    light (:func:`ctg_exchange.services.showing.findings_as_read`).
    """
    if not request.findings:
        return request
    record = next((p for p in tx.policies() if p.version == request.policy_version), None)
    try:
        if record is None:
            return request
        policy = workspace.parsed(record).policy
        again = screen(policy, request.content, None).findings
    except ExchangeError:
        return request
    if sorted((f.code, f.severity) for f in again) != sorted(
        (f.code, f.severity) for f in request.findings
    ):
        return request
    return request.model_copy(update={"findings": tuple(again)})


@remotable("request.show")
def get_request(workspace: Workspace, request_id: str) -> RequestView:
    with workspace.store.transaction() as tx:
        request = findings_as_read(workspace, tx, load_request(tx, request_id))
        deliveries = [
            (d, tx.get_reception(d.request_id, d.number)) for d in tx.deliveries(request_id)
        ]
        return RequestView(request, tx.steps(request_id), deliveries)


@remotable("request.list")
def list_requests(workspace: Workspace, status: Status | None = None) -> list[ExchangeRequest]:
    with workspace.store.transaction() as tx:
        return tx.list_requests(status=status)


@dataclass(frozen=True)
class InboxItem:
    request: ExchangeRequest
    due: date
    overdue: bool


@remotable("dpo.inbox")
def dpo_inbox(session: Session) -> list[InboxItem]:
    """Requests awaiting the acting DPO's opinion, by due date (overdue first)."""
    workspace = session.workspace
    today = session.clock.today()
    with workspace.store.transaction() as tx:
        actor = load_actor(tx, session.require_actor(), reading=True, today=today)
        if not actor.has(Role.DPO):
            raise NotAuthorised(
                RULE_HOLDER_DPO,
                _("{member} is not a DPO: the inbox is the DPO's").format(member=actor.id),
            )
        policy = workspace.current_policy(tx).policy
        waiting = tx.list_requests(status=Status.AWAITING_DPO, to_party=actor.party)
    items = []
    for request in waiting:
        due = request.opinion_due(policy.opinion_deadline_days)
        items.append(InboxItem(request=request, due=due, overdue=due < today))
    return sorted(items, key=lambda item: (item.due, item.request.id))
