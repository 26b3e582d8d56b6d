"""A hostile host (issue 14, the red team's findings): whatever the server or its database
serves, a member's client decides from its own verified copy of the log, signs only what it
built, and the other party's witness cosigns nothing it did not verify. Each case exits with
its one line and changes nothing it should not. A hostile server is played by writing its
database behind its back, or by patching, in this process, code only the server runs."""

from __future__ import annotations

import base64
import io
import json
import tarfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from conftest import REQUEST, Ctg
from served import Server, accepted_here, upload
from test_remote_exchange import Parties, accepted_remotely, qf_csv, sent_and_received


@pytest.fixture
def parties(ctg: Ctg, served: Server, tmp_path: Path) -> Parties:
    return Parties(ctg, served.url, tmp_path)


def _refused(at: Parties, party: str, *args: str, as_: str, code: int = 3) -> str:
    result = at.run(party, *args, as_=as_)
    assert result.exit_code == code, result.output
    (line,) = [x for x in result.stderr.splitlines() if x.startswith("ctg-exchange: error:")]
    return str(line)


def _send(rid: str, tmp_path: Path) -> tuple[str, ...]:
    return ("exchange", "send", rid, "--dataset", str(qf_csv(tmp_path / "q.csv")))


def _nothing_sent(ctg: Ctg, rid: str) -> bool:
    return not [e for e in ctg.json("audit", "log", "--request", rid) if "exchange." in e["action"]]


def test_an_extra_recipient_the_host_claims_gets_nothing_encrypted(
    ctg: Ctg, parties: Parties, tmp_path: Path
) -> None:
    """The host lists a key of its own among the town hall's: the sender's copy does not
    verify, and nothing is encrypted or sent (finding Q)."""
    from ctg_exchange.crypto.age import Identity

    at = parties
    rid = accepted_remotely(at)
    seq = ctg.json("audit", "verify")["events"]
    ctg.sql(
        "INSERT INTO party_recipients (recipient, party, added_seq) VALUES (?, 'ville_sceaux', ?)",
        params=(str(Identity.generate().recipient), seq),
    )

    line = _refused(at, "caf", *_send(rid, tmp_path), as_="c.agent")

    assert "recipient age1" in line and "in the store but not in the log" in line
    assert _nothing_sent(ctg, rid)
    assert not (ctg.workspace / "packages").exists()


