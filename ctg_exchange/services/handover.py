"""Handing a request's follow-up over to another member (issue 19, :mod:`..domain.handover`):
one request (``request hand-over``), or every open one of a member revoked with a successor
(``member revoke --successor``, in the revocation's own event)."""

from __future__ import annotations

from datetime import date

from ..domain.actions import Action
from ..domain.handover import (
    Side,
    authorise_hand_over,
    ensure_successor,
    followed,
    owner,
)
from ..domain.handover_payloads import RequestHandOver
from ..domain.lifecycle import ENDED
from ..domain.models import ExchangeRequest, HandOver, Member
from ..domain.payloads import HandedOver
from ..store.base import Reads, Tx
from .remoting import remotable
from .requests import load_request
from .session import Recorder, Session, known_member, perform


def _handed(request: ExchangeRequest) -> list[tuple[str, str]]:
    return [(h.side, h.successor) for h in request.handovers]


def current_owner(tx: Tx, request: ExchangeRequest, side: str) -> str | None:
    taken = [(step.action, step.actor) for step in tx.steps(request.id)]
    return owner(side, request.filed_by, _handed(request), taken)


def pending_deletions(tx: Tx, request_id: str | None = None) -> dict[str, set[str]]:
    """The members who received a file not yet deleted, by request."""
    deleted = {(d.request_id, d.number) for d in tx.destructions()}
    pending: dict[str, set[str]] = {}
    for reception in tx.receptions():
        if request_id is not None and reception.request_id != request_id:
            continue
        if (reception.request_id, reception.number) not in deleted:
            pending.setdefault(reception.request_id, set()).add(reception.received_by)
    return pending


def _hand(
    tx: Tx, request: ExchangeRequest, side: str, previous: str, successor: str, by: str, at: str
) -> None:
    handed = HandOver(side=side, previous=previous, successor=successor, by=by, at=at)
    tx.update_request(request.evolve(handovers=(*request.handovers, handed), updated_at=at))


@remotable(
    Action.HAND_OVER,
    expect=lambda a: {"request": a["request_id"], "successor": a["to"]},
)
def hand_over(session: Session, request_id: str, to: str) -> ExchangeRequest:
    """Hand the acting member's follow-up of ``request_id`` (the requester's or the holder's,
    by its party) over to ``to``: by the owner, or by its party's admin once it is revoked."""
    today = session.clock.today()

    def operation(tx: Tx, actor: Member, recorder: Recorder) -> ExchangeRequest:
        request = load_request(tx, request_id)
        successor = known_member(tx, to)
        side: Side = "requester" if actor.party == request.from_party else "holder"
        current_id = current_owner(tx, request, side)
        current = None if current_id is None else known_member(tx, current_id)
        pending = bool(pending_deletions(tx, request.id))
        side, role = authorise_hand_over(
            actor, request, current, successor, today, pending_deletion=pending
        )
        assert current is not None
        _hand(tx, request, side, current.id, successor.id, actor.id, recorder.now)
        payload = RequestHandOver(
            request=request.id, side=side, previous=current.id, successor=successor.id
        )
        recorder.record(actor, role, request.id, payload)
        updated = tx.get_request(request.id)
        assert updated is not None
        return updated

    return perform(session, operation, Reads(request=request_id))


def revoke_hand_overs(
    tx: Tx, target: Member, successor_id: str | None, today: date, by: str, at: str
) -> tuple[HandedOver, ...] | None:
    """What a revocation hands over to ``successor_id`` (None without one): the open work
    ``target`` follows (:func:`..domain.handover.followed`), written to each request."""
    if successor_id is None:
        return None
    successor = known_member(tx, successor_id)
    pending = set(pending_deletions(tx))
    # only the requests of its party's that may still be followed: their steps are read
    requests = {
        r.id: r
        for r in tx.list_requests()
        if target.party in (r.from_party, r.to_party) and (r.status not in ENDED or r.id in pending)
    }
    steps = {rid: [(s.action, s.actor) for s in tx.steps(rid)] for rid in requests}
    work = followed(target.id, [(r, _handed(r), steps[r.id]) for r in requests.values()], pending)
    handed = []
    for request_id, side in work:
        request = requests[request_id]
        party = request.from_party if side == "requester" else request.to_party
        ensure_successor(successor, side, party, target.id, today)
        _hand(tx, request, side, target.id, successor.id, by, at)
        handed.append(HandedOver(request=request_id, side=side))
    return tuple(handed)
