"""The stores: recorded migrations, evidence-grade settings, refusal of a newer schema."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ctg_exchange.audit import merkle
from ctg_exchange.audit.events import GENESIS_HASH, Event, StoredEvent
from ctg_exchange.errors import WorkspaceError
from ctg_exchange.services.workspace import open_store
from ctg_exchange.store import LATEST, MIGRATIONS
from ctg_exchange.store.base import Reads
from ctg_exchange.store.sqlite import SqliteStore

from conftest import Ctg


def test_migrations_are_named_and_recorded(store: Any) -> None:
    with store.transaction() as tx:
        rows = tx.execute("SELECT version, name FROM schema_migrations ORDER BY version")
        recorded = [tuple(row) for row in rows.fetchall()]
    assert recorded == [(m.version, m.name) for m in MIGRATIONS]
    assert recorded[-1][0] == LATEST


def test_evidence_grade_settings(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "db.sqlite3", create=True)
    try:
        with store.transaction() as tx:
            pragmas = {
                name: tx.execute(f"PRAGMA {name}").fetchone()[0]
                for name in ("journal_mode", "synchronous", "foreign_keys")
            }
    finally:
        store.close()
    assert pragmas == {"journal_mode": "wal", "synchronous": 2, "foreign_keys": 1}  # 2 = FULL


def test_a_schema_from_a_newer_version_is_refused(ctg: Ctg) -> None:
    ctg.sql(
        "INSERT INTO schema_migrations VALUES (?, 'from the future', '2030-01-01')",
        params=(LATEST + 1,),
    )
    with pytest.raises(WorkspaceError, match=f"schema version {LATEST + 1}"):
        open_store(
            ctg.workspace, json.loads((ctg.workspace / "workspace.json").read_text())["database"]
        )
    ctg.refused("request", "list", contains=f"the workspace has schema version {LATEST + 1}")


def test_opening_a_missing_database_does_not_create_it(tmp_path: Path) -> None:
    with pytest.raises(WorkspaceError, match="cannot open the database"):
        SqliteStore(tmp_path / "absent.sqlite3")
    assert not (tmp_path / "absent.sqlite3").exists()


def test_a_failed_transaction_leaves_nothing(store: Any) -> None:
    with pytest.raises(RuntimeError), store.transaction(write=True) as tx:
        tx.set_meta("workspace_id", "half-done")
        raise RuntimeError("crash in the middle of a state change")
    with store.transaction() as tx:
        assert tx.get_meta("workspace_id") is None


def test_a_dry_run_always_rolls_back(store: Any) -> None:
    with store.transaction(write=True, commit=False) as tx:
        tx.set_meta("workspace_id", "checked, not written")
    with store.transaction() as tx:
        assert tx.get_meta("workspace_id") is None


def test_values_round_trip_unchanged(store: Any) -> None:
    """Large integers, percent signs and question marks in values, byte-order sorting."""
    with store.transaction(write=True) as tx:
        tx.execute("INSERT INTO counters (name, value) VALUES (?, ?)", ("big", 5 * 2**40))
        for key in ("b", "B", "a-b", "ab", "é", "100% ?"):
            tx.set_meta(key, f"{key} = 50% ?")
    with store.transaction() as tx:
        assert tx.execute("SELECT value FROM counters WHERE name = 'big'").fetchone()[0] == (
            5 * 2**40
        )
        keys = [row[0] for row in tx.execute("SELECT key FROM meta ORDER BY key").fetchall()]
        assert keys == sorted(keys, key=lambda k: k.encode())  # as SQLite compares: bytes
        assert tx.get_meta("100% ?") == "100% ? = 50% ?"


def test_a_workspace_from_before_checkpoints_gains_its_merkle_tree(ctg: Ctg) -> None:
    """Migration 5 derives the tree from the events already there; the log then checkpoints,
    proves and verifies as if it had always had one."""
    rid = ctg.file_request()
    ctg.advance(rid, "approved")
    ctg.sql(
        *(
            f"DROP TABLE {table}"
            for table in ("checkpoint_signatures", "checkpoints", "audit_tree")
        ),
        "DELETE FROM schema_migrations WHERE version = 5",
    )  # the tables' triggers go with them

    made = ctg.json("audit", "checkpoint", as_="c.dpo")
    assert made["tree_size"] == len(ctg.json("audit", "log"))
    assert ctg.json("audit", "verify")["checkpoints"] == 1
    assert len(ctg.json("audit", "prove", "--request", rid)["proofs"]) == 5


def test_reads_asked_ahead_see_the_transactions_own_writes(store: Any) -> None:
    """What a write transaction asks for at once (PostgreSQL sends it with its lock) reads back
    what the transaction then writes; the Merkle nodes it extends the tree with are those a
    tree built in memory has."""
    in_memory = merkle.Frontier()
    previous = GENESIS_HASH
    for seq in range(1, 18):
        with store.transaction(write=True) as tx:
            tx.prefetch(Reads(counter="requests"))
            last = tx.last_event()
            assert (0 if last is None else last.seq) == seq - 1
            assert tx.counter_value("requests") == (seq - 1 or None)
            assert tx.next_number("requests") == seq
            assert tx.counter_value("requests") == seq
            tx.set_meta("last", str(seq))
            assert tx.get_meta("last") == str(seq)
            event = Event(
                "log", seq, f"2025-06-02T09:00:{seq:02d}Z", "a", "p", "r", "x", "s", previous
            )
            tx.append_event(StoredEvent(event=event, hash=event.digest(), signature=""))
            appended = tx.last_event()
            assert appended is not None and appended.seq == seq
            tx.tree_append(seq - 1, merkle.leaf_hash(event.signed_bytes()))
        previous = event.digest()
        in_memory.append(merkle.leaf_hash(event.signed_bytes()))
        with store.transaction() as tx:
            assert tx.tree_root(seq) == in_memory.root()
