"""The request state machine (DESIGN §4).

::

    filed ─┬─> under_study ─┬─> awaiting_dpo ──> opinion_given ─┬─> approved
           │                └─> returned ──(amend)──> filed       └─> rejected
           └─> withdrawn (by the requester, any time before a decision)

Each action names the states it may start from and the state it leads to; anything else is an
:class:`InvalidTransition` that names what the action needs.
"""

from __future__ import annotations

from enum import StrEnum

from ..errors import InvalidTransition
from .models import Status


class Action(StrEnum):
    """Every action on a request; the value is the audit log's action name."""

    FILE = "request.file"
    AMEND = "request.amend"
    WITHDRAW = "request.withdraw"
    STUDY_ACCEPT = "study.accept"
    STUDY_RETURN = "study.return"
    STUDY_SUBMIT = "study.submit"
    OPINION = "dpo.opinion"
    ANNOTATE = "dpo.annotate"
    APPROVE = "decide.approve"
    REJECT = "decide.reject"


BEFORE_DECISION = frozenset(
    {Status.FILED, Status.UNDER_STUDY, Status.RETURNED, Status.AWAITING_DPO, Status.OPINION_GIVEN}
)

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
}


def next_status(action: Action, request_id: str, current: Status) -> Status:
    """The state ``action`` leads to from ``current``, or :class:`InvalidTransition`."""
    sources, target = TRANSITIONS[action]
    if current not in sources:
        needed = " or ".join(sorted(s.value for s in sources))
        raise InvalidTransition(
            f"{request_id} is {current.value}: `{COMMAND_OF[action]}` needs {needed}"
        )
    return current if target is None else target
