"""Rows read back into the models: a row that no longer parses is evidence, not a crash.

Whoever can write the database can put anything in a row: a payload that is not JSON, a request
document the model refuses, a date that is not one. Every read goes through :func:`parsed_row`,
which turns such a row into :class:`~ctg_exchange.errors.CorruptRow` (exit 3) naming the table
and the row's key, never an internal error.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

from ..errors import CorruptRow

T = TypeVar("T")


def parsed_row(table: str, key: object, build: Callable[..., T], *values: Any) -> T:
    """``build(*values)``, the model made from one row of ``table``; a row it cannot make is
    corrupt (pydantic's ``ValidationError`` and ``json.JSONDecodeError`` are ``ValueError``\\ s)."""
    try:
        return build(*values)
    except (ValueError, TypeError, KeyError) as exc:
        raise CorruptRow(table, key) from exc


class Queries:
    """What a mixin of :class:`~ctg_exchange.store.sql.SqlTx` relies on (SqlTx provides it)."""

    def execute(self, query: str, params: Sequence[Any] = ()) -> Any:
        raise NotImplementedError

    def _one(self, query: str, params: Sequence[Any] = ()) -> Any:
        raise NotImplementedError

    def _all(self, query: str, params: Sequence[Any] = ()) -> list[Any]:
        raise NotImplementedError

    def stream(self, query: str, params: Sequence[Any] = ()) -> Iterator[tuple[Any, ...]]:
        raise NotImplementedError
