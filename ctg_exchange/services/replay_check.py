"""Replay's second half: the facts the store holds, in the shape the log's replay derives them.

:mod:`ctg_exchange.audit.replay` derives from the events what every record must say
(:mod:`ctg_exchange.domain.facts`); this module builds the same facts from the stored records,
and :func:`compare` names each record where they differ — a request whose status was changed
with a direct SQL ``UPDATE``, a deleted step, a member whose key was swapped. Only states, ids,
counts and SHA-256 digests are compared and reported, never a text: the messages carry no
personal data.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Collection, Iterable, Iterator, MutableMapping, Sequence
from dataclasses import fields, is_dataclass, replace
from datetime import date
from enum import Enum
from typing import Any

from ..audit.canonical import document_digest, text_digest
from ..audit.replay import Replay
from ..audit.report import Failure
from ..audit.spill import SpillDict
from ..crypto.publickey import PublicKey
from ..domain.dates import dated
from ..domain.facts import (
    STEP_FIELDS,
    AcceptanceFacts,
    AdviceFacts,
    AnnotationFacts,
    ConventionChangeFacts,
    DecisionFacts,
    DeliveryFacts,
    DestructionFacts,
    Facts,
    HandOverFacts,
    KeyRotationFacts,
    MemberFacts,
    OpinionFacts,
    PolicyFacts,
    PseudonymKeyFacts,
    ReceptionFacts,
    RecipientFacts,
    RecommendationFacts,
    RegisterVersionFacts,
    RequestFacts,
    ReviewFacts,
    SetAsideFacts,
    ShapeFacts,
    StepFacts,
    SuspensionFacts,
)
from ..domain.models import ExchangeRequest
from ..errors import ExchangeError
from ..i18n import _, ngettext
from ..register.model import RegisterEntry
from ..store.base import Tx
from ..store.rows import parsed_row
from .requests import content_digest

REQUEST_KINDS = ("request", "delivery", "reception", "destruction")
# the request row's own columns, checked against the log beside the stored document's values
ROW_COLUMNS = ("status", "from_party", "to_party", "filed_by")


def _digest(text: str | None) -> str | None:
    return None if text is None else text_digest(text)


def request_facts(request: ExchangeRequest) -> RequestFacts:
    opinion, decision, acceptance = request.opinion, request.decision, request.acceptance
    c = request.content
    conditions = [c.model_dump(mode="json") for c in request.conditions]
    return RequestFacts(
        id=request.id,
        status=request.status,
        from_party=request.from_party,
        to_party=request.to_party,
        filed_by=request.filed_by,
        filed_at=request.filed_at,
        policy_version=request.policy_version,
        content_sha256=content_digest(request.content),
        shape=ShapeFacts(
            c.to,
            c.field,
            c.purpose_kind,
            c.categories,
            c.legal_basis,
            c.retention_days,
            c.frequency.value,
        ),  # fmt: skip
        triage=request.triage,
        findings=tuple(sorted({f.code for f in request.findings})),
        dpia_required=request.dpia_required,
        opinion=None
        if opinion is None
        else OpinionFacts(
            by=opinion.by,
            verdict=opinion.verdict.value,
            recommendations=tuple(
                RecommendationFacts(r.kind.value, text_digest(r.text))
                for r in opinion.recommendations
            ),
            note_sha256=text_digest(opinion.note),
            at=opinion.at,
            on=dated(opinion.on, opinion.at),
        ),
        decision=None
        if decision is None
        else DecisionFacts(
            by=decision.by,
            outcome=decision.outcome.value,
            against_opinion=decision.against_opinion,
            adopted=tuple(a.number for a in decision.answers if a.adopted),
            set_aside=tuple(
                SetAsideFacts(a.number, text_digest(a.reason or ""))
                for a in decision.answers
                if not a.adopted
            ),
            text_sha256=_digest(decision.text),
            at=decision.at,
            on=dated(decision.on, decision.at),
        ),
        acceptance=None
        if acceptance is None
        else AcceptanceFacts(
            by=acceptance.by,
            conditions=len(conditions),
            conditions_sha256=document_digest(conditions),
            dpia_ref_sha256=_digest(acceptance.dpia_ref),
            at=acceptance.at,
            on=dated(acceptance.on, acceptance.at),
            information_sha256=_digest(acceptance.information),
            l311_mention_sha256=_digest(acceptance.l311_mention),
        ),
        annotations=tuple(
            AnnotationFacts(a.by, a.party, text_digest(a.note), a.at, dated(a.on, a.at))
            for a in request.annotations
        ),
        filed_on=dated(request.filed_on, request.filed_at),
        submitted_on=None if request.submitted_on is None else request.submitted_on.isoformat(),
        advices=tuple(
            AdviceFacts(a.by, text_digest(a.note), a.at, dated(a.on, a.at)) for a in request.advices
        ),
        suspension=None
        if (held := request.suspension) is None
        else SuspensionFacts(
            held.by,
            held.from_status.value,
            text_digest(held.reason),
            held.at,
            dated(held.on, held.at),
        ),  # fmt: skip
        reviews=tuple(
            ReviewFacts(r.by, r.outcome.value, text_digest(r.note), r.at, dated(r.on, r.at))
            for r in request.reviews
        ),
        handovers=tuple(
            HandOverFacts(h.side, h.previous, h.successor, h.by, h.at) for h in request.handovers
        ),
    )


Row = dict[str, Any]  # a request row's own columns


def stored_facts(
    tx: Tx, requests: Sequence[str] | None = None
) -> Iterator[tuple[str, Any, Facts, Row | None]]:
    """Every record the log binds, as the store holds it, one at a time (a log may be large);
    for a request, its row's own columns too. With ``requests``, only those requests' records
    of the kinds kept by request (and every record of the other kinds)."""
    for member in tx.list_members():
        facts: Facts = MemberFacts(
            party=member.party,
            roles=tuple(sorted(r.value for r in member.roles)),
            public_key=member.public_key,
            fingerprint=member.fingerprint,
            name_sha256=text_digest(member.name),
            added_by=member.added_by,
            added_at=member.added_at,
            revoked_at=member.revoked_at,
            revoked_by=member.revoked_by,
            revoke_reason_sha256=_digest(member.revoke_reason),
            until=None if member.until is None else member.until.isoformat(),
        )
        yield "member", member.id, facts, None
    for row in tx.replay_rows("request", requests=requests):
        request = parsed_row("requests", row[0], ExchangeRequest.model_validate_json, row[5])
        yield (
            "request",
            row[0],
            request_facts(request),
            dict(zip(ROW_COLUMNS, row[1:5], strict=True)),
        )
    seqs = {(r[0], int(r[1])): int(r[2]) for r in tx.replay_rows("delivery", requests=requests)}
    chosen = None if requests is None else set(requests)
    for delivery in tx.deliveries():
        if chosen is not None and delivery.request_id not in chosen:
            continue
        key = (delivery.request_id, delivery.number)
        facts = DeliveryFacts(
            seq=seqs.get(key),
            payload_sha256=delivery.payload_sha256,
            payload_size=delivery.payload_size,
            manifest_sha256=delivery.manifest_sha256,
            rows=delivery.rows,
            columns=tuple(delivery.columns),
            conditions=tuple(c.split(":")[0] for c in delivery.conditions),
            retention_deadline=delivery.retention_deadline.isoformat(),
            on=dated(delivery.sent_on, delivery.sent_at),
        )
        yield "delivery", key, facts, None
    paths = {}
    for request_id, number, seq, path, on, at in tx.replay_rows("reception", requests=requests):
        key = (request_id, int(number))
        paths[key] = text_digest(path)
        facts = ReceptionFacts(int(seq), text_digest(path), dated(on, at))
        yield "reception", key, facts, None
    for row in tx.replay_rows("destruction", requests=requests):
        request_id, number, seq, method, file_sha256, note, on, at, approval = row
        key = (request_id, int(number))
        facts = DestructionFacts(
            int(seq),
            method,
            paths.get(key),
            file_sha256,
            _digest(note),
            dated(on, at),
            _digest(approval),
        )
        yield "destruction", key, facts, None
    for ref, version, controller, seq, reason, doc in tx.replay_rows("register_version"):
        entry = parsed_row(
            "register_versions", f"{ref} v{version}", RegisterEntry.model_validate_json, doc
        )
        doc_sha256 = document_digest(entry.document())
        facts = RegisterVersionFacts(controller, int(seq), doc_sha256, text_digest(reason))
        yield "register_version", (ref, int(version)), facts, None
    for change in tx.convention_changes():
        effective, reference = change.effective.isoformat(), text_digest(change.reference)
        facts = ConventionChangeFacts(
            change.kind.value,
            effective,
            reference,
            policy_version=change.policy_version,
            agreed_seq=change.agreed_seq,
            agreed_reference_sha256=_digest(change.agreed_reference),
            withdrawn_seq=change.withdrawn_seq,
            withdrawn_reason_sha256=_digest(change.withdrawn_reason),
            until=None if change.until is None else change.until.isoformat(),
            deliberation_sha256=_digest(change.deliberation),
            case=change.case,
            notice_date=None if change.notice is None else change.notice.isoformat(),
        )
        yield "convention_change", change.seq, facts, None
    for policy in tx.policies():
        actual = hashlib.sha256(policy.text.encode("utf-8")).hexdigest()
        shown = policy.sha256 if actual == policy.sha256 else f"{actual} (its text)"
        yield "policy", policy.version, PolicyFacts(shown), None
    for recipient, party, added, retired in tx.replay_rows("recipient"):
        facts = RecipientFacts(party, int(added), None if retired is None else int(retired))
        yield "recipient", recipient, facts, None
    for rotation in tx.key_changes():  # issue 19
        facts = KeyRotationFacts(
            rotation.member,
            _fingerprint(rotation.previous_key, rotation.previous_fingerprint),
            rotation.public_key,
            rotation.fingerprint,
            rotation.by,
            rotation.lost,
            _digest(rotation.reason),
        )
        yield "key_rotation", rotation.seq, facts, None
    for request_id, sealed in tx.replay_rows("pseudonym_key", requests=requests):
        digest = hashlib.sha256(str(sealed).encode("ascii", "replace")).hexdigest()
        yield "pseudonym_key", request_id, PseudonymKeyFacts(digest), None


def _fingerprint(key: str, stored: str) -> str:
    """A retired key's fingerprint as stored, if its stored key has it (else what it has)."""
    try:
        actual = PublicKey.parse(key).fingerprint
    except ExchangeError:
        actual = "?"
    return stored if actual == stored else f"{actual} (its key)"


