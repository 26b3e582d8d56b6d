"""A successor convention (rules 3): once the convention has ended, by expiry or termination,
the parties sign a new one for a new period, each with its own deliberation. One party's admin
proposes it with that party's deliberation; it takes effect when an admin of the other party
countersigns it with the other's (:func:`ctg_exchange.services.convention.countersign`), and
either may withdraw it meanwhile. From then on the convention is in force for the new period:
requests are filed and approved again; those of the old period that lapsed stay lapsed, and
any left open lapse as it takes effect.
"""

from __future__ import annotations

from datetime import date

from ..audit.canonical import text_digest
from ..domain import payloads
from ..domain.actions import Action
from ..domain.models import Member
from ..store.base import Tx
from .convention import Outcome, proposal_state, record_change, successor_refused
from .remoting import remotable, said
from .requests import required_text
from .session import Recorder, Session, perform


@remotable(
    Action.SUCCESSOR,  # a proposal: it lapses nothing (its countersignature may)
    expect=lambda a: {
        "effective": a["start"].isoformat(),
        "until": a["end"].isoformat(),
        "reference_sha256": said(a["reference"]),
        "deliberation_sha256": said(a["deliberation"]),
    },
)
def propose_successor(
    session: Session, start: date, end: date, reference: str, deliberation: str
) -> Outcome:
    """Propose the convention that follows the one that ended, from ``start`` to ``end``
    (``reference``: the new convention; ``deliberation``: the proposing party's decision)."""
    reference = required_text(reference, "--reference")
    deliberation = required_text(deliberation, "--deliberation")
    today = session.clock.today()

    def operation(tx: Tx, actor: Member, recorder: Recorder) -> Outcome:
        state = proposal_state(session, tx, actor)
        successor_refused(state, start, end, today)
        successor = payloads.Successor(
            kind="successor",
            effective=start,
            until=end,
            previous_end=state.last_day,
            reference_sha256=text_digest(reference),
            deliberation_sha256=text_digest(deliberation),
        )
        change = record_change(
            tx, recorder, actor, successor, reference, in_effect=False, deliberation=deliberation
        )
        return Outcome(session.workspace.convention(tx), change)

    return perform(session, operation)
