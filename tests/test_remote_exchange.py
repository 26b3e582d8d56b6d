"""Packages on a hosted workspace (issue 14): the two parties, each from its own machine and
key directory, take a request through to a dataset sent and received; the package travels
encrypted both ways, and whatever does not hold changes nothing."""

from __future__ import annotations

import hashlib
import json
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from ctg_exchange.remote import httpsig

from conftest import REQUEST, Ctg
from served import (
    WORKSPACE_OF,
    Server,
    accepted_here,
    key,
    party_key_dirs,
    remote_dirs,
    serving,
    upload,
)

QF = "numero_allocataire,quotient_familial,mois_reference_qf\n"


def qf_csv(path: Path, rows: int = 3, header: str = QF) -> Path:
    path.write_text(header + "".join(f"{9000000 + i},{400 + i},2025-05\n" for i in range(rows)))
    return path


class Parties:
    """The town hall and the Caf: a remote workspace and a key directory each."""

    def __init__(self, ctg: Ctg, url: str, tmp_path: Path) -> None:
        self.ctg = ctg
        self.dirs = remote_dirs(ctg, url, tmp_path)
        self.keys = party_key_dirs(ctg, tmp_path)

    def run(self, party: str, *args: str, as_: str) -> Any:
        workspace, keys = str(self.dirs[party]), str(self.keys[party])
        return self.ctg("--workspace", workspace, "--key-dir", keys, *args, as_=as_)

    def __call__(self, party: str, *args: str, as_: str) -> Any:
        result = self.run(party, *args, "--json", as_=as_)
        assert result.exit_code == 0, (args, result.output)
        return json.loads(result.stdout)


def accepted_remotely(at: Parties, *extra: str, cap: int = 180) -> str:
    """Both parties' keys made, and a QF request (with ``extra`` options) up to accepted
    conditions, from afar, the DPO's adopted R1 capping its retention at ``cap`` days."""
    at("ville", "keys", "generate", "--party", "ville_sceaux", "--encryption", as_="v.admin")
    at("caf", "keys", "generate", "--party", "caf92", "--encryption", as_="c.admin")
    rid = str(at("ville", *REQUEST, *extra, as_="v.agent")["id"])
    at("caf", "study", "accept", rid, "--note", "Étude", as_="c.analyst")
    at("caf", "study", "submit", rid, as_="c.analyst")
    at("caf", "dpo", "opinion", rid, "--verdict", "favourable_with_recommendations",
       "--note", "Avis", "--recommend", f"max_retention_days:{cap}", as_="c.dpo")  # fmt: skip
    at("caf", "decide", "approve", rid, "--adopt", "R1", as_="c.controller")
    at(
        "ville",
        "conditions",
        "accept",
        rid,
        "--dpia-ref",
        "AIPD-1",
        "--information",
        "Lettre aux familles (test)",
        "--l311-mention",
        "Mention sur la facture (test)",
        as_="v.controller",
    )
    return rid


def sent_and_received(at: Parties, rid: str, tmp_path: Path, count: int) -> None:
    """``count`` deliveries of a small QF file, each sent by the Caf and received by the town
    hall into ``in1.csv``, ``in2.csv``… (all the same day: each after the first is early, and
    justified)"""
    for number in range(1, count + 1):
        early = ("--early", "--justification", f"Envoi n° {number} (test)") if number > 1 else ()
        at("caf", "exchange", "send", rid, "--dataset", str(qf_csv(tmp_path / f"qf{number}.csv")),
           *early, as_="c.agent")  # fmt: skip
        at("ville", "exchange", "receive", f"{rid}-{number}", "--out",
           str(tmp_path / f"in{number}.csv"), as_="v.agent")  # fmt: skip


@pytest.fixture
def parties(ctg: Ctg, served: Server, tmp_path: Path) -> Parties:
    return Parties(ctg, served.url, tmp_path)


