"""Many agents at once, and agents killed mid-step: nothing lost, nothing half-done.

Each test runs on both backends. The agents are separate processes (tests/procedure_worker.py)
calling the services, as agents' terminals would; the checks read the workspace afterwards.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from conftest import REQUEST, Ctg

pytestmark = pytest.mark.slow  # agent processes, kills and waits: seconds each

WORKER = Path(__file__).with_name("procedure_worker.py")
AGENTS = 8
REQUESTS_EACH = 25
STEPS = ("request.file", "study.accept", "study.submit", "dpo.opinion")


def _spawn(ctg: Ctg, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(WORKER), str(ctg.workspace), str(ctg.keys), *args],
        env=os.environ.copy(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _finish(process: subprocess.Popen[str]) -> dict[str, Any]:
    out, err = process.communicate(timeout=900)
    assert process.returncode == 0, err
    result: dict[str, Any] = json.loads(out.splitlines()[-1])
    return result


def _seqs(ctg: Ctg) -> list[int]:
    db = ctg.connect()
    try:
        return [int(row[0]) for row in db.execute("SELECT seq FROM audit_events ORDER BY seq")]
    finally:
        db.close()


def _verified(ctg: Ctg) -> dict[str, Any]:
    result: dict[str, Any] = ctg.json("audit", "verify")
    assert result["ok"] is True
    return result


def test_eight_agents_at_once_lose_nothing(ctg: Ctg) -> None:
    events_before = len(_seqs(ctg))
    agents = [_spawn(ctg, "--count", str(REQUESTS_EACH)) for _ in range(AGENTS)]
    results = [_finish(agent) for agent in agents]

    assert [r["errors"] for r in results] == [[]] * AGENTS  # busy is waited out, never shown
    filed = [rid for r in results for rid in r["filed"]]
    assert len(filed) == AGENTS * REQUESTS_EACH
    assert len(set(filed)) == len(filed)
    listed = ctg.json("request", "list", "--all")  # 8 x 25 requests: more than a page
    assert sorted(r["id"] for r in listed) == sorted(filed)  # each request exists once
    assert {r["status"] for r in listed} == {"opinion_given"}
    for rid in random.sample(filed, 5):
        assert [s["action"] for s in ctg.show(rid)["history"]] == list(STEPS)
    seqs = _seqs(ctg)
    assert seqs == list(range(1, len(seqs) + 1))  # no gap, no duplicate
    assert len(seqs) == events_before + len(filed) * len(STEPS)
    assert _verified(ctg)["events"] == len(seqs)


def _wait_for(marker: Path, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 120
    while not marker.exists():
        if process.poll() is not None:
            raise AssertionError(process.communicate()[1])
        assert time.monotonic() < deadline, "the worker never reached the point"
        time.sleep(0.02)


@pytest.mark.parametrize("point", ["before-event", "after-event", "after-commit"])
def test_an_agent_killed_mid_step_leaves_the_workspace_before_or_after(
    ctg: Ctg, point: str, tmp_path: Path
) -> None:
    rid = ctg.file_request()
    ctg.advance(rid, "under_study")  # the step under test: study.submit
    before = ctg.tables()
    marker = tmp_path / "reached"

    worker = _spawn(ctg, "--advance", rid, "--hang-at", point, "--marker", str(marker))
    _wait_for(marker, worker)
    worker.send_signal(signal.SIGKILL)
    worker.communicate()

    if point == "after-commit":
        assert ctg.show(rid)["status"] == "awaiting_dpo"
        assert ctg.tables() != before
    else:
        assert ctg.tables() == before  # not a row of the half-done step
        assert ctg.show(rid)["status"] == "under_study"
        ctg.ok("study", "submit", rid, as_="c.controller")  # the lock died with the agent
    _verified(ctg)
    ctg.ok("dpo", "opinion", rid, "--verdict", "favourable", "--note", "Avis", as_="c.dpo")
    _verified(ctg)


def test_agents_killed_at_random_moments_leave_a_consistent_log(ctg: Ctg) -> None:
    rng = random.Random(7)
    for _ in range(3):
        workers = [_spawn(ctg, "--count", "10") for _ in range(3)]
        time.sleep(rng.uniform(1.0, 3.0))
        for worker in workers:
            worker.send_signal(signal.SIGKILL)
            worker.communicate()
        seqs = _seqs(ctg)
        assert seqs == list(range(1, len(seqs) + 1))
        _verified(ctg)  # the replay finds no request ahead of or behind its events
    assert _finish(_spawn(ctg, "--count", "2"))["errors"] == []
    _verified(ctg)


@pytest.mark.sqlite_only
@pytest.mark.parametrize("held_for", [0.4, None], ids=["released", "never-released"])
def test_a_busy_database_is_waited_out_then_reported_in_one_line(
    ctg: Ctg, monkeypatch: pytest.MonkeyPatch, held_for: float | None
) -> None:
    """Another process holds the write lock past the busy timeout (here 50 ms): the step is
    tried again; if the lock is never released, one error line, and nothing changed."""
    from ctg_exchange.services import session as session_module
    from ctg_exchange.store import sqlite as sqlite_module

    monkeypatch.setattr(sqlite_module, "BUSY_TIMEOUT_MS", 50)
    monkeypatch.setattr(session_module, "BUSY_RETRIES", 4 if held_for is None else 8)
    holder = sqlite3.connect(ctg.db, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")  # the write lock, as another agent's command holds it
    try:
        if held_for is None:
            ctg.refused(
                *REQUEST, as_="v.agent", contains="the database stayed busy through 4 tries"
            )
        else:
            release = threading.Timer(held_for, holder.rollback)
            release.start()
            rid = ctg.file_request()
            release.join()
            assert ctg.show(rid)["status"] == "filed"
    finally:
        holder.close()
