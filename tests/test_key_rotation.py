"""Key rotation (issue 19): a member's signing key replaced by the member (signed with the old
key, proved by the new one), or by an admin of its party when it is lost (with its reason); a
party's decryption identity replaced. The whole log keeps verifying, each event under the key
valid at its time; a retired key signs nothing more."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ctg_exchange.audit.canonical import text_digest
from ctg_exchange.crypto.keys import KeyDir, read_public_key
from ctg_exchange.services import key_rotation, session
from ctg_exchange.store.sql_exchange import ExchangeQueries
from ctg_exchange.store.sql_members import MemberQueries

from conftest import PASSPHRASE, TEST_KDF_ROUNDS, Ctg, add_args

ROOT = Path(__file__).resolve().parents[1]
needs_ssh_keygen = pytest.mark.skipif(
    shutil.which("ssh-keygen") is None, reason="ssh-keygen is not installed"
)


def _rotate(ctg: Ctg, member: str = "v.agent") -> dict[str, Any]:
    result: dict[str, Any] = ctg.json("keys", "rotate", "--member", member, as_=member)
    return result


def _log(ctg: Ctg, action: str) -> list[dict[str, Any]]:
    return [e for e in ctg.json("audit", "log") if e["action"] == action]


def _full(ctg: Ctg, seq: int) -> dict[str, Any]:
    shown: dict[str, Any] = ctg.json("audit", "show", str(seq))
    return shown


def _breaks(ctg: Ctg, message: str) -> None:
    """audit verify fails, saying ``message``."""
    result = ctg("audit", "verify")
    assert result.exit_code == 3, result.output
    assert message in result.stderr, result.stderr


def _verified(ctg: Ctg, *extra: str) -> None:
    result = ctg("audit", "verify", *extra)
    assert result.exit_code == 0, result.output


def test_a_rotated_key_signs_new_events_and_the_whole_log_verifies(ctg: Ctg) -> None:
    before = ctg.file_request()  # signed with v.agent's first key
    _verified(ctg)  # remembered: the next verification goes on from here
    old = KeyDir(ctg.keys).read_public("v.agent")

    rotated = _rotate(ctg)
    after = ctg.file_request()  # signed with the new key
    ctg.ok("request", "withdraw", before, "--reason", "Doublon", as_="v.agent")

    new = KeyDir(ctg.keys).read_public("v.agent")
    assert rotated["fingerprint"] == new.fingerprint != old.fingerprint
    assert Path(rotated["retired_key_file"]).name.startswith("v.agent~retired-")
    assert KeyDir(ctg.keys).path.joinpath(Path(rotated["retired_key_file"]).name + ".pub").exists()
    (event,) = _log(ctg, "keys.rotate")
    shown = _full(ctg, event["seq"])
    assert (shown["actor"], shown["role"], shown["subject"]) == ("v.agent", "staff", "v.agent")
    payload = shown["payload"]
    assert payload["previous_fingerprint"] == old.fingerprint
    assert (payload["fingerprint"], payload["public_key"]) == (new.fingerprint, new.openssh)
    assert payload["lost"] is False and "reason_sha256" not in payload
    assert payload["proof"].startswith("-----BEGIN SSH SIGNATURE-----")
    assert ctg.show(after)["filed_by"] == "v.agent"
    # incremental (from the remembered verification), then whole
    _verified(ctg)
    _verified(ctg, "--full")
    members = {m["id"]: m for m in ctg.json("member", "list")}
    assert members["v.agent"]["fingerprint"] == new.fingerprint
    spans = ctg.json("keys", "list", "--member", "v.agent")
    assert [(s["fingerprint"], s["since_seq"], s["until_seq"]) for s in spans] == [
        (old.fingerprint, None, event["seq"]),
        (new.fingerprint, event["seq"], None),
    ]
    listed = ctg.ok("keys", "list", "--member", "v.agent").stdout
    assert f"(#{event['seq']})" in listed and "current" in listed


def test_a_lost_key_is_replaced_by_the_admin_with_its_reason(ctg: Ctg, tmp_path: Path) -> None:
    keys = KeyDir(ctg.keys)
    old = keys.read_public("v.agent")
    for path in (keys.private_path("v.agent"), keys.public_path("v.agent")):
        path.unlink()  # lost with the laptop
    ctg.ok("keys", "generate", "--member", "v.agent")  # the member's new key, on their machine
    new = keys.read_public("v.agent")
    reason = "Poste volé le 1er juin [red]alerte[/red] \x1b[2J"

    replaced = ctg.json(
        "keys", "rotate", "--member", "v.agent", "--lost", "--reason", reason, as_="v.admin"
    )
    ctg.file_request()  # v.agent works on with the new key

    assert replaced["lost"] is True and replaced["fingerprint"] == new.fingerprint
    assert replaced["retired_key_file"] is None
    (event,) = _log(ctg, "keys.rotate")
    shown = _full(ctg, event["seq"])
    assert (shown["actor"], shown["role"], shown["subject"]) == ("v.admin", "admin", "v.agent")
    payload = shown["payload"]
    assert payload["lost"] is True and "proof" not in payload
    assert payload["previous_fingerprint"] == old.fingerprint
    assert payload["reason_sha256"] == text_digest(reason)  # the text stays in the workspace
    db = ctg.connect()
    try:
        row = db.execute("SELECT reason, lost FROM key_rotations").fetchall()
    finally:
        db.close()
    assert [tuple(r) for r in row] == [(reason, 1)]
    (_first, _current) = spans = ctg.json("keys", "list", "--member", "v.agent")
    assert spans[0]["lost"] is True and spans[0]["reason"] == reason
    assert spans[0]["retired_by"] == "v.admin"
    listed = ctg.ok("keys", "list", "--member", "v.agent").stdout
    assert "[red]alerte[/red]" in listed and "\x1b" not in listed  # shown as typed, inert
    _verified(ctg)


@pytest.mark.parametrize(
    ("args", "as_", "message"),
    [
        (("--member", "v.agent", "--lost", "--reason", "Perdu"), "c.admin",
         "c.admin is admin of caf92, v.agent is of ville_sceaux"),
        (("--member", "v.agent", "--lost", "--reason", "Perdu"), "v.dpo",
         "only an admin replaces a lost key: v.dpo is dpo of ville_sceaux"),
        (("--member", "v.agent", "--lost"), "v.admin",
         "a lost key's replacement states its reason: give --reason TEXT"),
        (("--member", "v.agent", "--lost", "--reason", "   "), "v.admin",
         "a lost key's replacement states its reason: give --reason TEXT"),
        (("--member", "x.nobody", "--lost", "--reason", "Perdu"), "v.admin",
         "unknown member 'x.nobody'"),
        (("--member", "x.nobody"), "x.nobody", "unknown member 'x.nobody'"),
        (("--member", "v.agent"), "v.admin",
         "a member rotates only their own key, with it: v.admin is not v.agent"),
        (("--member", "v.agent", "--reason", "Pourquoi"), "v.agent",
         "--reason and --public-key go with --lost"),
        (("--member", "v.agent", "--encryption"), "v.admin",
         "--encryption replaces a party's key: give --party, not --member"),
        (("--lost",), "v.admin", "give --member ID, or --party P --encryption"),
    ],
)  # fmt: skip
def test_a_rotation_refused_changes_nothing(
    ctg: Ctg, args: tuple[str, ...], as_: str, message: str
) -> None:
    ctg.refused("keys", "rotate", *args, as_=as_, contains=message)


def test_the_current_key_or_another_members_key_is_refused_as_the_new_one(ctg: Ctg) -> None:
    own = KeyDir(ctg.keys).public_path("v.agent")
    other = KeyDir(ctg.keys).public_path("v.dpo")
    lost = ("keys", "rotate", "--member", "v.agent", "--lost", "--reason", "Perdu")
    ctg.refused(*lost, "--public-key", str(own), as_="v.admin",
                contains="this is v.agent's current key")  # fmt: skip
    ctg.refused(*lost, "--public-key", str(other), as_="v.admin",
                contains="this public key is or was registered to 'v.dpo'")  # fmt: skip


def test_a_retired_key_is_refused_once_replaced(ctg: Ctg) -> None:
    rotated = _rotate(ctg)
    retired = Path(rotated["retired_key_file"])
    keys = KeyDir(ctg.keys)
    shutil.copy2(retired, keys.path / "v.agent.old")
    keys.private_path("v.agent").rename(keys.path / "v.agent.kept")
    shutil.copy2(retired, keys.private_path("v.agent"))

    refused = ctg.refused(*_request_args(), as_="v.agent", contains="is not the key registered")
    assert "v.agent" in refused.stderr
    # and back to a retired key as the new one: a key serves once
    again = ("keys", "rotate", "--member", "v.agent", "--lost", "--reason", "Retour")
    keys.private_path("v.agent").unlink()
    keys.path.joinpath("v.agent.kept").rename(keys.private_path("v.agent"))
    ctg.refused(*again, "--public-key", str(retired) + ".pub", as_="v.admin",
                contains="this public key is or was registered to 'v.agent'")  # fmt: skip


def _request_args() -> tuple[str, ...]:
    from conftest import REQUEST

    return REQUEST


def _unchecked_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    """A modified copy of the tool: it signs with whatever key the file holds."""

    def unlock(self: session.Keyring, member: Any, passphrase: str) -> Any:
        return self.key_dir.open_signer(member.id, passphrase)

    monkeypatch.setattr(session.Keyring, "_unlock", unlock)


def test_an_event_signed_with_a_retired_key_breaks_the_log(
    ctg: Ctg, monkeypatch: pytest.MonkeyPatch
) -> None:
    rotated = _rotate(ctg)
    _verified(ctg)  # remembered with the rotation: the next verification resumes after it
    keys = KeyDir(ctg.keys)
    keys.private_path("v.agent").unlink()
    shutil.copy2(rotated["retired_key_file"], keys.private_path("v.agent"))
    _unchecked_keys(monkeypatch)
    ctg.file_request()  # the modified tool signs with the old key
    (rotation,) = _log(ctg, "keys.rotate")
    seq = max(e["seq"] for e in _log(ctg, "request.file"))

    result = ctg("audit", "verify")  # incremental, from the memory
    assert result.exit_code == 3, result.output
    assert ctg("audit", "verify", "--full").exit_code == 3
    first = result.stderr.splitlines()[0]
    assert first.startswith(
        f"ctg-exchange: error: audit log broken at event #{seq} by v.agent: KEY_RETIRED: "
        f"signed with v.agent's key retired at event #{rotation['seq']}"
    ), first
    failure = json.loads(ctg("audit", "verify", "--json").stdout)["error"]["failures"][0]
    assert (failure["seq"], failure["rule"]) == (seq, "KEY_RETIRED")
    # an auditor's own script, from an export, sees it too
    export = ctg.root / "export.jsonl"
    ctg.ok("audit", "export", "--out", str(export))
    offline = _offline(export)
    assert offline.returncode == 1 and f"FAILED: event #{seq}: bad signature" in offline.stdout


def test_a_rotation_by_someone_else_is_caught_by_the_replay(
    ctg: Ctg, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A modified tool lets v.dpo replace v.agent's key as if it were its own."""
    monkeypatch.setattr(
        key_rotation, "authorise_key_rotation", lambda actor, target, lost: actor.roles[0]
    )
    keys = KeyDir(ctg.keys)
    keys.generate("v.agent.next", PASSPHRASE, rounds=1)
    new = keys.read_public("v.agent.next").openssh
    forged = ctg(
        "keys", "rotate", "--member", "v.agent", "--lost", "--reason", "Pris",
        "--public-key", str(keys.public_path("v.agent.next")), as_="v.dpo",
    )  # fmt: skip
    assert forged.exit_code == 0, forged.output
    (event,) = _log(ctg, "keys.rotate")
    assert _full(ctg, event["seq"])["payload"]["public_key"] == new

    result = ctg("audit", "verify")
    assert result.exit_code == 3, result.output
    failure = json.loads(ctg("audit", "verify", "--json").stdout)["error"]["failures"][0]
    assert (failure["seq"], failure["rule"]) == (event["seq"], "admin-only")


