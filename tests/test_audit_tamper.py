"""The tamper suite: every change made behind the tool's back is detected, at the right place.

Each case changes the SQLite file directly (dropping the append-only triggers first, as an
attacker with the file would), then runs ``audit verify``: exit 3, the first error line names
the event (or the request) where the change is, and ``--json`` lists every failure. The
strongest attacker here holds members' keys and re-signs what they rewrite: only the signed
checkpoints, the role rules and the replay against the stored state can catch them.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from ctg_exchange.audit import merkle
from ctg_exchange.audit.events import Event, StoredEvent
from ctg_exchange.crypto.keys import KeyDir
from ctg_exchange.crypto.sshsig import NAMESPACE_EVENT

from conftest import PASSPHRASE, Ctg, Db, State

ROOT = Path(__file__).resolve().parents[1]
OFFLINE = ROOT / "docs" / "verify_audit_export.py"
TABLES = ("audit_events", "audit_tree", "checkpoints", "checkpoint_signatures")


def _db(ctg: Ctg) -> Db:
    """The workspace's database, its append-only triggers dropped."""
    return ctg.connect(guards=False)


def _tamper(ctg: Ctg, *statements: str, params: tuple[Any, ...] = ()) -> None:
    ctg.sql(*statements, params=params, guards=False)


def _broken(ctg: Ctg) -> tuple[str, list[dict[str, Any]]]:
    """Verify in full (the fixture's verification is remembered, and a row or an old event
    changed in place is not read again by the next one: tests/test_audit_incremental.py): exit
    3; the first error line and the JSON list of failures."""
    result = ctg("audit", "verify", "--full")
    assert result.exit_code == 3, result.output
    first = result.stderr.splitlines()[0]
    assert first.startswith("ctg-exchange: error: audit log broken at ")
    as_json = ctg("audit", "verify", "--full", "--json")
    assert as_json.exit_code == 3
    failures = json.loads(as_json.stdout)["error"]["failures"]
    assert failures, as_json.stdout
    return first.removeprefix("ctg-exchange: error: audit log broken at "), failures


def _events(ctg: Ctg) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = ctg.json("audit", "log")
    return result


def _seq_of(ctg: Ctg, action: str) -> int:
    return int(next(e["seq"] for e in _events(ctg) if e["action"] == action))


def _log_a_request(ctg: Ctg) -> None:
    rid = ctg.file_request()
    ctg.ok("audit", "checkpoint", as_="c.dpo")  # checkpoint 1, just after the filing
    ctg.advance(rid, "approved")
    ctg.accept_conditions(rid)
    ctg.ok("audit", "checkpoint", as_="c.dpo")  # checkpoint 2: everything so far
    ctg.ok("audit", "cosign", as_="v.dpo")
    ctg.ok("dpo", "annotate", rid, "--note", "Note de suivi fictive", as_="v.dpo")
    ctg.ok("dpo", "annotate", rid, "--note", "Seconde note fictive", as_="c.dpo")


@pytest.fixture
def logged(state: State) -> Ctg:
    """A request taken to conditions_accepted, a checkpoint, then more events after it."""
    ctg = state("logged", _log_a_request)
    assert ctg("audit", "verify").exit_code == 0
    return ctg


def _checkpoint_sizes(ctg: Ctg) -> list[int]:
    return [cp["tree_size"] for cp in ctg.json("audit", "checkpoints")]


# -- one case each -------------------------------------------------------------------------------
def test_an_edited_payload(logged: Ctg) -> None:
    seq = _seq_of(logged, "dpo.opinion")
    _tamper(
        logged,
        "UPDATE audit_events SET payload = replace(payload, '\"favourable\"', "
        f"'\"unfavourable\"') WHERE seq = {seq}",
    )
    first, failures = _broken(logged)
    assert first == f"event #{seq}: the stored hash does not match the event's content"
    assert failures[0]["seq"] == seq


def test_an_edited_timestamp(logged: Ctg) -> None:
    seq = _seq_of(logged, "decide.approve")
    _tamper(
        logged,
        f"UPDATE audit_events SET time = replace(time, 'T', 'T0') WHERE seq = {seq}",
    )
    first, _ = _broken(logged)
    assert first == f"event #{seq}: the stored hash does not match the event's content"


