"""Signed checkpoints, cosignatures, inclusion proofs, and the export an auditor checks alone."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ctg_exchange.audit import merkle
from ctg_exchange.services import session

from conftest import Ctg, ssh_keygen_verify

ROOT = Path(__file__).resolve().parents[1]
OFFLINE = ROOT / "docs" / "verify_audit_export.py"
needs_ssh_keygen = pytest.mark.skipif(
    shutil.which("ssh-keygen") is None, reason="ssh-keygen is not installed"
)


def _offline(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(OFFLINE), *map(str, args)],
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.fixture
def approved(ctg: Ctg) -> tuple[Ctg, str]:
    rid = ctg.file_request()
    ctg.advance(rid, "approved")
    return ctg, rid


def test_a_checkpoint_is_a_signed_note_over_the_tree(approved: tuple[Ctg, str]) -> None:
    ctg, _ = approved
    made = ctg.json("audit", "checkpoint", as_="c.dpo")
    events = ctg.json("audit", "log")
    lines = made["note"].split("\n")
    assert lines[0] == f"ctg-exchange/{events[0]['log']}"
    assert lines[1] == str(len(events)) == str(made["tree_size"])
    assert base64.b64decode(lines[2]).hex() == made["root"]
    assert lines[3] == ""
    assert lines[4].startswith("\u2014 c.dpo ")
    # the root is RFC 9162's over the events' signed bytes, as an auditor recomputes it
    frontier = merkle.Frontier()
    for event in events:
        body = {k: v for k, v in event.items() if k not in ("hash", "signature")}
        signed = (
            b"ctg-exchange/event@v1\n"
            + json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
        )
        frontier.append(merkle.leaf_hash(signed))
    assert frontier.root().hex() == made["root"]
    assert ctg.json("audit", "verify")["checkpoints"] == 1


@needs_ssh_keygen
def test_a_cosigned_checkpoint_shows_both_parties_and_each_signature_verifies_with_ssh_keygen(
    approved: tuple[Ctg, str], tmp_path: Path
) -> None:
    ctg, _ = approved
    ctg.ok("audit", "checkpoint", as_="c.dpo")
    cosigned = ctg.json("audit", "cosign", as_="v.dpo")
    assert cosigned["parties"] == ["caf92", "ville_sceaux"]
    assert [(s["member"], s["cosign"]) for s in cosigned["signers"]] == [
        ("c.dpo", False),
        ("v.dpo", True),
    ]
    listing = ctg("audit", "checkpoints")
    assert "c.dpo (caf92); v.dpo (ville_sceaux, cosigned)" in " ".join(listing.stdout.split())
    assert ctg.json("audit", "verify")["cosigned"] == 1

    allowed = tmp_path / "allowed_signers"
    ctg.ok("member", "allowed-signers", "--out", str(allowed))
    for member in ("c.dpo", "v.dpo"):
        text, sig = tmp_path / f"{member}.txt", tmp_path / f"{member}.sig"
        ctg.ok(
            "audit",
            "checkpoints",
            "--show",
            "1",
            "--signer",
            member,
            "--signed-bytes",
            str(text),
            "--signature",
            str(sig),
        )
        namespace = "ctg-exchange/checkpoint@v1"
        checked = ssh_keygen_verify(allowed, member, namespace, sig, text.read_bytes())
        assert checked.returncode == 0, checked.stderr
        tampered = text.read_bytes().replace(b"\n1", b"\n9", 1)
        assert ssh_keygen_verify(allowed, member, namespace, sig, tampered).returncode != 0


def test_cosigning_is_for_the_other_partys_admin_or_dpo(approved: tuple[Ctg, str]) -> None:
    ctg, _ = approved
    ctg.refused("audit", "cosign", as_="v.dpo", contains="there is no checkpoint to cosign")
    ctg.ok("audit", "checkpoint", as_="c.dpo")
    ctg.refused(
        "audit", "cosign", as_="c.admin", contains="checkpoint 1 is already signed for caf92"
    )
    ctg.refused("audit", "cosign", as_="v.agent", contains="an admin or a DPO cosigns checkpoints")
    ctg.refused("audit", "cosign", contains="who is acting?")
    ctg.ok("audit", "cosign", as_="v.admin")
    ctg.refused(
        "audit", "cosign", as_="v.dpo", contains="already signed for ville_sceaux (v.admin)"
    )


def test_a_broken_log_is_not_checkpointed_nor_cosigned(approved: tuple[Ctg, str]) -> None:
    ctg, _ = approved
    ctg.ok("audit", "checkpoint", as_="c.dpo")
    ctg.sql("UPDATE audit_events SET subject = 'x' WHERE seq = 3", guards=False)
    ctg.refused("audit", "cosign", as_="v.dpo", code=3, contains="audit log broken at event #3")
    ctg.refused("audit", "checkpoint", as_="v.dpo", code=3, contains="audit log broken at event #3")


def test_checkpoints_follow_sends_and_every_thousand_events(
    ctg: Ctg, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(session, "CHECKPOINT_EVERY", 4)
    rid = ctg.file_request()
    ctg.advance(rid, "approved")  # events 13 to 16, after the filing (12)
    ctg.ok("dpo", "annotate", rid, "--note", "Note fictive", as_="c.dpo")
    ctg.ok("dpo", "annotate", rid, "--note", "Note fictive", as_="v.dpo")
    found = ctg.json("audit", "checkpoints")
    assert [cp["tree_size"] for cp in found] == [12, 16]  # as the 12th and 16th are recorded
    assert [cp["signers"][0]["member"] for cp in found] == ["v.agent", "c.controller"]
    assert ctg.json("audit", "verify")["checkpoints"] == 2


def test_prove_prints_proofs_that_lead_to_the_checkpoint(approved: tuple[Ctg, str]) -> None:
    ctg, rid = approved
    ctg.refused("audit", "prove", "--request", rid, contains="there is no checkpoint to prove")
    ctg.ok("audit", "checkpoint", as_="c.dpo")
    ctg.ok("dpo", "annotate", rid, "--note", "Après le point de contrôle", as_="v.dpo")
    proved = ctg.json("audit", "prove", "--request", rid)
    root = bytes.fromhex(proved["checkpoint"]["root"])
    events = {e["seq"]: e for e in ctg.json("audit", "log", "--request", rid)}
    assert [p["seq"] for p in proved["proofs"]] == sorted(events)[:-1]
    assert proved["uncovered"] == [max(events)]
    for proof in proved["proofs"]:
        leaf = bytes.fromhex(proof["leaf_hash"])
        path = [bytes.fromhex(p) for p in proof["path"]]
        size = proof["tree_size"]
        assert merkle.root_from_inclusion(proof["leaf_index"], size, leaf, path) == root
    ctg.refused("audit", "prove", "--request", "DX-2099-0001", contains="no request")


def test_the_offline_script_verifies_fresh_exports(
    approved: tuple[Ctg, str], tmp_path: Path
) -> None:
    ctg, rid = approved
    full, part = tmp_path / "full.jsonl", tmp_path / "part.jsonl"
    ctg.ok("audit", "checkpoint", as_="c.dpo")
    ctg.ok("audit", "cosign", as_="v.dpo")
    ctg.ok("dpo", "annotate", rid, "--note", "Note fictive", as_="v.dpo")
    made = ctg.json("audit", "export", "--out", str(full), as_="c.dpo")
    assert made["complete"] is True and made["checkpoints"] == 2
    ctg.ok("audit", "export", "--request", rid, "--out", str(part))
    events = len(ctg.json("audit", "log"))

    result = _offline(full)
    assert result.returncode == 0, result.stdout
    assert result.stdout == (
        f"OK: {events} events and 2 checkpoints verified "
        "(checkpoints signed for caf92, ville_sceaux)\n"
    )
    result = _offline(part)
    assert result.returncode == 0, result.stdout
    assert result.stdout.startswith("OK: 6 events and 1 checkpoints verified")
    for export in (full, part):
        assert ctg("audit", "verify", "--export", str(export)).exit_code == 0

    allowed = tmp_path / "allowed_signers"
    ctg.ok("member", "allowed-signers", "--out", str(allowed))
    assert _offline(part, "--allowed-signers", allowed).returncode == 0


@pytest.mark.parametrize("which", ["full", "part"])
def test_the_offline_script_rejects_a_tampered_export(
    approved: tuple[Ctg, str], tmp_path: Path, which: str
) -> None:
    ctg, rid = approved
    export = tmp_path / "export.jsonl"
    selection = ["--request", rid] if which == "part" else []
    ctg.ok("audit", "export", *selection, "--out", str(export), as_="c.dpo")
    lines = export.read_text().splitlines()
    index = next(i for i, line in enumerate(lines) if '"action":"dpo.opinion"' in line)
    opinion = json.loads(lines[index])
    opinion["payload"]["verdict"] = "unfavourable"
    lines[index] = json.dumps(opinion, ensure_ascii=False)
    export.write_text("\n".join(lines) + "\n")

    result = _offline(export)
    assert result.returncode == 1
    first = result.stdout.splitlines()[0]
    assert first == f"FAILED: event #{opinion['seq']}: its hash does not match its content"
    verified = ctg("audit", "verify", "--export", str(export))
    assert verified.exit_code == 3
    assert f"audit log broken at event #{opinion['seq']}: the stored hash" in verified.stderr


def test_a_signer_key_swapped_in_the_export_is_rejected(
    approved: tuple[Ctg, str], tmp_path: Path
) -> None:
    """Swapping a key in the export does not let a forged signature pass."""
    ctg, _ = approved
    export = tmp_path / "export.jsonl"
    ctg.ok("audit", "export", "--out", str(export), as_="c.dpo")
    lines = [json.loads(line) for line in export.read_text().splitlines()]
    signers = {line["member"]: line for line in lines if line["type"] == "signer"}
    signers["c.dpo"]["public_key"] = signers["v.agent"]["public_key"]
    export.write_text("".join(json.dumps(line) + "\n" for line in lines))
    assert _offline(export).returncode == 1
    assert ctg("audit", "verify", "--export", str(export)).exit_code == 3


def test_export_refusals_change_nothing(approved: tuple[Ctg, str], tmp_path: Path) -> None:
    ctg, rid = approved
    out = tmp_path / "e.jsonl"
    ctg.refused(
        "audit",
        "export",
        "--request",
        rid,
        "--out",
        str(out),
        contains="is not covered by a checkpoint yet",
    )
    ctg.refused(
        "audit",
        "export",
        "--request",
        rid,
        "--from",
        "2",
        "--out",
        str(out),
        contains="--request and --from/--to select differently",
    )
    ctg.refused("audit", "export", "--from", "5", "--to", "3", "--out", str(out), contains="after")
    ctg.refused("audit", "export", "--to", "999", "--out", str(out), contains="the log has")
    ctg.refused(
        "audit", "export", "--request", "DX-2099-0001", "--out", str(out), contains="no request"
    )
    out.write_text("something")
    ctg.refused("audit", "export", "--out", str(out), contains="already exists")
    assert not list(tmp_path.glob(".ctg-*"))


def test_verifying_a_file_that_is_not_an_export_is_one_line(ctg: Ctg, tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.jsonl"
    bogus.write_text('{"hello": 1}\n')
    ctg.refused("audit", "verify", "--export", str(bogus), contains="not an audit export")
    cut = tmp_path / "cut.jsonl"
    ctg.ok("audit", "checkpoint", as_="c.dpo")
    ctg.ok("audit", "export", "--out", str(tmp_path / "whole.jsonl"))
    cut.write_text((tmp_path / "whole.jsonl").read_text()[:-40])
    ctg.refused("audit", "verify", "--export", str(cut), contains="a truncated export?")
    floats = tmp_path / "float.jsonl"
    lines = (tmp_path / "whole.jsonl").read_text().splitlines()
    last = json.loads(lines[-1])
    last["payload"]["extra"] = 1.5  # no event holds a float: the canonical encoding has none
    floats.write_text("\n".join([*lines[:-1], json.dumps(last)]) + "\n")
    ctg.refused("audit", "verify", "--export", str(floats), contains="a float, which no event")
    bad_note = tmp_path / "note.txt"
    bad_note.write_text("not a note\n")
    ctg.refused("audit", "verify", "--checkpoint", str(bad_note), contains="not a signed note")


@pytest.mark.parametrize("processes", [False, True], ids=["threads", "processes"])
def test_signature_workers_report_a_forged_signature(ctg: Ctg, processes: bool) -> None:
    """Large logs check signatures in worker processes, small ones in threads: same verdict."""
    from ctg_exchange.audit.verify import LogVerifier
    from ctg_exchange.services.workspace import Workspace

    # event 3's signature swapped for event 4's: same signer (v.admin), other bytes
    ctg.sql(
        "UPDATE audit_events SET signature = (SELECT signature FROM audit_events WHERE seq = 4) "
        "WHERE seq = 3",
        guards=False,
    )
    workspace = Workspace.open(ctg.workspace)
    try:
        with workspace.store.transaction() as tx:
            verifier = LogVerifier(workspace.id, workers=2, processes=processes)
            for stored in tx.events():
                verifier.feed(stored)
            result = verifier.finish()
    finally:
        workspace.store.close()
    assert [(f.seq, f.message) for f in result.failures] == [
        (3, "bad signature: signature does not match the signed bytes")
    ]
