"""What the benchmarks share: a throwaway workspace made with the real command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PASSPHRASE = "benchmark-passphrase-not-secret"  # noqa: S105 (a throwaway workspace)
TODAY = "2025-06-02"  # inside the shipped convention's validity


def cli(env: dict[str, str], *args: str, actor: str | None = None) -> str:
    """Run ``ctg-exchange`` as a process; stop the benchmark if it fails."""
    argv = [sys.executable, "-m", "ctg_exchange", *(["--as", actor] if actor else []), *args]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args[:3])} failed: {done.stderr.strip()}")
    return done.stdout


def environment(base: Path) -> dict[str, str]:
    """The environment of a workspace in ``base/ws`` with its keys in ``base/keys``."""
    return {
        **os.environ,
        "CTG_WORKSPACE": str(base / "ws"),
        "CTG_KEY_DIR": str(base / "keys"),
        "CTG_PASSPHRASE": PASSPHRASE,
        "CTG_TODAY": TODAY,
        "PYTHONPATH": str(ROOT),
    }


def make_workspace(
    base: Path, members: Sequence[tuple[str, str, str, str]], database: str | None = None
) -> dict[str, str]:
    """A workspace created by v.admin (town hall), with ``(id, party, role, added by)``
    members, each with a key; on ``database`` (a PostgreSQL URL) if given."""
    env = environment(base)
    extra = ("--database", database) if database else ()
    cli(
        env,
        "init",
        "--admin",
        "v.admin",
        "--admin-name",
        "Admin (fictif)",
        "--admin-party",
        "ville_sceaux",
        "--simulated-clock",  # a bench is a rehearsal: CTG_TODAY sets its dates
        *extra,
    )
    for member, party, role, adder in members:
        cli(env, "keys", "generate", "--member", member)
        cli(
            env,
            "member",
            "add",
            member,
            "--name",
            f"{member} (fictif)",
            "--party",
            party,
            "--role",
            role,
            actor=adder,
        )
    return env


def run_processes(env: dict[str, str], argvs: Sequence[Sequence[str]], what: str) -> list[Any]:
    """Start one process per argv at once, wait for all; each prints one JSON line last."""
    started = [
        subprocess.Popen(
            list(argv), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )  # fmt: skip
        for argv in argvs
    ]
    results = []
    for process in started:
        out, err = process.communicate()
        if process.returncode != 0:
            raise SystemExit(f"{what} failed:\n{err.strip()[-2000:]}")
        results.append(json.loads(out.splitlines()[-1]))
    return results