@pytest.mark.slow
def test_a_dataset_goes_from_the_caf_to_the_town_hall_encrypted_end_to_end(
    ctg: Ctg, served: Server, parties: Parties, tmp_path: Path
) -> None:
    at = parties
    rid = accepted_remotely(at)
    dataset = qf_csv(tmp_path / "qf.csv")

    sent = at("caf", "exchange", "send", rid, "--dataset", str(dataset), as_="c.agent")
    kept = ctg.workspace / "packages" / f"{rid}-1.ctgx"
    received = at("ville", "exchange", "receive", f"{rid}-1", "--out", str(tmp_path / "in.csv"),
                  as_="v.agent")  # fmt: skip

    assert sent["package"] is None and sent["retention_deadline"] == "2025-11-29"
    assert (tmp_path / "in.csv").read_bytes() == dataset.read_bytes()
    assert b"9000000" not in kept.read_bytes()  # the server holds the package, encrypted
    assert (
        hashlib.sha256(kept.read_bytes()[512:][: sent["payload_size"]]).hexdigest()
        == (sent["payload_sha256"])
    )
    assert received["received_by"] == "v.agent"
    assert not list((ctg.workspace / "packages" / ".incoming").iterdir())
    assert ctg.show(rid)["status"] == "exchanged"
    assert [(line["route"], line["member"]) for line in served.log if "packages" in str(
        line["route"])] == [("/v1/packages", "c.agent"),
                            ("/v1/packages/{request_id}/{number:int}", "v.agent")]  # fmt: skip
    listed = at("caf", "exchange", "list", as_="c.dpo")
    assert listed[0]["received"]["received_by"] == "v.agent"
    verified = ctg("audit", "verify")
    assert verified.exit_code == 0, verified.output
    # each party verifies the log on its own machine, from its copy
    for party, member in (("ville", "v.dpo"), ("caf", "c.dpo")):
        assert at(party, "audit", "verify", as_=member)["events"] == ctg.json(
            "audit", "verify")["events"]  # fmt: skip
    register = tmp_path / "registre.json"
    at("ville", "register", "export", "--controller", "ville_sceaux", "--format", "json",
       "--out", str(register), as_="v.dpo")  # fmt: skip
    assert json.loads(register.read_text())["controller"]["id"] == "ville_sceaux"
    events = ctg.json("audit", "log", "--request", rid)
    assert {e["action"]: e["actor"] for e in events}["exchange.send"] == "c.agent"


def _nothing_kept(ctg: Ctg) -> bool:
    packages = ctg.workspace / "packages"
    return not packages.exists() or not [p for p in packages.rglob("*") if p.is_file()]


@pytest.mark.parametrize(
    ("body", "signed", "status", "message"),
    [
        (b"x" * 5000, None, 422, "not a valid tar archive"),
        (b"x" * 5000, b"y" * 5000, 401, "the body is not the one signed (Content-Digest)"),
    ],
    ids=["not a package", "not the body signed"],
)
def test_an_upload_that_does_not_hold_leaves_nothing(
    ctg: Ctg, served: Server, body: bytes, signed: bytes | None, status: int, message: str
) -> None:
    rid = accepted_here(ctg)
    before = ctg.tables()

    refused = upload(served.url, body, "c.agent", ctg, rid, signed)

    assert refused.status_code == status, refused.text
    assert message in refused.json()["error"]["message"]
    assert _nothing_kept(ctg)
    after = ctg.tables()
    after.pop("table:http_nonces"), before.pop("table:http_nonces")
    assert after == before


def test_a_package_over_the_ceiling_is_refused_before_it_is_read(ctg: Ctg, tmp_path: Path) -> None:
    with serving(ctg, max_package=4096) as server:
        refused = upload(server.url, b"x" * 5000, "c.agent", ctg, "DX-2025-0001")
        assert refused.status_code == 413
        assert refused.json()["error"]["message"] == "a package is at most 4 KiB here"
        assert _nothing_kept(ctg)