def test_a_rotation_row_changed_behind_the_tools_back_is_found(ctg: Ctg) -> None:
    ctg.ok("keys", "generate", "--member", "v.new")
    ctg.ok("keys", "rotate", "--member", "v.agent", "--lost", "--reason", "Perdu",
           "--public-key", str(KeyDir(ctg.keys).public_path("v.new")), as_="v.admin")  # fmt: skip
    ctg.sql("UPDATE key_rotations SET reason = 'Autre raison'")

    result = ctg("audit", "verify")
    assert result.exit_code == 3, result.output
    assert "key rotation" in result.stderr and "reason_sha256" in result.stderr


def _stopped_before_its_files_swapped(ctg: Ctg, monkeypatch: pytest.MonkeyPatch) -> None:
    """v.agent's rotation, committed, then stopped before its key files swap."""

    def crash(self: KeyDir, name: str, stamp: str) -> None:
        raise KeyboardInterrupt

    with monkeypatch.context() as patched:
        patched.setattr(KeyDir, "promote", crash)
        assert ctg("keys", "rotate", "--member", "v.agent", as_="v.agent").exit_code != 0


def test_a_rotation_stopped_before_its_files_swapped_is_finished_by_the_next_command(
    ctg: Ctg, monkeypatch: pytest.MonkeyPatch
) -> None:
    _stopped_before_its_files_swapped(ctg, monkeypatch)
    keys = KeyDir(ctg.keys)
    assert keys.staged_path("v.agent").exists()  # the log has the new key, the file not yet

    ctg.file_request()  # opens v.agent's key: the swap is finished first

    assert not keys.staged_path("v.agent").exists()
    assert [p.name for p in keys.path.glob("v.agent~retired-*")]
    members = {m["id"]: m for m in ctg.json("member", "list")}
    assert keys.read_public("v.agent").fingerprint == members["v.agent"]["fingerprint"]
    _verified(ctg)