def test_a_deleted_event(logged: Ctg) -> None:
    seq = _seq_of(logged, "study.submit")
    _tamper(logged, f"DELETE FROM audit_events WHERE seq = {seq}")
    first, failures = _broken(logged)
    assert first == f"event #{seq}: the event is missing"
    assert failures[0]["seq"] == seq


def _signer(ctg: Ctg, member: str) -> Any:
    return KeyDir(ctg.keys).open_signer(member, PASSPHRASE)


def _stored(row: tuple[Any, ...], log: str) -> StoredEvent:
    seq, time, actor, party, role, action, subject, payload, prev, digest, signature = row
    event = Event(log, seq, time, actor, party, role, action, subject, prev, json.loads(payload))
    return StoredEvent(event, digest, signature)


def _rewrite(
    ctg: Ctg,
    start: int,
    change: Callable[[Event], Event],
    *,
    key_of: Callable[[Event], str] | None = None,
) -> None:
    """Change event ``start`` and re-sign it and every later event with real keys, with
    consistent hashes and links, and rebuild the Merkle tree: a thorough insider's rewrite."""
    log = ctg.json("audit", "show", "1")["log"]
    connection = _db(ctg)
    try:
        rows = connection.execute(
            "SELECT seq, time, actor, party, role, action, subject, payload, prev_hash, hash, "
            "signature FROM audit_events ORDER BY seq"
        ).fetchall()
        events = [_stored(row, log) for row in rows]
        head = events[start - 2].hash if start > 1 else "0" * 64
        for stored in events[start - 1 :]:
            event = stored.event
            if event.seq == start:
                event = change(event)
            event = replace(event, prev=head)
            signer = _signer(ctg, key_of(event) if key_of else event.actor)
            signature = signer.sign(NAMESPACE_EVENT, event.signed_bytes())
            head = event.digest()
            connection.execute(
                "UPDATE audit_events SET time = ?, actor = ?, party = ?, role = ?, subject = ?, "
                "payload = ?, prev_hash = ?, hash = ?, signature = ? WHERE seq = ?",
                (
                    event.time,
                    event.actor,
                    event.party,
                    event.role,
                    event.subject,
                    json.dumps(event.payload, sort_keys=True, separators=(",", ":")),
                    event.prev,
                    head,
                    signature,
                    event.seq,
                ),
            )
        connection.execute("DELETE FROM audit_tree")
        nodes: list[tuple[int, int, str]] = []
        frontier = merkle.Frontier(lambda level, i, h: nodes.append((level, i, h.hex())))
        for stored in _reread(connection, log):
            frontier.append(merkle.leaf_hash(stored.event.signed_bytes()))
        connection.executemany("INSERT INTO audit_tree (level, idx, hash) VALUES (?, ?, ?)", nodes)
        connection.commit()
    finally:
        connection.close()


def _reread(connection: Db, log: str) -> list[StoredEvent]:
    rows = connection.execute(
        "SELECT seq, time, actor, party, role, action, subject, payload, prev_hash, hash, "
        "signature FROM audit_events ORDER BY seq"
    ).fetchall()
    return [_stored(row, log) for row in rows]


def test_a_forged_event_inserted(logged: Ctg) -> None:
    """An event in c.dpo's name, correctly chained, signed with a key that is not c.dpo's."""
    last = _events(logged)[-1]
    forged = Event(
        last["log"],
        last["seq"] + 1,
        last["time"],
        "c.dpo",
        "caf92",
        "dpo",
        "dpo.annotate",
        last["subject"],
        last["hash"],
        {
            "request": last["subject"],
            "from_status": "conditions_accepted",
            "to_status": "conditions_accepted",
            "text_sha256": "0" * 64,
        },
    )
    signature = _signer(logged, "c.admin").sign(NAMESPACE_EVENT, forged.signed_bytes())
    _tamper(
        logged,
        "INSERT INTO audit_events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        params=(
            forged.seq,
            forged.time,
            forged.actor,
            forged.party,
            forged.role,
            forged.action,
            forged.subject,
            json.dumps(forged.payload, sort_keys=True, separators=(",", ":")),
            forged.prev,
            forged.digest(),
            signature,
        ),
    )
    first, _ = _broken(logged)
    assert first.startswith(f"event #{forged.seq}: bad signature: signature is by another key")


