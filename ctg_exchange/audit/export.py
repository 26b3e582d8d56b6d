"""The audit export (docs/audit-format.md §8): JSON lines an auditor verifies without us.

::

    {"type": "header", "format": "ctg-exchange/audit-export@v1", "log": …, "selection": …}
    {"type": "signer", "member": "c.dpo", "party": "caf92", "roles": ["dpo"], "public_key": …,
     "added_seq": 8, "revoked_seq": null, "retired_keys": [{"public_key": …, "until_seq": 40}]}
    {"type": "checkpoint", "note": "ctg-exchange/…\\n24\\n…\\n\\n— c.dpo …\\n"}
    {"type": "event", "v": 1, "log": …, "seq": 12, …, "hash": …, "signature": …, "proof": […]}

A complete export (every event from #1) is verified like the store: chain, signatures, roles at
the time (replayed), and every checkpoint's root recomputed. A partial one (one request, a range)
carries, for each event, its inclusion proof in the export's last checkpoint; its events are
checked one by one against the exported signers' keys, and chained where consecutive.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from ..crypto import sshsig
from ..crypto.publickey import PublicKey
from ..crypto.sshsig import NAMESPACE_CHECKPOINT, NAMESPACE_EVENT
from ..domain.actions import TAKEN_AS, Action
from ..domain.catalogue import parse_payload
from ..domain.payloads import PayloadInvalid
from ..errors import InvalidInput, SignatureInvalid
from ..i18n import N_, _
from . import merkle
from .checkpoint import Checkpoint, key_id, origin_of, parse_note
from .events import Event, NotCanonical, StoredEvent, loads_canonical
from .report import Failure, VerifyResult
from .verify import PROCESS_THRESHOLD, CheckpointSource, LogVerifier

EXPORT_FORMAT = "ctg-exchange/audit-export@v1"
_FLOAT = N_("line {number}: a float, which no event holds")


@dataclass(frozen=True)
class ExportSigner:
    member: str
    party: str
    roles: tuple[str, ...]
    key: PublicKey
    added_seq: int
    revoked_seq: int | None
    # issue 19: the keys it held before ``key``, each with the event that retired it
    retired: tuple[tuple[PublicKey, int], ...] = ()

    def key_at(self, seq: int) -> PublicKey:
        """The key that signed its events up to ``seq``: a retired one signed those up to the
        event that retired it."""
        return next((key for key, until in self.retired if seq <= until), self.key)

    def key_with_id(self, wanted: bytes) -> PublicKey | None:
        keys = [*(key for key, _until in self.retired), self.key]
        return next((k for k in keys if key_id(self.member, k.blob) == wanted), None)


def header(
    log_id: str, selection: dict[str, Any] | None, exported_at: str, by: str | None, events: int
) -> dict[str, Any]:
    return {
        "type": "header",
        "format": EXPORT_FORMAT,
        "log": log_id,
        "origin": origin_of(log_id),
        "selection": selection,
        "exported_at": exported_at,
        "exported_by": by,
        "events": events,
    }


def signer_line(
    member: str,
    party: str,
    roles: Iterable[str],
    public_key: str,
    added_seq: int,
    revoked_seq: int | None,
    retired: Iterable[tuple[str, int]] = (),
) -> dict[str, Any]:
    """A signer; ``retired``: the keys it held before ``public_key`` (issue 19), each with the
    event that retired it, oldest first (the key is left out when there is none)."""
    line = {
        "type": "signer",
        "member": member,
        "party": party,
        "roles": list(roles),
        "public_key": public_key,
        "added_seq": added_seq,
        "revoked_seq": revoked_seq,
    }
    keys = [{"public_key": key, "until_seq": until} for key, until in retired]
    if keys:
        line["retired_keys"] = keys
    return line


def event_line(stored: StoredEvent, proof: list[bytes] | None) -> dict[str, Any]:
    line: dict[str, Any] = {"type": "event", **stored.to_json()}
    if proof is not None:
        line["proof"] = [p.hex() for p in proof]
    return line


def dump(line: dict[str, Any]) -> str:
    return json.dumps(line, ensure_ascii=False, sort_keys=True, separators=(",", ":")) + "\n"


@dataclass
class ParsedExport:
    log_id: str
    selection: dict[str, Any] | None
    events: int = 0
    signers: dict[str, ExportSigner] = field(default_factory=dict)
    checkpoints: list[CheckpointSource] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)


def event_from_line(line: dict[str, Any]) -> tuple[StoredEvent, list[bytes] | None]:
    """An event line of an export (or of a served page of the log), with its proof if any;
    KeyError, TypeError or ValueError when it is not one."""
    body = {
        k: line[k]
        for k in (
            "log",
            "seq",
            "time",
            "actor",
            "party",
            "role",
            "action",
            "subject",
            "prev",
            "payload",
        )
    }
    if line.get("v") != 1 or not isinstance(body["seq"], int):
        raise ValueError(_("not a version 1 event"))
    if not isinstance(body["payload"], dict):
        raise ValueError(_("the payload is not an object"))
    proof = line.get("proof")
    return (
        StoredEvent(Event(**body), str(line["hash"]), str(line["signature"])),
        None if proof is None else [bytes.fromhex(p) for p in proof],
    )


def read_export(
    lines: Iterable[str],
) -> tuple[ParsedExport, Iterator[tuple[StoredEvent, list[bytes] | None]]]:
    """The export's header, signers and checkpoints, and an iterator over its events."""
    iterator = iter(enumerate(lines, start=1))
    try:
        number, first = next(iterator)
        head = json.loads(first)
    except (StopIteration, ValueError):
        raise InvalidInput(_("not an audit export: the first line is not a JSON header")) from None
    if not isinstance(head, dict) or head.get("format") != EXPORT_FORMAT:
        raise InvalidInput(
            _("not an audit export: the header's format is not {format}").format(
                format=EXPORT_FORMAT
            )
        )
    count = head.get("events")
    parsed = ParsedExport(
        log_id=str(head.get("log")),
        selection=head.get("selection"),
        events=count if isinstance(count, int) else 0,
    )
    pending: list[tuple[int, dict[str, Any]]] = []

    for number, text in iterator:
        if not text.strip():
            continue
        try:
            line = loads_canonical(text)
            kind = line["type"]
        except NotCanonical:
            raise InvalidInput(_(_FLOAT).format(number=number)) from None
        except (ValueError, KeyError, TypeError):
            raise InvalidInput(
                _("line {number}: not a JSON object with a type").format(number=number)
            ) from None
        if kind == "event":
            pending.append((number, line))
            break
        try:
            if kind == "signer":
                signer = ExportSigner(
                    member=str(line["member"]),
                    party=str(line["party"]),
                    roles=tuple(str(r) for r in line["roles"]),
                    key=PublicKey.parse(str(line["public_key"])),
                    added_seq=int(line["added_seq"]),
                    revoked_seq=None if line["revoked_seq"] is None else int(line["revoked_seq"]),
                    retired=tuple(
                        (PublicKey.parse(str(k["public_key"])), int(k["until_seq"]))
                        for k in line.get("retired_keys", ())
                    ),
                )
                parsed.signers[signer.member] = signer
            elif kind == "checkpoint":
                label = _("checkpoint line {number}").format(number=number)
                parsed.checkpoints.append(CheckpointSource(label, parse_note(str(line["note"]))))
            else:
                raise InvalidInput(_("unknown line type {kind!r}").format(kind=kind))
        except (KeyError, TypeError, ValueError, InvalidInput) as exc:
            message = exc.message if isinstance(exc, InvalidInput) else _("malformed")
            raise InvalidInput(
                _("line {number}: {message}").format(number=number, message=message)
            ) from None

    def events() -> Iterator[tuple[StoredEvent, list[bytes] | None]]:
        for number, line in pending:
            yield _parsed_event(number, line)
        for number, text in iterator:
            if not text.strip():
                continue
            try:
                line = loads_canonical(text)
            except NotCanonical:
                raise InvalidInput(_(_FLOAT).format(number=number)) from None
            except ValueError:
                raise InvalidInput(
                    _("line {number}: not JSON (a truncated export?)").format(number=number)
                ) from None
            if not isinstance(line, dict) or line.get("type") != "event":
                raise InvalidInput(
                    _("line {number}: only events may follow the first event").format(number=number)
                )
            yield _parsed_event(number, line)

    return parsed, events()