def test_a_rotation_after_one_stopped_before_its_files_swapped_keeps_the_registered_key(
    ctg: Ctg, monkeypatch: pytest.MonkeyPatch
) -> None:
    _stopped_before_its_files_swapped(ctg, monkeypatch)
    staged = KeyDir(ctg.keys).staged_path("v.agent")
    registered = read_public_key(staged.with_name(staged.name + ".pub"))

    again = _rotate(ctg)  # the first rotation's key is put in place, then signs the second

    (first, second) = _log(ctg, "keys.rotate")
    assert _full(ctg, second["seq"])["payload"]["previous_fingerprint"] == registered.fingerprint
    assert KeyDir(ctg.keys).read_public("v.agent").fingerprint == again["fingerprint"]
    assert len(list(KeyDir(ctg.keys).path.glob("v.agent~retired-*.pub"))) == 2
    _verified(ctg)


def _offline(*args: str | Path) -> subprocess.CompletedProcess[str]:
    script = ROOT / "docs" / "verify_audit_export.py"
    return subprocess.run(
        [sys.executable, str(script), *map(str, args)], capture_output=True, text=True, check=False
    )


@needs_ssh_keygen
def test_old_and_new_signatures_verify_with_ssh_keygen_and_the_offline_script(
    ctg: Ctg, tmp_path: Path
) -> None:
    before = ctg.file_request()
    _rotate(ctg)
    ctg.ok("request", "withdraw", before, "--reason", "Doublon", as_="v.agent")
    filed, withdrawn = (
        max(e["seq"] for e in _log(ctg, a)) for a in ("request.file", "request.withdraw")
    )
    allowed = tmp_path / "allowed_signers"
    ctg.ok("member", "allowed-signers", "--out", str(allowed))
    lines = [line for line in allowed.read_text().splitlines() if line.startswith("v.agent ")]
    assert len(lines) == 2 and "valid-before=" in lines[0] and "valid-after=" in lines[1]

    def checked(seq: int, at: str | None) -> subprocess.CompletedProcess[bytes]:
        signed, signature = tmp_path / f"{seq}.bin", tmp_path / f"{seq}.sig"
        ctg.ok(
            "audit", "show", str(seq), "--signed-bytes", str(signed), "--signature", str(signature)
        )
        extra = [] if at is None else [f"-Overify-time={at}"]
        argv = ["ssh-keygen", "-Y", "verify", "-f", str(allowed), "-I", "v.agent",
                "-n", "ctg-exchange/event@v1", "-s", str(signature), *extra]  # fmt: skip
        return subprocess.run(argv, input=signed.read_bytes(), capture_output=True, check=False)

    def when(seq: int) -> str:
        time = str(_full(ctg, seq)["time"])
        return time[:19].replace("-", "").replace(":", "").replace("T", "") + "Z"

    old = checked(filed, when(filed))
    assert old.returncode == 0, old.stderr  # the old key, at its time
    assert checked(filed, None).returncode != 0  # the old key is no longer valid now
    new = checked(withdrawn, None)
    assert new.returncode == 0, new.stderr

    export = tmp_path / "export.jsonl"
    ctg.ok("audit", "export", "--out", str(export), as_="v.admin")
    signer = next(
        json.loads(line) for line in export.read_text().splitlines()
        if '"type":"signer"' in line and '"member":"v.agent"' in line
    )  # fmt: skip
    assert len(signer["retired_keys"]) == 1
    assert ctg("audit", "verify", "--export", str(export)).exit_code == 0
    result = _offline(export)
    assert result.returncode == 0, result.stdout
    result = _offline(export, "--allowed-signers", allowed)
    assert result.returncode == 0, result.stdout


