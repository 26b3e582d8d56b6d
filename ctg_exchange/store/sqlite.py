"""The embedded default store: one SQLite file in the workspace (DESIGN §6).

WAL mode, foreign keys on, ``synchronous=FULL`` (the audit log is evidence: a committed event
must survive a power cut), a busy timeout so that concurrent commands wait rather than fail, and
``BEGIN IMMEDIATE`` for writes so the audit chain has a single writer at a time.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

from ..errors import WorkspaceError
from .migrate import migrate
from .sql import SqlTx

BUSY_TIMEOUT_MS = 30_000


class SqliteStore:
    dialect = "sqlite"

    def __init__(self, path: Path, *, create: bool = False) -> None:
        self.path = path
        mode = "rwc" if create else "rw"
        try:
            self._conn = sqlite3.connect(
                f"file:{quote(str(path))}?mode={mode}",
                uri=True,
                isolation_level=None,
                timeout=BUSY_TIMEOUT_MS / 1000,
            )
        except sqlite3.DatabaseError as exc:
            raise WorkspaceError(f"cannot open the database {path}: {exc}") from None
        try:
            self._conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            self._conn.execute("PRAGMA foreign_keys = ON")
            self._conn.execute("PRAGMA synchronous = FULL")
            if self._conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                self._conn.execute("PRAGMA journal_mode = WAL")
            migrate(self)
        except sqlite3.DatabaseError as exc:
            self._conn.close()
            raise WorkspaceError(f"cannot open the database {path}: {exc}") from None

    @contextmanager
    def transaction(self, *, write: bool = False, commit: bool = True) -> Iterator[SqlTx]:
        """A transaction; ``commit=False`` always rolls back (a dry run)."""
        self._conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        try:
            yield SqlTx(self._conn)
        except BaseException:
            self._conn.rollback()
            raise
        if commit:
            self._conn.commit()
        else:
            self._conn.rollback()

    def table_exists(self, tx: SqlTx, name: str) -> bool:
        row = tx.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)
        ).fetchone()
        return row is not None

    def close(self) -> None:
        self._conn.close()
