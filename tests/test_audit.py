"""The audit log is evidence: changes made behind the tool's back are detected (exit 3, naming
the sequence number), the table refuses UPDATE and DELETE, and an event's signature verifies
with OpenSSH's own ``ssh-keygen -Y verify``."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from ctg_exchange.audit import Event
from ctg_exchange.audit.events import EVENT_PREFIX

from conftest import Ctg, ssh_keygen_verify

needs_ssh_keygen = pytest.mark.skipif(
    shutil.which("ssh-keygen") is None, reason="ssh-keygen is not installed"
)


def _opinion_seq(ctg: Ctg) -> int:
    rid = ctg.file_request()
    ctg.advance(rid, "approved")
    events = ctg.json("audit", "log", "--request", rid)
    return int(next(e["seq"] for e in events if e["action"] == "dpo.opinion"))


def test_verify_counts_the_events(ctg: Ctg) -> None:
    result = ctg.json("audit", "verify")
    assert result["ok"] is True
    assert result["events"] == 11  # init + 10 members
    assert len(result["head"]) == 64


def test_the_events_table_refuses_update_and_delete(ctg: Ctg) -> None:
    for statement in (
        "UPDATE audit_events SET actor = 'x' WHERE seq = 1",
        "DELETE FROM audit_events WHERE seq = 1",
    ):
        db = ctg.connect()
        try:
            with pytest.raises(db.errors, match="append-only"):
                db.execute(statement)
        finally:
            db.close()


def test_an_edited_payload_is_detected_at_its_sequence_number(ctg: Ctg) -> None:
    seq = _opinion_seq(ctg)
    ctg.sql(
        "UPDATE audit_events SET payload = replace(payload, '\"favourable\"', "
        f"'\"unfavourable\"') WHERE seq = {seq}",
        guards=False,
    )

    result = ctg("audit", "verify")

    assert result.exit_code == 3
    assert result.stderr.splitlines()[0] == (
        f"ctg-exchange: error: audit log broken at event #{seq}: "
        "the stored hash does not match the event's content"
    )
    failure = json.loads(ctg("audit", "verify", "--json").stdout)["error"]
    assert (failure["code"], failure["seq"], failure["exit_code"]) == ("audit_broken", seq, 3)


def test_a_forged_event_with_a_recomputed_hash_fails_its_signature(ctg: Ctg) -> None:
    seq = _opinion_seq(ctg)
    stored = ctg.json("audit", "show", str(seq))
    body = {k: v for k, v in stored.items() if k not in ("hash", "signature", "v")}
    body["payload"]["verdict"] = "unfavourable"
    forged = Event(**body)
    ctg.sql(
        f"UPDATE audit_events SET payload = '{json.dumps(forged.payload)}', "
        f"hash = '{forged.digest()}' WHERE seq = {seq}",
        guards=False,
    )

    result = ctg("audit", "verify")

    assert result.exit_code == 3
    assert f"audit log broken at event #{seq}: bad signature" in result.stderr


def test_a_deleted_event_is_detected_at_its_sequence_number(ctg: Ctg) -> None:
    seq = _opinion_seq(ctg)
    ctg.sql(f"DELETE FROM audit_events WHERE seq = {seq - 1}", guards=False)

    result = ctg("audit", "verify")

    assert result.exit_code == 3
    assert f"audit log broken at event #{seq - 1}: the event is missing" in result.stderr


def test_an_event_signed_by_a_revoked_member_is_detected(ctg: Ctg) -> None:
    ctg.ok("member", "revoke", "v.agent", "--reason", "Départ", as_="v.admin")
    # a request row plus event inserted by hand, in v.agent's name, after the revocation
    last = ctg.json("audit", "show", "12")
    forged = Event(
        log=last["log"],
        seq=13,
        time=last["time"],
        actor="v.agent",
        party="ville_sceaux",
        role="staff",
        action="request.file",
        subject="DX-2025-0009",
        prev=last["hash"],
        payload={},
    )
    ctg.sql(
        f"INSERT INTO audit_events VALUES (13, '{forged.time}', 'v.agent', 'ville_sceaux', "
        f"'staff', 'request.file', 'DX-2025-0009', '{{}}', '{forged.prev}', "
        f"'{forged.digest()}', 'x')",
    )

    result = ctg("audit", "verify")

    assert result.exit_code == 3
    assert "audit log broken at event #13: the actor 'v.agent' was revoked" in result.stderr


@needs_ssh_keygen
def test_ssh_keygen_verifies_an_exported_event(ctg: Ctg, tmp_path: Path) -> None:
    seq = _opinion_seq(ctg)
    allowed = tmp_path / "allowed_signers"
    signed, signature = tmp_path / "event.bin", tmp_path / "event.sig"
    ctg.ok("member", "allowed-signers", "--out", str(allowed))
    ctg.ok("audit", "show", str(seq), "--signed-bytes", str(signed), "--signature", str(signature))
    assert signed.read_bytes().startswith(EVENT_PREFIX)
    assert (
        hashlib.sha256(signed.read_bytes()).hexdigest()
        == ctg.json("audit", "show", str(seq))["hash"]
    )

    def ssh_verify(data: bytes) -> subprocess.CompletedProcess[bytes]:
        return ssh_keygen_verify(allowed, "c.dpo", "ctg-exchange/event@v1", signature, data)

    good = ssh_verify(signed.read_bytes())
    assert good.returncode == 0, good.stderr
    assert b'Good "ctg-exchange/event@v1" signature for c.dpo' in good.stdout
    tampered = bytearray(signed.read_bytes())
    tampered[-10] ^= 0x01
    assert ssh_verify(bytes(tampered)).returncode != 0


def test_allowed_signers_keeps_revoked_members(ctg: Ctg) -> None:
    ctg.ok("member", "revoke", "v.agent", "--reason", "Départ", as_="v.admin")
    text = ctg.ok("member", "allowed-signers").stdout
    assert "# v.agent: revoked" in text
    assert sum(1 for line in text.splitlines() if line and not line.startswith("#")) == 11


def test_audit_log_filters_by_request(ctg: Ctg) -> None:
    first, second = ctg.file_request(), ctg.file_request()
    ctg.ok("study", "accept", second, "--note", "Étude", as_="c.controller")
    assert [e["action"] for e in ctg.json("audit", "log", "--request", second)] == [
        "request.file",
        "study.accept",
    ]
    assert [e["subject"] for e in ctg.json("audit", "log", "--request", first)] == [first]