def stored_steps(tx: Tx, after: int, upto: int | None) -> Iterator[tuple[int, StepFacts]]:
    rows = tx.replay_rows("step", after=after, upto=upto)
    for seq, request_id, action, from_status, to_status, text in rows:
        digest = None if text is None else hashlib.sha256(text.encode("utf-8")).digest()
        yield int(seq), (request_id, action, from_status, to_status, digest)


def _label(kind: str, key: Any) -> str:
    if isinstance(key, tuple):
        key = "-".join(str(part) for part in key)
    return f"{kind.replace('_', ' ')} {key}"


def _show(value: Any) -> str:
    if isinstance(value, Enum):
        value = value.value
    if isinstance(value, str | int | bool | date) or value is None:
        return repr(value)
    if isinstance(value, tuple | list):
        return ngettext("{count} item", "{count} items", len(value)).format(count=len(value))
    return _("a record")


def _difference(name: str, found: Any, logged: Any) -> str:
    """The first place where two facts differ, as ``opinion.verdict is … ; the log says …``."""
    if is_dataclass(found) and type(found) is type(logged):
        for f in fields(found):
            a, b = getattr(found, f.name), getattr(logged, f.name)
            if a != b:
                return _difference(f"{name}.{f.name}", a, b)
    if isinstance(found, tuple) and isinstance(logged, tuple) and len(found) == len(logged):
        for index, (a, b) in enumerate(zip(found, logged, strict=True)):
            if a != b:
                return _difference(f"{name}[{index}]", a, b)
    return _("{field} is {found} in the store; the log says {logged}").format(
        field=name, found=_show(found), logged=_show(logged)
    )


