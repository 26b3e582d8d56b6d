"""The termination of the convention (Article 12): unilateral, in one of the article's cases,
by a party that case allows, with effect once its notice has run; signed and audited.

When it takes effect today (rules 3: never earlier), every request not yet exchanged lapses at
once; a later date lets them run until then (``convention lapse`` records it when the day
comes). A later termination with an earlier effect may take the place of one still running its
notice (:mod:`ctg_exchange.policy.termination` says why).
"""

from __future__ import annotations

from datetime import date

from ..audit.canonical import text_digest
from ..domain import payloads
from ..domain.actions import Action
from ..domain.models import Member
from ..errors import InvalidInput
from ..i18n import _, date_text
from ..policy.convention import ConventionState
from ..policy.termination import TerminationCase, why_not_terminated
from ..store.base import Tx
from .convention import LAPSES, MANY, _lapse_open, lapse_text, record_change, require_admin
from .remoting import remotable, said
from .requests import required_text
from .session import Recorder, Session, perform


def _terminate_said(args: dict[str, object]) -> dict[str, object]:
    notice = args.get("notice")
    return {
        "effective": str(args["on"]),
        "reason_sha256": said(str(args["reason"])),
        "case": str(args["case"]),
        "notice_date": None if notice is None else str(notice),
    }


@remotable(Action.TERMINATION, also=LAPSES, max_also=MANY, expect=_terminate_said)
def terminate(
    session: Session,
    on: date,
    reason: str,
    case: TerminationCase,
    notice: date | None = None,
) -> tuple[ConventionState, list[str]]:
    """Record a termination with effect from ``on`` (Article 12) in ``case``, after the notice
    sent on ``notice``; lapse open requests if due."""
    reason = required_text(reason, "--reason")
    today = session.clock.today()

    def operation(tx: Tx, actor: Member, recorder: Recorder) -> tuple[ConventionState, list[str]]:
        require_admin(actor)
        state = session.workspace.convention(tx)
        party = state.policy.party(actor.party)
        why = why_not_terminated(
            state, case, None if party is None else party.kind, notice, on, today
        )
        if why is not None:
            raise why.error()
        if state.rules < 3 and state.termination is not None:  # rules 3: why_not_terminated
            raise InvalidInput(
                _("the convention is already terminated with effect from {date}").format(
                    date=date_text(state.termination.effective)
                )
            )
        termination = payloads.Termination(
            kind="termination",
            effective=on,
            reference_sha256=text_digest(reason),
            reason_sha256=text_digest(reason),
            case=case.value,
            notice_date=notice,
        )
        record_change(tx, recorder, actor, termination, reason, in_effect=True, reason=reason)
        state = session.workspace.convention(tx)
        lapsed: list[str] = []
        lapsing = lapse_text(state, today)
        if on <= today and lapsing is not None:
            lapsed = _lapse_open(tx, recorder, actor, lapsing, today)
        return state, lapsed

    return perform(session, operation)
