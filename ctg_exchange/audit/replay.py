"""Replay: rebuild, from the events alone, who was a member and what every record must say.

The replay applies each event in order. It parses the event's payload with its action's model
(:mod:`ctg_exchange.domain.catalogue`): a payload the model refuses is an integrity failure at
that event. It checks that the actor held the role the action needs *at that time* — with the
very rules the commands enforce (:mod:`ctg_exchange.domain.rules`) — and that each request step
is a move the state machine allows. Then the payload itself records what it binds in a
:class:`~ctg_exchange.domain.facts.FactBook`: members, requests and their steps, deliveries,
receptions, deletions, register versions, convention changes, policies, party keys. Comparing
those facts with the store finds a row changed behind the tool's back
(``services/replay_check.py``).
"""

from __future__ import annotations

from collections.abc import Callable, MutableMapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from typing import Any

from ..crypto.publickey import PublicKey
from ..domain import payloads as p
from ..domain import step_payloads as s
from ..domain.actions import (
    CONVENTION_ACTIONS,
    CONVENTION_ANSWERS,
    CONVENTION_CHANGES,
    REGISTER_CAUSES,
    REQUEST_STEPS,
    SINCE_RULES_3,
    Action,
)
from ..domain.catalogue import parse_payload
from ..domain.dates import CLOCK_SKEW, before_predecessor, parse_timestamp
from ..domain.facts import FactBook
from ..domain.lifecycle import next_status
from ..domain.models import Role, Status
from ..domain.requirements import check_recorded
from ..domain.rules import (
    authorise,
    authorise_filing,
    authorise_member_add,
    authorise_member_contact,
    authorise_member_revoke,
    check_roles,
    separate_duties,
)
from ..errors import ExchangeError, InvalidTransition, NotAuthorised, ReplayError
from ..i18n import _
from ..labels import label
from ..policy.convention import ConventionChange, ensure_countersigner, ensure_none_pending
from . import people
from .events import Event
from .key_replay import KEY_REUSED, declared_key, registered_before, rotate_key
from .law import LawCheck, change_of


@dataclass
class LogMember:
    """A member as the log declares them."""

    id: str
    party: str
    roles: tuple[Role, ...]
    key: PublicKey
    added_seq: int
    revoked_at: str | None = None
    revoked_seq: int | None = None
    until: date | None = None  # the last day it may act (``member add --until``)
    # issue 19: the keys it held before ``key``, each with the event that retired it
    retired: list[tuple[PublicKey, int]] = field(default_factory=list)

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def keys(self) -> list[tuple[PublicKey, int | None]]:
        """Every key it held, with the event that retired it (``None``: its current key)."""
        return [*self.retired, (self.key, None)]

    def has(self, role: Role) -> bool:
        return role in self.roles


def member_from(declaration: p.MemberDeclaration, seq: int) -> LogMember:
    key = declared_key(declaration.public_key, declaration.fingerprint)
    return LogMember(declaration.member, declaration.party, declaration.roles, key, seq)


def parsed(action: Action, event: Event) -> p.Payload:
    """The event's payload as its action's model: the boundary every payload crosses."""
    try:
        return parse_payload(action, event.payload)
    except p.PayloadInvalid as exc:
        raise ReplayError(
            _("malformed {action} payload: {reason}").format(action=action, reason=exc)
        ) from None


DATED_IN_FUTURE = "DATED_IN_FUTURE"
AVENANT_VERSION = "AVENANT_VERSION"
SEND_RECIPIENTS = "SEND_RECIPIENTS"


