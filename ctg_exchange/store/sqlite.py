"""The embedded default store: one SQLite file in the workspace (DESIGN §6).

WAL mode, foreign keys on, ``synchronous=FULL`` (the audit log is evidence: a committed event
must survive a power cut), a busy timeout so that concurrent commands wait rather than fail, and
``BEGIN IMMEDIATE`` for writes so the audit chain has a single writer at a time.

Writers also queue on an ``flock`` of ``<database>.lock`` before ``BEGIN IMMEDIATE``. SQLite's
own lock stays the rule (a process without the flock is still serialised), but its busy handler
polls with sleeps of up to 100 ms, so agents waiting on each other lost most of their time
asleep; the kernel wakes an ``flock`` waiter the moment the lock is free, and frees it when a
killed process dies.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from ..errors import WorkspaceError
from ..i18n import _
from .migrate import migrate
from .sql_reads import LightTx

if TYPE_CHECKING:
    from .plumbing import SqlPlumbing
    from .sql import SqlTx

BUSY_TIMEOUT_MS = 30_000


class SqliteStore:
    dialect = "sqlite"

    def __init__(self, path: Path, *, create: bool = False, read_only: str | None = None) -> None:
        self.path = path
        self.read_only = read_only  # what a change is refused with (a copy of a served log)
        self._queue: int | None = None  # the writers' flock; a new database has no writer yet
        mode = "rwc" if create else "rw"
        try:
            self._conn = sqlite3.connect(
                f"file:{quote(str(path))}?mode={mode}",
                uri=True,
                isolation_level=None,
                timeout=BUSY_TIMEOUT_MS / 1000,
            )
        except sqlite3.DatabaseError as exc:
            raise WorkspaceError(
                _("cannot open the database {path}: {reason}").format(path=path, reason=exc)
            ) from None
        try:
            self._conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            self._conn.execute("PRAGMA foreign_keys = ON")
            self._conn.execute("PRAGMA synchronous = FULL")
            if self._conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                self._conn.execute("PRAGMA journal_mode = WAL")
            if not create:
                self._queue = _open_queue(path)
            migrate(self)
        except sqlite3.DatabaseError as exc:
            self.close()
            raise WorkspaceError(
                _("cannot open the database {path}: {reason}").format(path=path, reason=exc)
            ) from None

    @contextmanager
    def transaction(self, *, write: bool = False, commit: bool = True) -> Iterator[SqlTx]:
        """A transaction; ``commit=False`` always rolls back (a dry run, which writes too).

        A transaction that writes takes the write lock first (``BEGIN IMMEDIATE``, waiting up to
        the busy timeout): a deferred one would fail at once, not wait, when it meets another
        writer's newer commit.
        """
        from .sql import SqlTx  # every query of the store, and the models they build

        writes = write or not commit
        if writes and self.read_only is not None:
            raise WorkspaceError(self.read_only)
        if writes and self._queue is not None:
            fcntl.flock(self._queue, fcntl.LOCK_EX)
        try:
            self._conn.execute("BEGIN IMMEDIATE" if writes else "BEGIN")
            try:
                yield SqlTx(self._conn)
            except BaseException:
                self._conn.rollback()
                raise
            if commit:
                self._conn.commit()
            else:
                self._conn.rollback()
        finally:
            if writes and self._queue is not None:
                fcntl.flock(self._queue, fcntl.LOCK_UN)

    @contextmanager
    def reading(self) -> Iterator[LightTx]:
        """A read transaction with the read queries alone (:mod:`.sql_reads`)."""
        self._conn.execute("BEGIN")
        try:
            yield LightTx(self._conn)
        finally:
            self._conn.rollback()

    def initialise(self, fill: Any) -> None:
        """Let ``fill(tx)`` write the first data of a new database (already migrated)."""
        with self.transaction(write=True) as tx:
            fill(tx)

    def is_busy(self, exc: BaseException) -> bool:
        """The lock was not granted within the busy timeout: worth another try."""
        return isinstance(exc, sqlite3.OperationalError) and (
            "locked" in str(exc) or "busy" in str(exc)
        )

    def table_exists(self, tx: SqlPlumbing, name: str) -> bool:
        row = tx.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)
        ).fetchone()
        return row is not None

    def close(self) -> None:
        self._conn.close()
        if self._queue is not None:
            os.close(self._queue)
            self._queue = None


def _open_queue(path: Path) -> int | None:
    """The writers' lock file beside the database, with its permissions; ``flock`` needs only
    read access, so agents who share the workspace under their own accounts queue on it too.
    None when it cannot be made: SQLite's own lock still serialises writers."""
    mode = path.stat().st_mode & 0o666
    try:
        return os.open(f"{path}.lock", os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, mode)
    except OSError:
        return None
