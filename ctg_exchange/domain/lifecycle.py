"""The request state machine (DESIGN §4).

::

    filed ─┬─> under_study ─┬─> awaiting_dpo ──> opinion_given ─┬─> approved ──> conditions_accepted
           │                └─> returned ──(amend)──> filed       └─> rejected
           └─> withdrawn (by the requester, any time before a decision)
    conditions_accepted ──(send)──> exchanged ──(send)──> exchanged
    conditions_accepted | exchanged ──(suspend)──> suspended ──(resume)──> the state it left
    conditions_accepted | exchanged | suspended ──(yearly review: close)──> closed
    any state before `exchanged` ──> lapsed (the convention ended or was terminated), and
    suspended, when it was suspended before anything was sent (from conditions_accepted)

A ``non_personal`` request (anonymous aggregates only) skips the DPO: it is decided straight
from ``under_study``. Approving after an ``unfavourable`` or ``out_of_scope`` opinion takes
written reasons (:mod:`.requirements`). The requester's DPO may advise at any time until the
request ends (closed, withdrawn, rejected, lapsed); its advice never moves the request.

A breach of the conditions suspends the exchange (DOMAIN §2 step 5): nothing is sent while it
is suspended, and ``exchange resume`` returns it where it was. Each active exchange is reviewed
yearly by the holder's controller (step 8); a review may close it: nothing is sent after, the
recipient still deletes what it received when its retention ends.

Each action names the states it may start from and the state it leads to; anything else is an
:class:`InvalidTransition` that names what the action needs.
"""

from __future__ import annotations

from ..errors import InvalidTransition
from ..i18n import _
from ..labels import label
from .actions import Action
from .states import Standing, Status, Triage

BEFORE_DECISION = frozenset(
    {Status.FILED, Status.UNDER_STUDY, Status.RETURNED, Status.AWAITING_DPO, Status.OPINION_GIVEN}
)
BEFORE_EXCHANGE = BEFORE_DECISION | {Status.APPROVED, Status.CONDITIONS_ACCEPTED}
# an exchange whose conditions are accepted and that no review closed: reviewed yearly
ACTIVE = frozenset({Status.CONDITIONS_ACCEPTED, Status.EXCHANGED, Status.SUSPENDED})
ENDED = frozenset({Status.CLOSED, Status.WITHDRAWN, Status.REJECTED, Status.LAPSED})

# action -> (states it may start from, state it leads to); None keeps the state.
TRANSITIONS: dict[Action, tuple[frozenset[Status], Status | None]] = {
    Action.AMEND: (frozenset({Status.FILED, Status.RETURNED}), Status.FILED),
    Action.WITHDRAW: (BEFORE_DECISION, Status.WITHDRAWN),
    Action.STUDY_ACCEPT: (frozenset({Status.FILED}), Status.UNDER_STUDY),
    Action.STUDY_RETURN: (frozenset({Status.UNDER_STUDY}), Status.RETURNED),
    Action.STUDY_SUBMIT: (frozenset({Status.UNDER_STUDY}), Status.AWAITING_DPO),
    Action.OPINION: (frozenset({Status.AWAITING_DPO}), Status.OPINION_GIVEN),
    Action.ANNOTATE: (frozenset(Status), None),
    Action.ADVISE: (frozenset(Status) - ENDED, None),
    Action.APPROVE: (frozenset({Status.OPINION_GIVEN}), Status.APPROVED),
    Action.REJECT: (frozenset({Status.OPINION_GIVEN}), Status.REJECTED),
    Action.ACCEPT_CONDITIONS: (frozenset({Status.APPROVED}), Status.CONDITIONS_ACCEPTED),
    Action.LAPSE: (BEFORE_EXCHANGE | {Status.SUSPENDED}, Status.LAPSED),  # see ``before_exchange``
    Action.SEND: (frozenset({Status.CONDITIONS_ACCEPTED, Status.EXCHANGED}), Status.EXCHANGED),
    Action.RECEIVE: (frozenset({Status.EXCHANGED}), None),
    Action.DESTROY: (frozenset({Status.EXCHANGED, Status.SUSPENDED, Status.CLOSED}), None),
    Action.SUSPEND: (frozenset({Status.CONDITIONS_ACCEPTED, Status.EXCHANGED}), Status.SUSPENDED),
    # back to the state it was suspended from (``next_status``)
    Action.RESUME: (frozenset({Status.SUSPENDED}), None),
    # a review that closes the exchange leads to closed (``next_status``)
    Action.REVIEW: (ACTIVE, None),
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
    Action.ADVISE: "dpo advise",
    Action.APPROVE: "decide approve",
    Action.REJECT: "decide reject",
    Action.ACCEPT_CONDITIONS: "conditions accept",
    Action.LAPSE: "convention lapse",
    Action.SEND: "exchange send",
    Action.RECEIVE: "exchange receive",
    Action.DESTROY: "retention purge",
    Action.SUSPEND: "exchange suspend",
    Action.RESUME: "exchange resume",
    Action.REVIEW: "review record",
}


def before_exchange(request: Standing) -> bool:
    """Whether nothing was sent yet for ``request`` and it has not ended: it lapses when the
    convention ends. A suspension does not keep it open: suspended before any transfer, it
    lapses like the state it was suspended from. (One suspended after a transfer keeps its
    deliveries, whose deletion is still due: like ``exchanged``, it does not lapse; it sends
    nothing under another convention, ``PERIOD_CHANGED``, and a review closes it.)"""
    if request.status is Status.SUSPENDED:
        return request.suspended_from in BEFORE_EXCHANGE
    return request.status in BEFORE_EXCHANGE


def next_status(action: Action, request: Standing, *, closing: bool = False) -> Status:
    """The state ``action`` leads to from where ``request`` stands, or InvalidTransition;
    ``closing``: a yearly review whose outcome closes the exchange."""
    current = request.status
    table = TRANSITIONS
    if request.triage is Triage.NON_PERSONAL and action in NON_PERSONAL_TRANSITIONS:
        table = NON_PERSONAL_TRANSITIONS
    sources, target = table[action]
    if current not in sources:
        if not sources:
            raise InvalidTransition(
                _(
                    "{request} is non-personal (anonymous aggregates): it skips the DPO, so the "
                    "controller decides after the study"
                ).format(request=request.id)
            )
        needed = _(" or ").join(label("status", s) for s in sorted(s.value for s in sources))
        raise InvalidTransition(
            _("{request} is {status}: `{command}` needs {needed}").format(
                request=request.id,
                status=label("status", current.value),
                command=COMMAND_OF[action],
                needed=needed,
            )
        )
    if action is Action.LAPSE and not before_exchange(request):
        raise InvalidTransition(
            _(
                "{request} was suspended after data was sent: it does not lapse (its deliveries "
                "are still deleted when their retention ends); a review closes it"
            ).format(request=request.id)
        )
    if action is Action.RESUME:
        back = request.suspended_from
        if back is None or back not in TRANSITIONS[Action.SUSPEND][0]:
            raise InvalidTransition(
                _("{request} says not which state it was suspended from").format(request=request.id)
            )
        return back
    if action is Action.REVIEW and closing:
        return Status.CLOSED
    return current if target is None else target
