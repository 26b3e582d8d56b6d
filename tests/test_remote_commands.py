"""The rest of the command line on a hosted workspace (issue 14): the register, the avenant,
checkpoints, exports and retention run from each party's own machine and key directory, as on
a local workspace; a member holding the log's tail without committing stops holding it."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import REQUEST, SHIPPED_POLICY, Ctg
from served import Server
from test_remote_exchange import Parties, accepted_remotely, qf_csv, sent_and_received

REGISTRY = Path(__file__).resolve().parents[1] / "registry"


@pytest.fixture
def parties(ctg: Ctg, served: Server, tmp_path: Path) -> Parties:
    return Parties(ctg, served.url, tmp_path)


def test_the_register_is_kept_from_afar(ctg: Ctg, parties: Parties, tmp_path: Path) -> None:
    at = parties
    imported = at("caf", "register", "import", str(REGISTRY), as_="c.dpo")
    again = at("caf", "register", "import", str(REGISTRY), as_="c.dpo")
    source = (REGISTRY / "caf92" / "CAF92-BONUS.yaml").read_text()
    unchanged, edited = tmp_path / "same.yaml", tmp_path / "edited.yaml"
    unchanged.write_text(source + "\n# relue\n")
    edited.write_text(source.replace("puis 10 ans", "puis 6 ans", 1))
    refused = at.run("caf", "register", "edit", "--from-file", str(unchanged), "--reason", "Revue",
                     as_="c.dpo")  # fmt: skip
    at("caf", "register", "edit", "--from-file", str(edited), "--reason", "Durée revue",
       as_="c.dpo")  # fmt: skip

    assert {"CAF92-BONUS", "CAF92-STATS"} <= set(imported["added"]) and not imported["updated"]
    assert "VS-EAJE" in imported["skipped"]  # the town hall's own fiches: its DPO imports them
    assert set(again["unchanged"]) == set(imported["added"])
    assert refused.exit_code == 1 and "CAF92-BONUS: nothing changed" in refused.stderr
    history = at("ville", "register", "history", "CAF92-BONUS", as_="v.dpo")
    assert [(v["version"], v["changed_by"], v["reason"]) for v in history][-1] == (
        2, "c.dpo", "Durée revue"
    )  # fmt: skip
    # checked on the Caf's own copy: its fiches are complete but for the example DPO contact
    checked = at.run("caf", "register", "check", "--controller", "caf92", "--json", as_="c.dpo")
    assert checked.exit_code == 1
    assert [(f["subject"], f["code"]) for f in json.loads(checked.stdout)["findings"]] == [
        ("caf92", "PLACEHOLDER_CONTACT")
    ]
    verified = ctg("audit", "verify")
    assert verified.exit_code == 0, verified.output


def test_an_avenant_is_proposed_and_countersigned_from_afar(
    ctg: Ctg, parties: Parties, tmp_path: Path
) -> None:
    at = parties
    avenant = tmp_path / "avenant-1.yaml"
    avenant.write_text(
        SHIPPED_POLICY.read_text().replace("opinion_deadline_days: 30", "opinion_deadline_days: 20")
    )
    proposed = at("caf", "convention", "amend", "--policy", str(avenant), "--reference",
                  "Avenant n° 1", as_="c.admin")  # fmt: skip
    seq = str(proposed["change"]["seq"])
    agreed = at("ville", "convention", "countersign", seq, "--reference", "Délibération",
                as_="v.admin")  # fmt: skip

    assert proposed["change"]["status"] == "pending"
    assert agreed["change"]["status"] == "in_effect" and agreed["policy_version"] == 2
    assert ctg.show(ctg.file_request())["policy_version"] == 2


def test_a_termination_and_a_successor_convention_from_afar(ctg: Ctg, parties: Parties) -> None:
    """The Caf terminates at once (a modification without an avenant, Article 12); the town
    hall proposes the convention that follows, the Caf countersigns it: each from its own
    machine, through the same signed calls."""
    at = parties
    rid = str(at("ville", *REQUEST, as_="v.agent")["id"])
    refused = at.run("ville", "convention", "terminate", "--case", "modification_without_avenant",
                     "--on", "2025-06-02", "--reason", "Test", as_="v.admin")  # fmt: skip
    ended = at("caf", "convention", "terminate", "--case", "modification_without_avenant",
               "--on", "2025-06-02", "--reason", "Sans avenant", as_="c.admin")  # fmt: skip
    proposed = at("ville", "convention", "successor", "--start", "2025-06-02", "--end",
                  "2029-12-31", "--reference", "CTG 2025-2029", "--deliberation",
                  "Délibération du conseil municipal", as_="v.admin")  # fmt: skip
    seq = str(proposed["change"]["seq"])
    agreed = at("caf", "convention", "countersign", seq, "--reference", "Décision du CA",
                as_="c.admin")  # fmt: skip

    assert refused.exit_code == 1 and "TERMINATION_CAF_ONLY" in refused.stderr
    assert (ended["status"], ended["lapsed"]) == ("terminated", [rid])
    assert proposed["change"]["status"] == "pending"
    assert (agreed["status"], agreed["start"], agreed["end"]) == (
        "in_force", "2025-06-02", "2029-12-31"
    )  # fmt: skip
    assert ctg.show(rid)["status"] == "lapsed"
    assert ctg.show(ctg.file_request())["status"] == "filed"
    assert ctg.json("audit", "verify")["ok"] is True


def test_checkpoints_and_exports_are_signed_from_the_members_copy(
    ctg: Ctg, parties: Parties, tmp_path: Path
) -> None:
    at = parties
    rid = str(at("ville", *REQUEST, as_="v.agent")["id"])
    made = at("ville", "audit", "checkpoint", as_="v.dpo")
    cosigned = at("caf", "audit", "cosign", as_="c.dpo")
    journal = tmp_path / "dx.jsonl"
    at("caf", "audit", "export", "--request", rid, "--out", str(journal), as_="c.dpo")
    bundle = tmp_path / "cnil"
    at("caf", "register", "export", "--audit-bundle", str(bundle), as_="c.dpo")

    assert made["tree_size"] == ctg.json("audit", "verify")["events"]
    assert [s["member"] for s in made["signers"]] == ["v.dpo"]
    assert [(s["member"], s["cosign"]) for s in cosigned["signers"]] == [
        ("v.dpo", False), ("c.dpo", True)
    ]  # fmt: skip
    offline = subprocess.run(
        [sys.executable, "docs/verify_audit_export.py", str(journal)],
        cwd=Path(__file__).resolve().parents[1], capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert offline.returncode == 0, offline.stdout
    assert (bundle / "SHA256SUMS.sig").is_file()
    assert ctg("audit", "verify").exit_code == 0


@pytest.mark.slow
def test_received_files_are_deleted_here_and_recorded_there(
    ctg: Ctg, parties: Parties, tmp_path: Path
) -> None:
    at = parties
    rid = accepted_remotely(at)
    sent_and_received(at, rid, tmp_path, 2)
    (tmp_path / "in2.csv").unlink()  # deleted by hand
    later = {"CTG_TODAY": "2026-01-01"}  # past the 180 days of R1
    workspace, keys = str(at.dirs["ville"]), str(at.keys["ville"])
    base = ("--workspace", workspace, "--key-dir", keys)
    held = ctg(*base, "retention", "attest", f"{rid}-1", "--note", "x", as_="v.agent", env=later)
    purged = ctg(*base, "retention", "purge", "--json", as_="v.agent", env=later)
    attested = ctg(*base, "retention", "attest", f"{rid}-2", "--note", "Supprimé à la main",
                   as_="v.agent", env=later)  # fmt: skip

    assert held.exit_code == 1 and "in1.csv still exists" in held.stderr
    assert purged.exit_code == 0, purged.output
    assert [d["number"] for d in json.loads(purged.stdout)["deleted"]] == [1]
    assert not (tmp_path / "in1.csv").exists()
    assert attested.exit_code == 0, attested.output
    destroyed = [e for e in ctg.json("audit", "log") if e["action"] == "retention.destroy"]
    assert [(e["actor"], e["payload"]["method"]) for e in destroyed] == [
        ("v.agent", "purge"), ("v.agent", "attest")
    ]  # fmt: skip
    assert ctg("audit", "verify", env=later).exit_code == 0


@pytest.mark.slow
def test_archived_files_are_eliminated_from_afar_with_the_archives_approval(
    ctg: Ctg, parties: Parties, tmp_path: Path
) -> None:
    """The approval travels with the signed call; the host's log binds its digest."""
    at = parties
    # R1 caps it at 2100 days: a year of use, then some five years archived
    rid = accepted_remotely(at, "--archive-days", "1825", cap=2100)
    sent_and_received(at, rid, tmp_path, 1)
    later = {"CTG_TODAY": "2031-12-01"}  # past a year of use and five years archived
    workspace, keys = str(at.dirs["ville"]), str(at.keys["ville"])
    base = ("--workspace", workspace, "--key-dir", keys)
    refused = ctg(*base, "retention", "purge", as_="v.agent", env=later)
    assert refused.exit_code == 1 and "ARCHIVES_APPROVAL_REQUIRED" in refused.stderr
    assert (tmp_path / "in1.csv").exists()

    purged = ctg(*base, "retention", "purge", "--archives-approval", "Visa AD92 n° FICTIF-1",
                 "--json", as_="v.agent", env=later)  # fmt: skip

    assert purged.exit_code == 0, purged.output
    assert not (tmp_path / "in1.csv").exists()
    destroyed = [e for e in ctg.json("audit", "log") if e["action"] == "retention.destroy"]
    assert len(destroyed[0]["payload"]["archives_approval_sha256"]) == 64
    assert ctg("audit", "verify", env=later).exit_code == 0