def _party_keys(ctg: Ctg) -> None:
    ctg.ok("keys", "generate", "--party", "ville_sceaux", "--encryption", as_="v.admin")
    ctg.ok("keys", "generate", "--party", "caf92", "--encryption", as_="c.admin")


def test_a_package_sent_before_a_party_identity_rotation_is_received_after_it(
    ctg: Ctg, tmp_path: Path
) -> None:
    from test_exchange import accepted, qf_csv, receive, send

    _party_keys(ctg)
    rid = accepted(ctg, "max_retention_days:180", adopt=("R1",))
    first = Path(str(send(ctg, rid, qf_csv(tmp_path / "qf.csv"))["package"]))
    (old,) = [r["recipient"] for r in ctg.json("keys", "list") if r["party"] == "ville_sceaux"]

    rotated = ctg.json("keys", "rotate", "--party", "ville_sceaux", "--encryption", as_="v.admin")
    _rotate(ctg, "c.agent")  # the sender's signing key replaced too, since it signed
    early = ("--early", "--justification", "Second envoi (test)")
    (tmp_path / "2").mkdir()
    second = Path(str(send(ctg, rid, qf_csv(tmp_path / "2" / "qf.csv"), *early)["package"]))

    recipients = {r["recipient"]: r for r in ctg.json("keys", "list")}
    assert recipients[old]["retired_at"] is not None
    assert recipients[rotated["recipient"]]["retired_at"] is None
    ctg.ok(*receive(first, tmp_path / "in1.csv"), as_="v.agent")  # the old identity opens it
    ctg.ok(*receive(second, tmp_path / "in2.csv"), as_="v.agent")  # the new one, this
    assert (tmp_path / "in1.csv").read_bytes() == (tmp_path / "qf.csv").read_bytes()
    (rotation,) = [e for e in _log(ctg, "keys.encryption") if e["seq"] > 1][-1:]
    assert _full(ctg, rotation["seq"])["payload"]["replaces"] == old
    _verified(ctg)


