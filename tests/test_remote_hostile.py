"""A hostile host (issue 14, the red team's findings): whatever the server or its database
serves, a member's client decides from its own verified copy of the log, signs only what it
built, and the other party's witness cosigns nothing it did not verify. Each case exits with
its one line and changes nothing it should not. A hostile server is played by writing its
database behind its back, or by patching, in this process, code only the server runs."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import tarfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from ctg_exchange.remote import httpsig

from conftest import REQUEST, Ctg
from served import WORKSPACE_OF, Server, key
from test_remote_exchange import Parties, accepted_remotely, qf_csv


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
    at("caf", "dpo", "annotate", rid, "--note", "Note", as_="c.dpo")  # the request moves on
    out = tmp_path / "registre.csv"

    line = _refused(at, "ville", "register", "export", "--controller", "ville_sceaux", "--format",
                    "csv", "--out", str(out), as_="v.dpo")  # fmt: skip

    assert f"request {rid}: opinion.on is '2024-01-01' in the store; the log says" in line
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
    at("ville", "conditions", "accept", rid, "--dpia-ref", "AIPD-1", as_="v.controller")
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


def test_a_pseudonymised_exchange_binds_its_key(ctg: Ctg, parties: Parties, tmp_path: Path) -> None:
    """Honest: the first delivery keeps the key and its event binds it; the next reuses it."""
    at = parties
    at("ville", "keys", "generate", "--party", "ville_sceaux", "--encryption", as_="v.admin")
    at("caf", "keys", "generate", "--party", "caf92", "--encryption", as_="c.admin")
    rid = _pseudonymised(at)
    for number in (1, 2):
        at("caf", "exchange", "send", rid, "--dataset", str(qf_csv(tmp_path / f"{number}.csv")),
           as_="c.agent")  # fmt: skip
        at("ville", "exchange", "receive", f"{rid}-{number}", "--out",
           str(tmp_path / f"in{number}.csv"), as_="v.agent")  # fmt: skip
    sends = [
        e for e in ctg.json("audit", "log", "--request", rid) if e["action"] == "exchange.send"
    ]
    first, second = (tmp_path / "in1.csv").read_text(), (tmp_path / "in2.csv").read_text()

    bound = {e["payload"]["sealed_key_sha256"] for e in sends}
    assert len(bound) == 1 and None not in bound
    assert first == second and "9000000" not in first  # the same pseudonyms, no identifier
    assert at("caf", "audit", "verify", as_="c.dpo")["ok"] is True


def _upload(url: str, body: bytes, member: str, ctg: Ctg) -> httpx.Response:
    headers = {"Content-Type": "application/octet-stream", "Content-Length": str(len(body))}
    signed = httpsig.sign(
        httpsig.Message("POST", url + "/v1/packages", headers), b"", member, key(ctg, member),
        workspace=WORKSPACE_OF[url], streamed=hashlib.sha256(body).digest(),
    )  # fmt: skip
    return httpx.post(url + "/v1/packages", content=body, headers=signed, timeout=10)


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

    not_staff = _upload(served.url, b"x" * 4096, "v.dpo", ctg)
    pax = _upload(served.url, _pax_first(), "c.agent", ctg)
    kept = Kept(ctg.workspace)
    for _ in range(2):
        token, part = kept.new_part()
        (kept.incoming / f"{token}.json").write_text(json.dumps({"member": "c.both"}))
    over = _upload(served.url, b"x" * 4096, "c.both", ctg)

    assert (not_staff.status_code, not_staff.json()["error"]["message"]) == (
        403, "v.dpo is not staff: staff send packages"
    )  # fmt: skip
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
