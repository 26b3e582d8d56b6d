"""``audit verify`` remembers what it verified, and the next one reads only what is new.

The memory is the verifier's own (``$XDG_STATE_HOME/ctg-exchange/verified``, each test's own
here), never the workspace's. Whatever it remembers, tampering stays visible: an old event
edited in place is caught by ``--full`` and by the next checkpoint (which verifies in full
before signing), a history rewritten and re-signed, tree and checkpoints included, by the
RFC 9162 consistency proof from the remembered root; a memory that cannot be read only makes
the next verification a full one.
"""

from __future__ import annotations

import shutil
import stat
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from test_audit_tamper import _log_a_request, _rewrite, _seq_of, _tamper

from ctg_exchange.audit.verify import LogVerifier
from ctg_exchange.services import auditing

from conftest import REQUEST, Ctg, State


@pytest.fixture
def remembered(state: State) -> Ctg:
    """A request taken to conditions_accepted with checkpoints, verified once."""
    ctg = state("logged", _log_a_request)
    ctg.ok("audit", "verify")
    return ctg


@pytest.fixture
def fed(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """The sequence numbers of the events each verification reads."""
    seen: list[int] = []
    feed = LogVerifier.feed

    def counting(self: LogVerifier, stored: Any) -> None:
        seen.append(stored.seq)
        feed(self, stored)

    monkeypatch.setattr(LogVerifier, "feed", counting)
    yield seen


def _memory(ctg: Ctg) -> Path:
    log = ctg.json("audit", "show", "1")["log"]
    (path,) = (ctg.root / "state" / "ctg-exchange" / "verified").glob(f"{log}-*.sqlite3")
    return path


def _a_microsecond_off(time: str) -> str:
    """Another time, a microsecond away (``…123456Z`` -> ``…123457Z``, or …455)."""
    last = int(time[-2])
    return f"{time[:-2]}{last + 1 if last < 9 else last - 1}Z"


def _failures(ctg: Ctg, *args: str) -> list[dict[str, Any]]:
    result = ctg("audit", "verify", "--json", *args)
    assert result.exit_code == 3, result.output
    import json

    failures: list[dict[str, Any]] = json.loads(result.stdout)["error"]["failures"]
    return failures


def test_a_verification_is_remembered_privately_outside_the_workspace(remembered: Ctg) -> None:
    memory = _memory(remembered)
    assert memory.is_file()
    assert not memory.resolve().is_relative_to(remembered.workspace.resolve())
    assert stat.S_IMODE(memory.stat().st_mode) == 0o600
    assert stat.S_IMODE(memory.parent.stat().st_mode) == 0o700
    assert [p.name for p in memory.parent.iterdir()] == [memory.name]  # no temporary left


def test_the_next_verification_reads_only_the_new_events_and_says_what_a_full_one_says(
    remembered: Ctg, fed: list[int]
) -> None:
    known = remembered.json("audit", "verify")["events"]
    assert fed == []  # nothing new: nothing read
    rid = remembered.file_request()
    remembered.advance(rid, "approved")
    remembered.ok("audit", "checkpoint", as_="c.dpo")
    remembered.ok("dpo", "annotate", rid, "--note", "Note fictive", as_="c.dpo")
    fed.clear()
    incremental = remembered.json("audit", "verify")
    assert fed == list(range(known + 1, incremental["events"] + 1))
    fed.clear()
    full = remembered.json("audit", "verify", "--full")
    assert fed == list(range(1, full["events"] + 1))
    assert incremental == full
    assert incremental["checkpoints"] == 3


def test_an_old_event_edited_in_place_is_caught_by_full_and_by_the_next_checkpoint(
    remembered: Ctg,
) -> None:
    seq = _seq_of(remembered, "dpo.opinion")
    _tamper(
        remembered,
        "UPDATE audit_events SET payload = replace(payload, '\"favourable\"', "
        f"'\"unfavourable\"') WHERE seq = {seq}",
    )
    failures = _failures(remembered, "--full")
    assert failures[0]["seq"] == seq
    assert failures[0]["message"] == "the stored hash does not match the event's content"
    # the next checkpoint verifies the whole log before it is signed: it is refused
    remembered.refused(
        "audit",
        "checkpoint",
        as_="c.dpo",
        code=3,
        contains=f"event #{seq}: the stored hash does not match",
    )


def test_a_history_rewritten_and_re_signed_fails_the_consistency_proof(
    remembered: Ctg, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An insider with the keys rewrites an early event, re-signs every later one, rebuilds the
    tree, removes the checkpoints and has a modified client sign a new one: the log is
    consistent with itself, not with the root this verifier verified."""
    seq = _seq_of(remembered, "request.file")
    _rewrite(remembered, seq, lambda e: replace(e, time=_a_microsecond_off(e.time)))
    _tamper(remembered, "DELETE FROM checkpoint_signatures", "DELETE FROM checkpoints")
    with monkeypatch.context() as patched:
        patched.setattr(auditing, "raise_if_broken", lambda result: result)  # signs blind
        remembered.ok("audit", "checkpoint", as_="c.dpo")
    for args, said in (
        ((), "RFC 9162 consistency proof"),  # from the remembered root to the new checkpoint
        (("--full",), "no longer have the root and last hash verified then"),  # tree rebuilt
    ):
        failures = _failures(remembered, *args)
        memory = [f for f in failures if f.get("record") == "this verifier's memory"]
        assert any(said in f["message"] for f in memory), failures
    assert _memory(remembered).is_file()  # kept: the next verification fails again


@pytest.mark.parametrize("damage", ["garbage", "not private"])
def test_a_memory_that_cannot_be_read_makes_a_full_verification(
    remembered: Ctg, fed: list[int], damage: str
) -> None:
    memory = _memory(remembered)
    if damage == "garbage":
        memory.write_bytes(b"not a database at all" * 100)
    else:
        memory.chmod(0o644)
    result = remembered.json("audit", "verify")
    assert fed == list(range(1, result["events"] + 1))
    fed.clear()
    assert remembered.json("audit", "verify")["events"] == result["events"]
    assert fed == []  # remembered again, privately
    assert stat.S_IMODE(memory.stat().st_mode) == 0o600


def test_no_memory_is_kept_inside_the_workspace(remembered: Ctg, fed: list[int]) -> None:
    """Whoever writes the workspace could write a memory kept there: none is."""
    inside = {"XDG_STATE_HOME": str(remembered.workspace / "state")}
    for _ in range(2):
        fed.clear()
        result = remembered("audit", "verify", "--json", env=inside)
        assert result.exit_code == 0, result.output
        assert len(fed) == len(remembered.json("audit", "log"))  # in full, each time
    assert not (remembered.workspace / "state").exists()


def test_a_checkpoint_signature_changed_since_is_verified_again(remembered: Ctg) -> None:
    """Checkpoints verified earlier are not verified again, unless their notes or kept
    signature lines are no longer the ones verified."""
    _tamper(remembered, "UPDATE checkpoint_signatures SET party = 'ville_sceaux'")
    failures = _failures(remembered)
    assert any(
        f["message"] == "the signature kept for c.dpo (ville_sceaux) is not theirs"
        for f in failures
    ), failures


def test_two_copies_of_a_workspace_keep_memories_of_their_own(ctg: Ctg, tmp_path: Path) -> None:
    """A copy (a backup restored elsewhere, a rehearsal from a template) is verified in full
    the first time, and its own events never contradict the other copy's memory."""
    if ctg.backend != "sqlite":
        pytest.skip("a copy of a PostgreSQL workspace is another database")
    ctg.ok("audit", "verify")
    copy = tmp_path / "copy"
    shutil.copytree(ctg.workspace, copy)
    ctg.file_request()  # the two logs part ways
    filed = ctg("--workspace", str(copy), *REQUEST, as_="v.agent")
    assert filed.exit_code == 0, filed.output
    for where in (ctg.workspace, copy):
        verified = ctg("--workspace", str(where), "audit", "verify")
        assert verified.exit_code == 0, verified.output
    memories = list((ctg.root / "state" / "ctg-exchange" / "verified").glob("*.sqlite3"))
    assert len(memories) == 2
