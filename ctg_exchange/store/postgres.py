"""The shared store: a PostgreSQL database, through psycopg 3 (DESIGN §6).

Same schema, same migrations and same SQL as SQLite (:mod:`.sql`); only the plumbing differs:

- a write transaction (and a dry run, which writes and rolls back) starts with
  ``pg_advisory_xact_lock``: writers queue one behind the other, so the audit chain stays linear
  and every writer sees the previous one's commit (READ COMMITTED reads the latest data);
  PostgreSQL releases the lock at commit, at rollback, and when a killed client's connection
  drops;
- a read transaction is REPEATABLE READ: one consistent snapshot (``audit verify`` reads the
  events, the tree and the records as of one instant) that never blocks a writer;
- the events are streamed through a server-side cursor, so a million of them never sit in
  memory at once.

psycopg is imported here only, so commands that never touch PostgreSQL do not pay for it.
"""

from __future__ import annotations

import hashlib
import itertools
import re
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from ..errors import WorkspaceError
from ..i18n import _
from .migrate import apply_pending, migrate
from .sql import SqlTx

# the key of the workspace's write lock (advisory locks are per database): a signed bigint
WRITE_LOCK = int.from_bytes(
    hashlib.sha256(b"ctg-exchange/write-lock").digest()[:8], "big", signed=True
)
CONNECT_TIMEOUT_S = 10
# a commit is on disk before the command says so, whatever the server's default (the log is
# evidence); a client that stops mid-transaction (a suspended laptop) loses its transaction,
# and the write lock, after ten minutes instead of blocking every agent
SESSION_OPTIONS = "-c synchronous_commit=on -c idle_in_transaction_session_timeout=600000"
_PLACEHOLDER = re.compile(r"%|\?")
_cursor_names = itertools.count(1)


def is_postgres_url(url: str) -> bool:
    return url.startswith(("postgresql://", "postgres://"))