def test_a_delivery_sealed_to_a_retired_recipient_breaks_the_log(
    ctg: Ctg, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A modified sender that still seals to the requesting party's retired identity (whose
    holder may have lost it): the delivery's recipients are those active at its event."""
    from test_exchange import accepted, qf_csv, send

    _party_keys(ctg)
    rid = accepted(ctg, "max_retention_days:180", adopt=("R1",))
    (old,) = [r["recipient"] for r in ctg.json("keys", "list") if r["party"] == "ville_sceaux"]
    ctg.ok("keys", "rotate", "--party", "ville_sceaux", "--encryption", as_="v.admin")
    honest = ExchangeQueries.recipients
    monkeypatch.setattr(
        ExchangeQueries,
        "recipients",
        lambda self, party=None: [
            r.model_copy(update={"retired_at": None}) for r in honest(self, party)
        ],
    )
    send(ctg, rid, qf_csv(tmp_path / "qf.csv"))
    monkeypatch.setattr(ExchangeQueries, "recipients", honest)
    (sent,) = _log(ctg, "exchange.send")
    assert old in _full(ctg, sent["seq"])["payload"]["recipients"]
    _breaks(ctg, f"broken at event #{sent['seq']} by c.agent: SEND_RECIPIENTS: delivery 1 is")


