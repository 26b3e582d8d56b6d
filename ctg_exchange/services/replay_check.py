"""Replay's second half: the facts the store holds, in the shape the log's replay derives them.

:mod:`ctg_exchange.audit.replay` derives from the events what every record must say; this module
reads the same facts from the stored records, and :func:`compare` names each record where they
differ — a request whose status was changed with a direct SQL ``UPDATE``, a deleted step, a
member whose key was swapped. Only states, ids, counts and SHA-256 digests are compared and
reported, never a text: the messages carry no personal data.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import date
from typing import Any

from ..audit.canonical import canonical_json, text_digest
from ..audit.replay import STEP_FIELDS, Replay, Step
from ..audit.report import Failure
from ..domain.models import ExchangeRequest
from ..register.model import RegisterEntry
from ..store.base import Tx
from .requests import content_digest

REQUEST_KINDS = ("request", "delivery", "reception", "destruction")


def _digest(text: str | None) -> str | None:
    return None if text is None else text_digest(text)


def request_facts(request: ExchangeRequest, row: tuple[Any, ...]) -> dict[str, Any]:
    _, status, from_party, to_party, filed_by, _ = row
    opinion = request.opinion
    decision = request.decision
    acceptance = request.acceptance
    conditions = [c.model_dump(mode="json") for c in request.conditions]
    return {
        "status": request.status.value,
        "row_status": status,
        "from_party": request.from_party,
        "row_from_party": from_party,
        "to_party": request.to_party,
        "row_to_party": to_party,
        "filed_by": request.filed_by,
        "row_filed_by": filed_by,
        "filed_at": request.filed_at,
        "policy_version": request.policy_version,
        "content_sha256": content_digest(request.content),
        "triage": request.triage.value,
        "findings": sorted({f.code for f in request.findings}),
        "dpia_required": request.dpia_required,
        "opinion": None
        if opinion is None
        else {
            "by": opinion.by,
            "verdict": opinion.verdict.value,
            "recommendations": [
                {"kind": r.kind.value, "sha256": text_digest(r.text)}
                for r in opinion.recommendations
            ],
            "note_sha256": text_digest(opinion.note),
        },
        "decision": None
        if decision is None
        else {
            "by": decision.by,
            "outcome": decision.outcome.value,
            "against_opinion": decision.against_opinion,
            "adopted": [a.number for a in decision.answers if a.adopted],
            "set_aside": [
                {"number": a.number, "reason_sha256": text_digest(a.reason or "")}
                for a in decision.answers
                if not a.adopted
            ],
            "text_sha256": _digest(decision.text),
        },
        "acceptance": None
        if acceptance is None
        else {
            "by": acceptance.by,
            "conditions": len(conditions),
            "conditions_sha256": text_digest(canonical_json(conditions).decode()),
            "dpia_ref_sha256": _digest(acceptance.dpia_ref),
        },
        "annotations": [[a.by, a.party, text_digest(a.note)] for a in request.annotations],
    }


Facts = dict[str, Any]


def stored_facts(tx: Tx) -> Iterator[tuple[str, Any, Facts]]:
    """Every record the log binds, as the store holds it, one at a time (a log may be large)."""
    for member in tx.list_members():
        yield (
            "member",
            member.id,
            {
                "party": member.party,
                "roles": sorted(r.value for r in member.roles),
                "public_key": member.public_key,
                "fingerprint": member.fingerprint,
                "name_sha256": text_digest(member.name),
                "added_by": member.added_by,
                "added_at": member.added_at,
                "revoked_at": member.revoked_at,
                "revoked_by": member.revoked_by,
                "revoke_reason_sha256": _digest(member.revoke_reason),
            },
        )
    for row in tx.replay_rows("request"):
        request = ExchangeRequest.model_validate_json(row[5])
        yield "request", row[0], request_facts(request, row)
    seqs = {(r[0], int(r[1])): int(r[2]) for r in tx.replay_rows("delivery")}
    for delivery in tx.deliveries():
        key = (delivery.request_id, delivery.number)
        yield (
            "delivery",
            key,
            {
                "seq": seqs.get(key),
                "payload_sha256": delivery.payload_sha256,
                "payload_size": delivery.payload_size,
                "manifest_sha256": delivery.manifest_sha256,
                "rows": delivery.rows,
                "columns": list(delivery.columns),
                "conditions": [c.split(":")[0] for c in delivery.conditions],
                "retention_deadline": delivery.retention_deadline.isoformat(),
            },
        )
    paths = {}
    for request_id, number, seq, path in tx.replay_rows("reception"):
        paths[(request_id, int(number))] = text_digest(path)
        yield (
            "reception",
            (request_id, int(number)),
            {
                "seq": int(seq),
                "path_sha256": text_digest(path),
            },
        )
    for request_id, number, seq, method, file_sha256, note in tx.replay_rows("destruction"):
        key = (request_id, int(number))
        yield (
            "destruction",
            key,
            {
                "seq": int(seq),
                "method": method,
                "path_sha256": paths.get(key),
                "file_sha256": file_sha256,
                "note_sha256": _digest(note),
            },
        )
    for ref, version, controller, seq, reason, doc in tx.replay_rows("register_version"):
        entry = RegisterEntry.model_validate_json(doc)
        yield (
            "register_version",
            (ref, int(version)),
            {
                "controller": controller,
                "seq": int(seq),
                "doc_sha256": text_digest(canonical_json(entry.model_dump(mode="json")).decode()),
                "reason_sha256": text_digest(reason),
            },
        )
    for change in tx.convention_changes():
        yield (
            "convention_change",
            change.seq,
            {
                "kind": change.kind.value,
                "effective": change.effective.isoformat(),
                "reference_sha256": text_digest(change.reference),
            },
        )
    for policy in tx.policies():
        actual = hashlib.sha256(policy.text.encode("utf-8")).hexdigest()
        shown = policy.sha256 if actual == policy.sha256 else f"{actual} (its text)"
        yield "policy", policy.version, {"sha256": shown}
    for recipient, party, added, retired in tx.replay_rows("recipient"):
        yield (
            "recipient",
            recipient,
            {
                "party": party,
                "added_seq": int(added),
                "retired_seq": None if retired is None else int(retired),
            },
        )


def stored_steps(tx: Tx) -> Iterator[tuple[int, Step]]:
    for seq, request_id, action, from_status, to_status, text in tx.replay_rows("step"):
        digest = None if text is None else hashlib.sha256(text.encode("utf-8")).digest()
        yield int(seq), (request_id, action, from_status, to_status, digest)


def _label(kind: str, key: Any) -> str:
    if isinstance(key, tuple):
        key = "-".join(str(part) for part in key)
    return f"{kind.replace('_', ' ')} {key}"


def _show(value: Any) -> str:
    if isinstance(value, str | int | bool | date) or value is None:
        return repr(value)
    if isinstance(value, list):
        return f"{len(value)} items"
    return "a record"


def _difference(name: str, found: Any, logged: Any) -> str:
    """The first place where two facts differ, as ``opinion.verdict is … ; the log says …``."""
    if isinstance(found, dict) and isinstance(logged, dict):
        for key in sorted(set(found) | set(logged)):
            if found.get(key) != logged.get(key):
                return _difference(f"{name}.{key}", found.get(key), logged.get(key))
    if isinstance(found, list) and isinstance(logged, list) and len(found) == len(logged):
        for index, (a, b) in enumerate(zip(found, logged, strict=True)):
            if a != b:
                return _difference(f"{name}[{index}]", a, b)
    return f"{name} is {_show(found)} in the store; the log says {_show(logged)}"


def compare(replay: Replay, tx: Tx) -> list[Failure]:
    """One failure per record whose stored facts differ from what the log says of it.

    The store is read one record at a time; each is checked against (and removed from) what
    the replay derived, and what is left of the replay was never stored. The replay's records
    are consumed.
    """
    failures: list[Failure] = []
    logged = replay.records
    for kind, key, facts in stored_facts(tx):
        expected = logged.get(kind, {}).pop(key, None)
        _report(failures, kind, key, facts, expected)
    for kind, records in logged.items():
        for key, expected in records.items():
            _report(failures, kind, key, None, expected)
    steps = replay.steps
    for seq, stored in stored_steps(tx):
        logged_step = steps.pop(seq, None)
        if logged_step != stored:
            _report_step(failures, seq, stored, logged_step)
    for seq, logged_step in steps.items():
        _report_step(failures, seq, None, logged_step)
    return failures


def _report(
    failures: list[Failure], kind: str, key: Any, stored: Facts | None, logged: Facts | None
) -> None:
    request = _request_of(kind, key, logged or stored or {})
    record = None if request else _label(kind, key)
    label = f"{_label(kind, key)}: " if request and kind != "request" else ""
    message = None
    if stored is None:
        message = "in the log but not in the store"
    elif logged is None:
        message = "in the store but not in the log"
    else:
        for name, value in logged.items():
            found = stored.get(name)
            if found != value:
                message = _difference(name, found, value)
                break
    if message is not None:
        failures.append(Failure(label + message, request=request, record=record))


def _report_step(
    failures: list[Failure], seq: int, stored: Step | None, logged: Step | None
) -> None:
    request = (logged or stored or ("?",))[0]
    if stored is None:
        message = "in the log but not in the store"
    elif logged is None:
        message = "in the store but not in the log"
    else:
        name = next(n for n, a, b in zip(STEP_FIELDS, stored, logged, strict=True) if a != b)
        index = STEP_FIELDS.index(name)
        found, value = stored[index], logged[index]
        if isinstance(found, bytes) or isinstance(value, bytes):
            found = found.hex() if isinstance(found, bytes) else found
            value = value.hex() if isinstance(value, bytes) else value
        message = _difference(name, found, value)
    failures.append(Failure(f"step {seq}: {message}", request=str(request)))


def _request_of(kind: str, key: Any, facts: dict[str, Any]) -> str | None:
    if kind == "request":
        return str(key)
    if kind == "step":
        return str(facts.get("request"))
    if kind in REQUEST_KINDS and isinstance(key, tuple):
        return str(key[0])
    return None
