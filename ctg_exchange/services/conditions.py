"""An approved exchange's life: the requester accepts its conditions, the holder suspends it
for a breach and resumes it, and reviews it every year until a review closes it.

- The requesting party's controller accepts the conditions (DOMAIN §2 step 5) and records how
  the persons concerned are told which data came from the holder (GDPR art. 14, CRPA L114-8)
  and, where the data feed individual decisions, where those decisions say so (CRPA L311-3-1).
- The holding party's controller suspends an exchange whose conditions were breached ("a breach
  suspends the exchange"): nothing is sent while it is suspended; resuming returns it to the
  state it was suspended from.
- Recurring flows are reviewed yearly (step 8): a review continues the exchange or closes it.
  :func:`reviews_due` lists the exchanges whose review is due: what ``remind`` (issue 18) is to
  announce.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from ..audit.canonical import document_digest, text_digest
from ..domain.actions import Action
from ..domain.lifecycle import ACTIVE, next_status
from ..domain.models import (
    Acceptance,
    ExchangeRequest,
    Member,
    Review,
    ReviewOutcome,
    Suspension,
    Triage,
)
from ..domain.requirements import check_acceptance, check_dpia
from ..domain.rules import authorise
from ..domain.step_payloads import AcceptConditions, ReviewRecord
from ..i18n import _
from ..store.base import Tx
from .register import feed_acceptance
from .remoting import remotable, said
from .requests import decided_on, load_request, record_step, required_text, text_or_none
from .session import Recorder, Session, perform
from .workspace import Workspace

REVIEW_EVERY = timedelta(days=365)  # recurring flows are reviewed yearly (DOMAIN §2 step 8)


@remotable(
    Action.ACCEPT_CONDITIONS,
    also={Action.REGISTER_VERSION},
    expect=lambda a: {
        "dpia_ref_sha256": said(a["dpia_ref"]),
        "information_sha256": said(a["information"]),
        "l311_mention_sha256": said(a["l311_mention"]),
    },
)
def accept_conditions(
    session: Session,
    request_id: str,
    dpia_ref: str | None = None,
    information: str | None = None,
    l311_mention: str | None = None,
) -> ExchangeRequest:
    """The requesting party's controller accepts the conditions; nothing is sent before.

    A request for which pre-screening found a DPIA necessary needs the DPIA's reference: the
    DPIA is completed before any transfer. A personal request records the Art. 14 information,
    and the L311-3-1 mention where its data feed individual decisions (rules 3). Accepting feeds
    both parties' Article 30 registers.
    """
    today = session.clock.today()
    rules = session.workspace.rules  # read before the transaction: it reads the genesis
    dpia, told = text_or_none(dpia_ref), text_or_none(information)
    mention = text_or_none(l311_mention)

    def operation(tx: Tx, actor: Member, recorder: Recorder) -> ExchangeRequest:
        request = load_request(tx, request_id)
        authorise(Action.ACCEPT_CONDITIONS, actor, request)
        next_status(Action.ACCEPT_CONDITIONS, request)
        state = session.workspace.convention(tx)
        doing = _("accepting the conditions")
        state.ensure_in_force(today, doing)
        state.ensure_same_period(request.filed_on, decided_on(request), doing)
        check_dpia(request.id, request.dpia_required, dpia is not None)
        check_acceptance(
            request.id,
            request.triage,
            {f.code for f in request.findings},
            information=told is not None,
            l311_mention=mention is not None,
            rules=rules,
        )
        conditions = [c.model_dump(mode="json") for c in request.conditions]
        acceptance = Acceptance(
            by=actor.id, at=recorder.now, on=today, dpia_ref=dpia, information=told,
            l311_mention=mention,
        )  # fmt: skip
        accepted = record_step(
            tx,
            recorder,
            actor,
            request,
            Action.ACCEPT_CONDITIONS,
            payload=lambda head: AcceptConditions(
                **head,
                conditions=len(conditions),
                conditions_sha256=document_digest(conditions),
                dpia_ref_sha256=text_digest(dpia) if dpia else None,
                information_sha256=text_digest(told) if told else None,
                l311_mention_sha256=text_digest(mention) if mention else None,
            ),
            acceptance=acceptance,
        )
        if request.triage is Triage.PERSONAL:
            policy = session.workspace.current_policy(tx).policy
            feed_acceptance(tx, recorder, actor, accepted, policy, today, dpia)
        return accepted

    return perform(session, operation)


@remotable(Action.SUSPEND, expect=lambda a: {"text_sha256": said(a["reason"])})
def suspend(session: Session, request_id: str, reason: str) -> ExchangeRequest:
    """The holding party's controller suspends an exchange whose conditions were breached."""
    reason = required_text(reason, "--reason")
    today = session.clock.today()

    def operation(tx: Tx, actor: Member, recorder: Recorder) -> ExchangeRequest:
        request = load_request(tx, request_id)
        held = Suspension(
            by=actor.id, at=recorder.now, on=today, reason=reason, from_status=request.status
        )
        return record_step(
            tx, recorder, actor, request, Action.SUSPEND, text=reason, suspension=held
        )

    return perform(session, operation)