def test_the_sender_signs_no_event_misstating_its_package(
    ctg: Ctg, parties: Parties, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server prepares an exchange.send event saying fewer rows and columns, another
    deadline and hash than the manifest the sender signed: it signs nothing (finding B)."""
    from ctg_exchange.services import delivery

    at = parties
    rid = accepted_remotely(at)
    honest = delivery.delivery_of

    def understated(*args: Any) -> Any:  # only the server calls it
        made = honest(*args)
        return made.model_copy(update={"rows": 1, "columns": made.columns[1:],
                                       "retention_deadline": made.retention_deadline
                                       - timedelta(days=170)})  # fmt: skip

    monkeypatch.setattr(delivery, "delivery_of", understated)
    line = _refused(at, "caf", *_send(rid, tmp_path), as_="c.agent", code=1)

    assert "refused to sign: the event's rows is not what you asked" in line
    assert _nothing_sent(ctg, rid)


def test_a_package_forged_by_the_host_is_not_opened(
    ctg: Ctg, parties: Parties, tmp_path: Path
) -> None:
    """The host swaps the sender's key, records a delivery nobody sent and serves a package it
    made: the receiver checks it against its own verified copy and decrypts nothing
    (finding C)."""
    at = parties
    rid = accepted_remotely(at)
    at("caf", "exchange", "send", rid, "--dataset", str(qf_csv(tmp_path / "q.csv")),
       as_="c.agent")  # fmt: skip
    forged = tmp_path / "forged.csv"
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from ctg_exchange.crypto.publickey import PublicKey

    hosts = PublicKey(Ed25519PrivateKey.generate().public_key().public_bytes_raw())
    ctg.sql("UPDATE members SET public_key = ?, fingerprint = ? WHERE id = 'c.agent'",
            params=(hosts.openssh, hosts.fingerprint))  # fmt: skip

    line = _refused(at, "ville", "exchange", "receive", f"{rid}-1", "--out", str(forged),
                    as_="v.agent")  # fmt: skip

    assert "member c.agent: public_key is" in line and "in the copy of the served log" in line
    assert not forged.exists()
    assert not [e for e in ctg.json("audit", "log") if e["action"] == "exchange.receive"]


def test_a_date_rewritten_on_the_host_does_not_reach_the_register(
    ctg: Ctg, parties: Parties, tmp_path: Path
) -> None:
    """The DPO's opinion redated in the host's database: the next copy of that request does
    not verify, and no export is written from it (findings D and R)."""
    at = parties
    rid = accepted_remotely(at)
    db = ctg.connect()
    doc = json.loads(db.execute("SELECT doc FROM requests WHERE id = ?", (rid,)).fetchone()[0])
    db.close()
    doc["opinion"]["on"] = "2024-01-01"
    ctg.sql("UPDATE requests SET doc = ? WHERE id = ?", params=(json.dumps(doc), rid))
    out = tmp_path / "registre.csv"

    noted = _refused(at, "caf", "dpo", "annotate", rid, "--note", "Note", as_="c.dpo")
    line = _refused(at, "ville", "register", "export", "--controller", "ville_sceaux", "--format",
                    "csv", "--out", str(out), as_="v.dpo")  # fmt: skip

    for said in (noted, line):
        assert f"request {rid}: opinion.on is '2024-01-01' in the store; the log says" in said
    assert not out.exists()


def test_a_cosignature_line_in_the_witness_name_is_not_taken_for_its_own(
    ctg: Ctg, parties: Parties
) -> None:
    """The host keeps, beside the latest checkpoint, a line in c.dpo's name that no key made:
    the witness's copy does not verify, and nothing is cosigned (finding E)."""
    at = parties
    str(at("ville", *REQUEST, as_="v.agent")["id"])
    ctg.ok("audit", "checkpoint", as_="v.dpo")
    fake = "\u2014 c.dpo " + base64.b64encode(bytes(4) + b"\x01" * 80).decode() + "\n"
    ctg.sql(
        "INSERT INTO checkpoint_signatures (checkpoint_id, signer, party, role, signed_at, "
        "cosign, line) SELECT MAX(id), 'c.dpo', 'caf92', 'dpo', '2025-06-02T10:00:00.000000Z', "
        "1, ? FROM checkpoints",
        params=(fake,),
        guards=False,
    )

    line = _refused(at, "caf", "witness", "pull", as_="c.dpo")

    assert "the signature kept for c.dpo (caf92) is not theirs" in line


def test_checkpoints_withdrawn_after_a_cosignature_are_evidence(ctg: Ctg, parties: Parties) -> None:
    at = parties
    rid = str(at("ville", *REQUEST, as_="v.agent")["id"])
    ctg.ok("audit", "checkpoint", as_="v.dpo")
    assert at("caf", "witness", "pull", as_="c.dpo")["cosigned"] is True
    at("caf", "dpo", "annotate", rid, "--note", "Note", as_="c.dpo")
    ctg.sql("DELETE FROM checkpoint_signatures", "DELETE FROM checkpoints", guards=False)

    line = _refused(at, "caf", "witness", "pull", as_="c.dpo")

    assert "the server no longer shows any checkpoint, though this party cosigned one" in line
    assert list((at.dirs["caf"] / "copy" / "evidence").glob("*-withdrawn"))


def _pseudonymised(at: Parties) -> str:
    """A request whose adopted condition pseudonymises the allocataire number, accepted."""
    rid = str(at("ville", *REQUEST, as_="v.agent")["id"])
    at("caf", "study", "accept", rid, "--note", "Étude", as_="c.analyst")
    at("caf", "study", "submit", rid, as_="c.analyst")
    at("caf", "dpo", "opinion", rid, "--verdict", "favourable_with_recommendations", "--note",
       "Avis", "--recommend", "pseudonymise:numero_allocataire", as_="c.dpo")  # fmt: skip
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


def test_a_pseudonymisation_key_planted_by_the_host_is_not_used(
    ctg: Ctg, parties: Parties, tmp_path: Path
) -> None:
    """The town hall, hosting, seals a key of its own to the Caf's keys before the first
    delivery: the Caf's client refuses a key no delivery binds (finding P)."""
    from ctg_exchange.crypto.age import Recipient
    from ctg_exchange.crypto.agestream import encrypt_bytes

    at = parties
    at("ville", "keys", "generate", "--party", "ville_sceaux", "--encryption", as_="v.admin")
    caf = at("caf", "keys", "generate", "--party", "caf92", "--encryption", as_="c.admin")
    rid = _pseudonymised(at)
    planted = encrypt_bytes(b"k" * 32, [Recipient.parse(caf["recipient"])]).hex()
    seq = ctg.json("audit", "verify")["events"]
    ctg.sql("INSERT INTO pseudonym_keys (request_id, sealed, seq) VALUES (?, ?, ?)",
            params=(rid, planted, seq))  # fmt: skip

    line = _refused(at, "caf", *_send(rid, tmp_path), as_="c.agent")

    assert f"the pseudonymisation key kept for {rid} is bound to no delivery in the log" in line
    assert _nothing_sent(ctg, rid)


@pytest.mark.slow
def test_a_pseudonymised_exchange_binds_its_key(ctg: Ctg, parties: Parties, tmp_path: Path) -> None:
    """Honest: the first delivery keeps the key and its event binds it; the next reuses it."""
    at = parties
    at("ville", "keys", "generate", "--party", "ville_sceaux", "--encryption", as_="v.admin")
    at("caf", "keys", "generate", "--party", "caf92", "--encryption", as_="c.admin")
    rid = _pseudonymised(at)
    sent_and_received(at, rid, tmp_path, 2)
    sends = [
        e for e in ctg.json("audit", "log", "--request", rid) if e["action"] == "exchange.send"
    ]
    first, second = (tmp_path / "in1.csv").read_text(), (tmp_path / "in2.csv").read_text()

    bound = {e["payload"]["sealed_key_sha256"] for e in sends}
    assert len(bound) == 1 and None not in bound
    assert first == second and "9000000" not in first  # the same pseudonyms, no identifier
    assert at("caf", "audit", "verify", as_="c.dpo")["ok"] is True


def _pax_first() -> bytes:
    """A tar whose first header is a pax extension (a reader holds its data whole)."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as archive:
        info = tarfile.TarInfo("payload.age")
        info.pax_headers = {"comment": "x" * 100_000}
        info.size = 4
        archive.addfile(info, io.BytesIO(b"data"))
    return out.getvalue()


def test_uploads_are_for_staff_with_a_delivery_to_make(ctg: Ctg, served: Server) -> None:
    """A DPO stages nothing; a tar with an extension header is refused without reading it
    whole; a member may keep two uploads waiting (findings M, N, A)."""
    from ctg_exchange.exchange.kept import Kept

    rid = accepted_here(ctg)
    not_staff = upload(served.url, b"x" * 4096, "v.dpo", ctg, rid)
    not_theirs = upload(served.url, b"x" * 4096, "v.agent", ctg, rid)
    pax = upload(served.url, _pax_first(), "c.agent", ctg, rid)
    kept = Kept(ctg.workspace)
    for _ in range(2):
        token, part = kept.new_part()
        (kept.incoming / f"{token}.json").write_text(json.dumps({"member": "c.both"}))
    over = upload(served.url, b"x" * 4096, "c.both", ctg, rid)

    assert (not_staff.status_code, not_staff.json()["error"]["message"]) == (
        403, "v.dpo is not staff: staff send packages"
    )  # fmt: skip
    assert not_theirs.status_code == 403  # the town hall's staff send nothing to the town hall
    assert pax.status_code == 422 and "unexpected member" in pax.json()["error"]["message"]
    assert over.status_code == 429
    assert sorted(p.suffix for p in kept.incoming.iterdir()) == [".json", ".json", ".part", ".part"]


def test_a_package_is_no_longer_served_once_its_retention_ended(
    ctg: Ctg, parties: Parties, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past the retention deadline a package is neither served nor kept (finding K)."""
    at = parties
    rid = accepted_remotely(at)
    at("caf", "exchange", "send", rid, "--dataset", str(qf_csv(tmp_path / "q.csv")),
       as_="c.agent")  # fmt: skip
    kept = ctg.workspace / "packages" / f"{rid}-1.ctgx"
    assert kept.is_file()
    monkeypatch.setenv("CTG_TODAY", "2027-01-01")  # the server's simulated day, past 180 days

    line = _refused(at, "ville", "exchange", "receive", f"{rid}-1", "--out",
                    str(tmp_path / "late.csv"), as_="v.agent", code=1)  # fmt: skip

    assert "RETENTION_ENDED" in line or "was to be deleted by" in line
    assert not kept.exists() and not (tmp_path / "late.csv").exists()


def test_a_malformed_answer_is_an_integrity_failure(
    ctg: Ctg, parties: Parties, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A number no database holds, in the rows served: exit 3, nothing copied (finding G)."""
    from ctg_exchange.store import mirror

    at = parties
    honest = mirror.stated_rows

    def huge(tx: Any, after: int) -> Any:
        rows = honest(tx, after)
        rows["counters"] = [["requests", 1 << 70]]
        return rows

    monkeypatch.setattr(mirror, "stated_rows", huge)
    line = _refused(at, "caf", "audit", "verify", as_="c.dpo")

    assert "the server's answer is not a well-formed rows" in line


# -- the second review: what members sign is what their own copy of the tool records ---------
def _hostile_execute(monkeypatch: pytest.MonkeyPatch, change: Any) -> None:
    """The server's entry point, patched: ``change(name, document)`` alters a call as it
    reaches the server's services (the member's client, in this process too, is left alone)."""
    from ctg_exchange.services import remoting

    honest = remoting.execute

    def hostile(workspace: Any, member: Any, name: str, document: Any, secret: bytes) -> Any:
        return change(name, document) or honest(workspace, member, name, document, secret)

    monkeypatch.setattr(remoting, "execute", hostile)


def test_a_fiche_the_host_swaps_is_not_signed(
    ctg: Ctg, parties: Parties, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server records another text of the fiche than the DPO's file: the DPO's client,
    running the edit on its own copy, foresees another version and signs nothing (H1)."""
    at = parties
    registry = Path(__file__).resolve().parents[1] / "registry"
    at("caf", "register", "import", str(registry), as_="c.dpo")
    source = (registry / "caf92" / "CAF92-BONUS.yaml").read_text()
    edited = tmp_path / "edited.yaml"
    edited.write_text(source.replace("puis 10 ans", "puis 6 ans", 1))

    def swap(name: str, document: Any) -> None:
        if name == "register.version":
            text = document["args"]["text"]
            document["args"]["text"] = text.replace("Agent comptable de la Caf", "DataBroker SAS")

    _hostile_execute(monkeypatch, swap)
    before = len(ctg.json("audit", "log"))
    line = _refused(at, "caf", "register", "edit", "--from-file", str(edited), "--reason", "Revue",
                    as_="c.dpo", code=1)  # fmt: skip

    assert "refused to sign: the server asks to sign an event (message 1) other than" in line
    assert len(ctg.json("audit", "log")) == before


def test_a_change_the_host_drops_is_not_taken_for_done(
    ctg: Ctg, parties: Parties, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server answers an opinion with a result and nothing to sign (M2)."""
    at = parties
    rid = str(at("ville", *REQUEST, as_="v.agent")["id"])
    at("caf", "study", "accept", rid, "--note", "Étude", as_="c.analyst")
    at("caf", "study", "submit", rid, as_="c.analyst")
    shown = at("caf", "request", "show", rid, as_="c.dpo")

    def drop(name: str, document: Any) -> Any:
        return {"result": shown} if name == "dpo.opinion" else None

    _hostile_execute(monkeypatch, drop)
    line = _refused(at, "caf", "dpo", "opinion", rid, "--verdict", "favourable", "--note", "Avis",
                    as_="c.dpo", code=1)  # fmt: skip

    assert "refused to sign: the server records nothing, where this machine's copy" in line
    assert ctg.show(rid)["status"] == "awaiting_dpo"


def test_what_a_member_reads_before_deciding_is_its_own_copy(
    ctg: Ctg, parties: Parties, served: Server
) -> None:
    """request show, list, dpo inbox, convention show read the member's verified copy: the
    server's word on a request is never what a DPO or controller reads (H4)."""
    at = parties
    rid = str(at("ville", *REQUEST, as_="v.agent")["id"])
    at("caf", "request", "show", rid, as_="c.dpo")
    at("caf", "request", "list", as_="c.dpo")
    at("caf", "dpo", "inbox", as_="c.dpo")
    at("caf", "convention", "show", as_="c.dpo")
    routes = {line["route"] for line in served.log if line["member"] == "c.dpo"}
    assert routes <= {"/v1/state", "/v1/log"}, routes


def test_a_filing_day_rewritten_on_the_host_is_caught(ctg: Ctg, parties: Parties) -> None:
    """The day a request was filed, rewritten in the host's database (M1)."""
    at = parties
    rid = str(at("ville", *REQUEST, as_="v.agent")["id"])
    at("caf", "request", "show", rid, as_="c.dpo")  # the copy holds it as filed
    db = ctg.connect()
    doc = json.loads(db.execute("SELECT doc FROM requests WHERE id = ?", (rid,)).fetchone()[0])
    db.close()
    ctg.sql("UPDATE requests SET doc = ? WHERE id = ?",
            params=(json.dumps({**doc, "filed_on": "2023-01-02"}), rid))  # fmt: skip

    at("caf", "study", "accept", rid, "--note", "Étude", as_="c.analyst")  # signed from the copy
    line = _refused(at, "caf", "request", "show", rid, as_="c.dpo")  # the row comes again

    assert f"request {rid}: filed_on is '2023-01-02' in the store; the log says" in line


def test_a_received_file_is_deleted_only_where_the_log_says(
    ctg: Ctg, parties: Parties, tmp_path: Path, served: Server
) -> None:
    """The host names another path for a received file: a member's fresh copy does not verify,
    and nothing is deleted (H2)."""
    at = parties
    rid = accepted_remotely(at)
    at("caf", "exchange", "send", rid, "--dataset", str(qf_csv(tmp_path / "q.csv")),
       as_="c.agent")  # fmt: skip
    received = tmp_path / "in.csv"
    at("ville", "exchange", "receive", f"{rid}-1", "--out", str(received), as_="v.agent")
    precious = tmp_path / "deliberations.odt"
    precious.write_text("not the host's to delete")
    ctg.sql("UPDATE receptions SET path = ?", params=(str(precious),), guards=False)
    fresh = tmp_path / "another-machine"
    ctg.ok("--workspace", str(fresh), "remote", "add", served.url, "--rehearsal")

    purged = ctg("--workspace", str(fresh), "--key-dir", str(at.keys["ville"]), "retention",
                 "purge", as_="v.agent", env={"CTG_TODAY": "2026-01-01"})  # fmt: skip

    assert purged.exit_code == 3, purged.output
    assert "reception" in purged.stderr and "path_sha256" in purged.stderr
    assert precious.exists() and received.exists()


def test_no_one_rolls_the_latest_checkpoint_back(ctg: Ctg, served: Server) -> None:
    """A checkpoint of fewer events than the latest, posted as new, is refused: the latest
    stays the latest (L1)."""
    from ctg_exchange.audit.checkpoint import note_text, origin_of, signature_line
    from ctg_exchange.crypto.keys import KeyDir
    from ctg_exchange.crypto.sshsig import NAMESPACE_CHECKPOINT
    from ctg_exchange.services.workspace import Workspace

    from conftest import PASSPHRASE
    from served import call, key

    ctg.file_request()
    ctg.ok("audit", "checkpoint", as_="v.dpo")
    workspace = Workspace.open(ctg.workspace)
    with workspace.store.transaction() as tx:
        size = tx.count_events() - 1
        text = note_text(origin_of(workspace.id), size, tx.tree_root(size))
    workspace.close()
    signer = KeyDir(ctg.keys).open_signer("c.dpo", PASSPHRASE)
    armored = signer.sign(NAMESPACE_CHECKPOINT, text.encode())
    body = json.dumps({"note": text, "line": signature_line("c.dpo", signer.public_key.blob,
                                                             armored)}).encode()  # fmt: skip
    before = ctg.json("audit", "checkpoints")

    refused = call(served.url, "/v1/checkpoints", member="c.dpo", signing_key=key(ctg, "c.dpo"),
                   body=body)  # fmt: skip

    assert refused.status_code == 422, refused.text
    assert "the latest checkpoint covers" in refused.json()["error"]["message"]
    assert ctg.json("audit", "checkpoints") == before
