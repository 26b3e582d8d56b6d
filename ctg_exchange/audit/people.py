"""What the replay re-checks of people coming and going (issue 19): an auditor takes no step, a
member added ``--until`` a day takes none after it, and a follow-up is handed over only by its
owner (or its party's admin once the owner is gone), to a member of the same party and role —
one request at a time, or all of a revoked member's in its revocation.

The rules are the services' own (:mod:`ctg_exchange.domain.rules`,
:mod:`ctg_exchange.domain.handover`), applied at each event's date to the members and requests
as the log made them.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from typing import TYPE_CHECKING, Protocol

from ..domain.dates import procedure_date
from ..domain.facts import FactBook, RequestFacts
from ..domain.handover import (
    RULE_HANDOVER_OPEN,
    RULE_HANDOVER_TO,
    Person,
    authorise_hand_over,
    ensure_successor,
    followed,
    owner,
)
from ..domain.rules import ensure_acting, ensure_in_term
from ..errors import NotAuthorised, ReplayError
from ..i18n import _

if TYPE_CHECKING:
    from ..domain.handover_payloads import RequestHandOver
    from ..domain.payloads import MemberRevoke
    from .events import Event


class Replay(Protocol):
    """What these checks read of the replay (:class:`.replay.Replay`)."""

    @property
    def book(self) -> FactBook: ...
    @property
    def members(self) -> Mapping[str, Person]: ...
    @property
    def _taken(self) -> MutableMapping[str, list[tuple[str, str]]]: ...


def standing_problem(actor: Person, event: Event) -> tuple[str, str] | None:
    """Why ``actor`` could not take ``event`` at all — an auditor, or past its term — as
    (message, rule); None if it could."""
    try:
        ensure_acting(actor)
        ensure_in_term(actor.id, actor.until, procedure_date(event.time))
    except NotAuthorised as exc:
        return exc.message, exc.rule
    except ValueError:  # a time that is no time: the replay says so
        return None
    return None


def _handed(request: RequestFacts) -> list[tuple[str, str]]:
    return [(h.side, h.successor) for h in request.handovers]


def _pending(book: FactBook) -> set[str]:
    """The requests with a received file not yet deleted."""
    deleted = set(book.destruction)
    return {
        request_id for request_id, number in book.reception if (request_id, number) not in deleted
    }


def hand_over(replay: Replay, event: Event, payload: RequestHandOver, actor: Person) -> None:
    """``request.hand_over``: by the owner of the side it names (or its party's admin once the
    owner is gone), from that owner, to a member of the side's party and role."""
    request = replay.book.request.get(payload.request)
    if request is None:
        raise ReplayError(
            _("{action} on {request}, which was never filed").format(
                action=event.action, request=payload.request
            )
        )
    taken = replay._taken.get(request.id, [])  # noqa: SLF001 (the replay's own record)
    current_id = owner(payload.side, request.filed_by, _handed(request), taken)
    current = None if current_id is None else replay.members.get(current_id)
    successor = replay.members.get(payload.successor)
    problem: str | None = None
    rule: str | None = None
    try:
        if successor is None:
            raise NotAuthorised(
                RULE_HANDOVER_TO,
                _("{rule}: {member} is not a member").format(
                    rule=RULE_HANDOVER_TO, member=payload.successor
                ),
            )
        pending = request.id in _pending(replay.book)
        today = procedure_date(event.time)
        side, role = authorise_hand_over(
            actor, request, current, successor, today, pending_deletion=pending
        )
        if side != payload.side or current_id != payload.previous:
            problem = _(
                "it hands over {said} from {previous}; the log has {owner} follow it"
            ).format(said=payload.side, previous=payload.previous, owner=current_id)
        elif event.role != role.value:
            problem = _("{action} is taken as {expected}, not {role}").format(
                action=event.action, expected=role.value, role=event.role
            )
    except NotAuthorised as exc:
        problem, rule = exc.message, exc.rule
    payload.apply(replay.book, event)  # follow the log, so one bad step does not fail all
    if problem is not None:
        raise ReplayError(problem, rule=rule)


def revocation(replay: Replay, event: Event, payload: MemberRevoke, target: Person) -> None:
    """A revocation with a successor hands over exactly the open work the revoked member
    followed, each to a successor of the side's party and role."""
    if payload.successor is None:
        if payload.handed_over is not None:
            raise ReplayError(_("it hands requests over to no successor"))
        return
    successor = replay.members.get(payload.successor)
    if successor is None:
        raise ReplayError(
            _("{rule}: {member} is not a member").format(
                rule=RULE_HANDOVER_TO, member=payload.successor
            ),
            rule=RULE_HANDOVER_TO,
        )
    book = replay.book
    requests = [book.request[rid] for rid in book.request]
    work = followed(
        target.id,
        [(r, _handed(r), replay._taken.get(r.id, [])) for r in requests],  # noqa: SLF001
        _pending(book),
    )
    said = [(h.request, h.side) for h in payload.handed_over or ()]
    if said != work:
        raise ReplayError(
            _("{rule}: it hands over {said} follow-ups; {member} followed {count}").format(
                rule=RULE_HANDOVER_OPEN, said=len(said), member=target.id, count=len(work)
            ),
            rule=RULE_HANDOVER_OPEN,
        )
    today = procedure_date(event.time)
    for request_id, side in work:
        request = book.request[request_id]
        party = request.from_party if side == "requester" else request.to_party
        try:
            ensure_successor(successor, side, party, target.id, today)
        except NotAuthorised as exc:
            raise ReplayError(exc.message, rule=exc.rule) from None