def _pairs(stored: Facts, logged: Facts, row: Row | None) -> Iterator[tuple[str, Any, Any]]:
    """(name, stored value, logged value) in the record's field order; a request row's own
    column follows its document's field (``status``, then ``row_status``)."""
    for f in fields(logged):
        value = getattr(logged, f.name)
        yield f.name, getattr(stored, f.name), value
        if row is not None and f.name in row:
            yield f"row_{f.name}", row[f.name], value


REQUEST_KEYED = frozenset({"request", "delivery", "reception", "destruction", "pseudonym_key"})
COUNTED = ("request", "delivery", "reception", "destruction")  # a key may be kept unbound


def compare(
    replay: Replay, tx: Tx, touched: Collection[tuple[str, Any]] | None = None
) -> list[Failure]:
    """One failure per record whose stored facts differ from what the log says of it.

    The store is read one record at a time and each is checked against what the replay
    derived; a record the replay derived and the store lacks is found by counting (and then
    named). ``touched`` (an incremental verification): only the records of the requests whose
    records the new events used, besides every record of the other kinds — unless the store
    holds more or fewer records of a kind than the log binds, when everything is compared.
    Steps are compared as the log is read (:func:`compare_steps`).
    """
    logged = replay.book.records()
    requests: list[str] | None = None
    if touched is not None and all(tx.replay_count(k) == len(logged[k]) for k in COUNTED):
        requests = sorted(
            {
                key if isinstance(key, str) else key[0]
                for kind, key in touched
                if kind in REQUEST_KEYED
            }
        )
    failures: list[Failure] = []
    undated = replay.rules < 2  # 0.1.0 dated its records by CTG_TODAY, its events by the clock
    found: dict[str, set[Any]] = {kind: set() for kind in logged}  # keys, where few
    matched: Counter[str] = Counter()  # records of each kind found in both
    for kind, key, facts, row in stored_facts(tx, requests):
        records = logged.get(kind)
        expected = None if records is None else _peek(records, key)
        if kind == "pseudonym_key" and expected is None:
            continue  # a key kept before deliveries bound it: one its client must not trust
        if expected is not None:
            matched[kind] += 1
            if requests is not None or kind not in REQUEST_KEYED:
                found[kind].add(key)
        if undated:
            facts, expected = _undated(facts), _undated(expected)
        _report(failures, kind, key, facts, expected, row)
    for kind, records in logged.items():
        if matched[kind] == len(records):
            continue  # each of the log's records matched a stored one: none is missing
        for key, expected in _unstored(tx, kind, records, found[kind], requests, touched):
            _report(failures, kind, key, None, expected, None)
    return failures


