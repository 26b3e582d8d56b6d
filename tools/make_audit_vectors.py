"""Write the audit test vectors: tests/vectors/audit/*.json, one case per file.

    python tools/make_audit_vectors.py            # rewrite the vectors
    python tools/make_audit_vectors.py --check    # exit 1 if they differ from what it writes

Each vector is an audit export (docs/audit-format.md §8) of a small synthetic log — a workspace,
its members, one request from filing to accepted conditions, two checkpoints (the second
cosigned) — made with fixed keys (Ed25519 from fixed seeds; its signatures are deterministic)
and a fixed clock, then changed the way an attacker would. ``expect`` says what any correct
verifier must conclude: ``ok``, and for a broken one where the first failure shows (``event #11``
or ``events #9–#13``). ``tests/test_audit_vectors.py`` runs both ctg-exchange and the
independent docs/verify_audit_export.py on every vector.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TARGET = ROOT / "tests" / "vectors" / "audit"
sys.path.insert(0, str(ROOT))

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402

from ctg_exchange.audit import merkle  # noqa: E402
from ctg_exchange.audit.checkpoint import note_text, origin_of, signature_line  # noqa: E402
from ctg_exchange.audit.events import GENESIS_HASH, Event, StoredEvent  # noqa: E402
from ctg_exchange.audit.export import dump, event_line, header, signer_line  # noqa: E402
from ctg_exchange.crypto import sshsig  # noqa: E402
from ctg_exchange.crypto.publickey import PublicKey  # noqa: E402
from ctg_exchange.crypto.sshsig import NAMESPACE_CHECKPOINT, NAMESPACE_EVENT  # noqa: E402
from ctg_exchange.domain.actions import Action  # noqa: E402

LOG = "00000000-0000-4000-8000-000000000000"
RID = "DX-2025-0001"
ZERO = "0" * 64

# id, party, roles, who adds them (v.admin declares itself in the genesis event)
MEMBERS = (
    ("v.admin", "ville_sceaux", ("admin",), None),
    ("c.admin", "caf92", ("admin",), "v.admin"),
    ("v.agent", "ville_sceaux", ("staff",), "v.admin"),
    ("v.controller", "ville_sceaux", ("controller",), "v.admin"),
    ("c.controller", "caf92", ("controller",), "c.admin"),
    ("c.dpo", "caf92", ("dpo",), "c.admin"),
    ("c.agent", "caf92", ("staff",), "c.admin"),
)


def _key(member: str) -> Ed25519PrivateKey:
    seed = hashlib.sha256(f"ctg-exchange audit test vector key {member}".encode()).digest()
    return Ed25519PrivateKey.from_private_bytes(seed)


def _public(member: str) -> PublicKey:
    return PublicKey(_key(member).public_key().public_bytes_raw())


def _time(n: int) -> str:
    return f"2025-06-02T08:{n // 60:02d}:{n % 60:02d}.000000Z"


def _declaration(member: str) -> dict[str, Any]:
    _, party, roles, _ = next(m for m in MEMBERS if m[0] == member)
    key = _public(member)
    return {
        "member": member,
        "party": party,
        "roles": list(roles),
        "public_key": key.openssh,
        "fingerprint": key.fingerprint,
        "name_sha256": hashlib.sha256(f"{member} (fictif)".encode()).hexdigest(),
    }


def _step(before: str | None, after: str, **extra: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {"request": RID, "to_status": after, **extra}
    if before is not None:
        payload["from_status"] = before
    return payload


def _text(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


# (actor, role, action, subject, payload) of events 1…14
def _script() -> list[tuple[str, str, str, str, dict[str, Any]]]:
    policy = {"id": "ctg-sceaux-caf92", "version": 1, "sha256": _text("policy (synthetic)")}
    script: list[tuple[str, str, str, str, dict[str, Any]]] = [
        (
            "v.admin",
            "admin",
            Action.INIT,
            LOG,
            {"workspace": LOG, "policy": policy, "admin": _declaration("v.admin")},
        ),
    ]
    for member, _, _, adder in MEMBERS[1:]:
        assert adder is not None
        script.append((adder, "admin", Action.MEMBER_ADD, member, _declaration(member)))
    content = {
        "to": "caf92",
        "field": "petite_enfance",
        "purpose_kind": "pricing",
        "categories": ["numero_allocataire", "quotient_familial"],
        "legal_basis": "art6_1_e",
        "retention_days": 365,
        "frequency": "monthly",
        "content_sha256": _text("content"),
        "triage": "personal",
        "findings": [],
        "dpia_required": False,
    }
    script += [
        (
            "v.agent",
            "staff",
            Action.FILE,
            RID,
            _step(None, "filed", policy_version=1, **content),
        ),
        (
            "c.controller",
            "controller",
            Action.STUDY_ACCEPT,
            RID,
            _step("filed", "under_study", text_sha256=_text("Étude engagée")),
        ),
        (
            "c.controller",
            "controller",
            Action.STUDY_SUBMIT,
            RID,
            _step("under_study", "awaiting_dpo"),
        ),
        (
            "c.dpo",
            "dpo",
            Action.OPINION,
            RID,
            _step(
                "awaiting_dpo",
                "opinion_given",
                verdict="favourable",
                recommendations=[],
                text_sha256=_text("Avis fictif"),
            ),
        ),
        (
            "c.controller",
            "controller",
            Action.APPROVE,
            RID,
            _step(
                "opinion_given",
                "approved",
                outcome="approved",
                against_opinion=False,
                adopted=[],
                set_aside=[],
            ),
        ),
        (
            "v.controller",
            "controller",
            Action.ACCEPT_CONDITIONS,
            RID,
            _step(
                "approved",
                "conditions_accepted",
                conditions=0,
                conditions_sha256=_text("[]"),
                dpia_ref_sha256=None,
            ),
        ),
        (
            "c.dpo",
            "dpo",
            Action.ANNOTATE,
            RID,
            _step("conditions_accepted", "conditions_accepted", text_sha256=_text("Note")),
        ),
    ]
    return script


def _party(member: str) -> str:
    return next(m[1] for m in MEMBERS if m[0] == member)


def _sign(event: Event, member: str | None = None) -> StoredEvent:
    key = _key(member or event.actor)
    signature = sshsig.sign(
        key, _public(member or event.actor), NAMESPACE_EVENT, event.signed_bytes()
    )
    return StoredEvent(event, event.digest(), signature)


def build_log() -> list[StoredEvent]:
    events: list[StoredEvent] = []
    head = GENESIS_HASH
    for n, (actor, role, action, subject, payload) in enumerate(_script(), start=1):
        event = Event(LOG, n, _time(n), actor, _party(actor), role, action, subject, head, payload)
        events.append(_sign(event))
        head = events[-1].hash
    return events


def rechain(
    events: list[StoredEvent], start: int, signers: dict[int, str] | None = None
) -> list[StoredEvent]:
    """Re-sign events from ``start`` on with consistent hashes (an insider holding the keys)."""
    out = events[: start - 1]
    head = out[-1].hash if out else GENESIS_HASH
    for stored in events[start - 1 :]:
        event = replace(stored.event, prev=head)
        out.append(_sign(event, (signers or {}).get(event.seq)))
        head = out[-1].hash
    return out


def checkpoint(events: list[StoredEvent], size: int, signers: tuple[str, ...]) -> str:
    frontier = merkle.Frontier()
    for stored in events[:size]:
        frontier.append(merkle.leaf_hash(stored.event.signed_bytes()))
    text = note_text(origin_of(LOG), size, frontier.root())
    lines = [
        signature_line(
            m,
            _public(m).blob,
            sshsig.sign(_key(m), _public(m), NAMESPACE_CHECKPOINT, text.encode()),
        )
        for m in signers
    ]
    return text + "\n" + "".join(lines)


def export(events: list[StoredEvent], notes: list[str], *, request: bool = False) -> str:
    """The export file's text: complete, or the request's events with proofs in the last note."""
    added = {
        m[0]: 1 if m[3] is None else next(e.seq for e in events if e.event.subject == m[0])
        for m in MEMBERS
    }
    selection = {"request": RID} if request else None
    chosen = [e for e in events if not request or e.event.subject == RID]
    lines = [dump(header(LOG, selection, _time(100), "c.dpo", len(chosen)))]
    lines += [
        dump(signer_line(m, party, roles, _public(m).openssh, added[m], None))
        for m, party, roles, _ in MEMBERS
    ]
    lines += [
        dump({"type": "checkpoint", "note": note}) for note in (notes[-1:] if request else notes)
    ]
    nodes: dict[tuple[int, int], bytes] = {}
    frontier = merkle.Frontier(lambda level, i, h: nodes.__setitem__((level, i), h))
    for stored in events:
        frontier.append(merkle.leaf_hash(stored.event.signed_bytes()))
    size = int(notes[-1].split("\n")[1])
    for stored in chosen:
        proof = None
        if request:
            proof = merkle.inclusion_proof(stored.seq - 1, size, lambda lv, i: nodes[lv, i])
        lines.append(dump(event_line(stored, proof)))
    return "".join(lines)


def _lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines()]


def _text_of(lines: list[dict[str, Any]]) -> str:
    return "".join(dump(line) for line in lines)


def _edit(text: str, seq: int, change: Callable[[dict[str, Any]], None]) -> str:
    lines = _lines(text)
    for line in lines:
        if line["type"] == "event" and line["seq"] == seq:
            change(line)
    return _text_of(lines)


def cases() -> dict[str, tuple[str, str, dict[str, Any]]]:
    """name -> (description, export text, expected outcome)."""
    log = build_log()
    notes = [
        checkpoint(log, 8, ("c.admin",)),
        checkpoint(log, 13, ("c.dpo", "v.admin")),
        checkpoint(log, 14, ("c.dpo",)),
    ]
    complete = export(log, notes)
    partial = export(log, notes, request=True)

    def broken(where: str) -> dict[str, Any]:
        return {"ok": False, "first": where}

    found: dict[str, tuple[str, str, dict[str, Any]]] = {
        "valid-complete": (
            "the whole log, three checkpoints, the second cosigned",
            complete,
            {"ok": True},
        ),
        "valid-partial": (
            "one request's events with their inclusion proofs",
            partial,
            {"ok": True},
        ),
    }

    def payload(line: dict[str, Any]) -> None:
        line["payload"]["verdict"] = "unfavourable"

    def timestamp(line: dict[str, Any]) -> None:
        line["time"] = _time(59)

    found["edited-payload"] = (
        "the opinion's verdict changed",
        _edit(complete, 11, payload),
        broken("event #11"),
    )
    found["edited-timestamp"] = (
        "the decision's time changed",
        _edit(complete, 12, timestamp),
        broken("event #12"),
    )
    found["deleted-event"] = (
        "the study's submission removed",
        _text_of([line for line in _lines(complete) if line.get("seq") != 10]),
        broken("event #10"),
    )

    forged = Event(
        LOG,
        15,
        _time(15),
        "c.dpo",
        "caf92",
        "dpo",
        Action.ANNOTATE,
        RID,
        log[-1].hash,
        _step("conditions_accepted", "conditions_accepted", text_sha256=_text("x")),
    )
    forged_line = event_line(_sign(forged, "c.admin"), None)  # signed with another key
    found["inserted-forged-event"] = (
        "an annotation in c.dpo's name, chained, signed with c.admin's key",
        complete + dump(forged_line),
        broken("event #15"),
    )
    lines = _lines(complete)
    a = next(i for i, line in enumerate(lines) if line.get("seq") == 9)
    swapped = {k: v for k, v in lines[a + 1].items() if k != "seq"}
    lines[a + 1] = {**{k: v for k, v in lines[a].items() if k != "seq"}, "seq": 10}
    lines[a] = {**swapped, "seq": 9}
    found["swapped-events"] = ("events 9 and 10 swapped", _text_of(lines), broken("event #9"))
    found["truncated-tail"] = (
        "events 12 to 14 removed, though the cosigned checkpoint covers 13",
        _text_of([line for line in _lines(complete) if line.get("seq", 0) < 12]),
        broken("events #12–#13"),
    )
    rewritten = list(log)
    rewritten[11] = StoredEvent(replace(log[11].event, time=_time(58)), "", "")
    rewritten = rechain(rewritten, 12)
    found["rewritten-suffix"] = (
        "the decision's time changed and every later event re-signed with the members' own "
        "keys, hashes consistent: only the checkpoints see it",
        export(rewritten, notes),
        broken("events #9–#13"),
    )
    by_agent = list(log)
    by_agent[10] = StoredEvent(replace(log[10].event, actor="c.agent", role="staff"), "", "")
    by_agent = rechain(by_agent, 11)
    found["opinion-by-non-dpo"] = (
        "the opinion re-signed by c.agent (staff) as its actor, the chain made consistent",
        export(by_agent, notes),
        broken("event #11"),
    )

    def corrupt(line: dict[str, Any]) -> None:
        element = line["proof"][1]
        line["proof"][1] = ("0" if element[0] != "0" else "1") + element[1:]

    found["corrupted-proof"] = (
        "one element of the opinion's inclusion proof changed",
        _edit(partial, 11, corrupt),
        broken("event #11"),
    )
    return found


def render() -> dict[str, str]:
    files = {}
    for number, (name, (description, text, expect)) in enumerate(cases().items()):
        document = {"case": name, "description": description, "expect": expect, "export": text}
        files[f"{number:02d}-{name}.json"] = (
            json.dumps(document, ensure_ascii=False, indent=1) + "\n"
        )
    return files


def main(argv: list[str]) -> int:
    files = render()
    if argv[1:] == ["--check"]:
        current = {p.name: p.read_text(encoding="utf-8") for p in TARGET.glob("*.json")}
        if current != files:
            print(
                "tests/vectors/audit is stale: run python tools/make_audit_vectors.py",
                file=sys.stderr,
            )
            return 1
        return 0
    TARGET.mkdir(parents=True, exist_ok=True)
    for stale in TARGET.glob("*.json"):
        if stale.name not in files:
            stale.unlink()
    for name, text in files.items():
        (TARGET / name).write_text(text, encoding="utf-8")
    print(f"wrote {len(files)} vectors to {TARGET.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