def test_two_events_swapped(logged: Ctg) -> None:
    seq = _seq_of(logged, "study.accept")
    columns = "time, actor, party, role, action, subject, payload, prev_hash, hash, signature"
    connection = _db(logged)
    try:
        a = connection.execute(f"SELECT {columns} FROM audit_events WHERE seq = {seq}").fetchone()
        b = connection.execute(
            f"SELECT {columns} FROM audit_events WHERE seq = {seq + 1}"
        ).fetchone()
        assignments = ", ".join(f"{c.strip()} = ?" for c in columns.split(","))
        connection.execute(f"UPDATE audit_events SET hash = 'moving' WHERE seq = {seq}")
        connection.execute(f"UPDATE audit_events SET {assignments} WHERE seq = {seq + 1}", a)
        connection.execute(f"UPDATE audit_events SET {assignments} WHERE seq = {seq}", b)
        connection.commit()
    finally:
        connection.close()
    first, failures = _broken(logged)
    assert first == f"event #{seq}: the stored hash does not match the event's content"
    assert {f.get("seq") for f in failures} >= {seq, seq + 1}


def test_the_tail_truncated_after_a_checkpoint(logged: Ctg) -> None:
    covered = _checkpoint_sizes(logged)[-1]
    cut = _seq_of(logged, "conditions.accept")  # covered by the last checkpoint
    _tamper(logged, f"DELETE FROM audit_events WHERE seq >= {cut}")
    first, failures = _broken(logged)
    assert first.startswith(f"events #{cut}–#{covered}: removed: checkpoint 2, signed by c.dpo")
    assert (failures[0]["seq"], failures[0]["last_seq"]) == (cut, covered)


def test_the_tail_and_its_checkpoints_removed_are_caught_by_a_kept_copy(
    logged: Ctg, tmp_path: Path
) -> None:
    """The attacker also deletes the checkpoints; the other party kept the note."""
    note = tmp_path / "checkpoint-2.txt"
    note.write_text(logged.json("audit", "checkpoints")[-1]["note"])
    cut = _seq_of(logged, "conditions.accept")
    _tamper(
        logged,
        f"DELETE FROM audit_events WHERE seq >= {cut}",
        "DELETE FROM checkpoint_signatures WHERE checkpoint_id = 2",
        "DELETE FROM checkpoints WHERE id = 2",
        f"DELETE FROM request_steps WHERE seq >= {cut}",
    )
    # what the attacker left is consistent with itself, except the stored request
    result = logged("audit", "verify", "--checkpoint", str(note))
    assert result.exit_code == 3
    assert f"audit log broken at events #{cut}–" in result.stderr
    assert "removed: checkpoint file checkpoint-2.txt, signed by c.dpo and v.dpo" in result.stderr


def test_a_suffix_rewritten_with_consistent_hashes_and_real_signatures(logged: Ctg) -> None:
    sizes = _checkpoint_sizes(logged)
    seq = _seq_of(logged, "dpo.opinion")  # after checkpoint 1, inside checkpoint 2
    assert sizes[0] < seq <= sizes[1]
    later = lambda e: replace(e, time=e.time[:-2] + ("1Z" if e.time[-2] != "1" else "2Z"))  # noqa: E731
    _rewrite(logged, seq, later)  # a microsecond later: chained, signed, but not what was signed
    first, failures = _broken(logged)
    assert first.startswith(
        f"events #{sizes[0] + 1}–#{sizes[1]}: changed after checkpoint 2 was signed by c.dpo and "
        "v.dpo"
    )
    assert (failures[0]["seq"], failures[0]["last_seq"]) == (sizes[0] + 1, sizes[1])
    assert failures[0]["seq"] <= seq <= failures[0]["last_seq"]


def test_an_opinion_re_signed_by_a_member_who_is_not_the_dpo(logged: Ctg) -> None:
    seq = _seq_of(logged, "dpo.opinion")
    _rewrite(logged, seq, lambda e: replace(e, actor="c.agent", role="staff"))
    first, failures = _broken(logged)
    assert first.startswith(
        f"event #{seq}: not allowed (holder-dpo-only): only the DPO of the holding party (caf92) "
        "gives the opinion"
    )
    assert "c.agent is staff of caf92" in first
    # and the stored opinion (by c.dpo) no longer matches the log either
    assert any(f.get("request") and "opinion.by" in f["message"] for f in failures)


