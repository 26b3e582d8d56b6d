"""What the workspace leaves on disk and hands to other processes (DESIGN §10, issue 13).

The workspace directory is ``0700`` and the SQLite file (with its WAL) ``0600`` whatever the
umask; passphrases never reach a child process; an audit bundle interrupted by SIGKILL leaves a
staging directory that the next bundle removes, saying so, while one still being written is left
alone.
"""

from __future__ import annotations

import fcntl
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import INIT, Ctg

REGISTRY = Path(__file__).resolve().parents[1] / "registry"


@pytest.fixture
def open_umask() -> Iterator[None]:
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.sqlite_only
def test_a_new_workspace_is_private_whatever_the_umask(fresh: Ctg, open_umask: None) -> None:
    fresh.ok(*INIT)
    fresh.ok("member", "list", as_="v.admin")  # the WAL and its index exist once it is opened
    assert _mode(fresh.workspace) == 0o700
    for name in ("ctg.sqlite3", "ctg.sqlite3-wal", "ctg.sqlite3-shm"):
        path = fresh.workspace / name
        if path.exists():
            assert _mode(path) == 0o600, name
    assert _mode(fresh.db) == 0o600


def test_child_processes_get_no_passphrase(monkeypatch: pytest.MonkeyPatch) -> None:
    from ctg_exchange.procenv import child_environment

    monkeypatch.setenv("CTG_PASSPHRASE", "secret-one")
    monkeypatch.setenv("CTG_IDENTITY_PASSPHRASE", "secret-two")
    monkeypatch.setenv("CTG_WORKSPACE", "/somewhere")
    env = child_environment(EXTRA="1")
    assert "CTG_PASSPHRASE" not in env and "CTG_IDENTITY_PASSPHRASE" not in env
    assert env["CTG_WORKSPACE"] == "/somewhere" and env["EXTRA"] == "1"


def test_the_signature_workers_environment_has_no_passphrase(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from ctg_exchange.audit import sigcheck

    seen: list[dict[str, str]] = []

    class Spy:
        def __init__(self, *args: object, env: dict[str, str], **kwargs: object) -> None:
            seen.append(env)
            raise RuntimeError("spied")

    monkeypatch.setenv("CTG_PASSPHRASE", "secret-one")
    monkeypatch.setattr(subprocess, "Popen", Spy)
    with pytest.raises(RuntimeError, match="spied"):
        sigcheck.ProcessChecker(1)
    assert seen and "CTG_PASSPHRASE" not in seen[0]


_STAGE_AND_WAIT = """
import sys, time
from pathlib import Path
from ctg_exchange.fsutil import StagingDir
staging = StagingDir(Path(sys.argv[1]), ".ctg-bundle-")
(staging.path / "registre.csv").write_text("partial")
print(staging.path.name, flush=True)
time.sleep(60)
"""


def _killed_bundle(target: Path) -> str:
    """A bundle's staging directory as a SIGKILL leaves it: written, locked, never published."""
    child = subprocess.Popen(
        [sys.executable, "-c", _STAGE_AND_WAIT, str(target)], stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None
    with child.stdout:
        name = child.stdout.readline().strip()
        child.kill()
        child.wait()
    return name


def test_an_interrupted_bundle_is_swept_by_the_next_one(ctg: Ctg, tmp_path: Path) -> None:
    for dpo in ("v.dpo", "c.dpo"):
        ctg.ok("register", "import", str(REGISTRY), as_=dpo)
    bundle = tmp_path / "controle"
    left = _killed_bundle(bundle)
    assert (tmp_path / left).is_dir()
    # another run still writing its bundle: locked, left alone
    busy = tmp_path / ".ctg-bundle-busy"
    busy.mkdir()
    lock = os.open(busy / ".lock", os.O_WRONLY | os.O_CREAT, 0o600)
    fcntl.flock(lock, fcntl.LOCK_EX)
    try:
        result = ctg.ok("register", "export", "--audit-bundle", str(bundle), as_="c.dpo")
    finally:
        os.close(lock)
    assert f"removed {left}, left by an interrupted bundle" in result.stderr
    assert not (tmp_path / left).exists()
    assert busy.is_dir()
    assert not (bundle / ".lock").exists()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".ctg-bundle-")) == [
        busy.name
    ]
