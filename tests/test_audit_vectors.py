"""The audit test vectors (tests/vectors/audit, written by tools/make_audit_vectors.py with fixed
keys and clock): ctg-exchange and the independent docs/verify_audit_export.py both reach each
vector's expected outcome, and name the same first failure."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import Ctg

ROOT = Path(__file__).resolve().parents[1]
VECTORS = sorted((ROOT / "tests" / "vectors" / "audit").glob("*.json"))
OFFLINE = ROOT / "docs" / "verify_audit_export.py"


def test_the_vectors_are_what_the_script_writes() -> None:
    result = subprocess.run(
        [sys.executable, "tools/make_audit_vectors.py", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert len(VECTORS) >= 11


@pytest.mark.parametrize("vector", VECTORS, ids=[v.stem for v in VECTORS])
def test_both_verifiers_reach_the_expected_outcome(
    vector: Path, fresh: Ctg, tmp_path: Path
) -> None:
    case = json.loads(vector.read_text(encoding="utf-8"))
    export = tmp_path / "export.jsonl"
    export.write_text(case["export"], encoding="utf-8")
    expect = case["expect"]

    tool = fresh("audit", "verify", "--export", str(export))
    offline = subprocess.run(
        [sys.executable, str(OFFLINE), str(export)], capture_output=True, text=True, check=False
    )
    if expect["ok"]:
        assert tool.exit_code == 0, tool.output
        assert offline.returncode == 0, offline.stdout
        assert offline.stdout.startswith("OK: ")
        return
    assert tool.exit_code == 3, tool.output
    assert tool.stderr.startswith(f"ctg-exchange: error: audit log broken at {expect['first']}: ")
    assert offline.returncode == 1, offline.stdout
    assert offline.stdout.startswith(f"FAILED: {expect['first']}: ")
