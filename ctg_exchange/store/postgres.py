"""The shared store: a PostgreSQL database, through psycopg 3 (DESIGN §6).

Same schema, same migrations and same SQL as SQLite (:mod:`.sql`); only the plumbing differs:

- a write transaction (and a dry run, which writes and rolls back) starts with
  ``pg_advisory_xact_lock``: writers queue one behind the other, so the audit chain stays linear
  and every writer sees the previous one's commit (READ COMMITTED reads the latest data);
  PostgreSQL releases the lock at commit, at rollback, and when a killed client's connection
  drops;
- a write transaction runs in psycopg's pipeline mode: statements are sent without waiting for
  their answers, and the client waits only when it reads a result, and once at the end (every
  answer is checked there: an error rolls the whole transaction back, as before). What the
  transaction will read is asked for with its ``BEGIN`` and its lock (:meth:`PgTx.prefetch`), so
  that a transition costs a few round trips rather than one per statement, and the lock is held
  for about one round trip and the transaction's own work;
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
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from ..errors import WorkspaceError
from ..i18n import _
from .base import Reads
from .migrate import apply_pending, migrate
from .sql import SqlTx
from .sql_audit import NODE_QUERY

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
# a write names its table; a read, every table it reads (what a write makes stale)
_WRITE = re.compile(r"\s*(INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+(\w+)", re.IGNORECASE)
_READ_TABLES = re.compile(r"\b(?:FROM|JOIN)\s+(\w+)", re.IGNORECASE)
# the Merkle tree's nodes a new leaf combines with (audit/merkle: the perfect subtrees left of
# it), for a log of n events: node (level, n >> level - 1) wherever bit ``level`` of n is set
_FRONTIER = (
    "SELECT t.level, t.idx, t.hash "
    "FROM (SELECT COALESCE(MAX(seq), 0) AS n FROM audit_events) s "
    "CROSS JOIN generate_series(0, 30) AS l(level) "
    "JOIN audit_tree t ON t.level = l.level AND t.idx = (s.n >> l.level) - 1 "
    "WHERE (s.n >> l.level) & 1 = 1"
)


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


class _Rows:
    """Rows already read, answered as a cursor would."""

    def __init__(self, rows: Sequence[tuple[Any, ...]]) -> None:
        self._rows = rows
        self._next = 0

    def fetchone(self) -> tuple[Any, ...] | None:
        if self._next >= len(self._rows):
            return None
        self._next += 1
        return self._rows[self._next - 1]

    def fetchall(self) -> list[tuple[Any, ...]]:
        rows, self._next = list(self._rows[self._next :]), len(self._rows)
        return rows

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        return iter(self.fetchall())


class _Asked:
    """A read sent ahead (:meth:`PgTx.prefetch`): its cursor, then its rows."""

    def __init__(self, cursor: Any, tables: frozenset[str]) -> None:
        self.cursor: Any = cursor
        self.rows: list[tuple[Any, ...]] | None = None
        self.tables = tables


class PgTx(SqlTx):
    """One transaction on a psycopg connection: ``?`` placeholders become ``%s``.

    With ``pipelined``, the transaction runs in pipeline mode (the store's write transactions):
    each statement goes out on a cursor of its own (a shared one would receive an earlier
    statement's late answer), and reads sent ahead by :meth:`prefetch` answer the same query
    later, until a write to a table they read makes them stale.
    """

    _converted: dict[str, str] = {}
    dialect = "postgres"  # how the read queries read a document's values (.sql_reads)

    def __init__(self, connection: Any, *, pipelined: bool = False) -> None:
        super().__init__(connection)
        self._streams: list[Any] = []
        self._pipeline: Any = None
        self._asked: dict[tuple[str, tuple[Any, ...]], _Asked] = {}
        self._asking = False
        if pipelined:
            self._pipeline = connection.pipeline()
            self._pipeline.__enter__()

    def sql(self, query: str) -> str:
        converted = self._converted.get(query)
        if converted is None:
            converted = _PLACEHOLDER.sub(lambda m: "%%" if m.group() == "%" else "%s", query)
            self._converted[query] = converted
        return converted

    def execute(self, query: str, params: Sequence[Any] = ()) -> Any:
        key = (self.sql(query), tuple(params))
        if self._asking:  # recording what prefetch() asks for: sent, answered as no row
            if key not in self._asked:
                cursor = self._connection.cursor()  # its own: its answer is read later
                cursor.execute(*key)
                self._asked[key] = _Asked(cursor, _tables(key[0]))
            return _Rows(())
        if self._asked and key[0].lstrip()[:6].upper() == "SELECT":
            self._settle()  # a tree node is known once the frontier's answer is read
            asked = self._asked.get(key)
            if asked is not None and asked.rows is not None:
                return _Rows(asked.rows)
        self._forget(key[0])
        return self._send(*key)

    def _send(self, sql: str, params: tuple[Any, ...]) -> Any:
        cursor = self._connection.cursor() if self._pipeline is not None else self._cursor
        cursor.execute(sql, params)
        return cursor

    def prefetch(self, reads: Reads) -> None:
        """Send now the reads ``reads`` names (see :class:`.base.Reads`), each as the method that
        will make it makes it; their answers come with the first result the transaction waits
        for."""
        self._asking = True
        try:
            self.get_meta("workspace_id")
            self.get_meta("notify.settings")  # whom a change tells (ctg_exchange.notify)
            self.last_event()
            if reads.member is not None:
                self.get_member(reads.member)
            if reads.request is not None:
                self.get_request(reads.request)
                self.steps(reads.request)
            if reads.policy:
                self.current_policy()
                self.convention_changes()
            if reads.counter is not None:
                self.counter_value(reads.counter)
            self.execute(_FRONTIER)  # the tree nodes a new leaf needs (see _settle)
        finally:
            self._asking = False

    def _settle(self) -> None:
        """Read every answer sent ahead (one wait: they come in the order they were asked)."""
        for key, asked in list(self._asked.items()):
            if asked.rows is not None:
                continue
            asked.rows = [tuple(row) for row in asked.cursor.fetchall()]
            if key[0] == _FRONTIER:  # each node as tree_node() asks for it, never stale
                del self._asked[key]
                node = self.sql(NODE_QUERY)
                for level, index, digest in asked.rows:
                    found = _Asked(None, frozenset({"audit_tree"}))  # see _forget
                    found.rows = [(digest,)]
                    self._asked[(node, (int(level), int(index)))] = found

    def _forget(self, sql: str) -> None:
        """Drop the answers a statement makes stale: a write's, those reading its table (a new
        tree node leaves the others as they were: nodes never change); anything else's, all."""
        if not self._asked or sql.lstrip()[:6].upper() == "SELECT":
            return
        write = _WRITE.match(sql)
        if write is None:
            self._asked.clear()
            return
        verb, table = write.group(1).split()[0].upper(), write.group(2).lower()
        if verb == "INSERT" and table == "audit_tree":
            return
        self._asked = {k: a for k, a in self._asked.items() if table not in a.tables}

    def stream_cursor(self) -> Any:
        # a named (server-side) cursor fetches in batches instead of loading every row; it
        # cannot run in pipeline mode, which the rest of the transaction then goes without
        self.leave_pipeline()
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

    def finish(self, statement: str) -> None:
        """End the transaction with ``statement`` (COMMIT, ROLLBACK); the pipeline's answers are
        all read here, and the first error among them is raised."""
        self.execute(statement)
        self.leave_pipeline()

    def leave_pipeline(self) -> None:
        """Wait for every answer still due, raising the first error among them (the answers
        sent ahead stay readable: psycopg has given each cursor its own)."""
        pipeline, self._pipeline = self._pipeline, None
        if pipeline is not None:
            pipeline.__exit__(None, None, None)

    def abandon(self) -> None:
        """Leave the pipeline after a failure (its answers no longer matter; the store rolls
        back)."""
        pipeline, self._pipeline = self._pipeline, None
        if pipeline is not None:
            try:
                pipeline.__exit__(None, None, None)
            except Exception:  # noqa: S110 (the failure that brought us here is the one to report)
                pass


def _tables(sql: str) -> frozenset[str]:
    return frozenset(name.lower() for name in _READ_TABLES.findall(sql))


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
        # pipeline mode needs libpq 14 (psycopg's binary wheels bring their own, newer)
        self._pipelined = psycopg.Pipeline.is_supported()
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
        """A transaction; ``commit=False`` always rolls back (a dry run, which takes the lock).

        A write transaction is pipelined (see the module's docstring): its ``BEGIN`` and its lock
        are sent, not awaited; they are answered with its first read.
        """
        conn = self._conn
        writes = write or not commit
        tx: PgTx | None = None
        try:
            if writes:
                tx = PgTx(conn, pipelined=self._pipelined)
                tx.execute("BEGIN ISOLATION LEVEL READ COMMITTED")
                tx.execute("SELECT pg_advisory_xact_lock(?)", (WRITE_LOCK,))
            else:
                conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
                tx = PgTx(conn)
            yield tx
            tx.end()
            tx.finish("COMMIT" if commit else "ROLLBACK")
        except self._errors.OperationalError as exc:
            self._rollback_quietly(tx)
            if self.is_busy(exc):
                raise  # the caller may run the whole transaction again
            raise self._lost(exc) from None
        except self._errors.errors.InsufficientPrivilege as exc:
            self._rollback_quietly(tx)
            raise WorkspaceError(
                _("the database refused this command: {reason}").format(reason=_first_line(exc)),
                hint=_(
                    "the database role lacks a right the README's PostgreSQL section lists; "
                    "nothing was changed"
                ),
            ) from None
        except BaseException:
            self._rollback_quietly(tx)
            raise

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

    def _rollback_quietly(self, tx: PgTx | None = None) -> None:
        if tx is not None:
            tx.abandon()
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