def test_a_package_goes_only_to_the_requesting_partys_staff(
    ctg: Ctg, parties: Parties, tmp_path: Path
) -> None:
    at = parties
    rid = accepted_remotely(at)
    at("caf", "exchange", "send", rid, "--dataset", str(qf_csv(tmp_path / "qf.csv")),
       as_="c.agent")  # fmt: skip
    before = ctg.tables()
    for party, member in (("caf", "c.agent"), ("ville", "v.controller")):
        refused = at.run(party, "exchange", "receive", f"{rid}-1", "--out",
                         str(tmp_path / "x.csv"), as_=member)  # fmt: skip
        assert refused.exit_code == 1, refused.output
        assert "only the requesting party's staff (ville_sceaux)" in refused.stderr
    after = ctg.tables()
    after.pop("table:http_nonces"), before.pop("table:http_nonces")
    assert after == before and not (tmp_path / "x.csv").exists()


def test_a_member_who_never_commits_stops_holding_the_tail(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Pure logic: the tail held past its lease by a member who walked away; that member's
    next prepares hold nothing, so nobody waits for them again."""
    from ctg_exchange.remote import workers

    monkeypatch.setattr(workers, "LEASE", 0.2)

    async def scenario() -> tuple[str, float, float]:
        tail = workers.Tail()
        await tail.acquire("v.agent")  # prepared, never committed
        started = time.monotonic()
        other = await tail.acquire("c.agent")  # waits out the lease once
        waited = time.monotonic() - started
        tail.release(other)
        again = await tail.acquire("v.agent")  # holds nothing now
        started = time.monotonic()
        tail.release(await tail.acquire("c.agent"))
        return again, waited, time.monotonic() - started

    again, waited, then = asyncio.run(scenario())

    assert again == ""
    assert waited >= 0.15 and then < 0.1
