"""What each request step adds to the facts the replay derives for its records.

Each function takes the replay, the event and the request's facts (a dict the replay keeps and
later compares with the stored request): it updates those facts, or records the delivery,
reception or deletion the step created.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..domain.lifecycle import Action
from ..domain.models import Triage
from .events import Event

if TYPE_CHECKING:
    from .replay import Replay


def _sorted(value: Any) -> list[Any]:
    return sorted(set(value)) if isinstance(value, list) else []


def no_facts(replay: Replay, event: Event, facts: dict[str, Any]) -> None:
    return None


def content_facts(payload: dict[str, Any]) -> dict[str, Any]:
    return {
        "policy_version": payload.get("policy_version"),
        "content_sha256": payload.get("content_sha256"),
        "triage": payload.get("triage"),
        "findings": _sorted(payload.get("findings")),
        "dpia_required": payload.get("dpia_required"),
    }


def _amend_facts(replay: Replay, event: Event, facts: dict[str, Any]) -> None:
    facts.update(content_facts(event.payload))
    request = replay.requests[event.subject]
    facts["to_party"] = facts["row_to_party"] = request.to_party = str(event.payload.get("to"))
    request.triage = Triage(str(event.payload.get("triage")))


def _opinion_facts(replay: Replay, event: Event, facts: dict[str, Any]) -> None:
    facts["opinion"] = {
        "by": event.actor,
        "verdict": event.payload.get("verdict"),
        "recommendations": event.payload.get("recommendations"),
        "note_sha256": event.payload.get("text_sha256"),
    }


def _annotate_facts(replay: Replay, event: Event, facts: dict[str, Any]) -> None:
    party = replay.members[event.actor].party
    facts["annotations"].append([event.actor, party, event.payload.get("text_sha256")])


def _decision_facts(replay: Replay, event: Event, facts: dict[str, Any]) -> None:
    payload = event.payload
    facts["decision"] = {
        "by": event.actor,
        "outcome": payload.get("outcome"),
        "against_opinion": payload.get("against_opinion", False),
        "adopted": payload.get("adopted", []),
        "set_aside": payload.get("set_aside", []),
        "text_sha256": payload.get("text_sha256"),
    }


def _acceptance_facts(replay: Replay, event: Event, facts: dict[str, Any]) -> None:
    payload = event.payload
    facts["acceptance"] = {
        "by": event.actor,
        "conditions": payload.get("conditions"),
        "conditions_sha256": payload.get("conditions_sha256"),
        "dpia_ref_sha256": payload.get("dpia_ref_sha256"),
    }


def _send_facts(replay: Replay, event: Event, facts: dict[str, Any]) -> None:
    payload = event.payload
    replay._record(
        "delivery",
        (event.subject, payload.get("delivery")),
        {
            "seq": event.seq,
            "payload_sha256": payload.get("payload_sha256"),
            "payload_size": payload.get("payload_size"),
            "manifest_sha256": payload.get("manifest_sha256"),
            "rows": payload.get("rows"),
            "columns": payload.get("columns"),
            "conditions": payload.get("conditions"),
            "retention_deadline": payload.get("retention_deadline"),
        },
    )


def _receive_facts(replay: Replay, event: Event, facts: dict[str, Any]) -> None:
    payload = event.payload
    replay._record(
        "reception",
        (event.subject, payload.get("delivery")),
        {
            "seq": event.seq,
            "path_sha256": payload.get("path_sha256"),
        },
    )


def _destroy_facts(replay: Replay, event: Event, facts: dict[str, Any]) -> None:
    payload = event.payload
    replay._record(
        "destruction",
        (event.subject, payload.get("delivery")),
        {
            "seq": event.seq,
            "method": payload.get("method"),
            "path_sha256": payload.get("path_sha256"),
            "file_sha256": payload.get("file_sha256"),
            "note_sha256": payload.get("text_sha256"),
        },
    )


REQUEST_FACTS: dict[Action, Callable[[Replay, Event, dict[str, Any]], None]] = {
    Action.AMEND: _amend_facts,
    Action.OPINION: _opinion_facts,
    Action.ANNOTATE: _annotate_facts,
    Action.APPROVE: _decision_facts,
    Action.REJECT: _decision_facts,
    Action.ACCEPT_CONDITIONS: _acceptance_facts,
    Action.SEND: _send_facts,
    Action.RECEIVE: _receive_facts,
    Action.DESTROY: _destroy_facts,
}