def _parsed_event(number: int, line: dict[str, Any]) -> tuple[StoredEvent, list[bytes] | None]:
    try:
        return event_from_line(line)
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidInput(
            _("line {number}: malformed event ({reason})").format(number=number, reason=exc)
        ) from None


def verify_export(lines: Iterable[str]) -> VerifyResult:
    parsed, events = read_export(lines)
    if parsed.selection is None:
        return _verify_complete(parsed, events)
    return _verify_partial(parsed, events)


def _verify_complete(
    parsed: ParsedExport, events: Iterator[tuple[StoredEvent, list[bytes] | None]]
) -> VerifyResult:
    large = parsed.events > PROCESS_THRESHOLD
    verifier = LogVerifier(parsed.log_id, parsed.checkpoints, processes=large)
    try:
        for stored, _proof in events:
            verifier.feed(stored)
    finally:
        result = verifier.finish()
    # the exported keys must be the ones the log itself declares
    for signer in parsed.signers.values():
        member = verifier.replay.members.get(signer.member)
        if member is None or member.keys() != [*signer.retired, (signer.key, None)]:
            result.failures.append(
                Failure(
                    _("its key is not the one the log declares"),
                    record=_("signer {member}").format(member=signer.member),
                )
            )
    result.failures.sort(key=Failure.sort_key)
    return result


