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

from .states import Status, Verdict

FILE = "request.file"
MEMBERS = frozenset({"member.add", "member.revoke"})
# the request steps after the filing, and what each records besides the states
STEPS: dict[str, str | None] = {
    "request.amend": "changed",
    "request.withdraw": None,
    "study.accept": None,
    "study.return": None,
    "study.submit": None,
    "dpo.opinion": "verdict",
    "dpo.annotate": None,
    "dpo.advise": None,
    "decide.approve": "outcome",
    "decide.reject": "outcome",
    "conditions.accept": None,
    "request.lapse": None,
    "exchange.send": None,
    "exchange.receive": None,
    "retention.destroy": None,
    "exchange.suspend": None,
    "exchange.resume": None,
    "review.record": "outcome",
}
# the values each recorded key may take (the models' enumerations and literals)
_STATUSES = frozenset(s.value for s in Status)
_VALUES = {
    "verdict": frozenset(v.value for v in Verdict),
    ("decide.approve", "outcome"): frozenset({"approved"}),
    ("decide.reject", "outcome"): frozenset({"rejected"}),
    ("review.record", "outcome"): frozenset({"continue", "close"}),
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
