"""A few words of each event for a person reading the log (``audit log``), from its stored
payload, without building the payload's model.

Each payload model says them (``Payload.highlights``): the states a request step moves its
request between, and the verdict, outcome or fields changed it records; the member a
membership event names. ``audit log`` shows fifty events at a time and must not load the
procedure's models for that, so these read the same few keys from the payload as stored, and a
test holds the two to each other, action by action. A payload whose keys are not what its model
reads gives no words (``audit verify`` names what is wrong with it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .actions import Action
from .states import Status, Verdict

FILE = Action.FILE.value
MEMBERS = frozenset(
    {
        Action.MEMBER_ADD.value,
        Action.MEMBER_REVOKE.value,
        Action.MEMBER_CONTACT.value,
        Action.KEY_ROTATE.value,
    }
)
# the request steps after the filing, and what each records besides the states
STEPS: dict[str, str | None] = {
    Action.AMEND.value: "changed",
    Action.WITHDRAW.value: None,
    Action.STUDY_ACCEPT.value: None,
    Action.STUDY_RETURN.value: None,
    Action.STUDY_SUBMIT.value: None,
    Action.OPINION.value: "verdict",
    Action.ANNOTATE.value: None,
    Action.ADVISE.value: None,
    Action.APPROVE.value: "outcome",
    Action.REJECT.value: "outcome",
    Action.ACCEPT_CONDITIONS.value: None,
    Action.LAPSE.value: None,
    Action.SEND.value: None,
    Action.RECEIVE.value: None,
    Action.DESTROY.value: None,
    Action.SUSPEND.value: None,
    Action.RESUME.value: None,
    Action.REVIEW.value: "outcome",
}
# the values each recorded key may take (the models' enumerations and literals)
_STATUSES = frozenset(s.value for s in Status)
_VALUES = {
    "verdict": frozenset(v.value for v in Verdict),
    (Action.APPROVE.value, "outcome"): frozenset({"approved"}),
    (Action.REJECT.value, "outcome"): frozenset({"rejected"}),
    (Action.REVIEW.value, "outcome"): frozenset({"continue", "close"}),
}


def highlights(action: str, payload: Mapping[str, Any]) -> dict[str, str]:
    """What :meth:`~ctg_exchange.domain.payloads.Payload.highlights` gives of this event."""
    if action in MEMBERS:
        member = payload.get("member")
        return {"member": member} if isinstance(member, str) else {}
    to_status = payload.get("to_status")
    if to_status not in _STATUSES:
        return {}
    if action == FILE:
        return {"states": f"— → {to_status}"}
    if action not in STEPS:
        return {}
    from_status = payload.get("from_status")
    if from_status not in _STATUSES:
        return {}
    words = {"states": f"{from_status} → {to_status}"}
    key = STEPS[action]
    if key is None:
        return words
    value = payload.get(key)
    if key == "changed":
        if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
            return {}
        return {**words, key: ", ".join(value)}
    if value not in _VALUES.get(key, _VALUES.get((action, key), frozenset())):
        return {}
    return {**words, key: value}