def _verify_partial(
    parsed: ParsedExport, events: Iterator[tuple[StoredEvent, list[bytes] | None]]
) -> VerifyResult:
    result = VerifyResult()
    failures = result.failures
    target = _proof_target(parsed, failures)
    previous: StoredEvent | None = None
    for stored, proof in events:
        event = stored.event
        result.events += 1
        problem = _event_problem(parsed, stored, previous)
        if problem is None and target is not None:
            problem = _proof_problem(stored, proof, target)
        if problem is not None:
            failures.append(Failure(problem, event.seq))
        previous = stored
        result.head = stored.hash
    if target is not None:  # its checkpoint verified (else _proof_target said why)
        result.checkpoints = 1
        result.latest_checkpoint = target.size
        signed_by = {s.name for s in target.signatures}
        parties = {parsed.signers[n].party for n in signed_by if n in parsed.signers}
        result.cosigned = int(len(parties) > 1)
    result.members = {s.member: s.party for s in parsed.signers.values()}
    failures.sort(key=Failure.sort_key)
    return result


def _proof_target(parsed: ParsedExport, failures: list[Failure]) -> Checkpoint | None:
    """The last checkpoint, whose signatures must verify: every proof leads to its root."""
    if not parsed.checkpoints:
        failures.append(
            Failure(_("a partial export needs a checkpoint for its proofs"), record="export")
        )
        return None
    source = max(parsed.checkpoints, key=lambda s: s.checkpoint.size)
    cp = source.checkpoint
    if cp.origin != origin_of(parsed.log_id):
        failures.append(
            Failure(
                _("it is of another log ({origin})").format(origin=cp.origin), record=source.label
            )
        )
        return None
    verified = 0
    for signature in cp.signatures:
        signer = parsed.signers.get(signature.name)
        key = None if signer is None else signer.key_with_id(signature.key_id)
        if signer is None or key is None:
            continue
        try:
            sshsig.verify_blob(key, NAMESPACE_CHECKPOINT, cp.text.encode(), signature.blob)
        except SignatureInvalid as exc:
            failures.append(
                Failure(
                    _("bad signature by {member}: {reason}").format(
                        member=signer.member, reason=exc.message
                    ),
                    record=source.label,
                )
            )
            return None
        verified += 1
    if not verified:
        failures.append(Failure(_("no signature by an exported signer"), record=source.label))
        return None
    return cp


def _event_problem(
    parsed: ParsedExport, stored: StoredEvent, previous: StoredEvent | None
) -> str | None:
    event = stored.event
    if previous is not None and event.seq <= previous.seq:
        return _("sequence number out of order")
    if event.log != parsed.log_id:
        return _("the event belongs to another log")
    if event.digest() != stored.hash:
        return _("the stored hash does not match the event's content")
    if previous is not None and previous.seq == event.seq - 1 and event.prev != previous.hash:
        return _("the link to the previous event is broken")
    actor = event.actor
    signer = parsed.signers.get(actor)
    if signer is None:
        return _("the actor {actor!r} is not among the exported signers").format(actor=actor)
    if signer.added_seq > event.seq:
        return _("the actor {actor!r} is not a member at this point").format(actor=actor)
    if signer.revoked_seq is not None and signer.revoked_seq < event.seq:
        return _("the actor {actor!r} was revoked (event #{seq})").format(
            actor=actor, seq=signer.revoked_seq
        )
    if signer.party != event.party or event.role not in signer.roles:
        return _("the actor {actor!r} does not hold {role} for {party}").format(
            actor=actor, role=event.role, party=event.party
        )
    try:
        action = Action(event.action)
    except ValueError:
        return _("unknown action {action!r}").format(action=event.action)
    needed = TAKEN_AS[action]
    if event.role not in needed:
        return _("{action} is taken as {expected}, not {role}").format(
            action=event.action, expected="/".join(needed), role=event.role
        )
    try:
        parse_payload(action, event.payload)
    except PayloadInvalid as exc:
        return _("malformed {action} payload: {reason}").format(action=action, reason=exc)
    try:
        sshsig.verify(
            signer.key_at(event.seq), NAMESPACE_EVENT, event.signed_bytes(), stored.signature
        )
    except SignatureInvalid as exc:
        return _("bad signature: {reason}").format(reason=exc.message)
    return None


def _proof_problem(
    stored: StoredEvent, proof: list[bytes] | None, target: Checkpoint
) -> str | None:
    seq = stored.event.seq
    if seq > target.size:
        return _("not covered by the export's checkpoint (tree size {size})").format(
            size=target.size
        )
    if proof is None:
        return _("no inclusion proof")
    leaf = merkle.leaf_hash(stored.event.signed_bytes())
    try:
        if merkle.root_from_inclusion(seq - 1, target.size, leaf, proof) == target.root:
            return None
    except ValueError:
        pass
    return _(
        "its inclusion proof does not lead to the checkpoint's root (tree size {size})"
    ).format(size=target.size)
