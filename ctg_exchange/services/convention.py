"""The convention's life, recorded by admins: renewal (Art. 10), avenant (Art. 11), termination
(Art. 12), and the lapse of open requests when the convention is no longer in force.

Each is signed and audited. When the convention has ended, requests not yet exchanged close
without transmission (``lapsed``): ``terminate`` does it at once when it takes effect today or
earlier, ``renew`` does it first for requests left open by an expiry, and ``lapse`` records it
for an expiry or a termination whose date has come.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from ..audit.canonical import text_digest
from ..domain import payloads
from ..domain.actions import Action
from ..domain.lifecycle import BEFORE_EXCHANGE
from ..domain.models import ExchangeRequest, Member, Role
from ..domain.rules import RULE_ADMIN_ONLY, ensure_active
from ..errors import InvalidInput, NotAuthorised, cut
from ..policy import LoadedPolicy
from ..policy.convention import ChangeKind, ConventionChange, ConventionState, ConventionStatus
from ..store.base import PolicyRecord, Tx
from .register import note_lapse
from .requests import record_step, required_text
from .session import Recorder, Session, perform


@dataclass(frozen=True)
class ConventionView:
    state: ConventionState
    status: ConventionStatus
    today: date
    policies: tuple[PolicyRecord, ...]
    open_requests: tuple[str, ...]  # not yet exchanged: they lapse when the convention ends


def _require_admin(actor: Member) -> None:
    ensure_active(actor)
    if not actor.has(Role.ADMIN):
        raise NotAuthorised(
            RULE_ADMIN_ONLY,
            f"only an admin records the convention's life: {actor.id} is "
            f"{'/'.join(actor.roles)} of {actor.party}",
        )


def _open_requests(tx: Tx) -> list[ExchangeRequest]:
    return [r for r in tx.list_requests() if r.status in BEFORE_EXCHANGE]


def show_convention(session: Session) -> ConventionView:
    today = session.clock.today()
    with session.workspace.store.transaction() as tx:
        state = session.workspace.convention(tx)
        return ConventionView(
            state=state,
            status=state.status(today),
            today=today,
            policies=tuple(tx.policies()),
            open_requests=tuple(r.id for r in _open_requests(tx)),
        )


def _record_change(
    tx: Tx,
    recorder: Recorder,
    actor: Member,
    payload: payloads.ConventionChange,
    reference: str,
    *,
    version: int | None = None,
    reason: str | None = None,
) -> ConventionChange:
    policy_id = tx.current_policy()
    subject = policy_id.policy_id if policy_id else "convention"
    event = recorder.record(actor, Role.ADMIN, subject, payload)
    change = ConventionChange(
        seq=event.seq,
        kind=ChangeKind(payload.change_kind),
        effective=payload.effective,
        reference=reference,
        by=actor.id,
        at=recorder.now,
        policy_version=version,
        reason=reason,
    )
    tx.add_convention_change(change)
    return change


def _lapse_open(tx: Tx, recorder: Recorder, actor: Member, why: str, today: date) -> list[str]:
    """Close every request not yet exchanged, each with its own signed event; the register
    fiches linked to one (conditions already accepted) are annotated, never deleted."""
    lapsed = []
    for request in _open_requests(tx):
        record_step(tx, recorder, actor, request, Action.LAPSE, text=why)
        note_lapse(tx, recorder, actor, Role.ADMIN, request.id, today, why)
        lapsed.append(request.id)
    return lapsed


def renew(session: Session, until: date, reference: str) -> ConventionState:
    """Record an express renewal until ``until`` (Article 10)."""
    reference = required_text(reference, "--reference")
    today = session.clock.today()

    def operation(tx: Tx, actor: Member, recorder: Recorder) -> ConventionState:
        _require_admin(actor)
        state = session.workspace.convention(tx)
        if state.termination is not None:
            raise InvalidInput(
                f"the convention was terminated with effect from {state.termination.effective} "
                "(Article 12): a terminated convention is not renewed, a new one is signed"
            )
        if until <= state.end:
            raise InvalidInput(f"--until {until} must be after the current end, {state.end}")
        if until < today:
            raise InvalidInput(f"--until {until} is already past")
        why = state.why_not_in_force(today)
        if why is not None:  # expired: what was left open closed when it ended
            _lapse_open(tx, recorder, actor, f"lapsed: {why}", today)
        renewal = payloads.Renewal(
            kind="renewal",
            effective=until,
            reference_sha256=text_digest(reference),
            previous_end=state.end,
        )
        _record_change(tx, recorder, actor, renewal, reference)
        return session.workspace.convention(tx)

    return perform(session, operation)


def amend(session: Session, loaded: LoadedPolicy, reference: str) -> ConventionState:
    """Record an avenant: a new policy version; the old ones are kept (Article 11)."""
    reference = required_text(reference, "--reference")
    today = session.clock.today()

    def operation(tx: Tx, actor: Member, recorder: Recorder) -> ConventionState:
        _require_admin(actor)
        current = session.workspace.current_policy(tx)
        new = loaded.policy
        if new.id != current.policy.id:
            raise InvalidInput(
                f"an avenant amends {current.policy.id}; this policy is {cut(new.id)!r}"
            )
        if new.party_ids != current.policy.party_ids:
            raise InvalidInput(
                f"an avenant keeps the parties ({', '.join(current.policy.party_ids)}); "
                f"this policy has {', '.join(new.party_ids)}"
            )
        if loaded.sha256 == current.record.sha256:
            raise InvalidInput(f"this policy is already version {current.version}")
        version = current.version + 1
        tx.add_policy(
            PolicyRecord(
                version,
                new.id,
                loaded.sha256,
                loaded.source.rsplit("/", 1)[-1],
                loaded.text,
                recorder.now,
            )
        )
        amendment = payloads.Amendment(
            kind="amendment",
            effective=today,
            reference_sha256=text_digest(reference),
            policy=payloads.PolicyRef(id=new.id, version=version, sha256=loaded.sha256),
            previous_version=current.version,
        )
        _record_change(tx, recorder, actor, amendment, reference, version=version)
        return session.workspace.convention(tx)

    return perform(session, operation)


def terminate(session: Session, on: date, reason: str) -> tuple[ConventionState, list[str]]:
    """Record a termination with effect from ``on`` (Article 12); lapse open requests if due."""
    reason = required_text(reason, "--reason")
    today = session.clock.today()

    def operation(tx: Tx, actor: Member, recorder: Recorder) -> tuple[ConventionState, list[str]]:
        _require_admin(actor)
        state = session.workspace.convention(tx)
        if state.termination is not None:
            raise InvalidInput(
                f"the convention is already terminated with effect from "
                f"{state.termination.effective}"
            )
        termination = payloads.Termination(
            kind="termination",
            effective=on,
            reference_sha256=text_digest(reason),
            reason_sha256=text_digest(reason),
        )
        _record_change(tx, recorder, actor, termination, reason, reason=reason)
        state = session.workspace.convention(tx)
        lapsed: list[str] = []
        if on <= today:
            lapsed = _lapse_open(
                tx, recorder, actor, f"lapsed: {state.why_not_in_force(today)}", today
            )
        return state, lapsed

    return perform(session, operation)


def lapse(session: Session) -> list[str]:
    """Record that open requests lapsed because the convention is no longer in force."""
    today = session.clock.today()

    def operation(tx: Tx, actor: Member, recorder: Recorder) -> list[str]:
        _require_admin(actor)
        why = session.workspace.convention(tx).why_not_in_force(today)
        if why is None:
            raise InvalidInput(f"the convention is in force on {today}: no request lapses")
        lapsed = _lapse_open(tx, recorder, actor, f"lapsed: {why}", today)
        if not lapsed:
            raise InvalidInput("no open request to lapse")
        return lapsed

    return perform(session, operation)