@dataclass
class Replay:
    members: dict[str, LogMember] = field(default_factory=dict)
    book: FactBook = field(default_factory=FactBook)
    _parties_with_admin: set[str] = field(default_factory=set)
    _group: tuple[str, str] = ("", "")  # (time, actor) of the transaction being replayed
    _group_actions: set[str] = field(default_factory=set)
    _policy_id: str = ""  # the convention's, from the genesis: the subject of its changes
    _last_time: str | None = None
    procedure: p.Procedure | None = None  # from the genesis; None: a log written by 0.1.0
    # steps taken, by request (who took which: separation of duties)
    _taken: MutableMapping[str, list[tuple[str, str]]] = field(default_factory=dict)
    _proposals: dict[int, ConventionChange] = field(default_factory=dict)  # renewals, avenants
    law: LawCheck | None = None  # the law re-applied, where the store gives what it needs
    # the verification's instant: a real log has no event dated after it (simulated: may)
    now: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def rules(self) -> int:
        """The rules the log is verified by: 1 for a log written by 0.1.0, else its genesis's."""
        return 1 if self.procedure is None else self.procedure.rules

    # -- membership -------------------------------------------------------------------------
    def genesis(self, event: Event) -> None:
        if event.action != Action.INIT:
            raise ReplayError(_("the first event must be {action}").format(action=Action.INIT))
        payload = parsed(Action.INIT, event)
        assert isinstance(payload, p.WorkspaceInit)
        member = member_from(payload.admin, event.seq)
        if member.id != event.actor:
            raise ReplayError(_("the first event's actor is not the admin it declares"))
        if payload.workspace != event.log or event.subject != event.log:
            raise ReplayError(_("the first event names another workspace than its log's"))
        self._policy_id = payload.policy.id
        self.procedure = payload.procedure
        self._declare(member)
        payload.apply(self.book, event)
        if self.law is not None:
            self.law.rules = self.rules
        self._dated(event)  # after declaring: the rest of the log is still checked
        if self.rules >= 2:
            self._roles_allowed(member.roles)

    @staticmethod
    def _roles_allowed(roles: tuple[Role, ...]) -> None:
        try:
            check_roles(roles)
        except NotAuthorised as exc:
            raise ReplayError(exc.message, rule=exc.rule) from None

    def _declare(self, member: LogMember) -> None:
        if member.id in self.members:
            raise ReplayError(_("the member {id!r} is added twice").format(id=member.id))
        self.members[member.id] = member
        if Role.ADMIN in member.roles:
            self._parties_with_admin.add(member.party)

    # -- one event --------------------------------------------------------------------------
    def apply(self, event: Event, actor: LogMember) -> None:
        """Check ``event`` against the rules and the state, then apply it.

        Raises :class:`ReplayError` naming what is wrong; the event is applied anyway (as far
        as it can be), so one bad event does not make every later one fail too.
        """
        self._dated(event)
        group = (event.time, event.actor)
        if group != self._group:
            self._group, self._group_actions = group, set()
        self._group_actions.add(event.action)
        try:
            action = Action(event.action)
        except ValueError:
            raise ReplayError(_("unknown action {action!r}").format(action=event.action)) from None
        if action in CONVENTION_ANSWERS and self.rules < 2:
            raise ReplayError(
                _("a log begun by 0.1.0 (rules 1) has no {action}").format(action=action)
            )
        if action in SINCE_RULES_3 and self.rules < 3:
            # steps a log begun under earlier rules cannot hold: no client dodges the rules a
            # step came with by claiming older ones in the genesis
            raise ReplayError(
                _("a log verified by rules {rules} has no {action}").format(
                    rules=self.rules, action=action
                )
            )
        payload = parsed(action, event)
        if isinstance(payload, s.Send) and payload.early and self.rules < 3:
            raise ReplayError(
                _("a log verified by rules {rules} has no early delivery").format(rules=self.rules)
            )
        subject = self._policy_id if action in CONVENTION_ACTIONS else payload.subject_of()
        if subject is not None and event.subject != subject:
            raise ReplayError(
                _("the event's subject is not the {subject} it names").format(
                    subject=payload.subject
                )
            )
        law = self.law if self.rules >= 2 else None
        try:
            _HANDLERS[action](self, event, payload, actor)
            if law is not None:
                law.check(event, payload)
        finally:
            if law is not None:
                law.follow(event, payload)

    def _dated(self, event: Event) -> None:
        """An event's time is a UTC timestamp, not dated much before the one it follows."""
        previous, self._last_time = self._last_time, event.time
        try:
            moment = parse_timestamp(event.time)
            behind = previous is not None and before_predecessor(event.time, previous)
        except ValueError:
            self._last_time = previous
            raise ReplayError(_("its time is not a UTC time as the log writes it")) from None
        if behind:
            raise ReplayError(
                _(
                    "dated {time}Z, more than {minutes} minutes before the event it follows "
                    "({previous}Z): events are in the order of time"
                ).format(
                    time=event.time[:19],
                    minutes=CLOCK_SKEW.seconds // 60,
                    previous=previous[:19] if previous else "",
                )
            )
        real = self.procedure is not None and self.procedure.clock == "real"
        if real and self.rules >= 2 and moment > self.now + CLOCK_SKEW:
            raise ReplayError(
                _(
                    "{rule}: dated {time}Z, after this verification ({now}Z): no event is dated "
                    "in the future"
                ).format(
                    rule=DATED_IN_FUTURE,
                    time=event.time[:19],
                    now=f"{self.now:%Y-%m-%dT%H:%M:%S}",
                ),
                rule=DATED_IN_FUTURE,
            )

    def _expect_role(self, event: Event, role: Role) -> None:
        if event.role != role.value:
            raise ReplayError(_taken_as(event.action, role.value, event.role))

    def _allowed(self, check: Callable[[], object]) -> None:
        try:
            check()
        except ExchangeError as exc:
            rule = getattr(exc, "rule", None)
            raise ReplayError(_not_allowed(exc.message, rule), rule=rule) from None

    # members
    def _genesis_again(self, event: Event, payload: Any, actor: LogMember) -> None:
        raise ReplayError(_("{action} may only be the first event").format(action=Action.INIT))

    def _member_add(self, event: Event, payload: p.MemberAdd, actor: LogMember) -> None:
        member = replace(member_from(payload, event.seq), until=payload.until)
        self._expect_role(event, Role.ADMIN)
        had_admin = member.party in self._parties_with_admin
        self._allowed(lambda: authorise_member_add(actor, member.party, member.roles, had_admin))
        if self.rules >= 2:
            self._roles_allowed(member.roles)
        reused = registered_before(self.members, member.key)
        self._declare(member)
        payload.apply(self.book, event)
        if reused:
            raise ReplayError(
                _("{rule}: the key of {member} was registered before").format(
                    rule=KEY_REUSED, member=member.id
                ),
                rule=KEY_REUSED,
            )

    def _member_revoke(self, event: Event, payload: p.MemberRevoke, actor: LogMember) -> None:
        target = self.members.get(payload.member)
        if target is None:
            raise ReplayError(_("the event revokes an unknown member"))
        self._expect_role(event, Role.ADMIN)
        lasting_admins = sum(
            1
            for m in self.members.values()
            if m.party == target.party
            and m.active
            and m.has(Role.ADMIN)
            and m.until is None
            and m.id != target.id
        )
        self._allowed(lambda: authorise_member_revoke(actor, target, lasting_admins))
        target.revoked_at, target.revoked_seq = event.time, event.seq
        try:
            people.revocation(self, event, payload, target)  # its successor (issue 19)
        finally:
            payload.apply(self.book, event)

    def _member_contact(self, event: Event, payload: p.MemberContact, actor: LogMember) -> None:
        target = self.members.get(payload.member)
        if target is None:
            raise ReplayError(_("the event sets the contact of an unknown member"))
        self._expect_role(event, Role.ADMIN)
        self._allowed(lambda: authorise_member_contact(actor, target))

    # requests
    def _file(self, event: Event, payload: s.RequestFile, actor: LogMember) -> None:
        if payload.request in self.book.request:
            raise ReplayError(_("{request} is filed twice").format(request=payload.request))
        self._expect_role(event, Role.STAFF)
        self._allowed(lambda: authorise_filing(actor, payload.to))
        if payload.to_status is not Status.FILED:
            raise ReplayError(_leads_to(event.action, Status.FILED, payload.to_status))
        payload.apply(self.book, event)

    def _request_step(self, event: Event, payload: s.RequestStep, actor: LogMember) -> None:
        action, request_id = payload.action, payload.request
        request = self.book.request.get(request_id)
        if request is None:
            raise ReplayError(
                _("{action} on {request}, which was never filed").format(
                    action=action, request=request_id
                )
            )
        problem: str | None = None
        rule: str | None = None
        taken = self._taken.setdefault(request_id, [])
        try:
            role = authorise(action, actor, request)
            if self.rules >= 2:
                separate_duties(action, actor.id, request_id, taken)
            if event.role != role.value:
                problem = _taken_as(action, role.value, event.role)
            expected = next_status(action, request, closing=payload.closes)
            if problem is None and payload.from_status is not request.status:
                problem = _("{action} says {request} was {said}; the log had it {status}").format(
                    action=action,
                    request=request_id,
                    said=label("status", payload.from_status),
                    status=label("status", request.status),
                )
            if problem is None and payload.to_status is not expected:
                problem = _leads_to(action, expected, payload.to_status)
            if problem is None:
                check_recorded(payload, request, self.rules)
            if problem is None and isinstance(payload, s.Send):
                problem = self._sent_to(payload, request.from_party)
                rule = SEND_RECIPIENTS if problem else None
        except ExchangeError as exc:
            rule = getattr(exc, "rule", None)
            if isinstance(exc, InvalidTransition):
                rule = RULE_TRANSITION
            problem = _not_allowed(exc.message, rule)
        payload.apply(self.book, event)  # follow the log, so one bad step does not fail all
        taken.append((action.value, event.actor))
        if problem:
            raise ReplayError(problem, rule=rule)

    # register, convention, keys
    def _register_version(self, event: Event, payload: p.RegisterVersion, actor: LogMember) -> None:
        controller = payload.controller
        own = actor.party == controller and event.role in (Role.ADMIN.value, Role.DPO.value)
        allowed = (own and Role(event.role) in actor.roles) or bool(
            self._group_actions & REGISTER_CAUSES
        )
        payload.apply(self.book, event)
        if not allowed:
            raise ReplayError(
                _(
                    "not allowed: only an admin or the DPO of {controller} changes its register "
                    "({actor} is {roles} of {party})"
                ).format(
                    controller=controller,
                    actor=event.actor,
                    roles="/".join(actor.roles),
                    party=actor.party,
                )
            )

    def _register_export(self, event: Event, payload: p.RegisterExport, actor: LogMember) -> None:
        controller = payload.controller
        if actor.party != controller or event.role not in (Role.ADMIN.value, Role.DPO.value):
            raise ReplayError(
                _("not allowed: only an admin or the DPO of {controller} exports it").format(
                    controller=controller
                )
            )

    def _convention(self, event: Event, payload: p.ConventionChange, actor: LogMember) -> None:
        self._expect_role(event, Role.ADMIN)
        pending = [c for c in self._proposals.values() if c.pending]
        wrong = self._new_version(payload) if isinstance(payload, p.Amendment) else None
        payload.apply(self.book, event)
        if wrong is not None:
            raise wrong
        if not isinstance(payload, p.Renewal | p.Amendment | p.Successor):
            return
        bilateral = self.rules >= 2
        version = payload.policy.version if isinstance(payload, p.Amendment) else None
        change = change_of(event, payload, version, bilateral=bilateral)
        self._proposals[event.seq] = change
        if not bilateral:  # 0.1.0: one admin's renewal or avenant took effect at once
            facts = self.book.convention_change[event.seq]
            self.book.convention_change[event.seq] = replace(facts, agreed_seq=change.agreed_seq)
            return
        self._allowed(lambda: ensure_none_pending(pending))

    def _new_version(self, payload: p.Amendment) -> ReplayError | None:
        """Why the avenant is not the next policy version of the same convention over the
        version in effect (no version is ever replaced), if it is not."""
        policy, newest = payload.policy, max(self.book.policy, default=0)
        in_effect = max(
            (c.policy_version or 1 for c in self._proposals.values() if c.in_effect), default=1
        )
        if policy.id != self._policy_id:
            return ReplayError(
                _("an avenant of {policy} names the policy {other}").format(
                    policy=self._policy_id, other=policy.id
                )
            )
        if policy.version != newest + 1 or payload.previous_version != in_effect:
            return ReplayError(
                _(
                    "{rule}: an avenant adds policy v{next} over v{in_effect}, not v{version} "
                    "over v{previous}"
                ).format(
                    rule=AVENANT_VERSION,
                    next=newest + 1,
                    in_effect=in_effect,
                    version=policy.version,
                    previous=payload.previous_version,
                ),
                rule=AVENANT_VERSION,
            )
        return None

    def _convention_answer(
        self, event: Event, payload: p.Countersignature | p.Withdrawal, actor: LogMember
    ) -> None:
        self._expect_role(event, Role.ADMIN)
        change = self._proposals.get(payload.proposal)
        if change is None:
            raise ReplayError(
                _("event #{seq} is not a renewal or an avenant").format(seq=payload.proposal)
            )
        if not change.pending:
            done = change.agreed_seq or change.withdrawn_seq
            raise ReplayError(
                _("{change} is no longer pending (event #{seq})").format(
                    change=change.describe(), seq=done
                )
            )
        if isinstance(payload, p.Countersignature):
            self._allowed(lambda: ensure_countersigner(change, actor.party))
            facts = self.book.convention_change[change.seq]
            policy = self.book.policy.get(change.policy_version or 0)
            said = (
                facts.kind,
                facts.effective,
                facts.until,
                facts.reference_sha256,
                policy and policy.sha256,
            )
            repeated = (
                payload.kind,
                payload.effective.isoformat(),
                None if payload.until is None else payload.until.isoformat(),
                payload.proposal_reference_sha256,
                payload.policy_sha256,
            )
            if repeated != said:
                raise ReplayError(
                    _("it does not repeat what {change} says").format(change=change.describe())
                )
            self._proposals[change.seq] = replace(change, agreed_seq=event.seq)
        else:
            self._proposals[change.seq] = replace(change, withdrawn_seq=event.seq)
        payload.apply(self.book, event)

    def _sent_to(self, payload: s.Send, party: str) -> str | None:
        """Why a delivery is not sealed to exactly the requesting party's recipients active at
        its event, if it is not."""
        active = sorted(
            r for r, f in self.book.recipient.items() if f.party == party and f.retired_seq is None
        )
        if sorted(payload.recipients) == active:
            return None
        return _(
            "{rule}: delivery {delivery} is sealed to {sent}, not to the active recipients of "
            "{party} ({active})"
        ).format(
            rule=SEND_RECIPIENTS,
            delivery=payload.delivery,
            sent=", ".join(payload.recipients) or "-",
            party=party,
            active=", ".join(active) or "-",
        )

    def _recipient(self, event: Event, payload: p.EncryptionKey, actor: LogMember) -> None:
        allowed = event.role == Role.ADMIN.value and actor.party == payload.party
        known = payload.recipient in self.book.recipient
        was = self.book.recipient.get(payload.replaces or "")
        replaceable = was is not None and was.party == payload.party and was.retired_seq is None
        payload.apply(self.book, event)
        if not allowed:
            raise ReplayError(
                _("not allowed: only an admin of {party} makes its decryption keys").format(
                    party=payload.party
                )
            )
        if known:
            raise ReplayError(
                _("{recipient} is already registered").format(recipient=payload.recipient)
            )
        if payload.replaces is not None and not replaceable:
            raise ReplayError(
                _("{recipient} is not an active recipient of {party}").format(
                    recipient=payload.replaces, party=payload.party
                )
            )