def test_an_upload_cut_off_leaves_nothing_visible(ctg: Ctg, served: Server) -> None:
    """The connection drops halfway through a package: nothing of it is kept."""
    body = b"x" * (1 << 20)
    headers = {"Content-Type": "application/octet-stream", "Content-Length": str(len(body)),
               "Ctg-Request": accepted_here(ctg)}  # fmt: skip
    url = served.url + "/v1/packages"
    signed = httpsig.sign(
        httpsig.Message("POST", url, headers), b"", "c.agent", key(ctg, "c.agent"),
        workspace=WORKSPACE_OF[served.url], streamed=hashlib.sha256(body).digest(),
    )  # fmt: skip
    parts = urlsplit(served.url)
    head = "".join(f"{name}: {value}\r\n" for name, value in signed.items())
    with socket.create_connection((parts.hostname, parts.port)) as raw:
        raw.sendall(f"POST /v1/packages HTTP/1.1\r\nHost: {parts.netloc}\r\n{head}\r\n".encode())
        raw.sendall(body[: len(body) // 2])
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not any(
        line["route"] == "/v1/packages" for line in served.log
    ):
        time.sleep(0.02)

    assert [line["status"] for line in served.log if line["route"] == "/v1/packages"]
    assert _nothing_kept(ctg)


@pytest.mark.slow
def test_the_other_party_witnesses_the_log_and_keeps_a_copy_that_works_offline(
    ctg: Ctg, tmp_path: Path
) -> None:
    """The town hall hosts; the Caf copies the log, verifies it on its own machine, cosigns
    the latest checkpoint; with the server down its DPO verifies the copy and exports the
    register from it; a change on the copy is refused."""
    with serving(ctg) as server:
        at = Parties(ctg, server.url, tmp_path)
        rid = accepted_remotely(at)
        dataset = qf_csv(tmp_path / "qf.csv")
        at("caf", "exchange", "send", rid, "--dataset", str(dataset), as_="c.agent")
        at("ville", "exchange", "receive", f"{rid}-1", "--out", str(tmp_path / "in.csv"),
           as_="v.agent")  # fmt: skip

        witnessed = at("caf", "witness", "pull", as_="c.dpo")
        again = at("caf", "witness", "pull", as_="c.dpo")

        events = ctg.json("audit", "verify")["events"]
        assert (witnessed["events"], witnessed["verified"]) == (events, events)
        assert witnessed["cosigned"] is True and witnessed["checkpoint"] == events
        assert (again["new_events"], again["cosigned"]) == (0, False)
        latest = ctg.json("audit", "checkpoints")[-1]
        assert ("c.dpo", True) in [(s["member"], s["cosign"]) for s in latest["signers"]]

    copy = str(at.dirs["caf"] / "copy")
    verified = ctg.json("--workspace", copy, "audit", "verify")
    assert verified["events"] == events and verified["ok"] is True
    out = tmp_path / "registre.csv"
    ctg.ok("--workspace", copy, "register", "export", "--controller", "caf92", "--format", "csv",
           "--out", str(out))  # fmt: skip
    assert out.read_bytes().startswith(b"\xef\xbb\xbf")
    ctg.refused("--workspace", copy, *REQUEST, as_="v.agent", contains="is this party's copy")

    bundle = tmp_path / "controle-cnil"
    made = ctg.json("--workspace", copy, "--key-dir", str(at.keys["caf"]), "register",
                    "export", "--audit-bundle", str(bundle), as_="c.dpo")  # fmt: skip
    assert "copie du journal propre à caf92, servi à http://127.0.0.1:" in made["audit_log"]
    sums = subprocess.run(["sha256sum", "--quiet", "-c", "SHA256SUMS"], cwd=bundle, check=False)
    offline = subprocess.run(
        [sys.executable, "journal/verify_audit_export.py", "journal/export.jsonl",
         "--allowed-signers", "journal/allowed_signers"],
        cwd=bundle, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert sums.returncode == 0 and offline.returncode == 0, offline.stdout
    assert ctg.json("--workspace", copy, "audit", "verify")["events"] == events  # not recorded


def _cosignatures(ctg: Ctg) -> int:
    db = ctg.connect()
    try:
        return int(db.execute("SELECT COUNT(*) FROM checkpoint_signatures").fetchone()[0])
    finally:
        db.close()


def _witnessed(ctg: Ctg, at: Parties) -> str:
    """A request filed, annotated twice, checkpointed; the Caf's first witness pull."""
    rid = str(at("ville", *REQUEST, as_="v.agent")["id"])
    for note in ("Première note", "Seconde note"):
        at("caf", "dpo", "annotate", rid, "--note", note, as_="c.dpo")
    ctg.ok("audit", "checkpoint", as_="v.dpo")
    assert at("caf", "witness", "pull", as_="c.dpo")["cosigned"] is True
    return rid


def _refused_pull(ctg: Ctg, at: Parties, reason: str) -> str:
    """A witness pull that must exit 3, cosign nothing and keep its evidence; its line."""
    cosigned, copied = _cosignatures(ctg), (at.dirs["caf"] / "copy" / "ctg.sqlite3").read_bytes()
    refused = at.run("caf", "witness", "pull", as_="c.dpo")
    assert refused.exit_code == 3, refused.output
    (line,) = [x for x in refused.stderr.splitlines() if x.startswith("ctg-exchange: error:")]
    kept = list((at.dirs["caf"] / "copy" / "evidence").glob(f"*-{reason}"))
    assert len(kept) == 1, list((at.dirs["caf"] / "copy" / "evidence").iterdir())
    assert _cosignatures(ctg) == cosigned
    assert (at.dirs["caf"] / "copy" / "ctg.sqlite3").read_bytes() == copied
    return str(line)


def test_an_old_event_rewritten_on_the_server_stops_the_witness(ctg: Ctg, parties: Parties) -> None:
    at = parties
    rid = _witnessed(ctg, at)
    ctg.sql("UPDATE audit_events SET subject = 'DX-2025-9999' WHERE seq = 3", guards=False)
    at("caf", "dpo", "annotate", rid, "--note", "Troisième note", as_="c.dpo")

    line = _refused_pull(ctg, at, "rewritten")

    assert "the server's event #3 is not the one copied: it was changed" in line
    kept = next((at.dirs["caf"] / "copy" / "evidence").glob("*-rewritten"))
    held = json.loads((kept / "held-event.json").read_text())
    served = json.loads((kept / "served-event.json").read_text())
    assert (held["seq"], served["seq"]) == (3, 3) and served["subject"] == "DX-2025-9999"


def test_a_tail_dropped_and_regrown_on_the_server_stops_the_witness(
    ctg: Ctg, parties: Parties
) -> None:
    at = parties
    rid = _witnessed(ctg, at)
    size = ctg.json("audit", "verify")["events"]
    keep = size - 2  # the two notes go, and the checkpoint of them
    ctg.sql(
        f"DELETE FROM request_steps WHERE seq > {keep}",
        f"DELETE FROM checkpoint_signatures WHERE checkpoint_id IN "
        f"(SELECT id FROM checkpoints WHERE tree_size > {keep})",
        f"DELETE FROM checkpoints WHERE tree_size > {keep}",
        *(
            f"DELETE FROM audit_tree WHERE level = {n} AND (idx + 1) * {2**n} > {keep}"
            for n in range(8)
        ),  # every node over a leaf dropped
        f"DELETE FROM audit_events WHERE seq > {keep}",
        guards=False,
    )
    db = ctg.connect()  # and the request as it was before the notes: a careful rewrite
    doc = json.loads(db.execute("SELECT doc FROM requests WHERE id = ?", (rid,)).fetchone()[0])
    db.close()
    ctg.sql("UPDATE requests SET doc = ? WHERE id = ?",
            params=(json.dumps({**doc, "annotations": []}), rid))  # fmt: skip
    for note in ("Autre note 1", "Autre note 2", "Autre note 3", "Autre note 4"):
        at("ville", "dpo", "annotate", rid, "--note", note, as_="v.dpo")  # the host's own side

    line = _refused_pull(ctg, at, "rewritten")

    assert f"the server's event #{keep + 1} is not the one copied" in line


def test_a_checkpoint_that_does_not_extend_the_cosigned_one_is_evidence(
    ctg: Ctg, parties: Parties, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A hostile server (patched in this process) shows the witness a latest checkpoint of
    another history than the one it cosigned: the consistency proof fails, nothing is
    cosigned, and both checkpoints are kept."""
    from ctg_exchange.audit.checkpoint import note_text, origin_of, parse_note
    from ctg_exchange.remote import routes

    at = parties
    rid = _witnessed(ctg, at)
    at("caf", "dpo", "annotate", rid, "--note", "Troisième note", as_="c.dpo")
    ctg.ok("audit", "checkpoint", as_="v.dpo")
    honest = routes._latest

    def forked(tx: Any, since: int | None) -> dict[str, Any] | None:
        answer = honest(tx, since)
        assert answer is not None
        real = parse_note(answer["note"])
        text = note_text(origin_of(real.origin.split("/", 1)[1]), real.size, bytes(32))
        return {**answer, "note": real.note(["\u2014 v.dpo AAAAAAAA\n"]).replace(real.text, text)}

    monkeypatch.setattr(routes, "_latest", forked)
    line = _refused_pull(ctg, at, "split-view")

    assert "does not extend the one this party cosigned" in line
    kept = next((at.dirs["caf"] / "copy" / "evidence").glob("*-split-view"))
    assert {p.name for p in kept.iterdir()} == {
        "cosigned-checkpoint.txt", "served-checkpoint.txt", "consistency-proof.json"
    }  # fmt: skip


@pytest.mark.slow
def test_a_delivery_sooner_than_its_frequency_allows_from_afar(
    ctg: Ctg, parties: Parties, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sender's machine refuses it from its copy of the log, and so does the server, if a
    client does not; sent early, the justification travels with the signed call."""
    from ctg_exchange.services import send

    at, reasons = parties, "Rectification des QF de mai (test)"
    rid = accepted_remotely(at)
    at("caf", "exchange", "send", rid, "--dataset", str(qf_csv(tmp_path / "qf1.csv")),
       as_="c.agent")  # fmt: skip
    again = ("exchange", "send", rid, "--dataset", str(qf_csv(tmp_path / "qf2.csv")))
    events = len(ctg.json("audit", "log"))

    refused = at.run("caf", *again, as_="c.agent")
    with monkeypatch.context() as untimed:  # a client that does not time its deliveries
        untimed.setattr(send, "check_frequency", lambda *args: None)
        refused_by_server = at.run("caf", *again, as_="c.agent")
    sent = at("caf", *again, "--early", "--justification", reasons, as_="c.agent")

    for result in (refused, refused_by_server):
        assert result.exit_code == 1, result.output
        assert f"its last delivery ({rid}-1) was on 2025-06-02: the next is allowed from " \
               "2025-07-02" in result.stderr  # fmt: skip
    assert (sent["number"], sent["early"], sent["justification"]) == (2, True, reasons)
    log = ctg.json("audit", "log")
    assert [e["action"] for e in log[events:]] == ["exchange.send"]
    assert log[-1]["payload"]["early"] is True
    assert log[-1]["payload"]["text_sha256"] == hashlib.sha256(reasons.encode()).hexdigest()
    shown = at("ville", "request", "show", rid, as_="v.agent")
    assert shown["deliveries"][1]["justification"] == reasons
    assert ctg.json("audit", "verify")["ok"] is True


@pytest.mark.slow
def test_a_french_spreadsheets_file_goes_across_in_its_dialect_or_the_one_asked_for(
    ctg: Ctg, parties: Parties, tmp_path: Path
) -> None:
    at = parties
    rid = accepted_remotely(at)
    french = "numero_allocataire;quotient_familial;mois_reference_qf\r\n9000001;512;février\r\n"
    dataset = tmp_path / "qf.csv"
    dataset.write_bytes(b"\xef\xbb\xbf" + french.encode())

    sent = at("caf", "exchange", "send", rid, "--dataset", str(dataset), as_="c.agent")
    at("ville", "exchange", "receive", f"{rid}-1", "--out", str(tmp_path / "in.csv"),
       as_="v.agent")  # fmt: skip
    at("caf", "exchange", "send", rid, "--dataset", str(dataset), "--early", "--justification",
       "Second envoi (test)", as_="c.agent")  # fmt: skip
    at("ville", "exchange", "receive", f"{rid}-2", "--out", str(tmp_path / "in2.csv"),
       "--dialect", "csv", as_="v.agent")  # fmt: skip

    assert sent["manifest"]["dialect"] == {
        "delimiter": ";", "encoding": "utf-8", "bom": True, "line_ending": "crlf"
    }  # fmt: skip
    assert (tmp_path / "in.csv").read_bytes() == dataset.read_bytes()
    assert (tmp_path / "in2.csv").read_text(encoding="utf-8") == (
        "numero_allocataire,quotient_familial,mois_reference_qf\n9000001,512,février\n"
    )
    verified = ctg("audit", "verify")
    assert verified.exit_code == 0, verified.output
