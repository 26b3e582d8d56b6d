"""What an earlier release wrote still verifies: the audit log is evidence kept for years.

``tests/vectors/release/<version>/`` holds a workspace recorded by that release with
``tools/record_release_log.py`` (every audited action taken at least once), as a SQLite text
dump, with its complete audit export. Nothing here may be regenerated: a release that can no
longer verify them has changed the format.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from ctg_exchange.cli.app import cli

ROOT = Path(__file__).resolve().parents[1]
RELEASES = sorted((ROOT / "tests" / "vectors" / "release").iterdir())
OFFLINE = ROOT / "docs" / "verify_audit_export.py"


def restore(recording: Path, into: Path) -> Path:
    """The recorded workspace, rebuilt from its dump in ``into``."""
    into.mkdir()
    shutil.copy(recording / "workspace.json", into / "workspace.json")
    db = sqlite3.connect(into / "ctg.sqlite3")
    try:
        db.executescript((recording / "workspace.sql").read_text(encoding="utf-8"))
    finally:
        db.close()
    return into


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize("recording", RELEASES, ids=[r.name for r in RELEASES])
def test_a_recorded_workspace_verifies_and_its_state_matches(
    recording: Path, tmp_path: Path
) -> None:
    workspace = restore(recording, tmp_path / "ws")

    code, out, err = run("--workspace", str(workspace), "--json", "audit", "verify")

    assert code == 0, err
    result = json.loads(out)
    lines = (recording / "export.jsonl").read_text(encoding="utf-8").splitlines()
    kinds = [json.loads(line)["type"] for line in lines]
    events, checkpoints = kinds.count("event"), kinds.count("checkpoint")
    assert (result["ok"], result["events"], result["failures"]) == (True, events, [])
    assert (result["checkpoints"], result["latest_checkpoint"]) == (checkpoints, events)


@pytest.mark.parametrize("recording", RELEASES, ids=[r.name for r in RELEASES])
def test_a_recorded_export_verifies_with_the_tool_and_alone(
    recording: Path, tmp_path: Path
) -> None:
    workspace = restore(recording, tmp_path / "ws")
    export = recording / "export.jsonl"

    code, _, err = run("--workspace", str(workspace), "audit", "verify", "--export", str(export))
    offline = subprocess.run(
        [sys.executable, str(OFFLINE), str(export), "--allowed-signers",
         str(recording / "allowed_signers")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip

    assert code == 0, err
    assert "rules 1: a log begun by ctg-exchange 0.1.0" in err  # its weaker rules, said
    assert offline.returncode == 0, offline.stdout + offline.stderr
    assert offline.stdout.startswith("OK: ")


@pytest.mark.parametrize("recording", RELEASES, ids=[r.name for r in RELEASES])
def test_a_row_of_a_recorded_workspace_changed_by_sql_is_named(
    recording: Path, tmp_path: Path
) -> None:
    workspace = restore(recording, tmp_path / "ws")
    db = sqlite3.connect(workspace / "ctg.sqlite3")
    request = db.execute("SELECT id FROM requests WHERE status = 'exchanged'").fetchone()[0]
    db.execute("UPDATE requests SET status = 'closed' WHERE id = ?", (request,))
    db.commit()
    db.close()

    code, _, err = run("--workspace", str(workspace), "audit", "verify")

    assert code == 3
    assert err.splitlines()[0] == (
        f"ctg-exchange: error: audit log broken at request {request}: "
        "row_status is 'closed' in the store; the log says 'exchanged'"
    )
