"""Requests as stored, read without building their models: what the read commands print.

A request's row holds its document as the model wrote it (``model_dump_json``). Listing
thousands of them, or showing one, need not load pydantic and build the procedure's models:
:func:`request_document` reads the stored JSON into the very document ``--json`` prints
(:func:`ctg_exchange.services.documents.request_document`), filling what an older version did
not write with the model's default, in the model's order. The shapes below follow the models
field for field; a test holds them to the models (names, order, defaults).

What is checked: the document is JSON, has every field its model requires and none it does
not know, and the states it names exist. A row that fails is :class:`CorruptRow` (exit 3),
as when the model refuses it. The rest of the model's rules (text lengths, patterns) are the
writer's, and ``audit verify`` compares every stored request with the log.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from ..domain.states import Status, Triage
from ..errors import CorruptRow

NEEDED: Any = object()  # a field without a default
# (field, default, shape of its value: a mapping, or each item of a list, or None)
Shape = tuple[tuple[str, Any, "Shape | None"], ...]

PROCESSOR: Shape = (("name", NEEDED, None), ("contract", None, None))
CONTENT: Shape = (
    ("to", NEEDED, None),
    ("field", NEEDED, None),
    ("purpose", NEEDED, None),
    ("purpose_kind", NEEDED, None),
    ("categories", NEEDED, None),
    ("subjects", NEEDED, None),
    ("legal_basis", None, None),
    ("legal_text", None, None),
    ("retention_days", NEEDED, None),
    ("frequency", NEEDED, None),
    ("recipients", None, None),
    ("volume", None, None),
    ("art9_condition", None, None),
    ("transfer_outside_eu", False, None),
    ("nir_case", None, None),
    ("legal_refs", [], None),
    ("archive_days", 0, None),
    ("aggregates_of", [], None),
    ("automated_decision", "none", None),
    ("profiling", False, None),
    ("decides_access", False, None),
    ("new_technology", False, None),
    ("combines_with_own_files", None, None),
    ("processors", [], PROCESSOR),
    ("onward_recipients", [], None),
    ("necessity", None, None),
    ("right_to_object", None, None),
)
FINDING: Shape = (
    ("code", NEEDED, None),
    ("severity", NEEDED, None),
    ("message", NEEDED, None),
    ("channel", None, None),
)
RECOMMENDATION: Shape = (
    ("number", NEEDED, None),
    ("text", NEEDED, None),
    ("kind", "free", None),
    ("columns", [], None),
    ("value", None, None),
)
ANSWER: Shape = (("number", NEEDED, None), ("adopted", NEEDED, None), ("reason", None, None))
CONDITION: Shape = (
    ("source", NEEDED, None),
    ("kind", NEEDED, None),
    ("text", NEEDED, None),
    ("columns", [], None),
    ("value", None, None),
)
_SIGNED: Shape = (("by", NEEDED, None), ("at", NEEDED, None), ("on", NEEDED, None))
OPINION: Shape = (
    ("verdict", NEEDED, None),
    ("note", NEEDED, None),
    *_SIGNED,
    ("recommendations", [], RECOMMENDATION),
)
DECISION: Shape = (
    ("outcome", NEEDED, None),
    *_SIGNED,
    ("text", None, None),
    ("against_opinion", False, None),
    ("answers", [], ANSWER),
)
ACCEPTANCE: Shape = (
    *_SIGNED,
    ("dpia_ref", None, None),
    ("information", None, None),
    ("l311_mention", None, None),
)
ANNOTATION: Shape = (
    ("by", NEEDED, None),
    ("party", NEEDED, None),
    ("at", NEEDED, None),
    ("on", NEEDED, None),
    ("note", NEEDED, None),
)
ADVICE: Shape = (*_SIGNED, ("note", NEEDED, None))
SUSPENSION: Shape = (*_SIGNED, ("reason", NEEDED, None), ("from_status", NEEDED, None))
REVIEW: Shape = (*_SIGNED, ("outcome", NEEDED, None), ("note", NEEDED, None))
HANDOVER: Shape = (
    ("side", NEEDED, None),
    ("previous", NEEDED, None),
    ("successor", NEEDED, None),
    ("by", NEEDED, None),
    ("at", NEEDED, None),
)
REQUEST: Shape = (
    ("id", NEEDED, None),
    ("status", NEEDED, None),
    ("from_party", NEEDED, None),
    ("content", NEEDED, CONTENT),
    ("filed_by", NEEDED, None),
    ("filed_on", NEEDED, None),
    ("filed_at", NEEDED, None),
    ("updated_at", NEEDED, None),
    ("policy_version", NEEDED, None),
    ("triage", "personal", None),
    ("findings", [], FINDING),
    ("dpia_required", False, None),
    ("submitted_on", None, None),
    ("opinion", None, OPINION),
    ("decision", None, DECISION),
    ("conditions", [], CONDITION),
    ("acceptance", None, ACCEPTANCE),
    ("annotations", [], ANNOTATION),
    ("advices", [], ADVICE),
    ("suspension", None, SUSPENSION),
    ("reviews", [], REVIEW),
    ("handovers", [], HANDOVER),
)

_STATUSES = frozenset(s.value for s in Status)
_TRIAGES = frozenset(t.value for t in Triage)
_SEVERITIES = frozenset(("blocking", "warning"))


def shaped(value: Any, shape: Shape) -> dict[str, Any]:
    """``value``, a stored mapping, in its model's order with its defaults; ValueError if it
    lacks a required field or has one its model does not know."""
    if not isinstance(value, dict):
        raise ValueError("not a mapping")
    if not value.keys() <= {name for name, _default, _inner in shape}:
        raise ValueError("a field the model does not know")
    out: dict[str, Any] = {}
    for name, default, inner in shape:
        if name in value:
            item = value[name]
        elif default is NEEDED:
            raise ValueError(f"{name} missing")
        else:
            item = list(default) if isinstance(default, list) else default
        if inner is not None and item is not None:
            item = (
                [shaped(each, inner) for each in item]
                if isinstance(item, list)
                else shaped(item, inner)
            )
        out[name] = item
    return out


def stored_request(request_id: str, doc: str) -> dict[str, Any]:
    """A request's stored document, checked and completed (see the module's docstring)."""
    try:
        request = shaped(json.loads(doc), REQUEST)
        if request["status"] not in _STATUSES or request["triage"] not in _TRIAGES:
            raise ValueError("a state that does not exist")
        if any(f["severity"] not in _SEVERITIES for f in request["findings"]):
            raise ValueError("a severity that does not exist")
        if not isinstance(request["content"]["categories"], list):
            raise ValueError("categories are a list")
    except (ValueError, TypeError) as exc:  # JSONDecodeError is a ValueError
        raise CorruptRow("requests", request_id) from exc
    return request


def request_document(request: dict[str, Any]) -> dict[str, Any]:
    """The document ``--json`` prints of a request (:func:`stored_request`), the same as
    :func:`ctg_exchange.services.documents.request_document` makes of its model."""
    decision = request["decision"]
    return {
        "id": request["id"],
        "status": request["status"],
        "from": request["from_party"],
        **request["content"],
        "filed_by": request["filed_by"],
        "filed_on": request["filed_on"],
        "filed_at": request["filed_at"],
        "updated_at": request["updated_at"],
        "policy_version": request["policy_version"],
        "triage": request["triage"],
        "findings": request["findings"],
        "dpia_required": request["dpia_required"],
        "submitted_on": request["submitted_on"],
        "opinion": request["opinion"],
        "decision": decision,
        "approved_against_dpo_opinion": decision is not None and decision["against_opinion"],
        "conditions": request["conditions"],
        "acceptance": request["acceptance"],
        "annotations": request["annotations"],
        "advices": request["advices"],
        "suspension": request["suspension"],
        "reviews": request["reviews"],
        "handovers": request["handovers"],
    }


def stored_requests(rows: Iterable[tuple[Any, ...]]) -> list[dict[str, Any]]:
    """The requests of ``(id, doc)`` rows, checked and completed."""
    return [stored_request(str(rid), str(doc)) for rid, doc in rows]
