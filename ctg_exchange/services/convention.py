"""The convention's life, recorded by admins: renewal (Art. 10), avenant (Art. 11), and the
lapse of open requests when the convention is no longer in force; a termination (Art. 12) and a
successor convention have modules of their own (:mod:`.termination`, :mod:`.successor`).

What both parties agreed changes only with both signatures: a renewal, an avenant or a
successor convention is proposed by one party's admin and takes effect when an admin of the
other party countersigns it; until then it is pending, changes nothing, and either party may
withdraw it. One is pending at a time. A termination is unilateral (Article 12), with its
notice. (A workspace made by 0.1.0 keeps its rules: there one admin's renewal or avenant takes
effect at once.)

Each is signed and audited. When the convention has ended, requests not yet exchanged close
without transmission (``lapsed``): ``terminate`` does it at once when it takes effect today or
earlier, a renewal taking effect does it first for requests left open by an expiry, and
``lapse`` records it for an expiry or a termination whose date has come.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date

from ..audit.canonical import text_digest
from ..domain import payloads
from ..domain.actions import Action
from ..domain.catalogue import parse_payload
from ..domain.dates import procedure_date
from ..domain.lifecycle import before_exchange
from ..domain.models import ExchangeRequest, Member, Role
from ..domain.payloads import PayloadInvalid
from ..domain.rules import RULE_ADMIN_ONLY, ensure_acting
from ..errors import CorruptRow, InvalidInput, NotAuthorised, NotFound
from ..i18n import N_, _, date_text, in_language
from ..policy.convention import (
    AVENANT_AFTER_END,
    RENEWAL_AFTER_END,
    ChangeKind,
    ConventionChange,
    ConventionState,
    ConventionStatus,
    Refusal,
    ensure_countersigner,
    ensure_none_pending,
)
from ..store.base import PolicyRecord, Tx
from .register import note_lapse
from .remoting import remotable, said
from .requests import record_step, required_text
from .session import Recorder, Session, perform

# a renewal, a countersignature, a termination or a lapse closes the requests left open when
# the convention ended, and notes it on the register fiches they fed
LAPSES = frozenset({Action.LAPSE, Action.REGISTER_VERSION})
MANY = 1000  # the lapses of every request left open, and the register notes they bring


@dataclass(frozen=True)
class ConventionView:
    state: ConventionState
    status: ConventionStatus
    today: date
    policies: tuple[PolicyRecord, ...]
    open_requests: tuple[str, ...]  # not yet exchanged: they lapse when the convention ends


def require_admin(actor: Member) -> None:
    ensure_acting(actor)
    if not actor.has(Role.ADMIN):
        raise NotAuthorised(
            RULE_ADMIN_ONLY,
            _("only an admin records the convention's life: {member} is {roles} of {party}").format(
                member=actor.id, roles="/".join(actor.roles), party=actor.party
            ),
        )


def _open_requests(tx: Tx) -> list[ExchangeRequest]:
    return [r for r in tx.list_requests() if before_exchange(r)]


@remotable("convention.show")
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


def record_change(
    tx: Tx,
    recorder: Recorder,
    actor: Member,
    payload: payloads.ConventionChange,
    reference: str,
    *,
    in_effect: bool,
    version: int | None = None,
    reason: str | None = None,
    deliberation: str | None = None,
) -> ConventionChange:
    """Record a renewal, avenant, termination or successor; ``in_effect``: at once (a
    termination, or anything in a 0.1.0 workspace), else pending until the other party
    countersigns. A successor's period and a termination's case come from ``payload``."""
    event = recorder.record(actor, Role.ADMIN, _subject(tx), payload)
    successor = payload if isinstance(payload, payloads.Successor) else None
    termination = payload if isinstance(payload, payloads.Termination) else None
    change = ConventionChange(
        seq=event.seq,
        kind=ChangeKind(payload.change_kind),
        effective=payload.effective,
        reference=reference,
        by=actor.id,
        at=recorder.now,
        party=actor.party,
        policy_version=version,
        reason=reason,
        agreed_seq=event.seq if in_effect else None,
        until=None if successor is None else successor.until,
        deliberation=deliberation,
        case=None if termination is None else termination.case,
        notice=None if termination is None else termination.notice_date,
    )
    tx.add_convention_change(change)
    return change


def _subject(tx: Tx) -> str:
    current = tx.current_policy()
    return current.policy_id if current else "convention"


def _lapse_open(tx: Tx, recorder: Recorder, actor: Member, why: str, today: date) -> list[str]:
    """Close every request not yet exchanged, each with its own signed event; the register
    fiches linked to one (conditions already accepted) are annotated, never deleted."""
    lapsed = []
    for request in _open_requests(tx):
        record_step(tx, recorder, actor, request, Action.LAPSE, text=why)
        note_lapse(tx, recorder, actor, Role.ADMIN, request.id, today, why)
        lapsed.append(request.id)
    return lapsed


@dataclass(frozen=True)
class Outcome:
    """What a renewal, an avenant or its countersignature left: the convention as it now
    stands, the change concerned (pending, or in effect) and the requests that lapsed."""

    state: ConventionState
    change: ConventionChange
    lapsed: tuple[str, ...] = ()
    declined: bool = False  # withdrawn by the other party than the one that proposed it


def proposal_state(session: Session, tx: Tx, actor: Member) -> ConventionState:
    """The convention a proposal (a renewal, an avenant) starts from: by an admin, and, both
    parties having to agree (rules 2), with no other proposal pending."""
    require_admin(actor)
    state = session.workspace.convention(tx)
    if session.workspace.rules >= 2:
        ensure_none_pending(state.changes)
    return state


def _renewal_refused(state: ConventionState, until: date, today: date) -> None:
    why = state.renewal_refusal(until, today)
    if why is not None:
        raise why.error(hint=_(_SUCCESSOR_HINT) if why.rule == RENEWAL_AFTER_END else None)


_SUCCESSOR_HINT = N_(
    "`convention successor --start … --end … --reference … --deliberation …`, countersigned by "
    "the other party"
)


def successor_refused(
    state: ConventionState, start: date, until: date, today: date, proposed: date | None = None
) -> None:
    why: Refusal | None = state.why_no_successor(start, until, today, proposed)
    if why is not None:
        raise why.error()


def lapse_text(state: ConventionState, today: date) -> str | None:
    """What a lapse on ``today`` records as its reason, or None while the convention is in force
    (as :meth:`ConventionState.why_not_in_force` says).

    The text is hashed in the lapse's event and kept in the request's history and on the
    register fiches it fed, so it is made in English whatever the locale: a member's client
    foresees the event in its own language and must make the very bytes the server makes in
    its own.
    """
    with in_language("en"):
        why = state.why_not_in_force(today)
    return None if why is None else f"lapsed: {why}"


def _take_effect_renewal(
    tx: Tx, recorder: Recorder, actor: Member, state: ConventionState, today: date
) -> list[str]:
    """A renewal taking effect after an expiry: what was left open closed when it ended."""
    why = lapse_text(state, today)
    return [] if why is None else _lapse_open(tx, recorder, actor, why, today)


@remotable(
    Action.RENEWAL,  # a proposal: it lapses nothing (its countersignature may)
    expect=lambda a: {
        "effective": a["until"].isoformat(),
        "reference_sha256": said(a["reference"]),
    },
)
def renew(session: Session, until: date, reference: str) -> Outcome:
    """Propose an express renewal until ``until`` (Article 10): it takes effect when an admin
    of the other party countersigns it (in a 0.1.0 workspace, at once)."""
    reference = required_text(reference, "--reference")
    today = session.clock.today()
    bilateral = session.workspace.rules >= 2

    def operation(tx: Tx, actor: Member, recorder: Recorder) -> Outcome:
        state = proposal_state(session, tx, actor)
        _renewal_refused(state, until, today)
        lapsed = [] if bilateral else _take_effect_renewal(tx, recorder, actor, state, today)
        renewal = payloads.Renewal(
            kind="renewal",
            effective=until,
            reference_sha256=text_digest(reference),
            previous_end=state.end,
        )
        change = record_change(tx, recorder, actor, renewal, reference, in_effect=not bilateral)
        return Outcome(session.workspace.convention(tx), change, tuple(lapsed))

    return perform(session, operation)


def _pending(state: ConventionState, seq: int) -> ConventionChange:
    change = next((c for c in state.changes if c.seq == seq), None)
    if change is None or change.kind is ChangeKind.TERMINATION:
        raise NotFound(
            _("no renewal, avenant or successor convention #{seq}").format(seq=seq),
            hint=_("see `convention show`"),
        )
    if change.agreed_seq is not None:
        raise InvalidInput(
            _("{change} is already in effect (#{seq})").format(
                change=change.describe(), seq=change.agreed_seq
            )
        )
    if change.withdrawn_seq is not None:
        raise InvalidInput(
            _("{change} was withdrawn (#{seq})").format(
                change=change.describe(), seq=change.withdrawn_seq
            )
        )
    return change


def _as_logged(tx: Tx, change: ConventionChange) -> str | None:
    """Check the stored proposal against its signed event before countersigning it (a row
    edited behind the tool's back is not signed for); an avenant's policy digest."""
    stored = tx.get_event(change.seq)
    try:
        logged = (
            None
            if stored is None
            else parse_payload(Action(stored.event.action), stored.event.payload)
        )
    except (ValueError, PayloadInvalid):
        logged = None
    policies = {record.version: record.sha256 for record in tx.policies()}
    said: tuple[object, ...] = ()
    if isinstance(logged, payloads.Renewal | payloads.Amendment | payloads.Successor):
        said = (logged.change_kind, logged.effective, logged.reference_sha256)
    if isinstance(logged, payloads.Amendment):
        said += (logged.policy.version, logged.policy.sha256)
    if isinstance(logged, payloads.Successor):
        said += (logged.until, logged.deliberation_sha256)
    stored_as: tuple[object, ...] = (
        change.kind.value,
        change.effective,
        text_digest(change.reference),
    )
    if change.kind is ChangeKind.SUCCESSOR:
        stored_as += (change.until, text_digest(change.deliberation or ""))
    if change.kind is ChangeKind.AMENDMENT:
        version = change.policy_version
        stored_as += (version, policies.get(version) if version is not None else None)
    if said != stored_as:
        raise CorruptRow("convention_changes", change.seq)
    return logged.policy.sha256 if isinstance(logged, payloads.Amendment) else None


def avenant_refused(state: ConventionState, today: date) -> None:
    why = state.avenant_refusal(today)
    if why is not None:
        raise why.error(hint=_(_SUCCESSOR_HINT) if why.rule == AVENANT_AFTER_END else None)


@remotable(
    Action.COUNTERSIGNATURE,
    also=LAPSES,
    max_also=MANY,
    expect=lambda a: {"proposal": a["seq"], "reference_sha256": said(a["reference"])},
)
def countersign(session: Session, seq: int, reference: str) -> Outcome:
    """Countersign the renewal, avenant or successor #``seq`` for the other party: it takes
    effect."""
    reference = required_text(reference, "--reference")
    today = session.clock.today()

    def operation(tx: Tx, actor: Member, recorder: Recorder) -> Outcome:
        require_admin(actor)
        state = session.workspace.convention(tx)
        change = _pending(state, seq)
        ensure_countersigner(change, actor.party)
        policy_sha256 = _as_logged(tx, change)
        lapsed: list[str] = []
        if change.kind is ChangeKind.AMENDMENT:
            avenant_refused(state, today)
        else:
            if change.kind is ChangeKind.SUCCESSOR:
                until = change.until or change.effective
                proposed = procedure_date(change.at)
                successor_refused(state, change.effective, until, today, proposed)
            else:
                _renewal_refused(state, change.effective, today)
            # what was left open when the convention ended lapses before it runs again
            lapsed = _take_effect_renewal(tx, recorder, actor, state, today)
        answer = payloads.Countersignature(
            proposal=change.seq,
            kind=change.kind.value,
            effective=change.effective,
            until=change.until,
            proposal_reference_sha256=text_digest(change.reference),
            policy_sha256=policy_sha256,
            reference_sha256=text_digest(reference),
        )
        event = recorder.record(actor, Role.ADMIN, _subject(tx), answer)
        tx.agree_convention_change(change.seq, event.seq, reference)
        agreed = replace(change, agreed_seq=event.seq, agreed_reference=reference)
        return Outcome(session.workspace.convention(tx), agreed, tuple(lapsed))

    return perform(session, operation)


@remotable(
    Action.WITHDRAWAL,
    expect=lambda a: {"proposal": a["seq"], "reason_sha256": said(a["reason"])},
)
def withdraw(session: Session, seq: int, reason: str) -> Outcome:
    """Withdraw the pending renewal or avenant #``seq`` (its party), or decline it (the
    other): it never takes effect."""
    reason = required_text(reason, "--reason")

    def operation(tx: Tx, actor: Member, recorder: Recorder) -> Outcome:
        require_admin(actor)
        change = _pending(session.workspace.convention(tx), seq)
        answer = payloads.Withdrawal(proposal=change.seq, reason_sha256=text_digest(reason))
        event = recorder.record(actor, Role.ADMIN, _subject(tx), answer)
        tx.withdraw_convention_change(change.seq, event.seq, reason)
        withdrawn = replace(change, withdrawn_seq=event.seq, withdrawn_reason=reason)
        declined = actor.party != change.party
        return Outcome(session.workspace.convention(tx), withdrawn, declined=declined)

    return perform(session, operation)


@remotable(Action.LAPSE, also=LAPSES, max_also=MANY)
def lapse(session: Session) -> list[str]:
    """Record that open requests lapsed because the convention is no longer in force."""
    today = session.clock.today()

    def operation(tx: Tx, actor: Member, recorder: Recorder) -> list[str]:
        require_admin(actor)
        why = lapse_text(session.workspace.convention(tx), today)
        if why is None:
            raise InvalidInput(
                _("the convention is in force on {date}: no request lapses").format(
                    date=date_text(today)
                )
            )
        lapsed = _lapse_open(tx, recorder, actor, why, today)
        if not lapsed:
            raise InvalidInput(_("no open request to lapse"))
        return lapsed

    return perform(session, operation)