RULE_TRANSITION = "state-machine"  # a step the request's state does not allow (DESIGN §4)


def _not_allowed(message: str, rule: str | None) -> str:
    """A refusal as the log's verification reports it, naming the rule that refuses (unless
    the message starts with it: ``RULE: …``, or ``RULE : …`` in French)."""
    if rule is None:
        return _("not allowed: {message}").format(message=message)
    if message.startswith((f"{rule}: ", f"{rule} : ")):
        return message
    return _("not allowed ({rule}): {message}").format(rule=rule, message=message)


def _taken_as(action: str, expected: str, role: str) -> str:
    return _("{action} is taken as {expected}, not {role}").format(
        action=action, expected=expected, role=role
    )


def _leads_to(action: str, expected: Status, status: Status) -> str:
    return _("{action} leads to {expected}, not {status}").format(
        action=action, expected=label("status", expected), status=label("status", status)
    )


Handler = Callable[[Replay, Event, Any, LogMember], None]
_HANDLERS: dict[Action, Handler] = {
    Action.INIT: Replay._genesis_again,
    Action.MEMBER_ADD: Replay._member_add,
    Action.MEMBER_REVOKE: Replay._member_revoke,
    Action.MEMBER_CONTACT: Replay._member_contact,
    Action.REGISTER_VERSION: Replay._register_version,
    Action.REGISTER_EXPORT: Replay._register_export,
    Action.ENCRYPTION_KEY: Replay._recipient,
    Action.KEY_ROTATE: rotate_key,
    **dict.fromkeys(CONVENTION_CHANGES, Replay._convention),
    **dict.fromkeys(CONVENTION_ANSWERS, Replay._convention_answer),
    Action.FILE: Replay._file,
    **dict.fromkeys(REQUEST_STEPS - {Action.FILE}, Replay._request_step),
    Action.HAND_OVER: people.hand_over,  # issue 19
}
