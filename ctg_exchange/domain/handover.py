"""Who follows a request, and handing that follow-up over to another member (issue 19).

A request has two follow-ups: the **requester's**, by a staff member of the requesting party —
the member who filed it until it is handed over — and the **holder's**, by a controller of the
holding party — the controller who accepted to study it (the last one, for a request returned
and amended) until it is handed over; before that, nobody follows it for the holder. A
hand-over names the successor; it changes who is named, never what was done: the history keeps
who filed, studied, gave the opinion and decided, and the rules that hang on it still hold
(nobody decides a request they filed; no one person takes two of the study, the opinion and the
decision). What a member may do on a request stays what its party and role allow: the
successor, of the same party and role, takes over the follow-up.

The current owner hands over; so may an admin of the owner's party once the owner is revoked
or past its term. The successor is an active member of the same party with the side's role,
not an auditor, and not the owner itself.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import date
from typing import Literal, Protocol

from ..errors import NotAuthorised
from ..i18n import _
from .actions import Action
from .lifecycle import ENDED
from .rules import ensure_acting, ensure_in_term
from .states import Acting, Role, Standing

Side = Literal["requester", "holder"]
SIDES: tuple[Side, ...] = ("requester", "holder")
ROLE_OF: dict[Side, Role] = {"requester": Role.STAFF, "holder": Role.CONTROLLER}

RULE_HANDOVER_BY = "HAND_OVER_BY_OWNER"
RULE_HANDOVER_TO = "HAND_OVER_SUCCESSOR"
RULE_HANDOVER_OPEN = "HAND_OVER_OPEN_WORK"


class Person(Acting, Protocol):
    @property
    def until(self) -> date | None: ...


def owner(
    side: str,
    filed_by: str,
    handovers: Iterable[tuple[str, str]],
    taken: Iterable[tuple[str, str]],
) -> str | None:
    """Who follows the request for ``side`` now; ``handovers``: its hand-overs, as (side,
    successor); ``taken``: its steps, as (action, actor)."""
    handed = [successor for handed_side, successor in handovers if handed_side == side]
    if handed:
        return handed[-1]
    if side == "requester":
        return filed_by
    studied = [actor for action, actor in taken if action == Action.STUDY_ACCEPT.value]
    return studied[-1] if studied else None  # the last, once a returned request is amended


def party_of(side: str, request: Standing) -> str:
    return request.from_party if side == "requester" else request.to_party


def side_of(member: Acting, request: Standing) -> Side:
    """The follow-up a member of its party hands over."""
    if member.party == request.from_party:
        return "requester"
    if member.party == request.to_party:
        return "holder"
    raise NotAuthorised(
        RULE_HANDOVER_BY,
        _("{rule}: {member} is of {party}, neither party of {request}").format(
            rule=RULE_HANDOVER_BY, member=member.id, party=member.party, request=request.id
        ),
    )


def ensure_open(request: Standing, pending_deletion: bool, side: Side) -> None:
    """Only open work is handed over: a request not ended, or, for the requester's
    follow-up (who received the files), a received file not yet deleted."""
    if request.status in ENDED and not (pending_deletion and side == "requester"):
        raise NotAuthorised(
            RULE_HANDOVER_OPEN,
            _("{rule}: {request} is {status}: nothing is left to follow").format(
                rule=RULE_HANDOVER_OPEN, request=request.id, status=request.status.value
            ),
        )


def authorise_hand_over(
    actor: Acting,
    request: Standing,
    current: Person | None,
    successor: Person,
    today: date,
    *,
    pending_deletion: bool = False,
) -> tuple[Side, Role]:
    """The side ``actor`` hands over to ``successor`` and the role it acts in, or NotAuthorised.
    ``current``: who follows that side now (None: nobody yet); ``pending_deletion``: a file
    of the request received and not yet deleted (open work of the requester's side only)."""
    ensure_acting(actor)
    side = side_of(actor, request)
    ensure_open(request, pending_deletion, side)
    party = party_of(side, request)
    if current is None:
        raise NotAuthorised(
            RULE_HANDOVER_BY,
            _("{rule}: nobody follows {request} for {party} yet").format(
                rule=RULE_HANDOVER_BY, request=request.id, party=party
            ),
        )
    role = ROLE_OF[side]
    gone = not current.active or (current.until is not None and today > current.until)
    if actor.id == current.id and actor.has(role):
        acting_as = role
    elif gone and actor.has(Role.ADMIN):
        acting_as = Role.ADMIN
    else:
        raise NotAuthorised(
            RULE_HANDOVER_BY,
            _(
                "{rule}: {member} does not follow {request}: {owner} does; its party's admin "
                "hands it over only once {owner} is revoked"
            ).format(rule=RULE_HANDOVER_BY, member=actor.id, request=request.id, owner=current.id),
        )
    ensure_successor(successor, side, party, current.id, today)
    return side, acting_as


def ensure_successor(successor: Person, side: Side, party: str, owner_id: str, today: date) -> None:
    """The successor: an active member of ``party`` with the side's role, other than the
    owner, not an auditor, within its term."""
    role = ROLE_OF[side]
    problem = None
    if successor.id == owner_id:
        problem = _("{member} already follows it").format(member=successor.id)
    elif not successor.active:
        problem = _("{member} is revoked").format(member=successor.id)
    elif successor.party != party or not successor.has(role) or successor.has(Role.AUDITOR):
        problem = _("{member} is not {role} of {party}").format(
            member=successor.id, role=role.value, party=party
        )
    if problem is None:
        try:
            ensure_in_term(successor.id, successor.until, today)
        except NotAuthorised as exc:
            problem = exc.message
    if problem is not None:
        raise NotAuthorised(
            RULE_HANDOVER_TO,
            _("{rule}: the successor must be an active {role} of {party}: {problem}").format(
                rule=RULE_HANDOVER_TO, role=role.value, party=party, problem=problem
            ),
        )


def followed(
    member_id: str,
    requests: Iterable[tuple[Standing, Sequence[tuple[str, str]], Sequence[tuple[str, str]]]],
    pending: Collection[str] = (),
) -> list[tuple[str, Side]]:
    """The open work ``member_id`` follows, as (request id, side), sorted: each request not
    ended, and the requester's follow-up of an ended one with a received file not yet deleted
    (``pending``: those requests' ids). ``requests``: (request, hand-overs, steps)."""
    found = []
    for request, handovers, taken in requests:
        for side in SIDES:
            ended = request.status in ENDED and (side == "holder" or request.id not in pending)
            if not ended and owner(side, request.filed_by, handovers, taken) == member_id:
                found.append((request.id, side))
    return sorted(found)