@remotable(Action.RESUME, expect=lambda a: {"text_sha256": said(a["note"])})
def resume(session: Session, request_id: str, note: str) -> ExchangeRequest:
    """The holding party's controller resumes a suspended exchange where it was, under the
    convention it was approved under (a successor convention needs a new request)."""
    note = required_text(note, "--note")

    def operation(tx: Tx, actor: Member, recorder: Recorder) -> ExchangeRequest:
        request = load_request(tx, request_id)
        authorise(Action.RESUME, actor, request)
        next_status(Action.RESUME, request)
        state = session.workspace.convention(tx)
        state.ensure_same_period(request.filed_on, decided_on(request), _("resuming"))
        return record_step(tx, recorder, actor, request, Action.RESUME, text=note, suspension=None)

    return perform(session, operation)


@remotable(
    Action.REVIEW,
    expect=lambda a: {"text_sha256": said(a["note"]), "outcome": ReviewOutcome(a["outcome"]).value},
)
def record_review(
    session: Session, request_id: str, outcome: ReviewOutcome, note: str
) -> ExchangeRequest:
    """The holding party's controller reviews an active exchange: it continues, or it closes
    (nothing is sent after; what was received is still deleted when its retention ends)."""
    note = required_text(note, "--note")
    today = session.clock.today()
    closing = outcome is ReviewOutcome.CLOSE

    def operation(tx: Tx, actor: Member, recorder: Recorder) -> ExchangeRequest:
        request = load_request(tx, request_id)
        review = Review(by=actor.id, at=recorder.now, on=today, outcome=outcome, note=note)
        changes = {"suspension": None} if closing else {}
        return record_step(
            tx,
            recorder,
            actor,
            request,
            Action.REVIEW,
            text=note,
            payload=lambda head: ReviewRecord(**head, outcome=outcome.value),
            closing=closing,
            reviews=(*request.reviews, review),
            **changes,
        )

    return perform(session, operation)


@dataclass(frozen=True)
class ReviewDue:
    request: ExchangeRequest
    since: date  # the day of its last review, or of the acceptance of its conditions
    due: date


def review_due(request: ExchangeRequest) -> ReviewDue | None:
    """When an active exchange's next yearly review falls due (None: not an active exchange)."""
    if request.status not in ACTIVE or request.acceptance is None:
        return None
    since = max([request.acceptance.on, *(r.on for r in request.reviews)])
    return ReviewDue(request, since, since + REVIEW_EVERY)


@remotable("review.due")
def reviews_due(workspace: Workspace) -> list[ReviewDue]:
    """The active exchanges whose yearly review is due today, the longest overdue first.

    The hook for ``remind`` (issue 18): it is to announce these to the holding party's
    controllers."""
    day = workspace.clock().today()
    with workspace.store.transaction() as tx:
        requests = tx.list_requests()
    due = [d for r in requests if (d := review_due(r)) is not None and d.due <= day]
    return sorted(due, key=lambda d: (d.due, d.request.id))
