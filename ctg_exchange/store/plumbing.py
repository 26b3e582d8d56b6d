"""A transaction's plumbing on a DB-API connection: statements, rows, streams, no models.

:class:`~ctg_exchange.store.sql.SqlTx` builds on it with every query of the store; the read
commands' light transaction (:class:`~ctg_exchange.store.sql_reads.LightTx`) with the queries
that return rows as stored, so that reading a page of requests never imports pydantic.

Queries use ``?`` placeholders; a backend whose driver wants another style overrides
:meth:`SqlPlumbing.sql`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

_BATCH = 2000


class SqlPlumbing:
    """Statements and rows of one transaction on a DB-API connection."""

    def __init__(self, connection: Any) -> None:
        self._connection = connection
        self._cursor = connection.cursor()

    def sql(self, query: str) -> str:
        return query

    def execute(self, query: str, params: Sequence[Any] = ()) -> Any:
        self._cursor.execute(self.sql(query), tuple(params))
        return self._cursor

    def stream_cursor(self) -> Any:
        """A cursor of its own, for results read in batches while other queries run."""
        return self._connection.cursor()

    def close_stream(self, cursor: Any) -> None:
        cursor.close()

    def end(self) -> None:
        """Called by the store before the transaction ends."""

    def _one(self, query: str, params: Sequence[Any] = ()) -> Any:
        return self.execute(query, params).fetchone()

    def _all(self, query: str, params: Sequence[Any] = ()) -> list[Any]:
        return list(self.execute(query, params).fetchall())

    def stream(self, query: str, params: Sequence[Any] = ()) -> Iterator[tuple[Any, ...]]:
        """The rows of ``query`` in batches, on a cursor of its own: a large result never sits
        in memory whole, and callers may run other queries while they read it."""
        cursor = self.stream_cursor()
        try:
            cursor.execute(self.sql(query), tuple(params))
            while rows := cursor.fetchmany(_BATCH):
                for row in rows:
                    yield tuple(row)
        finally:
            self.close_stream(cursor)