def redacted(url: str) -> str:
    """The URL without its password, for messages and ``workspace.json``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)
    user = (parts.username or "") + ":***"
    return urlunsplit(parts._replace(netloc=f"{user}@{netloc[-1]}"))


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


class PgTx(SqlTx):
    """One transaction on a psycopg connection: ``?`` placeholders become ``%s``."""

    _converted: dict[str, str] = {}
    dialect = "postgres"  # how the read queries read a document's values (.sql_reads)

    def __init__(self, connection: Any) -> None:
        super().__init__(connection)
        self._streams: list[Any] = []

    def sql(self, query: str) -> str:
        converted = self._converted.get(query)
        if converted is None:
            converted = _PLACEHOLDER.sub(lambda m: "%%" if m.group() == "%" else "%s", query)
            self._converted[query] = converted
        return converted

    def stream_cursor(self) -> Any:
        # a named (server-side) cursor fetches in batches instead of loading every row
        cursor = self._connection.cursor(name=f"ctg_stream_{next(_cursor_names)}")
        self._streams.append(cursor)
        return cursor

    def close_stream(self, cursor: Any) -> None:
        if cursor in self._streams:
            self._streams.remove(cursor)
            cursor.close()

    def end(self) -> None:
        # a stream left unread dies with the transaction: close it while it still exists
        for cursor in list(self._streams):
            self.close_stream(cursor)


class PostgresStore:
    dialect = "postgres"

    def __init__(self, url: str, *, create: bool = False) -> None:
        try:
            import psycopg
        except ImportError:
            raise WorkspaceError(
                _("this workspace's database is on PostgreSQL, and its driver is not installed"),
                hint=_("pip install 'ctg-exchange[postgres]' (psycopg 3)"),
            ) from None

        self.url = url
        self._errors = psycopg
        try:
            self._conn = psycopg.connect(
                url,
                autocommit=True,  # transactions are begun and ended explicitly below
                connect_timeout=CONNECT_TIMEOUT_S,
                application_name="ctg-exchange",
                options=SESSION_OPTIONS,
            )
        except psycopg.Error as exc:
            raise WorkspaceError(
                _("cannot connect to the database {url}: {reason}").format(
                    url=redacted(url), reason=_first_line(exc)
                ),
                hint=_(
                    "check the server, the database name and the credentials "
                    "(~/.pgpass or PGPASSWORD)"
                ),
            ) from None
        try:
            if create:
                self._check_empty()
            else:
                migrate(self)
        except psycopg.errors.InsufficientPrivilege as exc:
            self._conn.close()
            raise WorkspaceError(
                _("cannot bring the database {url} to this version's schema: {reason}").format(
                    url=redacted(url), reason=_first_line(exc)
                ),
                hint=_("run this version once with the database role that owns the workspace"),
            ) from None
        except BaseException:
            self._conn.close()
            raise

    def _check_empty(self) -> None:
        with self.transaction() as tx:
            if self.table_exists(tx, "schema_migrations") or self.table_exists(tx, "audit_events"):
                raise WorkspaceError(
                    _("the database {url} already holds a ctg-exchange workspace").format(
                        url=redacted(self.url)
                    ),
                    hint=_(
                        "give each workspace its own database; never reuse one that may hold "
                        "evidence"
                    ),
                )

    @contextmanager
    def transaction(self, *, write: bool = False, commit: bool = True) -> Iterator[SqlTx]:
        """A transaction; ``commit=False`` always rolls back (a dry run, which takes the lock)."""
        conn = self._conn
        try:
            if write or not commit:
                conn.execute("BEGIN ISOLATION LEVEL READ COMMITTED")
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK,))
            else:
                conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        except self._errors.OperationalError as exc:
            self._rollback_quietly()
            raise self._lost(exc) from None
        tx = PgTx(conn)
        try:
            yield tx
            tx.end()
        except self._errors.OperationalError as exc:
            self._rollback_quietly()
            if self.is_busy(exc):
                raise  # the caller may run the whole transaction again
            raise self._lost(exc) from None
        except self._errors.errors.InsufficientPrivilege as exc:
            self._rollback_quietly()
            raise WorkspaceError(
                _("the database refused this command: {reason}").format(reason=_first_line(exc)),
                hint=_(
                    "the database role lacks a right the README's PostgreSQL section lists; "
                    "nothing was changed"
                ),
            ) from None
        except BaseException:
            self._rollback_quietly()
            raise
        try:
            conn.execute("COMMIT" if commit else "ROLLBACK")
        except self._errors.OperationalError as exc:
            if self.is_busy(exc):
                raise
            raise self._lost(exc) from None

    def reading(self) -> AbstractContextManager[SqlTx]:
        """A read transaction for the read commands: an ordinary one (its queries include
        the read queries; psycopg is no light import anyway)."""
        return self.transaction()

    def initialise(self, fill: Any) -> None:
        """Create the schema and let ``fill(tx)`` write the first data: one transaction."""
        with self.transaction(write=True) as tx:
            apply_pending(self, tx)
            fill(tx)

    def _lost(self, exc: BaseException) -> WorkspaceError:
        return WorkspaceError(
            _("the database {url} failed: {reason}").format(
                url=redacted(self.url), reason=_first_line(exc)
            ),
            hint=_("nothing was committed by this command; run it again once the server answers"),
        )

    def _rollback_quietly(self) -> None:
        try:
            if not self._conn.closed:
                self._conn.execute("ROLLBACK")
        except self._errors.Error:
            pass  # the connection is gone: the server has rolled back already

    def is_busy(self, exc: BaseException) -> bool:
        """A conflict worth retrying (the lock makes these rare: a deadlock, a serialisation)."""
        return isinstance(
            exc, self._errors.errors.SerializationFailure | self._errors.errors.DeadlockDetected
        )

    def table_exists(self, tx: SqlTx, name: str) -> bool:
        row = tx.execute("SELECT to_regclass(?)", (name,)).fetchone()
        return row is not None and row[0] is not None

    def close(self) -> None:
        self._conn.close()