def test_a_rotation_that_retires_the_other_partys_recipient_breaks_the_log(
    ctg: Ctg, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A modified client of ville_sceaux's admin, to which every recipient is its party's:
    it retires caf92's only identity, which nothing would then be sealed to."""
    _party_keys(ctg)
    (caf,) = [r["recipient"] for r in ctg.json("keys", "list") if r["party"] == "caf92"]
    honest = ExchangeQueries.recipients
    monkeypatch.setattr(ExchangeQueries, "recipients", lambda self, party=None: honest(self))
    ctg.ok("keys", "rotate", "--party", "ville_sceaux", "--encryption", "--replaces", caf,
           as_="v.admin")  # fmt: skip
    monkeypatch.setattr(ExchangeQueries, "recipients", honest)
    (rotation,) = _log(ctg, "keys.encryption")[-1:]
    _breaks(ctg, f"at event #{rotation['seq']}: {caf} is not an active recipient of ville_sceaux")


def test_a_pseudonymised_request_is_sent_again_after_the_holder_replaced_its_identity(
    ctg: Ctg, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The request's pseudonymisation key is sealed to the holder's identity of its first
    delivery: a new identity with another passphrase does not stop the next delivery."""
    from test_exchange import EARLY, accepted, qf_csv, send

    _party_keys(ctg)
    rid = accepted(ctg, "pseudonymise:numero_allocataire", adopt=("R1",))
    dataset = qf_csv(tmp_path / "qf.csv", rows=2)
    send(ctg, rid, dataset)
    monkeypatch.setenv("CTG_IDENTITY_PASSPHRASE", "another long passphrase 2")
    ctg.ok("keys", "rotate", "--party", "caf92", "--encryption", as_="c.admin")
    again = ("exchange", "send", rid, "--dataset", str(dataset), "--out", str(tmp_path / "2"))
    ctg.refused(*again, *EARLY, as_="c.agent",
                contains="none of caf92's identities opens this request's key")  # fmt: skip
    monkeypatch.setenv("CTG_IDENTITY_PASSPHRASE", PASSPHRASE)
    ctg.ok(*again, *EARLY, as_="c.agent")
    _verified(ctg)


def test_a_party_with_no_identity_has_nothing_to_rotate(ctg: Ctg) -> None:
    ctg.refused("keys", "rotate", "--party", "ville_sceaux", "--encryption", as_="v.admin",
                contains="ville_sceaux has no decryption identity to replace")  # fmt: skip
    _party_keys(ctg)
    (caf,) = [r["recipient"] for r in ctg.json("keys", "list") if r["party"] == "caf92"]
    other = ("keys", "rotate", "--party", "ville_sceaux", "--encryption", "--replaces", caf)
    ctg.refused(*other, as_="v.admin", contains=f"{caf} is not an active recipient of ville_sceaux")
    ctg.refused("keys", "rotate", "--party", "ville_sceaux", "--encryption", as_="c.admin",
                contains="only an admin of ville_sceaux makes its decryption keys")  # fmt: skip
    ctg.refused("keys", "list", "--member", "x.nobody", contains="unknown member 'x.nobody'")


def test_french_messages(ctg: Ctg) -> None:
    result = ctg("keys", "rotate", "--member", "v.agent", "--lost", as_="v.admin",
                 env={"CTG_LANG": "fr"})  # fmt: skip
    assert result.exit_code == 1
    assert "motif" in result.stderr, result.stderr


def test_on_a_hosted_workspace_the_old_keys_calls_are_refused_and_the_new_ones_accepted(
    ctg: Ctg, tmp_path: Path
) -> None:
    from served import call, serving
    from test_remote_exchange import Parties

    with serving(ctg) as server:
        at = Parties(ctg, server.url, tmp_path)
        keys = KeyDir(at.keys["ville"])
        old = keys.open_signer("v.agent", PASSPHRASE).ed25519_key()
        assert call(server.url, signing_key=old).status_code == 200

        rotated = at("ville", "keys", "rotate", "--member", "v.agent", as_="v.agent")
        new = keys.open_signer("v.agent", PASSPHRASE).ed25519_key()
        refused = call(server.url, signing_key=old)
        accepted = call(server.url, signing_key=new)
        filed = at("ville", *_request_args(), as_="v.agent")  # the command line signs anew
        # a lost key, replaced from afar by the party's admin
        caf = KeyDir(at.keys["caf"])
        caf.generate("c.agent.next", PASSPHRASE, rounds=1)
        lost = at("caf", "keys", "rotate", "--member", "c.agent", "--lost", "--reason", "Perdu",
                  "--public-key", str(caf.public_path("c.agent.next")), as_="c.admin")  # fmt: skip
        # the other party's copy, verified on its machine
        copy = ctg("--workspace", str(at.dirs["caf"]), "audit", "verify", as_="c.dpo")

    assert rotated["fingerprint"] == keys.read_public("v.agent").fingerprint
    assert refused.status_code == 401, refused.text
    assert "bad signature" in refused.text
    assert accepted.status_code == 200 and accepted.json()["member"] == "v.agent"
    assert filed["filed_by"] == "v.agent"
    assert lost["fingerprint"] == caf.read_public("c.agent.next").fingerprint
    _verified(ctg)  # the server's own log
    assert copy.exit_code == 0, copy.output


def test_a_rotation_whose_proof_is_not_the_new_keys_is_caught_by_the_replay(
    ctg: Ctg, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A modified tool has the new key sign another statement than the rotation's."""
    from ctg_exchange.domain.key_payloads import rotation_statement as honest

    monkeypatch.setattr(
        key_rotation, "rotation_statement", lambda *args: honest("another-log", *args[1:])
    )
    _rotate(ctg)
    (event,) = _log(ctg, "keys.rotate")

    result = ctg("audit", "verify")
    assert result.exit_code == 3, result.output
    failure = json.loads(ctg("audit", "verify", "--json").stdout)["error"]["failures"][0]
    assert (failure["seq"], failure["rule"]) == (event["seq"], "KEY_PROOF")


def test_a_rotation_refused_by_its_transaction_leaves_no_key_behind(
    ctg: Ctg, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The workspace refuses what the member's machine thought allowed (the member revoked in
    between, a hosted workspace's own checks): the new key made for it goes."""
    ctg.ok("member", "revoke", "v.agent", "--reason", "Départ", as_="v.admin")
    monkeypatch.setattr(
        key_rotation, "_prechecked", lambda session, member, lost: ("", _member(ctg, member))
    )
    ctg.refused("keys", "rotate", "--member", "v.agent", as_="v.agent",
                contains="v.agent was revoked on")  # fmt: skip
    assert not KeyDir(ctg.keys).staged_path("v.agent").exists()


def _member(ctg: Ctg, member_id: str) -> Any:
    from ctg_exchange.domain.models import Member

    found = next(m for m in ctg.json("member", "list") if m["id"] == member_id)
    db = ctg.connect()
    try:
        (public_key,) = db.execute(
            "SELECT public_key FROM members WHERE id = ?", (member_id,)
        ).fetchone()
    finally:
        db.close()
    return Member.model_validate(
        {"id": member_id, "name": "x", "party": found["party"], "roles": found["roles"],
         "public_key": public_key, "fingerprint": found["fingerprint"],
         "added_by": found["added_by"], "added_at": "2025-06-02T00:00:00Z"}
    )  # fmt: skip


def _signed_with_the_retired_key(
    ctg: Ctg, monkeypatch: pytest.MonkeyPatch, rotated: dict[str, Any]
) -> None:
    """A modified copy of the tool, v.agent's retired key put back in its place."""
    keys = KeyDir(ctg.keys)
    keys.private_path("v.agent").unlink()
    shutil.copy2(rotated["retired_key_file"], keys.private_path("v.agent"))
    _unchecked_keys(monkeypatch)


def _offline_with_your_own_signers(ctg: Ctg, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    assert ctg("audit", "verify", "--full").exit_code == 3
    export, allowed = tmp_path / "export.jsonl", tmp_path / "allowed_signers"
    ctg.ok("audit", "export", "--out", str(export))
    ctg.ok("member", "allowed-signers", "--out", str(allowed))
    assert _offline(export).returncode == 1
    return _offline(export, "--allowed-signers", allowed)


@needs_ssh_keygen
def test_the_offline_script_with_allowed_signers_applies_the_logs_retirements_to_events(
    ctg: Ctg, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """allowed_signers dates a key by the second: an event signed with the retired key within
    the rotation's second passed; a complete export says the key was retired at its event."""
    _signed_with_the_retired_key(ctg, monkeypatch, _rotate(ctg))
    ctg.file_request()
    filed = max(e["seq"] for e in _log(ctg, "request.file"))
    result = _offline_with_your_own_signers(ctg, tmp_path)
    assert result.returncode == 1
    assert f"FAILED: event #{filed}: bad signature" in result.stdout.splitlines(), result.stdout


@needs_ssh_keygen
def test_the_offline_script_with_allowed_signers_refuses_a_retired_keys_checkpoint(
    ctg: Ctg, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A checkpoint carries no time: a key your file gives a valid-before signs none past the
    event the log says retired it."""
    rotated = _rotate(ctg)
    ctg.file_request()
    _signed_with_the_retired_key(ctg, monkeypatch, rotated)
    ctg.ok("audit", "checkpoint", as_="v.agent")
    size = len(ctg.json("audit", "log"))
    result = _offline_with_your_own_signers(ctg, tmp_path)
    assert result.returncode == 1
    assert f"FAILED: checkpoint of {size} events: not signed for this log" in result.stdout


def test_a_hosted_rotation_stopped_before_its_files_swapped_is_finished_by_the_next_command(
    ctg: Ctg, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server registered the new key, the member's machine stopped before swapping its
    files: the next call, refused with the old key, is made with the new one, put in place."""
    from served import serving
    from test_remote_exchange import Parties

    def crash(self: KeyDir, name: str, stamp: str) -> None:
        raise KeyboardInterrupt

    with serving(ctg) as server:
        at = Parties(ctg, server.url, tmp_path)
        with monkeypatch.context() as patched:
            patched.setattr(KeyDir, "promote", crash)
            assert at.run("ville", "keys", "rotate", "--member", "v.agent", as_="v.agent").exit_code
        keys = KeyDir(Path(at.keys["ville"]))
        filed = at.run("ville", *_request_args(), as_="v.agent")
        assert filed.exit_code == 0, filed.output
        again = at.run("ville", "keys", "rotate", "--member", "v.agent", as_="v.agent")
        assert again.exit_code == 0, again.output
    assert not keys.staged_path("v.agent").exists()
    assert len(list(keys.path.glob("v.agent~retired-*.pub"))) == 2
    _verified(ctg)


def test_a_member_added_with_a_key_another_member_held_breaks_the_log(
    ctg: Ctg, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A modified admin client that does not look the key up: the new member's key is
    v.agent's retired one (a key is registered once, ever)."""
    rotated = _rotate(ctg)
    keys = KeyDir(ctg.keys)
    shutil.copy2(rotated["retired_key_file"] + ".pub", keys.public_path("v.ghost"))
    with monkeypatch.context() as patched:
        patched.setattr(MemberQueries, "key_holder", lambda self, key: None)
        ctg.ok(*add_args("v.ghost", "ville_sceaux", "staff"),
               "--public-key", str(keys.public_path("v.ghost")), as_="v.admin")  # fmt: skip
    added = max(e["seq"] for e in _log(ctg, "member.add"))
    _breaks(ctg, f"at event #{added} by v.admin: KEY_REUSED: the key of v.ghost was registered")


def test_a_promote_stopped_between_its_renames_is_finished_by_the_next_command(
    ctg: Ctg, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A power cut inside the swap: the public files moved, the new private key not yet."""
    import os

    _stopped_before_its_files_swapped(ctg, monkeypatch)
    keys = KeyDir(ctg.keys)
    staged, current = keys.staged_path("v.agent"), keys.private_path("v.agent")
    retired = keys.path / "v.agent~retired-20250101T000000Z"
    os.rename(current, retired)
    os.rename(keys.public_path("v.agent"), retired.with_name(retired.name + ".pub"))
    os.rename(staged.with_name(staged.name + ".pub"), keys.public_path("v.agent"))

    ctg.file_request()

    assert not staged.exists() and current.exists()
    members = {m["id"]: m for m in ctg.json("member", "list")}
    assert keys.read_public("v.agent").fingerprint == members["v.agent"]["fingerprint"]
    _verified(ctg)


def test_a_hosted_promote_stopped_between_its_renames_is_finished_by_the_next_command(
    ctg: Ctg, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from served import serving
    from test_remote_exchange import Parties

    def cut(self: KeyDir, name: str, stamp: str) -> None:
        staged = self.staged_path(name)
        os.rename(self.private_path(name), self.path / f"{name}~retired-{stamp}")
        os.rename(self.public_path(name), self.path / f"{name}~retired-{stamp}.pub")
        os.rename(staged.with_name(staged.name + ".pub"), self.public_path(name))
        raise KeyboardInterrupt  # before the private key's rename

    with serving(ctg) as server:
        at = Parties(ctg, server.url, tmp_path)
        with monkeypatch.context() as patched:
            patched.setattr(KeyDir, "promote", cut)
            assert at.run("ville", "keys", "rotate", "--member", "v.agent", as_="v.agent").exit_code
        filed = at.run("ville", *_request_args(), as_="v.agent")
        assert filed.exit_code == 0, filed.output
    keys = KeyDir(Path(at.keys["ville"]))
    assert keys.private_path("v.agent").exists() and not keys.staged_path("v.agent").exists()
    _verified(ctg)


def test_two_rotations_within_a_second_keep_both_retired_keys(tmp_path: Path) -> None:
    keys = KeyDir(tmp_path / "keys")
    keys.generate("v.agent", PASSPHRASE, rounds=TEST_KDF_ROUNDS)
    for _ in range(2):
        keys.stage("v.agent", PASSPHRASE, rounds=TEST_KDF_ROUNDS)
        keys.promote("v.agent", "20250101T000000Z")
    assert len(list(keys.path.glob("v.agent~retired-*.pub"))) == 2
    assert len([p for p in keys.path.glob("v.agent~retired-*") if p.suffix != ".pub"]) == 2
