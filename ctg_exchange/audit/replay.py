"""Replay: rebuild, from the events alone, who was a member and what every record must say.

The replay applies each event in order. It checks that the actor held the role the action needs
*at that time* — with the very rules the commands enforce (:mod:`ctg_exchange.domain.rules`) —
and that each request step is a move the state machine allows. It also derives, for every
stored record (members, requests and their steps, deliveries, receptions, deletions, register
versions, convention changes, policies, party keys), the facts the log binds: states, ids,
counts and the SHA-256 of texts. Comparing those facts with the store finds a row changed
behind the tool's back (``services/auditing.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from sys import intern
from typing import Any

from ..crypto.keys import PublicKey
from ..domain.lifecycle import Action, next_status
from ..domain.models import Role, Status, Triage
from ..domain.rules import (
    authorise,
    authorise_filing,
    authorise_member_add,
    authorise_member_revoke,
)
from ..errors import ExchangeError, InvalidInput
from .events import Event
from .replay_facts import REQUEST_FACTS, content_facts, no_facts

ACTION_INIT = "workspace.init"
ACTION_MEMBER_ADD = "member.add"
ACTION_MEMBER_REVOKE = "member.revoke"
ACTION_REGISTER_VERSION = "register.version"
ACTION_REGISTER_EXPORT = "register.export"
ACTION_RECIPIENT = "keys.encryption"
CONVENTION_ACTIONS = ("convention.renewal", "convention.amendment", "convention.termination")
# a register fiche may change as a consequence of these, in the same transaction
REGISTER_CAUSES = frozenset({Action.ACCEPT_CONDITIONS.value, Action.LAPSE.value})

Records = dict[str, dict[Any, dict[str, Any]]]
Step = tuple[str, str, str | None, str | None, bytes | None]
STEP_FIELDS = ("request", "action", "from_status", "to_status", "text_sha256")


def _interned(value: Any) -> Any:
    return intern(value) if isinstance(value, str) else value


class ReplayError(Exception):
    """The event is not one the procedure allows at this point (reported at its seq)."""


@dataclass
class LogMember:
    """A member as the log declares them."""

    id: str
    party: str
    roles: tuple[Role, ...]
    key: PublicKey
    declaration: dict[str, Any]
    added_seq: int
    revoked_at: str | None = None
    revoked_seq: int | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def has(self, role: Role) -> bool:
        return role in self.roles


@dataclass
class LogRequest:
    """A request as the log replays it: enough for the rules and the state machine."""

    id: str
    status: Status
    triage: Triage
    filed_by: str
    from_party: str
    to_party: str


def member_from(declaration: Any, seq: int) -> LogMember:
    if not isinstance(declaration, dict):
        raise ReplayError("the event declares a malformed member")
    try:
        roles = declaration["roles"]
        if not isinstance(roles, list) or not roles:
            raise TypeError
        return LogMember(
            id=str(declaration["member"]),
            party=str(declaration["party"]),
            roles=tuple(Role(r) for r in roles),
            key=PublicKey.parse(str(declaration["public_key"])),
            declaration=declaration,
            added_seq=seq,
        )
    except (KeyError, TypeError, ValueError, InvalidInput):
        raise ReplayError("the event declares a malformed member") from None


@dataclass
class Replay:
    members: dict[str, LogMember] = field(default_factory=dict)
    requests: dict[str, LogRequest] = field(default_factory=dict)
    records: Records = field(default_factory=dict)
    steps: dict[int, Step] = field(default_factory=dict)
    _parties_with_admin: set[str] = field(default_factory=set)
    _group: tuple[str, str] = ("", "")  # (time, actor) of the transaction being replayed
    _group_actions: set[str] = field(default_factory=set)

    # -- membership -------------------------------------------------------------------------
    def genesis(self, event: Event) -> None:
        admin = event.payload.get("admin")
        if event.action != ACTION_INIT or not isinstance(admin, dict):
            raise ReplayError(f"the first event must be {ACTION_INIT}")
        member = member_from(admin, event.seq)
        if member.id != event.actor:
            raise ReplayError("the first event's actor is not the admin it declares")
        self._declare(member, event)
        policy = event.payload.get("policy")
        if isinstance(policy, dict):
            self._record("policy", policy.get("version"), {"sha256": policy.get("sha256")})

    def _declare(self, member: LogMember, event: Event) -> None:
        if member.id in self.members:
            raise ReplayError(f"the member {member.id!r} is added twice")
        self.members[member.id] = member
        if Role.ADMIN in member.roles:
            self._parties_with_admin.add(member.party)
        d = member.declaration
        self._record(
            "member",
            member.id,
            {
                "party": member.party,
                "roles": sorted(r.value for r in member.roles),
                "public_key": d.get("public_key"),
                "fingerprint": d.get("fingerprint"),
                "name_sha256": d.get("name_sha256"),
                "added_by": event.actor,
                "added_at": event.time,
                "revoked_at": None,
                "revoked_by": None,
                "revoke_reason_sha256": None,
            },
        )

    # -- records ----------------------------------------------------------------------------
    def _record(self, kind: str, key: Any, facts: dict[str, Any]) -> None:
        self.records.setdefault(kind, {})[key] = facts

    def _update(self, kind: str, key: Any, **facts: Any) -> None:
        record = self.records.get(kind, {}).get(key)
        if record is None:
            raise ReplayError(f"the event refers to an unknown {kind} {key}")
        record.update(facts)

    # -- one event --------------------------------------------------------------------------
    def apply(self, event: Event, actor: LogMember) -> None:
        """Check ``event`` against the rules and the state, then apply it.

        Raises :class:`ReplayError` naming what is wrong; the event is applied anyway (as far
        as it can be), so one bad event does not make every later one fail too.
        """
        group = (event.time, event.actor)
        if group != self._group:
            self._group, self._group_actions = group, set()
        self._group_actions.add(event.action)
        handler = _HANDLERS.get(event.action)
        if handler is None:
            raise ReplayError(f"unknown action {event.action!r}")
        try:
            handler(self, event, actor)
        except (KeyError, TypeError, ValueError):
            raise ReplayError(f"malformed {event.action} payload") from None

    def _expect_role(self, event: Event, role: Role) -> None:
        if event.role != role.value:
            raise ReplayError(f"{event.action} is taken as {role.value}, not {event.role}")

    def _allowed(self, check: Callable[[], object]) -> None:
        try:
            check()
        except ExchangeError as exc:
            raise ReplayError(f"not allowed: {exc.message}") from None

    # members
    def _member_add(self, event: Event, actor: LogMember) -> None:
        member = member_from(event.payload, event.seq)
        if member.id != event.subject:
            raise ReplayError("the event's subject is not the member it declares")
        self._expect_role(event, Role.ADMIN)
        had_admin = member.party in self._parties_with_admin
        self._allowed(lambda: authorise_member_add(actor, member.party, member.roles, had_admin))
        self._declare(member, event)

    def _member_revoke(self, event: Event, actor: LogMember) -> None:
        target = self.members.get(str(event.payload.get("member")))
        if target is None:
            raise ReplayError("the event revokes an unknown member")
        self._expect_role(event, Role.ADMIN)
        active_admins = sum(
            1
            for m in self.members.values()
            if m.party == target.party and m.active and m.has(Role.ADMIN)
        )
        self._allowed(lambda: authorise_member_revoke(actor, target, active_admins))
        target.revoked_at, target.revoked_seq = event.time, event.seq
        self._update(
            "member",
            target.id,
            revoked_at=event.time,
            revoked_by=event.actor,
            revoke_reason_sha256=event.payload.get("reason_sha256"),
        )

    def _genesis_again(self, event: Event, actor: LogMember) -> None:
        raise ReplayError(f"{ACTION_INIT} may only be the first event")

    # requests
    def _request_step(self, event: Event, actor: LogMember) -> None:
        action = Action(event.action)
        payload = event.payload
        request_id = str(payload.get("request"))
        if request_id != event.subject:
            raise ReplayError("the event's subject is not the request it names")
        if action is Action.FILE:
            self._file(event, actor)
            return
        request = self.requests.get(request_id)
        if request is None:
            raise ReplayError(f"{event.action} on {request_id}, which was never filed")
        facts = self.records["request"][request_id]
        claimed_from, claimed_to = payload.get("from_status"), payload.get("to_status")
        problem: str | None = None
        try:
            role = authorise(action, actor, request)
            if event.role != role.value:
                problem = f"{event.action} is taken as {role.value}, not {event.role}"
            expected = next_status(action, request)
            if problem is None and claimed_from != request.status.value:
                problem = (
                    f"{event.action} says {request_id} was {claimed_from}; the log had it "
                    f"{request.status.value}"
                )
            if problem is None and claimed_to != expected.value:
                problem = f"{event.action} leads to {expected.value}, not {claimed_to}"
        except ExchangeError as exc:
            problem = f"not allowed: {exc.message}"
        # follow the log, so that one bad step does not fail every later one
        try:
            request.status = Status(str(claimed_to))
        except ValueError:
            problem = problem or f"unknown status {claimed_to!r}"
        facts["status"] = facts["row_status"] = request.status.value
        self._step(event, request_id)
        REQUEST_FACTS.get(action, no_facts)(self, event, facts)
        if problem:
            raise ReplayError(problem)

    def _file(self, event: Event, actor: LogMember) -> None:
        payload = event.payload
        request_id = event.subject
        if request_id in self.requests:
            raise ReplayError(f"{request_id} is filed twice")
        self._expect_role(event, Role.STAFF)
        self._allowed(lambda: authorise_filing(actor, str(payload.get("to"))))
        if payload.get("to_status") != Status.FILED.value:
            raise ReplayError(f"request.file leads to filed, not {payload.get('to_status')}")
        try:
            triage = Triage(str(payload.get("triage")))
        except ValueError:
            raise ReplayError(f"unknown triage {payload.get('triage')!r}") from None
        to_party = str(payload.get("to"))
        self.requests[request_id] = LogRequest(
            request_id, Status.FILED, triage, event.actor, actor.party, to_party
        )
        self._record(
            "request",
            request_id,
            {
                "status": Status.FILED.value,
                "row_status": Status.FILED.value,
                "from_party": actor.party,
                "row_from_party": actor.party,
                "to_party": to_party,
                "row_to_party": to_party,
                "filed_by": event.actor,
                "row_filed_by": event.actor,
                "filed_at": event.time,
                "opinion": None,
                "decision": None,
                "acceptance": None,
                "annotations": [],
                **content_facts(payload),
            },
        )
        self._step(event, request_id)

    def _step(self, event: Event, request_id: str) -> None:
        """A step is kept as a compact tuple (see STEP_FIELDS): a log holds millions."""
        payload = event.payload
        text = payload.get("text_sha256")
        self.steps[event.seq] = (
            self.requests[request_id].id,
            intern(event.action),
            _interned(payload.get("from_status")),
            _interned(payload.get("to_status")),
            bytes.fromhex(text) if isinstance(text, str) else text,
        )

    # register, convention, keys
    def _register_version(self, event: Event, actor: LogMember) -> None:
        payload = event.payload
        controller = str(payload.get("controller"))
        own = actor.party == controller and event.role in (Role.ADMIN.value, Role.DPO.value)
        if not (own and Role(event.role) in actor.roles) and not (
            self._group_actions & REGISTER_CAUSES
        ):
            raise_later = ReplayError(
                f"not allowed: only an admin or the DPO of {controller} changes its register "
                f"({event.actor} is {'/'.join(actor.roles)} of {actor.party})"
            )
        else:
            raise_later = None
        key = (str(payload.get("ref")), payload.get("version"))
        self._record(
            "register_version",
            key,
            {
                "controller": controller,
                "seq": event.seq,
                "doc_sha256": payload.get("doc_sha256"),
                "reason_sha256": payload.get("reason_sha256"),
            },
        )
        if raise_later:
            raise raise_later

    def _register_export(self, event: Event, actor: LogMember) -> None:
        controller = str(event.payload.get("controller"))
        if actor.party != controller or event.role not in (Role.ADMIN.value, Role.DPO.value):
            raise ReplayError(f"not allowed: only an admin or the DPO of {controller} exports it")

    def _convention(self, event: Event, actor: LogMember) -> None:
        self._expect_role(event, Role.ADMIN)
        payload = event.payload
        self._record(
            "convention_change",
            event.seq,
            {
                "kind": payload.get("kind"),
                "effective": payload.get("effective"),
                "reference_sha256": payload.get("reference_sha256"),
            },
        )
        policy = payload.get("policy")
        if isinstance(policy, dict):
            self._record("policy", policy.get("version"), {"sha256": policy.get("sha256")})

    def _recipient(self, event: Event, actor: LogMember) -> None:
        payload = event.payload
        party = str(payload.get("party"))
        if event.role != Role.ADMIN.value or actor.party != party:
            raise_later: ReplayError | None = ReplayError(
                f"not allowed: only an admin of {party} makes its decryption keys"
            )
        else:
            raise_later = None
        self._record(
            "recipient",
            str(payload.get("recipient")),
            {
                "party": party,
                "added_seq": event.seq,
                "retired_seq": None,
            },
        )
        replaces = payload.get("replaces")
        if replaces is not None:
            self._update("recipient", str(replaces), retired_seq=event.seq)
        if raise_later:
            raise raise_later


_HANDLERS: dict[str, Callable[[Replay, Event, LogMember], None]] = {
    ACTION_INIT: Replay._genesis_again,
    ACTION_MEMBER_ADD: Replay._member_add,
    ACTION_MEMBER_REVOKE: Replay._member_revoke,
    ACTION_REGISTER_VERSION: Replay._register_version,
    ACTION_REGISTER_EXPORT: Replay._register_export,
    ACTION_RECIPIENT: Replay._recipient,
    **dict.fromkeys(CONVENTION_ACTIONS, Replay._convention),
    **{action.value: Replay._request_step for action in Action},
}
