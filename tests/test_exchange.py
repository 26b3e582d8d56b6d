"""Approved datasets travel encrypted and signed (issue 4): send, receive, and every refusal.

Datasets are synthetic: allocataire numbers in the 9000000 range, made-up values.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from ctg_exchange.crypto.agestream import decrypt_bytes

from conftest import Ctg, State, ssh_keygen_verify

needs_age = pytest.mark.skipif(shutil.which("age") is None, reason="the age CLI is not installed")
needs_ssh_keygen = pytest.mark.skipif(
    shutil.which("ssh-keygen") is None, reason="ssh-keygen is not installed"
)

QF_HEADER = "numero_allocataire,quotient_familial,mois_reference_qf\n"


def qf_csv(path: Path, rows: int = 3, extra: str = "") -> Path:
    lines = [QF_HEADER] + [f"{9000000 + i},{400 + 7 * i},2025-05\n" for i in range(rows)]
    path.write_text("".join(lines) + extra, encoding="utf-8")
    return path


def accepted(ctg: Ctg, *recommend: str, adopt: tuple[str, ...] = ()) -> str:
    """A QF pricing request (town hall -> Caf) up to accepted conditions."""
    rid = ctg.file_request()
    ctg.advance(rid, "awaiting_dpo")
    verdict = "favourable_with_recommendations" if recommend else "favourable"
    recs = [a for r in recommend for a in ("--recommend", r)]
    ctg.ok("dpo", "opinion", rid, "--verdict", verdict, "--note", "Avis", *recs, as_="c.dpo")
    adopted = [a for r in adopt for a in ("--adopt", r)]
    ctg.ok("decide", "approve", rid, *adopted, as_="c.controller")
    ctg.accept_conditions(rid)
    return rid


def _make_party_keys(ctg: Ctg) -> None:
    ctg.ok("keys", "generate", "--party", "ville_sceaux", "--encryption", as_="v.admin")
    ctg.ok("keys", "generate", "--party", "caf92", "--encryption", as_="c.admin")


@pytest.fixture
def keyed(state: State) -> Ctg:
    """Both parties have a decryption identity."""
    return state("keyed", _make_party_keys)


# a second delivery the same day: sooner than a monthly request allows, so marked and justified
EARLY = ("--early", "--justification", "Rectification du premier envoi (test)")


def send(ctg: Ctg, rid: str, dataset: Path, *extra: str) -> dict[str, object]:
    out = dataset.parent / f"{rid}.ctgx"
    result: dict[str, object] = ctg.json(
        "exchange", "send", rid, "--dataset", str(dataset), "--out", str(out), *extra, as_="c.agent"
    )
    return result


def identity_of(ctg: Ctg, party: str) -> Path:
    return next(ctg.keys.glob(f"{party}.age1*.age"))


def receive(package: object, out: Path) -> tuple[str, ...]:
    """``exchange receive`` arguments for a package and an output file."""
    return ("exchange", "receive", str(package), "--out", str(out))


def test_send_and_receive(keyed: Ctg, tmp_path: Path) -> None:
    ctg = keyed
    rid = accepted(ctg, "max_retention_days:180", adopt=("R1",))
    dataset = qf_csv(tmp_path / "qf.csv")

    sent = send(ctg, rid, dataset)
    package = Path(str(sent["package"]))
    received = ctg.json(*receive(package, tmp_path / "in.csv"), as_="v.agent")

    manifest = sent["manifest"]
    assert isinstance(manifest, dict)
    assert (manifest["request"], manifest["delivery"], manifest["rows"]) == (rid, 1, 3)
    assert manifest["columns"] == ["numero_allocataire", "quotient_familial", "mois_reference_qf"]
    assert manifest["recipient"]["party"] == "ville_sceaux"
    assert manifest["retention_deadline"] == "2025-11-29"  # 2025-06-02 + 180 days (R1)
    assert manifest["conditions_applied"] == [
        {"source": 1, "kind": "max_retention_days", "detail": "deadline 2025-11-29"}
    ]
    with tarfile.open(package) as archive:
        assert archive.getnames() == ["payload.age", "manifest.json", "manifest.sig"]
    assert (tmp_path / "in.csv").read_bytes() == dataset.read_bytes()
    assert oct((tmp_path / "in.csv").stat().st_mode & 0o777) == "0o600"
    assert received["retention_deadline"] == "2025-11-29"
    shown = ctg.show(rid)
    assert shown["status"] == "exchanged"
    assert shown["deliveries"][0]["received"]["received_by"] == "v.agent"
    assert ctg.json("exchange", "list")[0]["id"] == f"{rid}-1"
    assert ctg("audit", "verify").exit_code == 0


@needs_age
def test_the_age_cli_opens_our_payload_and_we_open_its_files(keyed: Ctg, tmp_path: Path) -> None:
    ctg = keyed
    rid = accepted(ctg)
    dataset = qf_csv(tmp_path / "qf.csv", rows=5000)
    package = Path(str(send(ctg, rid, dataset)["package"]))
    identity_text = decrypt_bytes(
        identity_of(ctg, "ville_sceaux").read_bytes(), passphrase="synthetic-test-passphrase"
    )
    (tmp_path / "identity.txt").write_bytes(identity_text)
    with tarfile.open(package) as archive:
        archive.extract("payload.age", tmp_path, filter="data")

    opened = subprocess.run(
        ["age", "-d", "-i", str(tmp_path / "identity.txt"), str(tmp_path / "payload.age")],
        capture_output=True,
        check=True,
    )

    assert opened.stdout == dataset.read_bytes()
    recipient = identity_of(ctg, "ville_sceaux").name.split(".")[1]
    subprocess.run(
        ["age", "-r", recipient, "-o", str(tmp_path / "theirs.age"), str(dataset)], check=True
    )
    from ctg_exchange.crypto.age import Identity

    ours = Identity.parse(identity_text.decode().splitlines()[-1])
    assert decrypt_bytes((tmp_path / "theirs.age").read_bytes(), [ours]) == dataset.read_bytes()


@needs_ssh_keygen
def test_the_manifest_signature_verifies_with_ssh_keygen(keyed: Ctg, tmp_path: Path) -> None:
    ctg = keyed
    rid = accepted(ctg)
    package = Path(str(send(ctg, rid, qf_csv(tmp_path / "qf.csv"))["package"]))
    with tarfile.open(package) as archive:
        archive.extractall(
            tmp_path,
            members=[archive.getmember("manifest.json"), archive.getmember("manifest.sig")],
            filter="data",
        )
    ctg.ok("member", "allowed-signers", "--out", str(tmp_path / "allowed"))

    def check(data: bytes) -> int:
        return ssh_keygen_verify(
            tmp_path / "allowed",
            "c.agent",
            "ctg-exchange/manifest@v1",
            tmp_path / "manifest.sig",
            data,
        ).returncode

    manifest = (tmp_path / "manifest.json").read_bytes()
    assert check(manifest) == 0
    assert check(manifest.replace(b'"rows":3', b'"rows":4')) != 0


def _flip(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def _member_offset(package: Path, name: str, within: int = 0) -> int:
    """An offset inside a member's data (negative ``within``: from the member's end)."""
    with tarfile.open(package) as archive:
        member = archive.getmember(name)
    return member.offset_data + (within if within >= 0 else member.size + within)


def _reordered(package: Path) -> None:
    """The same three members, the manifest first: what ``tar`` itself would happily read."""
    with tarfile.open(package) as archive:
        members = [(m, archive.extractfile(m).read()) for m in archive.getmembers()]  # type: ignore[union-attr]
    with tarfile.open(package, "w", format=tarfile.USTAR_FORMAT) as archive:
        for member, data in [*members[1:], members[0]]:
            archive.addfile(member, io.BytesIO(data))


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (
            lambda p: _flip(p, _member_offset(p, "payload.age", -20)),
            "the payload's hash differs from the signed manifest",
        ),
        (lambda p: _flip(p, _member_offset(p, "manifest.json", 30)), "manifest"),
        (lambda p: _flip(p, _member_offset(p, "manifest.sig", 50)), "signature"),
        (lambda p: p.write_bytes(p.read_bytes()[:700]), "truncated"),
        (lambda p: p.write_bytes(b"not a tar file at all" * 40), "not a valid tar archive"),
        (lambda p: p.write_bytes(p.read_bytes() + b"unsigned extra"), "data after the end"),
        (_reordered, "manifest.json is out of order in the package"),
    ],
    ids=[
        "payload-byte",
        "manifest-byte",
        "signature-byte",
        "truncated",
        "garbage",
        "data-after-the-end",
        "members-reordered",
    ],
)
def test_a_damaged_package_exits_3_and_writes_nothing(
    keyed: Ctg, tmp_path: Path, damage: object, message: str
) -> None:
    ctg = keyed
    rid = accepted(ctg)
    package = Path(str(send(ctg, rid, qf_csv(tmp_path / "qf.csv"))["package"]))
    damage(package)  # type: ignore[operator]
    result = ctg.refused(
        *receive(package, tmp_path / "in.csv"),
        as_="v.agent",
        code=3,
        contains=message,
    )
    assert not (tmp_path / "in.csv").exists()
    assert sorted(os.listdir(tmp_path)) == sorted(["ctg", "qf.csv", f"{rid}.ctgx"]), result.stderr


def test_receiving_twice_or_by_the_other_party_is_refused(keyed: Ctg, tmp_path: Path) -> None:
    ctg = keyed
    rid = accepted(ctg)
    package = str(send(ctg, rid, qf_csv(tmp_path / "qf.csv"))["package"])
    ctg.refused(
        *receive(package, tmp_path / "c.csv"),
        as_="c.agent",
        code=3,
        contains="the package is addressed to ville_sceaux, not to caf92",
    )
    ctg.refused(
        *receive(package, tmp_path / "x.csv"),
        as_="v.controller",
        contains="only the requesting party's staff",
    )
    ctg.ok(*receive(package, tmp_path / "in.csv"), as_="v.agent")
    ctg.refused(
        *receive(package, tmp_path / "again.csv"),
        as_="v.agent",
        code=3,
        contains=f"{rid}-1 was already received on 2025-06-02",
    )
    assert not (tmp_path / "again.csv").exists()


def test_a_package_rewritten_between_hash_and_decryption_is_refused(
    keyed: Ctg, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write to the package while it is being received is caught."""
    import time

    from ctg_exchange.exchange.pipeline import unseal as real_unseal
    from ctg_exchange.services import receive as receiving

    ctg = keyed
    rid = accepted(ctg)
    package = Path(str(send(ctg, rid, qf_csv(tmp_path / "qf.csv"))["package"]))

    def unseal_after_a_rewrite(*args: object, **kwargs: object) -> int:
        time.sleep(0.02)  # past the file system's timestamp tick
        with package.open("r+b") as file:  # same bytes, written again in place
            first = file.read(1)
            file.seek(0)
            file.write(first)
        return real_unseal(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(receiving, "unseal", unseal_after_a_rewrite)
    before = ctg.snapshot()
    ctg.refused(
        *receive(package, tmp_path / "in.csv"),
        as_="v.agent",
        code=3,
        contains="the package changed while it was being received",
    )
    assert not (tmp_path / "in.csv").exists()
    assert ctg.snapshot() == before


def test_a_package_for_a_request_no_longer_open_is_refused(keyed: Ctg, tmp_path: Path) -> None:
    ctg = keyed
    rid = accepted(ctg)
    package = str(send(ctg, rid, qf_csv(tmp_path / "qf.csv"))["package"])
    # the request's row is put back to 'lapsed' behind the tool's back (as if it had lapsed)
    db = ctg.connect()
    doc = json.loads(db.execute("SELECT doc FROM requests WHERE id = ?", (rid,)).fetchone()[0])
    doc["status"] = "lapsed"
    db.execute(
        "UPDATE requests SET status = 'lapsed', doc = ? WHERE id = ?", (json.dumps(doc), rid)
    )
    db.commit()
    db.close()
    ctg.refused(
        *receive(package, tmp_path / "in.csv"),
        as_="v.agent",
        code=3,
        contains=f"{rid} is lapsed: nothing is received for it",
    )


def test_an_unapproved_column_refuses_the_send(keyed: Ctg, tmp_path: Path) -> None:
    ctg = keyed
    rid = accepted(ctg)
    dataset = tmp_path / "bad.csv"
    dataset.write_text("numero_allocataire,quotient_familial,nom,nir\n9000001,512,X,Y\n")
    ctg.refused(
        "exchange",
        "send",
        rid,
        "--dataset",
        str(dataset),
        "--out",
        str(tmp_path / "p.ctgx"),
        as_="c.agent",
        contains=f"column(s) not approved for {rid}: nom, nir",
    )
    assert not (tmp_path / "p.ctgx").exists()


def test_limit_columns_narrows_what_may_be_sent(keyed: Ctg, tmp_path: Path) -> None:
    ctg = keyed
    rid = accepted(ctg, "limit_columns:numero_allocataire,quotient_familial", adopt=("R1",))
    ctg.refused(
        "exchange",
        "send",
        rid,
        "--dataset",
        str(qf_csv(tmp_path / "qf.csv")),
        as_="c.agent",
        contains="column(s) not approved for",
    )
    narrow = tmp_path / "narrow.csv"
    narrow.write_text("numero_allocataire,quotient_familial\n9000001,512\n")
    assert send(ctg, rid, narrow)["rows"] == 1


def test_sending_needs_accepted_conditions_keys_and_the_right_person(
    ctg: Ctg, tmp_path: Path
) -> None:
    dataset = str(qf_csv(tmp_path / "qf.csv"))
    rid = ctg.file_request()
    ctg.advance(rid, "approved")
    ctg.refused(
        "exchange",
        "send",
        rid,
        "--dataset",
        dataset,
        as_="c.agent",
        contains=f"{rid} is approved: `exchange send` needs conditions_accepted",
    )
    ctg.accept_conditions(rid)
    ctg.refused(
        "exchange",
        "send",
        rid,
        "--dataset",
        dataset,
        as_="c.agent",
        contains="ville_sceaux has no encryption key to send to",
    )
    ctg.refused(
        "exchange",
        "send",
        rid,
        "--dataset",
        dataset,
        as_="v.agent",
        contains="only the holding party's staff (caf92) sends",
    )
    ctg.refused(
        "exchange",
        "send",
        rid,
        "--dataset",
        dataset,
        as_="c.controller",
        contains="only the holding party's staff (caf92) sends",
    )
    ctg.ok("keys", "generate", "--party", "ville_sceaux", "--encryption", as_="v.admin")
    ctg.refused(
        "exchange",
        "send",
        rid,
        "--dataset",
        dataset,
        as_="c.agent",
        env={"CTG_TODAY": "2026-02-01"},
        contains="CONVENTION_NOT_IN_FORCE: sending",
    )
    assert (
        ctg.json(
            "exchange",
            "send",
            rid,
            "--dataset",
            dataset,
            "--out",
            str(tmp_path / "p.ctgx"),
            as_="c.agent",
        )["number"]
        == 1
    )


def test_a_one_off_request_is_sent_once(keyed: Ctg, tmp_path: Path) -> None:
    ctg = keyed
    rid = ctg.file_request("--frequency", "once")
    ctg.advance(rid, "approved")
    ctg.accept_conditions(rid)
    send(ctg, rid, qf_csv(tmp_path / "qf.csv"))
    ctg.refused(
        "exchange",
        "send",
        rid,
        "--dataset",
        str(tmp_path / "qf.csv"),
        "--out",
        str(tmp_path / "two.ctgx"),
        as_="c.agent",
        contains=f"{rid} asks for a one-off transfer, already made ({rid}-1)",
    )


def test_quoted_fields_are_counted_with_the_csv_module(keyed: Ctg, tmp_path: Path) -> None:
    ctg = keyed
    rid = accepted(ctg)
    dataset = tmp_path / "quoted.csv"
    dataset.write_text(QF_HEADER + '9000001,512,"2025-05"\n"9000002",640,"2025,\n06"\n')
    assert send(ctg, rid, dataset)["rows"] == 2
    ragged = tmp_path / "ragged.csv"
    ragged.write_text(QF_HEADER + "9000001,512\n")
    ctg.refused(
        "exchange",
        "send",
        rid,
        "--dataset",
        str(ragged),
        "--out",
        str(tmp_path / "r.ctgx"),
        *EARLY,
        as_="c.agent",
        contains="row 1 does not have 3 fields like the header",
    )


def test_a_canary_value_never_leaves_the_encrypted_files(keyed: Ctg, tmp_path: Path) -> None:
    ctg = keyed
    canary = "9871234"  # a synthetic allocataire number, recognisable
    rid = accepted(ctg, "max_retention_days:30", adopt=("R1",))
    dataset = tmp_path / "qf.csv"
    dataset.write_text(QF_HEADER + f"{canary},777,2025-05\n")
    results = [
        ctg(
            "exchange",
            "send",
            rid,
            "--dataset",
            str(dataset),
            "--out",
            str(tmp_path / "p.ctgx"),
            as_="c.agent",
        ),
        ctg(
            *receive(tmp_path / "p.ctgx", tmp_path / "in.csv"),
            as_="v.agent",
        ),
        ctg("exchange", "list", "--json"),
        ctg("request", "show", rid, "--json"),
        ctg("retention", "list", "--json"),
        ctg("audit", "log", "--json"),
        ctg("retention", "purge", as_="v.agent", env={"CTG_TODAY": "2025-08-01"}),
    ]
    assert all(r.exit_code == 0 for r in results), [r.output for r in results]
    for result in results:
        assert canary not in result.output
    for path in ctg.workspace.rglob("*"):
        if path.is_file():
            assert canary.encode() not in path.read_bytes(), path
    assert canary.encode() not in (tmp_path / "p.ctgx").read_bytes()


def test_pseudonymised_columns_are_keyed_hashes_stable_across_deliveries(
    keyed: Ctg, tmp_path: Path
) -> None:
    ctg = keyed
    rid = accepted(ctg, "pseudonymise:numero_allocataire", adopt=("R1",))
    dataset = qf_csv(tmp_path / "qf.csv", rows=2)
    first = send(ctg, rid, dataset)
    second = ctg.json(
        "exchange",
        "send",
        rid,
        "--dataset",
        str(dataset),
        "--out",
        str(tmp_path / "two.ctgx"),
        *EARLY,
        as_="c.agent",
    )
    for name, package in (("one.csv", first["package"]), ("two.csv", second["package"])):
        ctg.ok(*receive(package, tmp_path / name), as_="v.agent")
    one = (tmp_path / "one.csv").read_text().splitlines()
    assert one[0] == QF_HEADER.strip()
    hashed = [line.split(",")[0] for line in one[1:]]
    assert all(len(h) == 64 and h != "9000000" for h in hashed)
    assert (tmp_path / "two.csv").read_text().splitlines() == one  # same key, same pseudonyms
    assert "9000000" not in (tmp_path / "one.csv").read_text()
    manifest = first["manifest"]
    assert isinstance(manifest, dict)
    assert manifest["conditions_applied"] == [
        {"source": 1, "kind": "pseudonymise", "detail": "hashed: numero_allocataire"}
    ]


def _dies(*task: object) -> None:
    os._exit(3)  # a worker process killed (out of memory)


def test_a_pseudonymising_worker_that_dies_refuses_the_send_cleanly(
    keyed: Ctg, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ctg_exchange.exchange import block_workers, hashed_rows

    monkeypatch.setattr(hashed_rows, "_cpus", lambda: 2)
    monkeypatch.setattr(hashed_rows, "PARALLEL_FROM", 0)
    monkeypatch.setattr(block_workers, "_rewrite_into", _dies)
    ctg = keyed
    rid = accepted(ctg, "pseudonymise:numero_allocataire", adopt=("R1",))
    ctg.refused(
        *("exchange", "send", rid, "--dataset", str(qf_csv(tmp_path / "qf.csv", rows=50))),
        *("--out", str(tmp_path / "p.ctgx")),
        as_="c.agent",
        contains="a process rewriting the dataset stopped unexpectedly (out of memory?)",
    )
    assert not (tmp_path / "p.ctgx").exists()


def _counts_request(ctg: Ctg) -> str:
    """Counts by territory with family composition: personal, so the DPO can set a minimum."""
    rid = str(
        ctg.json(
            "request",
            "new",
            "--to",
            "caf92",
            "--field",
            "parentalite",
            "--purpose",
            "Effectifs par quartier pour le diagnostic (test synthétique)",
            "--purpose-kind",
            "diagnostic",
            "--category",
            "statistiques_agregees",
            "--category",
            "composition_familiale",
            "--subjects",
            "Familles fictives",
            "--legal-basis",
            "art6_1_e",
            "--legal-ref",
            "casf_l116_1",
            "--retention-days",
            "300",
            "--frequency",
            "yearly",
            as_="v.agent",
        )["id"]
    )
    ctg.advance(rid, "awaiting_dpo")
    ctg.ok(
        "dpo",
        "opinion",
        rid,
        "--verdict",
        "favourable_with_recommendations",
        "--note",
        "Avis",
        "--recommend",
        "aggregate_min_count:11",
        as_="c.dpo",
    )
    ctg.ok("decide", "approve", rid, "--adopt", "R1", as_="c.controller")
    ctg.accept_conditions(rid)
    return rid


def test_small_cells_refuse_the_send_or_are_blanked(keyed: Ctg, tmp_path: Path) -> None:
    ctg = keyed
    rid = _counts_request(ctg)
    dataset = tmp_path / "counts.csv"
    dataset.write_text(
        "indicateur,territoire,periode,effectif\n"
        "familles,Blagis,2025,40\nfamilles,Centre,2025,3\n"
        "familles,Robinson,2025,25\n"
    )
    result = ctg.refused(
        "exchange",
        "send",
        rid,
        "--dataset",
        str(dataset),
        "--out",
        str(tmp_path / "p.ctgx"),
        as_="c.agent",
        contains="1 count cell(s) below 11 (rows 2)",
    )
    assert "--suppress-small-cells" in result.stderr
    sent = send(ctg, rid, dataset, "--suppress-small-cells")
    ctg.ok(
        *receive(sent["package"], tmp_path / "in.csv"),
        as_="v.agent",
    )
    assert (tmp_path / "in.csv").read_text().splitlines()[2] == "familles,Centre,2025,"
    manifest = sent["manifest"]
    assert isinstance(manifest, dict)
    assert manifest["conditions_applied"] == [
        {"source": 1, "kind": "aggregate_min_count", "detail": "1 cell(s) blanked"}
    ]


def test_non_personal_aggregates_follow_the_policy(keyed: Ctg, tmp_path: Path) -> None:
    ctg = keyed
    rid = str(
        ctg.json(
            "request",
            "new",
            "--to",
            "caf92",
            "--field",
            "parentalite",
            "--purpose",
            "Effectifs communaux pour le diagnostic (test)",
            "--purpose-kind",
            "diagnostic",
            "--category",
            "statistiques_agregees",
            "--aggregates-of",
            "composition_familiale",
            "--subjects",
            "Aucune",
            "--retention-days",
            "1000",
            "--frequency",
            "yearly",
            as_="v.agent",
        )["id"]
    )
    ctg.ok("study", "accept", rid, "--note", "Agrégats", as_="c.analyst")
    ctg.ok("decide", "approve", rid, as_="c.controller")
    ctg.accept_conditions(rid)
    header = "indicateur,territoire,periode,effectif\n"
    cases = {
        "familles,Blagis,2025,40\nfamilles,Centre,2025,3\n": "count cell(s) below 5",
        "familles,Blagis,2025,40\nfamilles,Centre,2025,12\n": "not rounded to 5",
        "familles,Blagis,2025,40\nfamilles,Centre,2025,0\n": "equals its group's total",
    }
    for rows, message in cases.items():
        (tmp_path / "agg.csv").write_text(header + rows)
        ctg.refused(
            "exchange",
            "send",
            rid,
            "--dataset",
            str(tmp_path / "agg.csv"),
            "--out",
            str(tmp_path / "p.ctgx"),
            as_="c.agent",
            contains=message,
        )
    (tmp_path / "agg.csv").write_text(header + "familles,Blagis,2025,40\nfamilles,Centre,2025,15\n")
    assert send(ctg, rid, tmp_path / "agg.csv")["rows"] == 2


def test_retention_purge_and_attest(keyed: Ctg, tmp_path: Path) -> None:
    ctg = keyed
    rid = accepted(ctg, "max_retention_days:30", adopt=("R1",))
    dataset = qf_csv(tmp_path / "qf.csv")
    for n, name in ((1, "one.csv"), (2, "two.csv")):
        package = tmp_path / f"{n}.ctgx"
        ctg.ok(
            "exchange", "send", rid, "--dataset", str(dataset), "--out", str(package),
            *(EARLY if n == 2 else ()), as_="c.agent",
        )  # fmt: skip
        ctg.ok(*receive(package, tmp_path / name), as_="v.agent")
    later = {"CTG_TODAY": "2025-07-03"}  # 30 days after 2025-06-02 has passed
    listed = json.loads(ctg("retention", "list", "--json", env=later).stdout)
    assert [i["status"] for i in listed] == ["overdue", "overdue"]

    dry = json.loads(
        ctg("retention", "purge", "--dry-run", "--json", as_="v.agent", env=later).stdout
    )
    assert dry["due"] == [f"{rid}-1", f"{rid}-2"] and (tmp_path / "one.csv").exists()
    (tmp_path / "two.csv").unlink()  # deleted by hand
    purged = json.loads(ctg("retention", "purge", "--json", as_="v.agent", env=later).stdout)

    assert [d["request_id"] + f"-{d['number']}" for d in purged["deleted"]] == [f"{rid}-1"]
    assert len(purged["deleted"][0]["file_sha256"]) == 64
    assert not (tmp_path / "one.csv").exists()
    assert purged["missing"] == [{"delivery": f"{rid}-2", "path": str(tmp_path / "two.csv")}]
    ctg.refused(
        "retention",
        "attest",
        f"{rid}-1",
        "--note",
        "x",
        as_="v.agent",
        env=later,
        contains=f"the deletion of {rid}-1 is already attested",
    )
    ctg.refused(
        "retention",
        "attest",
        f"{rid}-2",
        "--note",
        "Supprimé",
        as_="c.agent",
        env=later,
        contains="only the requesting party's staff",
    )
    ctg.ok(
        "retention", "attest", f"{rid}-2", "--note", "Supprimé à la main", as_="v.agent", env=later
    )
    statuses = [
        i["status"] for i in json.loads(ctg("retention", "list", "--json", env=later).stdout)
    ]
    assert statuses == ["deleted", "deleted"]
    # each send, reception, purge and attestation signed a checkpoint of the log as it stood
    events = ctg.json("audit", "log")
    checkpoints = ctg.json("audit", "checkpoints")
    after = {
        e["seq"]: e["actor"]
        for e in events
        if e["action"] in ("exchange.send", "exchange.receive", "retention.destroy")
    }
    assert {cp["tree_size"]: cp["signers"][0]["member"] for cp in checkpoints} == after
    assert ctg.json("audit", "verify")["checkpoints"] == len(after) == 6


def test_attesting_a_file_that_still_exists_is_refused(keyed: Ctg, tmp_path: Path) -> None:
    ctg = keyed
    rid = accepted(ctg)
    package = send(ctg, rid, qf_csv(tmp_path / "qf.csv"))["package"]
    ctg.ok(*receive(package, tmp_path / "in.csv"), as_="v.agent")
    ctg.refused(
        "retention", "attest", f"{rid}-1", "--note", "x", as_="v.agent", contains="still exists"
    )


def test_party_keys_are_admin_only_and_rotate(ctg: Ctg) -> None:
    ctg.refused(
        "keys",
        "generate",
        "--party",
        "caf92",
        "--encryption",
        as_="v.admin",
        contains="only an admin of caf92 makes its decryption keys",
    )
    first = ctg.ok("keys", "generate", "--party", "caf92", "--encryption", as_="c.admin")
    old = first.stdout.strip()
    ctg.ok("keys", "generate", "--party", "caf92", "--encryption", "--replaces", old, as_="c.admin")
    listed = ctg.json("keys", "list")
    assert [(r["recipient"] == old, r["retired_at"] is not None) for r in listed] == [
        (True, True),
        (False, False),
    ]
    assert len(list(ctg.keys.glob("caf92.age1*.age"))) == 2  # the old identity is kept
    ctg.refused(
        "keys",
        "generate",
        "--party",
        "caf92",
        "--encryption",
        "--replaces",
        old,
        as_="c.admin",
        contains=f"{old} is not an active recipient of caf92",
    )


def test_a_wrong_identity_passphrase_writes_nothing(keyed: Ctg, tmp_path: Path) -> None:
    ctg = keyed
    rid = accepted(ctg)
    package = str(send(ctg, rid, qf_csv(tmp_path / "qf.csv"))["package"])
    ctg.refused(
        *receive(package, tmp_path / "in.csv"),
        as_="v.agent",
        env={"CTG_IDENTITY_PASSPHRASE": "not-the-passphrase"},
        contains="wrong passphrase for the identity",
    )
    assert not (tmp_path / "in.csv").exists()


def test_the_identity_never_takes_the_key_passphrase_silently(keyed: Ctg, tmp_path: Path) -> None:
    """The party identity has a passphrase of its own: without CTG_IDENTITY_PASSPHRASE (and no
    terminal to ask at), receiving is refused, even though CTG_PASSPHRASE would open it."""
    ctg = keyed
    rid = accepted(ctg)
    package = str(send(ctg, rid, qf_csv(tmp_path / "qf.csv"))["package"])
    ctg.refused(
        *receive(package, tmp_path / "in.csv"),
        as_="v.agent",
        env={"CTG_IDENTITY_PASSPHRASE": None},  # type: ignore[dict-item]
        contains="no passphrase for the party's decryption identity: set CTG_IDENTITY_PASSPHRASE",
    )
    assert not (tmp_path / "in.csv").exists()
    ctg.refused(
        "keys", "generate", "--party", "caf92", "--encryption", as_="c.admin",
        env={"CTG_IDENTITY_PASSPHRASE": None},  # type: ignore[dict-item]
        contains="no passphrase for the party's decryption identity",
    )  # fmt: skip


@pytest.mark.slow
def test_sigkill_during_a_large_send_leaves_nothing(keyed: Ctg, tmp_path: Path) -> None:
    import signal
    import sys
    import time

    ctg = keyed
    rid = accepted(ctg)
    dataset = tmp_path / "big.csv"
    block = "".join(f"{9000000 + i % 900000},{400 + i % 997},2025-05\n" for i in range(40000))
    with dataset.open("w", encoding="utf-8") as out:
        out.write(QF_HEADER)
        for _ in range(280):  # ~300 MB
            out.write(block)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    target = out_dir / "big.ctgx"
    before = ctg.snapshot()
    errors = tmp_path / "stderr.txt"
    with errors.open("wb") as stderr:
        child = subprocess.Popen(
            [sys.executable, "-m", "ctg_exchange", "--as", "c.agent", "exchange", "send", rid,
             "--dataset", str(dataset), "--out", str(target)],
            env=os.environ.copy(), stdout=subprocess.DEVNULL, stderr=stderr,
        )  # fmt: skip
    written = 0
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and child.poll() is None:
        io = Path(f"/proc/{child.pid}/io").read_text()
        written = int(next(line for line in io.splitlines() if line.startswith("wchar")).split()[1])
        if written > 50_000_000:  # well into the payload
            break
        time.sleep(0.005)
    assert child.poll() is None, errors.read_text()
    os.kill(child.pid, signal.SIGKILL)
    child.wait()

    assert written > 50_000_000
    assert os.listdir(out_dir) == []
    after = ctg.snapshot()
    # a killed SQLite client leaves its (here empty) WAL and shared-memory index behind
    wal = ctg.workspace / "ctg.sqlite3-wal"
    assert not wal.exists() or not wal.stat().st_size
    assert {k: v for k, v in after.items() if not k.endswith(("-wal", "-shm"))} == before
    assert ctg.json("exchange", "list") == []


@needs_age
def test_age_recovers_a_party_identity_with_its_passphrase(keyed: Ctg, tmp_path: Path) -> None:
    import pty
    import select

    identity = identity_of(keyed, "ville_sceaux")
    out = tmp_path / "identity.txt"
    pid, fd = pty.fork()
    if pid == 0:  # the child: age asks for the passphrase on its terminal
        os.execvp("age", ["age", "-d", "-o", str(out), str(identity)])
    transcript = b""
    answered = False
    while True:
        ready, _, _ = select.select([fd], [], [], 20)
        if not ready:
            break
        try:
            chunk = os.read(fd, 1024)
        except OSError:
            break
        if not chunk:
            break
        transcript += chunk
        if b"passphrase" in transcript.lower() and not answered:
            os.write(fd, b"synthetic-test-passphrase\r")
            answered = True
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, transcript
    lines = out.read_text().splitlines()
    assert lines[1] == f"# public key: {identity.name.split('.')[1]}"
    assert lines[2].startswith("AGE-SECRET-KEY-1")


def test_checkpoints_the_log_implies_cannot_be_removed(keyed: Ctg, tmp_path: Path) -> None:
    """Every send and reception is followed by a signed checkpoint: removing them all, with
    the last event, no longer passes for a log that never had any."""
    ctg = keyed
    rid = accepted(ctg)
    package = send(ctg, rid, qf_csv(tmp_path / "qf.csv"))["package"]
    ctg.ok(*receive(package, tmp_path / "in.csv"), as_="v.agent")
    events = ctg.json("audit", "log")
    sent = max(e["seq"] for e in events if e["action"] == "exchange.send")
    last = events[-1]["seq"]
    ctg.sql(
        "DELETE FROM checkpoint_signatures",
        "DELETE FROM checkpoints",
        f"DELETE FROM receptions WHERE seq = {last}",
        f"DELETE FROM request_steps WHERE seq = {last}",
        f"DELETE FROM audit_events WHERE seq = {last}",
        guards=False,
    )
    result = ctg("audit", "verify", "--json")
    assert result.exit_code == 3, result.output
    failures = json.loads(result.stdout)["error"]["failures"]
    assert {
        "where": f"event #{sent}",
        "message": "no checkpoint covers it, though the tool signs one after the exchange.send "
        "event: checkpoints were removed",
        "seq": sent,
        "rule": "checkpoint-missing",
    } in failures, failures


def test_a_package_is_received_in_one_pass(
    keyed: Ctg, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The payload is hashed as it is decrypted (DESIGN §8): no separate hashing pass when
    all is well, and the plaintext is read back only for quoted fields."""
    from ctg_exchange.services import receive as receiving

    ctg = keyed
    rid = accepted(ctg)
    package = Path(str(send(ctg, rid, qf_csv(tmp_path / "qf.csv"))["package"]))
    passes: list[object] = []

    def hash_region(*args: object) -> str:
        passes.append(args)
        return ""

    monkeypatch.setattr(receiving, "hash_region", hash_region)
    ctg.ok(*receive(package, tmp_path / "in.csv"), as_="v.agent")
    assert passes == []
    assert (tmp_path / "in.csv").read_bytes() == (tmp_path / "qf.csv").read_bytes()


def test_keys_are_unlocked_once_ahead_of_their_use(
    keyed: Ctg, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the passphrases in the environment, send and receive start the member's key and
    the party's identity as they start up (issue 17); each is derived once, and used."""
    import threading

    from ctg_exchange.crypto import age, keys

    derived: list[str] = []
    unwrap_scrypt, open_key = age._unwrap_scrypt, keys.KeyDir._open

    def counted_scrypt(*args: object) -> bytes | None:
        derived.append(f"scrypt on {threading.current_thread().name}")
        return unwrap_scrypt(*args)  # type: ignore[arg-type]

    def counted_open(self: keys.KeyDir, name: str, passphrase: str) -> keys.Signer:
        derived.append(f"bcrypt {name} on {threading.current_thread().name}")
        return open_key(self, name, passphrase)

    monkeypatch.setattr(age, "_unwrap_scrypt", counted_scrypt)
    monkeypatch.setattr(keys.KeyDir, "_open", counted_open)
    ctg = keyed
    rid = accepted(ctg)
    derived.clear()
    package = Path(str(send(ctg, rid, qf_csv(tmp_path / "qf.csv"))["package"]))
    assert derived == ["bcrypt c.agent on ctg-unlock-ahead"]
    derived.clear()
    ctg.ok(*receive(package, tmp_path / "in.csv"), as_="v.agent")
    assert sorted(derived) == ["bcrypt v.agent on ctg-unlock-ahead", "scrypt on ctg-decrypt-ahead"]
    assert (tmp_path / "in.csv").read_bytes() == (tmp_path / "qf.csv").read_bytes()


def test_a_key_opened_ahead_gives_its_error_where_it_is_used(tmp_path: Path) -> None:
    from ctg_exchange.crypto.age import NoIdentityMatched
    from ctg_exchange.crypto.agestream import decrypt_ahead, encrypt_bytes
    from ctg_exchange.crypto.keys import KeyDir
    from ctg_exchange.errors import KeyFileError

    sealed = encrypt_bytes(b"identity", passphrase="right passphrase", log_n=10)
    decrypt_ahead(sealed, "wrong passphrase")
    decrypt_ahead(sealed, "right passphrase")
    with pytest.raises(NoIdentityMatched):
        decrypt_bytes(sealed, passphrase="wrong passphrase")
    assert decrypt_bytes(sealed, passphrase="right passphrase") == b"identity"

    keys = KeyDir(tmp_path / "keys")
    public = keys.generate("a.member", "right passphrase", rounds=1)
    keys.open_ahead("a.member", "wrong passphrase")
    keys.open_ahead("a.member", "right passphrase")
    with pytest.raises(KeyFileError, match="wrong passphrase"):
        keys.open_signer("a.member", "wrong passphrase")
    assert keys.open_signer("a.member", "right passphrase").public_key == public