def _peek(records: MutableMapping[Any, Any], key: Any) -> Any:
    """A record of the log's, read once: not kept in the replay's cache if it spills."""
    return records.peek(key) if isinstance(records, SpillDict) else records.get(key)


def _unstored(
    tx: Tx,
    kind: str,
    records: MutableMapping[Any, Any],
    seen: set[Any],
    requests: list[str] | None,
    touched: Collection[tuple[str, Any]] | None,
) -> Iterator[tuple[Any, Any]]:
    """The records of ``kind`` the log binds and the store lacks."""
    candidates: Iterable[Any] = records
    if kind in REQUEST_KEYED and requests is not None and touched is not None:
        candidates = [key for k, key in touched if k == kind]
    elif kind in REQUEST_KEYED:
        seen = set(_stored_keys(tx, kind))  # the slow path: a record is missing
    for key in candidates:
        if key not in seen and (expected := records.get(key)) is not None:
            yield key, expected


def _stored_keys(tx: Tx, kind: str) -> Iterator[Any]:
    """The keys of a request-keyed kind as the store holds them."""
    for row in tx.replay_rows(kind):
        yield row[0] if kind in ("request", "pseudonym_key") else (row[0], int(row[1]))


def compare_steps(
    steps: MutableMapping[int, StepFacts], tx: Tx, after: int, upto: int | None
) -> list[Failure]:
    """Compare the steps of events ``after``+1 … ``upto`` (None: to the end) with the store's,
    and forget them: the log's steps are compared as it is read, a batch at a time."""
    failures: list[Failure] = []
    for seq, stored in stored_steps(tx, after, upto):
        logged_step = steps.pop(seq, None)
        if logged_step != stored:
            _report_step(failures, seq, stored, logged_step)
    for seq in sorted(seq for seq in steps if seq > after and (upto is None or seq <= upto)):
        _report_step(failures, seq, None, steps.pop(seq))
    return failures