def test_an_opinion_signed_with_another_members_key(logged: Ctg) -> None:
    seq = _seq_of(logged, "dpo.opinion")
    _rewrite(logged, seq, lambda e: e, key_of=lambda e: "c.agent" if e.seq == seq else e.actor)
    first, _ = _broken(logged)
    assert first.startswith(f"event #{seq}: bad signature: signature is by another key")


def test_a_request_row_changed_by_sql(logged: Ctg) -> None:
    rid = _events(logged)[-1]["subject"]
    connection = _db(logged)
    try:
        doc = json.loads(
            connection.execute("SELECT doc FROM requests WHERE id = ?", (rid,)).fetchone()[0]
        )
        doc["status"] = "approved"
        connection.execute(
            "UPDATE requests SET status = 'approved', doc = ? WHERE id = ?", (json.dumps(doc), rid)
        )
        connection.commit()
    finally:
        connection.close()
    first, failures = _broken(logged)
    assert first == (
        f"request {rid}: status is 'approved' in the store; the log says 'conditions_accepted'"
    )
    assert failures[0]["request"] == rid


def test_a_request_s_content_changed_by_sql(logged: Ctg) -> None:
    rid = _events(logged)[-1]["subject"]
    connection = _db(logged)
    try:
        doc = json.loads(
            connection.execute("SELECT doc FROM requests WHERE id = ?", (rid,)).fetchone()[0]
        )
        doc["content"]["retention_days"] = 3650
        connection.execute("UPDATE requests SET doc = ? WHERE id = ?", (json.dumps(doc), rid))
        connection.commit()
    finally:
        connection.close()
    first, _ = _broken(logged)
    assert first.startswith(f"request {rid}: content_sha256 is ")


def test_a_member_key_swapped_by_sql(logged: Ctg) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from ctg_exchange.crypto.publickey import PublicKey

    raw = Ed25519PrivateKey.generate().public_key().public_bytes_raw()
    _tamper(
        logged,
        "UPDATE members SET public_key = ? WHERE id = 'c.dpo'",
        params=(PublicKey(raw).openssh,),
    )
    first, _ = _broken(logged)
    assert first.startswith("member c.dpo: public_key is ")


