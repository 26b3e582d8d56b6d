"""The portable SQL behind :class:`~ctg_exchange.store.base.Tx`, shared by every backend.

Queries use ``?`` placeholders; a backend whose driver wants another style overrides
:meth:`SqlTx.sql`. Nothing here is specific to one engine.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator, Sequence
from typing import Any

from ..audit.events import StoredEvent
from ..domain.models import ExchangeRequest, RequestContent, Status, Step
from .base import Reads
from .plumbing import SqlPlumbing
from .rows import parsed_row
from .sql_audit import AuditQueries
from .sql_convention import ConventionQueries
from .sql_exchange import ExchangeQueries
from .sql_members import MemberQueries
from .sql_notify import NotifyQueries
from .sql_reads import ReadQueries, stored_event
from .sql_register import RegisterQueries

_EVENT_COLUMNS = (
    "seq, time, actor, party, role, action, subject, payload, prev_hash, hash, signature"
)


def _step(keys: Sequence[str], row: Sequence[Any]) -> Step:
    return Step.model_validate(dict(zip(keys, row, strict=True)))


def _request(request_id: str, doc: str) -> ExchangeRequest:
    return parsed_row("requests", request_id, ExchangeRequest.model_validate_json, doc)


class SqlTx(
    SqlPlumbing,
    ReadQueries,
    ConventionQueries,
    MemberQueries,
    ExchangeQueries,
    RegisterQueries,
    AuditQueries,
    NotifyQueries,
):
    """One transaction on a DB-API connection: every query of the store."""

    def __init__(self, connection: Any) -> None:
        super().__init__(connection)
        self._log_id: str | None = None

    def prefetch(self, reads: Reads) -> None:
        """Nothing to do in process: each read is a function call (see :class:`.base.Reads`)."""

    # -- workspace metadata -----------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        row = self._one("SELECT value FROM meta WHERE key = ?", (key,))
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        if self.get_meta(key) is None:
            self.execute("INSERT INTO meta (key, value) VALUES (?, ?)", (key, value))
        else:
            self.execute("UPDATE meta SET value = ? WHERE key = ?", (value, key))

    def log_id(self) -> str:
        if self._log_id is None:
            self._log_id = self.get_meta("workspace_id") or ""
        return self._log_id

    # -- requests ---------------------------------------------------------------------------
    def counter_value(self, counter: str) -> int | None:
        row = self._one("SELECT value FROM counters WHERE name = ?", (counter,))
        return None if row is None else int(row[0])

    def next_number(self, counter: str) -> int:
        current = self.counter_value(counter)
        if current is None:
            self.execute("INSERT INTO counters (name, value) VALUES (?, 1)", (counter,))
            return 1
        value = current + 1
        self.execute("UPDATE counters SET value = ? WHERE name = ?", (value, counter))
        return value

    def insert_request(self, request: ExchangeRequest) -> None:
        self.execute(
            "INSERT INTO requests (id, status, from_party, to_party, filed_by, updated_at, doc) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                request.id,
                request.status.value,
                request.from_party,
                request.to_party,
                request.filed_by,
                request.updated_at,
                request.model_dump_json(),
            ),
        )

    def update_request(self, request: ExchangeRequest) -> None:
        self.execute(
            "UPDATE requests SET status = ?, to_party = ?, updated_at = ?, doc = ? WHERE id = ?",
            (
                request.status.value,
                request.to_party,
                request.updated_at,
                request.model_dump_json(),
                request.id,
            ),
        )

    def keep_content(self, request_id: str, sha256: str, content: RequestContent) -> None:
        self.execute(
            "INSERT INTO request_contents (request_id, sha256, doc) VALUES (?, ?, ?) "
            "ON CONFLICT (request_id, sha256) DO NOTHING",
            (request_id, sha256, content.model_dump_json()),
        )

    def filed_content(self, request_id: str, sha256: str) -> RequestContent | None:
        row = self._one(
            "SELECT doc FROM request_contents WHERE request_id = ? AND sha256 = ?",
            (request_id, sha256),
        )
        if row is None:
            return None
        key = f"{request_id} {sha256[:16]}"
        return parsed_row("request_contents", key, _content, row[0])

    def get_request(self, request_id: str) -> ExchangeRequest | None:
        row = self._one("SELECT id, doc FROM requests WHERE id = ?", (request_id,))
        return None if row is None else _request(*row)

    def list_requests(
        self, status: Status | None = None, to_party: str | None = None
    ) -> list[ExchangeRequest]:
        clauses, params = [], []
        if status is not None:
            clauses.append("status = ?")
            params.append(status.value)
        if to_party is not None:
            clauses.append("to_party = ?")
            params.append(to_party)
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = self._all(f"SELECT id, doc FROM requests{where} ORDER BY id", params)  # noqa: S608
        return [_request(*row) for row in rows]

    def insert_step(
        self,
        seq: int,
        request_id: str,
        action: str,
        from_status: Status | None,
        to_status: Status | None,
        text: str | None,
    ) -> None:
        self.execute(
            "INSERT INTO request_steps (seq, request_id, action, from_status, to_status, text) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (
                seq,
                request_id,
                action,
                from_status and from_status.value,
                to_status and to_status.value,
                text,
            ),
        )

    def steps(self, request_id: str) -> list[Step]:
        rows = self._all(
            "SELECT s.seq, e.time, e.actor, e.role, s.action, s.from_status, s.to_status, s.text "
            "FROM request_steps s JOIN audit_events e ON e.seq = s.seq "
            "WHERE s.request_id = ? ORDER BY s.seq",
            (request_id,),
        )
        keys = ("seq", "at", "actor", "role", "action", "from_status", "to_status", "text")
        return [parsed_row("request_steps", row[0], _step, keys, row) for row in rows]

    # -- audit log --------------------------------------------------------------------------
    def _event(self, row: Sequence[Any]) -> StoredEvent:
        return stored_event(self.log_id(), row)

    def last_event(self) -> StoredEvent | None:
        row = self._one(
            f"SELECT {_EVENT_COLUMNS} FROM audit_events ORDER BY seq DESC LIMIT 1"  # noqa: S608
        )
        return None if row is None else self._event(row)

    def get_event(self, seq: int) -> StoredEvent | None:
        row = self._one(f"SELECT {_EVENT_COLUMNS} FROM audit_events WHERE seq = ?", (seq,))  # noqa: S608
        return None if row is None else self._event(row)

    def append_event(self, stored: StoredEvent) -> None:
        event = stored.event
        self.execute(
            f"INSERT INTO audit_events ({_EVENT_COLUMNS}) "  # noqa: S608
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                event.seq,
                event.time,
                event.actor,
                event.party,
                event.role,
                event.action,
                event.subject,
                json.dumps(
                    event.payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False
                ),
                event.prev,
                stored.hash,
                stored.signature,
            ),
        )

    def events(
        self,
        subject: str | None = None,
        *,
        actions: Sequence[str] = (),
        first: int | None = None,
        last: int | None = None,
    ) -> Iterator[StoredEvent]:
        clauses: list[str] = []
        params: list[Any] = []
        if subject is not None:
            clauses.append("subject = ?")
            params.append(subject)
        if actions:
            clauses.append(f"action IN ({', '.join('?' for _ in actions)})")
            params.extend(actions)
        if first is not None:
            clauses.append("seq >= ?")
            params.append(first)
        if last is not None:
            clauses.append("seq <= ?")
            params.append(last)
        where = f"WHERE {' AND '.join(clauses)} " if clauses else ""
        query = f"SELECT {_EVENT_COLUMNS} FROM audit_events {where}ORDER BY seq"  # noqa: S608
        for row in self.stream(query, params):
            yield self._event(row)

    def count_events(self) -> int:
        row = self._one("SELECT COUNT(*) FROM audit_events")
        return int(row[0])


@functools.lru_cache(maxsize=256)
def _content(doc: str) -> RequestContent:
    """A stored content, parsed: a frozen value, so one document (many requests file the same
    content; a verification reads each twice) is parsed once."""
    return RequestContent.model_validate_json(doc)
