"""Who must act after each step of the procedure (DESIGN §3-§4), and what they are told.

Each step names, by the request's two parties, the role that acts next: a request filed (or
amended) waits on the holder's controllers to study it; submitted, on the holder's DPO; with the
opinion given, on the holder's controllers to decide; approved, on the requester's controllers
to accept the conditions; with the conditions accepted, on the holder's staff to send; sent, on
the requester's staff to receive; returned, on the requester's staff to amend or withdraw. The
steps that end a request (rejected, withdrawn, lapsed, closed) or hold it (suspended, resumed)
tell those who were to act on it. A renewal or an avenant proposed by one party waits on the
other party's admins to countersign it.

The member who took the step is never told of it; a revoked member is told nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from ..domain.actions import Action
from ..domain.states import Role, Status

HOLDER, REQUESTER, OTHER, PROPOSER = "holder", "requester", "other", "proposer"

# action -> why (a code the message is written from), and who: (side, role) pairs
_NEXT: dict[Action, tuple[str, tuple[tuple[str, Role], ...]]] = {
    Action.FILE: ("study", ((HOLDER, Role.CONTROLLER),)),
    Action.AMEND: ("study", ((HOLDER, Role.CONTROLLER),)),
    Action.STUDY_SUBMIT: ("opinion", ((HOLDER, Role.DPO),)),
    Action.OPINION: ("decide", ((HOLDER, Role.CONTROLLER),)),
    Action.STUDY_RETURN: ("amend", ((REQUESTER, Role.STAFF),)),
    Action.APPROVE: ("accept_conditions", ((REQUESTER, Role.CONTROLLER),)),
    Action.REJECT: ("rejected", ((REQUESTER, Role.STAFF),)),
    Action.WITHDRAW: ("withdrawn", ((HOLDER, Role.CONTROLLER),)),
    Action.ACCEPT_CONDITIONS: ("send", ((HOLDER, Role.STAFF),)),
    Action.SEND: ("receive", ((REQUESTER, Role.STAFF),)),
    Action.SUSPEND: ("suspended", ((HOLDER, Role.STAFF), (REQUESTER, Role.STAFF))),
    Action.RESUME: ("resumed", ((HOLDER, Role.STAFF),)),
    Action.LAPSE: ("lapsed", ((REQUESTER, Role.STAFF), (HOLDER, Role.CONTROLLER))),
    Action.RENEWAL: ("countersign", ((OTHER, Role.ADMIN),)),
    Action.AMENDMENT: ("countersign", ((OTHER, Role.ADMIN),)),
    Action.SUCCESSOR: ("countersign", ((OTHER, Role.ADMIN),)),
    Action.TERMINATION: ("terminated", ((OTHER, Role.ADMIN),)),
    Action.COUNTERSIGNATURE: ("countersigned", ((OTHER, Role.ADMIN),)),
    Action.WITHDRAWAL: ("proposal_withdrawn", ((OTHER, Role.ADMIN),)),
}
# a review tells only when it closes the exchange
_CLOSED = ("closed", ((REQUESTER, Role.STAFF), (HOLDER, Role.STAFF)))
# what is told at once, whatever happens after: the others wait for the next step
WHYS = tuple(dict.fromkeys([why for why, _ in _NEXT.values()] + [_CLOSED[0]]))


class Person(Protocol):
    """A member as the rules of who-is-told see them (a stored contact)."""

    @property
    def id(self) -> str: ...
    @property
    def party(self) -> str: ...
    @property
    def roles(self) -> tuple[str, ...]: ...
    @property
    def active(self) -> bool: ...


@dataclass(frozen=True)
class Told:
    why: str
    members: tuple[str, ...]


def told(
    action: Action,
    actor: Person,
    people: Sequence[Person],
    *,
    requester: str | None = None,
    holder: str | None = None,
    status: Status | None = None,
) -> Told | None:
    """Who is told of ``action``, taken by ``actor`` (None: nobody). A request's step names its
    ``requester`` and ``holder`` parties, and the ``status`` it leads to."""
    who: tuple[tuple[str, Role], ...]
    if action is Action.REVIEW:
        if status is not Status.CLOSED:
            return None
        why, who = _CLOSED
    elif action in _NEXT:
        why, who = _NEXT[action]
    else:
        return None
    sides = {HOLDER: holder, REQUESTER: requester}
    wanted = set()
    for side, role in who:
        for person in people:
            if not person.active or person.id == actor.id or role.value not in person.roles:
                continue
            party = sides.get(side)
            if (side == OTHER and person.party != actor.party) or (
                party is not None and person.party == party
            ):
                wanted.add(person.id)
    return Told(why, tuple(sorted(wanted))) if wanted else None