# -- inclusion proofs ----------------------------------------------------------------------------
def test_a_corrupted_inclusion_proof_element_is_rejected(logged: Ctg, tmp_path: Path) -> None:
    rid = _events(logged)[-1]["subject"]
    export = tmp_path / "request.jsonl"
    logged.ok("audit", "export", "--request", rid, "--out", str(export), as_="c.dpo")
    lines = export.read_text().splitlines()
    target = next(i for i, line in enumerate(lines) if '"action":"dpo.opinion"' in line)
    event = json.loads(lines[target])
    element = event["proof"][1]
    event["proof"][1] = ("0" if element[0] != "0" else "1") + element[1:]
    lines[target] = json.dumps(event, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    export.write_text("\n".join(lines) + "\n")

    offline = subprocess.run(
        [sys.executable, str(OFFLINE), str(export)], capture_output=True, text=True, check=False
    )
    assert offline.returncode == 1
    assert offline.stdout.splitlines() == [
        f"FAILED: event #{event['seq']}: its inclusion proof does not lead to the checkpoint's root"
    ]
    result = logged("audit", "verify", "--export", str(export))
    assert result.exit_code == 3
    assert result.stderr.startswith(
        f"ctg-exchange: error: audit log broken at event #{event['seq']}: its inclusion proof"
    )


def test_a_corrupted_stored_tree_node_fails_prove(logged: Ctg) -> None:
    rid = _events(logged)[-1]["subject"]
    first = _seq_of(logged, "request.file")
    _tamper(logged, "UPDATE audit_tree SET hash = substr('f' || hash, 1, 64) WHERE level = 0")
    result = logged("audit", "prove", "--request", rid)
    assert result.exit_code == 3
    assert f"audit log broken at event #{first}: it is not in checkpoint 2 as stored" in (
        result.stderr
    )


@pytest.mark.parametrize(
    ("change", "found"),
    [
        ({"categories": ["quotient_familial"]}, "shape.categories is 2 items in the store"),
        ({"retention_days": 3650}, "shape.retention_days is 365 in the store; the log says 3650"),
        ({"legal_basis": None}, "shape.legal_basis is 'art6_1_e' in the store; the log says None"),
        ({"frequency": "yearly"}, "shape.frequency is 'monthly' in the store; the log says"),
    ],
)
def test_a_filing_summary_that_lies_about_the_content_is_caught_when_re_signed(
    logged: Ctg, change: dict[str, Any], found: str
) -> None:
    """The filing's summary must say what the stored content says, not only hash it (the
    checkpoint signed after the filing catches the rewrite too; this failure is the replay's)."""
    seq = _seq_of(logged, "request.file")
    rid = _events(logged)[-1]["subject"]
    _rewrite(logged, seq, lambda e: replace(e, payload={**e.payload, **change}))
    _, failures = _broken(logged)
    assert any(f.get("request") == rid and f["message"].startswith(found) for f in failures), (
        failures
    )


def test_an_event_re_signed_with_an_earlier_date_is_caught(logged: Ctg, tmp_path: Path) -> None:
    """A modified client that backdates its event (to file before an expiry, say): the log's
    order is the order of time, within five minutes' clock skew."""
    seq = _events(logged)[-1]["seq"]
    _rewrite(logged, seq, lambda e: replace(e, time="2025-01-01T09:00:00.000000Z"))
    first, failures = _broken(logged)
    assert first.startswith(
        f"event #{seq}: dated 2025-01-01T09:00:00Z, more than 5 minutes before the event it follows"
    ), first
    export = tmp_path / "export.jsonl"
    logged.ok("audit", "export", "--out", str(export))
    offline = subprocess.run(
        [sys.executable, str(OFFLINE), str(export)], capture_output=True, text=True, check=False
    )
    assert offline.returncode == 1
    assert (
        f"FAILED: event #{seq}: dated more than five minutes before the event it follows"
        in offline.stdout.splitlines()
    ), offline.stdout


@pytest.mark.parametrize(
    ("action", "subject", "message"),
    [
        ("member.revoke", "c.dpo", "the event's subject is not the member id it names"),
        ("dpo.annotate", "DX-2025-0099", "the event's subject is not the request id it names"),
        ("workspace.init", "another-log", "the first event names another workspace"),
    ],
)
def test_an_event_filed_under_another_subject_is_caught_when_re_signed(
    logged: Ctg, action: str, subject: str, message: str
) -> None:
    """Partial exports and ``audit log --request`` select events by subject: an insider who
    re-signs an event under another subject would misfile or hide it."""
    if action == "member.revoke":
        logged.ok("member", "revoke", "c.both", "--reason", "Départ (test)", as_="c.admin")
    seq = _seq_of(logged, action) if action != "dpo.annotate" else _events(logged)[-1]["seq"]
    _rewrite(logged, seq, lambda e: replace(e, subject=subject))
    first, failures = _broken(logged)
    assert first.startswith(f"event #{seq}: {message}"), first
    assert failures[0]["seq"] == seq


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"colour": "rouge"}, "colour: unexpected key"),
        ({"text_sha256": "not-a-digest"}, "text_sha256: String should match pattern"),
        ({"from_status": "nowhere"}, "from_status: Input should be 'filed', "),
        ({"request": 7}, "request: Input should be a valid string"),
        (
            {"x\nctg-exchange: hint: all good, signed Jean Dupont": 1},
            "(a key that is not a name): unexpected key",
        ),
    ],
    ids=["extra-key", "bad-digest", "unknown-status", "wrong-type", "key-with-a-line-break"],
)
def test_a_payload_its_model_refuses_is_named_even_when_re_signed(
    logged: Ctg, change: dict[str, Any], message: str
) -> None:
    """A modified tool with the member's own key writes a payload the honest one never would:
    the chain and the signature hold, the payload's model does not."""
    seq = _events(logged)[-1]["seq"]  # the second annotation, after every checkpoint
    _rewrite(logged, seq, lambda e: replace(e, payload={**e.payload, **change}))

    first, failures = _broken(logged)

    assert first.startswith(f"event #{seq}: malformed dpo.annotate payload: {message}"), first
    assert failures[0]["seq"] == seq
    verified = logged("audit", "verify")
    assert "Jean Dupont" not in verified.stderr and "hint: all good" not in verified.stderr
    shown = logged("audit", "log")
    assert shown.exit_code == 0  # the log still reads; its line shows no summary
