"""The audited actions: every action the log records, by the name its events carry, and the
roles it is taken in.

The names are the contract of the audit log (docs/audit-format.md §9) and appear nowhere else:
each has one payload model (:mod:`.payloads`, :mod:`.step_payloads`), joined to it in
:mod:`.catalogue`. Who may take an action *at a given time* (which party, which request) is the
rules' (:mod:`.rules`); here is only the role an actor must hold for it.
"""

from __future__ import annotations

from enum import StrEnum

from .states import Role


class Action(StrEnum):
    """Every audited action; the value is the event's ``action``."""

    INIT = "workspace.init"
    MEMBER_ADD = "member.add"
    MEMBER_REVOKE = "member.revoke"
    MEMBER_CONTACT = "member.contact"
    FILE = "request.file"
    AMEND = "request.amend"
    WITHDRAW = "request.withdraw"
    STUDY_ACCEPT = "study.accept"
    STUDY_RETURN = "study.return"
    STUDY_SUBMIT = "study.submit"
    OPINION = "dpo.opinion"
    ANNOTATE = "dpo.annotate"
    ADVISE = "dpo.advise"
    APPROVE = "decide.approve"
    REJECT = "decide.reject"
    ACCEPT_CONDITIONS = "conditions.accept"
    LAPSE = "request.lapse"
    SEND = "exchange.send"
    RECEIVE = "exchange.receive"
    DESTROY = "retention.destroy"
    SUSPEND = "exchange.suspend"
    RESUME = "exchange.resume"
    REVIEW = "review.record"
    RENEWAL = "convention.renewal"
    AMENDMENT = "convention.amendment"
    TERMINATION = "convention.termination"
    SUCCESSOR = "convention.successor"
    COUNTERSIGNATURE = "convention.countersignature"
    WITHDRAWAL = "convention.withdrawal"
    ENCRYPTION_KEY = "keys.encryption"
    REGISTER_VERSION = "register.version"
    REGISTER_EXPORT = "register.export"
    # issue 19: people come and go (the auditor role has no action: it takes none)
    HAND_OVER = "request.hand_over"
    # issue 19, key rotation
    KEY_ROTATE = "keys.rotate"


MEMBERSHIP = frozenset(
    {Action.INIT, Action.MEMBER_ADD, Action.MEMBER_REVOKE, Action.MEMBER_CONTACT}
)
CONVENTION_CHANGES = frozenset(
    {Action.RENEWAL, Action.AMENDMENT, Action.TERMINATION, Action.SUCCESSOR}
)
# what both parties agreed changes only with both signatures: a renewal or an avenant proposed
# by one party's admin is countersigned by the other's, or withdrawn
CONVENTION_ANSWERS = frozenset({Action.COUNTERSIGNATURE, Action.WITHDRAWAL})
CONVENTION_ACTIONS = CONVENTION_CHANGES | CONVENTION_ANSWERS
REQUEST_STEPS = frozenset(
    {
        Action.FILE,
        Action.AMEND,
        Action.WITHDRAW,
        Action.STUDY_ACCEPT,
        Action.STUDY_RETURN,
        Action.STUDY_SUBMIT,
        Action.OPINION,
        Action.ANNOTATE,
        Action.ADVISE,
        Action.APPROVE,
        Action.REJECT,
        Action.ACCEPT_CONDITIONS,
        Action.LAPSE,
        Action.SEND,
        Action.RECEIVE,
        Action.DESTROY,
        Action.SUSPEND,
        Action.RESUME,
        Action.REVIEW,
    }
)
# a register fiche may change as a consequence of these, in the same transaction
REGISTER_CAUSES = frozenset({Action.ACCEPT_CONDITIONS, Action.LAPSE})

# the steps rules 3 brought: a log begun under earlier rules holds none
SINCE_RULES_3 = frozenset(
    {Action.SUCCESSOR, Action.ADVISE, Action.SUSPEND, Action.RESUME, Action.REVIEW}
)

_ADMIN, _CONTROLLER, _DPO, _STAFF = (Role.ADMIN,), (Role.CONTROLLER,), (Role.DPO,), (Role.STAFF,)
TAKEN_AS: dict[Action, tuple[Role, ...]] = {
    Action.INIT: _ADMIN,
    Action.MEMBER_ADD: _ADMIN,
    Action.MEMBER_REVOKE: _ADMIN,
    Action.MEMBER_CONTACT: _ADMIN,
    Action.FILE: _STAFF,
    Action.AMEND: _STAFF,
    Action.WITHDRAW: _STAFF,
    Action.STUDY_ACCEPT: _CONTROLLER,
    Action.STUDY_RETURN: _CONTROLLER,
    Action.STUDY_SUBMIT: _CONTROLLER,
    Action.OPINION: _DPO,
    Action.ANNOTATE: _DPO,
    Action.ADVISE: _DPO,
    Action.APPROVE: _CONTROLLER,
    Action.REJECT: _CONTROLLER,
    Action.ACCEPT_CONDITIONS: _CONTROLLER,
    Action.LAPSE: _ADMIN,
    Action.SEND: _STAFF,
    Action.RECEIVE: _STAFF,
    Action.DESTROY: _STAFF,
    Action.SUSPEND: _CONTROLLER,
    Action.RESUME: _CONTROLLER,
    Action.REVIEW: _CONTROLLER,
    Action.RENEWAL: _ADMIN,
    Action.AMENDMENT: _ADMIN,
    Action.TERMINATION: _ADMIN,
    Action.SUCCESSOR: _ADMIN,
    Action.COUNTERSIGNATURE: _ADMIN,
    Action.WITHDRAWAL: _ADMIN,
    Action.ENCRYPTION_KEY: _ADMIN,
    # an admin or the DPO keeps the register; accepting conditions or a lapse feeds it too
    Action.REGISTER_VERSION: (Role.ADMIN, Role.DPO, Role.CONTROLLER),
    Action.REGISTER_EXPORT: (Role.ADMIN, Role.DPO),
    # issue 19: the owner of the follow-up (staff, controller), or its party's admin
    Action.HAND_OVER: (Role.STAFF, Role.CONTROLLER, Role.ADMIN),
    # issue 19, key rotation: a member rotates its own key in any role it holds; an admin of
    # its party replaces a lost or compromised one
    Action.KEY_ROTATE: (Role.ADMIN, Role.CONTROLLER, Role.DPO, Role.STAFF),
}