UNDATED = ("at", "on", "filed_on", "submitted_on")  # left out of a 0.1.0 log's comparison


def _undated(value: Any) -> Any:
    """``value`` with its records' times and days left out (``at``, ``on``)."""
    if is_dataclass(value) and not isinstance(value, type):
        changes = {
            f.name: "" if f.name in UNDATED else _undated(getattr(value, f.name))
            for f in fields(value)
        }
        return replace(value, **changes)
    if isinstance(value, tuple):
        return tuple(_undated(item) for item in value)
    return value


def _report(
    failures: list[Failure],
    kind: str,
    key: Any,
    stored: Facts | None,
    logged: Facts | None,
    row: Row | None,
) -> None:
    request = _request_of(kind, key)
    record = None if request else _label(kind, key)
    label = f"{_label(kind, key)}: " if request and kind != "request" else ""
    message = None
    if stored is None:
        message = _("in the log but not in the store")
    elif logged is None:
        message = _("in the store but not in the log")
    elif stored != logged or _row_differs(row, logged):  # else the same: nothing to name
        for name, found, value in _pairs(stored, logged, row):
            if found != value:
                message = _difference(name, found, value)
                break
    if message is not None:
        failures.append(Failure(label + message, request=request, record=record))


def _row_differs(row: Row | None, logged: Facts) -> bool:
    """Whether a request row's own columns differ from the record's fields of those names."""
    return row is not None and any(
        found != getattr(logged, name, found) for name, found in row.items()
    )


def _report_step(
    failures: list[Failure], seq: int, stored: StepFacts | None, logged: StepFacts | None
) -> None:
    request = (logged or stored or ("?",))[0]
    if stored is None:
        message = _("in the log but not in the store")
    elif logged is None:
        message = _("in the store but not in the log")
    else:
        index = next(i for i, (a, b) in enumerate(zip(stored, logged, strict=True)) if a != b)
        found, value = stored[index], logged[index]
        if isinstance(found, bytes) or isinstance(value, bytes):
            found = found.hex() if isinstance(found, bytes) else found
            value = value.hex() if isinstance(value, bytes) else value
        message = _difference(STEP_FIELDS[index], found, value)
    failures.append(
        Failure(_("step {seq}: {problem}").format(seq=seq, problem=message), request=str(request))
    )


def _request_of(kind: str, key: Any) -> str | None:
    if kind in ("request", "pseudonym_key"):
        return str(key)
    if kind in REQUEST_KINDS and isinstance(key, tuple):
        return str(key[0])
    return None
