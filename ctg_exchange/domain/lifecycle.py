"""The request state machine (DESIGN §4).

::

    filed ─┬─> under_study ─┬─> awaiting_dpo ──> opinion_given ─┬─> approved ──> conditions_accepted
           │                └─> returned ──(amend)──> filed       └─> rejected
           └─> withdrawn (by the requester, any time before a decision)
    any state before `exchanged` ──> lapsed (the convention ended or was terminated)

A ``non_personal`` request (anonymous aggregates only) skips the DPO: it is decided straight
from ``under_study``. Each action names the states it may start from and the state it leads to;
anything else is an :class:`InvalidTransition` that names what the action needs.
"""

from __future__ import annotations

from ..errors import InvalidTransition
from .actions import Action
from .models import Standing, Status, Triage

BEFORE_DECISION = frozenset(
    {Status.FILED, Status.UNDER_STUDY, Status.RETURNED, Status.AWAITING_DPO, Status.OPINION_GIVEN}
)
BEFORE_EXCHANGE = BEFORE_DECISION | {Status.APPROVED, Status.CONDITIONS_ACCEPTED}

# action -> (states it may start from, state it leads to); None keeps the state.
TRANSITIONS: dict[Action, tuple[frozenset[Status], Status | None]] = {
    Action.AMEND: (frozenset({Status.FILED, Status.RETURNED}), Status.FILED),
    Action.WITHDRAW: (BEFORE_DECISION, Status.WITHDRAWN),
    Action.STUDY_ACCEPT: (frozenset({Status.FILED}), Status.UNDER_STUDY),
    Action.STUDY_RETURN: (frozenset({Status.UNDER_STUDY}), Status.RETURNED),
    Action.STUDY_SUBMIT: (frozenset({Status.UNDER_STUDY}), Status.AWAITING_DPO),
    Action.OPINION: (frozenset({Status.AWAITING_DPO}), Status.OPINION_GIVEN),
    Action.ANNOTATE: (frozenset(Status), None),
    Action.APPROVE: (frozenset({Status.OPINION_GIVEN}), Status.APPROVED),
    Action.REJECT: (frozenset({Status.OPINION_GIVEN}), Status.REJECTED),
    Action.ACCEPT_CONDITIONS: (frozenset({Status.APPROVED}), Status.CONDITIONS_ACCEPTED),
    Action.LAPSE: (BEFORE_EXCHANGE, Status.LAPSED),
    Action.SEND: (frozenset({Status.CONDITIONS_ACCEPTED, Status.EXCHANGED}), Status.EXCHANGED),
    Action.RECEIVE: (frozenset({Status.EXCHANGED}), None),
    Action.DESTROY: (frozenset({Status.EXCHANGED, Status.CLOSED}), None),
}

# A non-personal request has no DPO step: it is decided after the study.
NON_PERSONAL_TRANSITIONS: dict[Action, tuple[frozenset[Status], Status | None]] = {
    Action.STUDY_SUBMIT: (frozenset(), Status.AWAITING_DPO),
    Action.OPINION: (frozenset(), Status.OPINION_GIVEN),
    Action.APPROVE: (frozenset({Status.UNDER_STUDY}), Status.APPROVED),
    Action.REJECT: (frozenset({Status.UNDER_STUDY}), Status.REJECTED),
}

COMMAND_OF = {
    Action.AMEND: "request amend",
    Action.WITHDRAW: "request withdraw",
    Action.STUDY_ACCEPT: "study accept",
    Action.STUDY_RETURN: "study return",
    Action.STUDY_SUBMIT: "study submit",
    Action.OPINION: "dpo opinion",
    Action.ANNOTATE: "dpo annotate",
    Action.APPROVE: "decide approve",
    Action.REJECT: "decide reject",
    Action.ACCEPT_CONDITIONS: "conditions accept",
    Action.LAPSE: "convention lapse",
    Action.SEND: "exchange send",
    Action.RECEIVE: "exchange receive",
    Action.DESTROY: "retention purge",
}


def next_status(action: Action, request: Standing) -> Status:
    """The state ``action`` leads to from where ``request`` stands, or InvalidTransition."""
    current = request.status
    table = TRANSITIONS
    if request.triage is Triage.NON_PERSONAL and action in NON_PERSONAL_TRANSITIONS:
        table = NON_PERSONAL_TRANSITIONS
    sources, target = table[action]
    if current not in sources:
        if not sources:
            raise InvalidTransition(
                f"{request.id} is non-personal (anonymous aggregates): it skips the DPO, "
                "so the controller decides after the study"
            )
        needed = " or ".join(sorted(s.value for s in sources))
        raise InvalidTransition(
            f"{request.id} is {current.value}: `{COMMAND_OF[action]}` needs {needed}"
        )
    return current if target is None else target
