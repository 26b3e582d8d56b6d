"""The read commands' queries: rows as stored, a page at a time, filtered in SQL (issue 17).

Nothing here builds a model: the rows go to the read commands as stored, which check and show
them without pydantic (:mod:`ctg_exchange.services.reading`). Each filter is a condition on a
column or on a value of the request's JSON document that migration 12 indexes; the SQL is the
same on both engines but for how each reads a document's value (:func:`doc_value`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from ..audit.events import Event, StoredEvent
from ..errors import CorruptRow
from .plumbing import SqlPlumbing
from .rows import Queries

EVENT_COLUMNS = (
    "seq, time, actor, party, role, action, subject, payload, prev_hash, hash, signature"
)


def doc_value(dialect: str, *path: str) -> str:
    """The SQL that reads ``path`` in a request's JSON document as text, exactly as the
    indexes of migration 12 are written (the planner matches an index by its expression).

    A document that is not JSON reads as NULL, so that such a row, which only a change behind
    the tool's back makes, is still read, and named as corrupt, rather than refused by an index.
    """
    if dialect == "postgres":
        return f"(ctg_doc_value(doc, '{{{','.join(path)}}}') COLLATE \"C\")"
    return f"(CASE WHEN json_valid(doc) THEN json_extract(doc, '$.{'.'.join(path)}') END)"


# PostgreSQL's reading of a document's value for doc_value: NULL when it is not JSON
DOC_VALUE_FUNCTION = """CREATE FUNCTION ctg_doc_value(doc text, path text[]) RETURNS text
    LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
    BEGIN RETURN doc::jsonb #>> path; EXCEPTION WHEN others THEN RETURN NULL; END $$"""


@dataclass(frozen=True)
class RequestFilter:
    """Which requests a list shows; each given condition narrows it."""

    status: str | None = None
    from_party: str | None = None
    to_party: str | None = None
    field: str | None = None
    since: str | None = None  # filed on or after this day (ISO date)
    submitted_before: str | None = None  # awaiting the DPO, submitted before this day


@dataclass(frozen=True)
class EventFilter:
    """Which events ``audit log`` shows."""

    subject: str | None = None
    since: str | None = None  # at or after this UTC time (ISO, as stored)


def stored_event(log_id: str, row: Sequence[Any]) -> StoredEvent:
    """An event as stored (its payload parsed, never re-encoded)."""
    seq, time, actor, party, role, action, subject, payload, prev, digest, signature = row
    try:  # parsed_row's rule, inline: a million events are read at each full verification
        payload = StoredEvent.payload_from_text(payload)
    except (ValueError, TypeError, KeyError) as exc:
        raise CorruptRow("audit_events", f"#{seq}") from exc
    event = Event(
        log=log_id,
        seq=int(seq),
        time=time,
        actor=actor,
        party=party,
        role=role,
        action=action,
        subject=subject,
        prev=prev,
        payload=payload,
    )
    return StoredEvent(event=event, hash=digest, signature=signature)


class ReadQueries(Queries):
    """Queries that return rows as stored; part of every transaction."""

    dialect = "sqlite"  # how a document's values are read (PostgreSQL's transaction says so)

    def request_page(self, where: RequestFilter, limit: int) -> tuple[list[tuple[Any, ...]], int]:
        """The ``limit`` most recent requests ``where`` selects as ``(id, doc)``, oldest first,
        and how many it selects in all."""
        condition, params = self._request_condition(where)
        filed = doc_value(self.dialect, "filed_at")
        order = f"ORDER BY {filed} DESC, id DESC"
        return self._page("id, doc", "requests", condition, order, params, limit)

    def request_rows(self, where: RequestFilter) -> Iterator[tuple[Any, ...]]:
        """Every request ``where`` selects as ``(id, doc)``, oldest first, read in batches."""
        condition, params = self._request_condition(where)
        filed = doc_value(self.dialect, "filed_at")
        query = f"SELECT id, doc FROM requests{condition} ORDER BY {filed}, id"  # noqa: S608
        return self.stream(query, params)

    def _request_condition(self, where: RequestFilter) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        for column, value in (
            ("status", where.status),
            ("from_party", where.from_party),
            ("to_party", where.to_party),
            (doc_value(self.dialect, "content", "field"), where.field),
        ):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        if where.since is not None:
            clauses.append(f"{doc_value(self.dialect, 'filed_on')} >= ?")
            params.append(where.since)
        if where.submitted_before is not None:
            clauses.append(
                f"status = 'awaiting_dpo' AND {doc_value(self.dialect, 'submitted_on')} < ?"
            )
            params.append(where.submitted_before)
        return (f" WHERE {' AND '.join(clauses)}" if clauses else ""), params

    def request_doc(self, request_id: str) -> str | None:
        row = self._one("SELECT doc FROM requests WHERE id = ?", (request_id,))
        return None if row is None else str(row[0])

    def request_steps(self, request_id: str) -> list[tuple[Any, ...]]:
        """A request's history as ``(seq, time, actor, role, action, from_status, to_status,
        text)``, oldest first (who and when from each step's audit event)."""
        return [
            tuple(row)
            for row in self._all(
                "SELECT s.seq, e.time, e.actor, e.role, s.action, s.from_status, s.to_status, "
                "s.text FROM request_steps s JOIN audit_events e ON e.seq = s.seq "
                "WHERE s.request_id = ? ORDER BY s.seq",
                (request_id,),
            )
        ]

    def request_deliveries(self, request_id: str) -> list[tuple[Any, ...]]:
        """A request's deliveries as ``(number, sent_by, sent_on, rows, retention_deadline,
        justification, received_on, received_by)``, by number; an early one's justification is
        the text of its step, and the last two are None until it is received."""
        return [
            tuple(row)
            for row in self._all(
                "SELECT d.number, e.actor, d.sent_on, d.rows_count, d.retention_deadline, "
                "s.text, r.received_on, f.actor FROM deliveries d "
                "JOIN audit_events e ON e.seq = d.seq "
                "LEFT JOIN request_steps s ON s.seq = d.seq "
                "LEFT JOIN receptions r ON r.request_id = d.request_id AND r.number = d.number "
                "LEFT JOIN audit_events f ON f.seq = r.seq "
                "WHERE d.request_id = ? ORDER BY d.number",
                (request_id,),
            )
        ]

    def policy_version(self, version: int) -> tuple[str, str] | None:
        """A stored policy version's ``(sha256, text)``."""
        row = self._one("SELECT sha256, text FROM policies WHERE version = ?", (version,))
        return None if row is None else (str(row[0]), str(row[1]))

    def member_rows(self) -> list[tuple[Any, ...]]:
        """Every member as ``(id, name, party, roles, public_key, fingerprint, added_by,
        added_at, revoked_at, revoked_by, valid_until)``, roles comma-separated as stored, by
        party and id."""
        return [
            tuple(row)
            for row in self._all(
                "SELECT id, name, party, roles, public_key, fingerprint, added_by, added_at, "
                "revoked_at, revoked_by, valid_until FROM members ORDER BY party, id"
            )
        ]

    def register_rows(self, controller: str | None) -> list[tuple[Any, ...]]:
        """The latest version of each fiche (of one controller, or all) as ``(ref, version,
        time, doc)``, by controller and ref."""
        where, params = ("AND v.controller = ? ", [controller]) if controller else ("", [])
        return [
            tuple(row)
            for row in self._all(
                "SELECT v.ref, v.version, e.time, v.doc FROM register_versions v "  # noqa: S608
                "JOIN audit_events e ON e.seq = v.seq WHERE v.version = "
                "(SELECT MAX(w.version) FROM register_versions w WHERE w.ref = v.ref) "
                f"{where}ORDER BY v.controller, v.ref",
                params,
            )
        ]

    def member_standing(
        self, member_id: str
    ) -> tuple[str, str, str, str | None, str | None] | None:
        """A member's ``(id, party, roles, revoked_at, valid_until)``, roles comma-separated
        as stored."""
        row = self._one(
            "SELECT id, party, roles, revoked_at, valid_until FROM members WHERE id = ?",
            (member_id,),
        )
        return None if row is None else (row[0], row[1], row[2], row[3], row[4])

    def policy_in_force(self) -> tuple[int, str, str] | None:
        """The policy version in effect as ``(version, sha256, text)`` (the same choice as
        :meth:`~ctg_exchange.store.sql_convention.ConventionQueries.current_policy`)."""
        row = self._one(
            "SELECT version, sha256, text FROM policies p "
            "WHERE version = 1 OR EXISTS (SELECT 1 FROM convention_changes c WHERE "
            "c.kind = 'amendment' AND c.policy_version = p.version AND c.agreed_seq IS NOT NULL) "
            "ORDER BY version DESC LIMIT 1"
        )
        return None if row is None else (int(row[0]), str(row[1]), str(row[2]))

    def genesis_payload(self) -> str | None:
        row = self._one("SELECT payload FROM audit_events WHERE seq = 1")
        return None if row is None else str(row[0])

    def workspace_log_id(self) -> str:
        row = self._one("SELECT value FROM meta WHERE key = 'workspace_id'")
        return "" if row is None else str(row[0])

    def event_page(self, where: EventFilter, limit: int) -> tuple[list[tuple[Any, ...]], int]:
        """The ``limit`` latest events ``where`` selects, in order, and how many it selects."""
        condition, params = self._event_condition(where)
        order = "ORDER BY seq DESC"
        return self._page(EVENT_COLUMNS, "audit_events", condition, order, params, limit)

    def _page(
        self, columns: str, table: str, condition: str, order: str, params: list[Any], limit: int
    ) -> tuple[list[tuple[Any, ...]], int]:
        """The first ``limit`` rows in ``order`` (latest first), returned oldest first, and how
        many rows ``condition`` selects (counted only when there may be more)."""
        rows = self._all(
            f"SELECT {columns} FROM {table}{condition} {order} LIMIT ?",  # noqa: S608 (ours)
            [*params, limit],
        )
        rows.reverse()
        if len(rows) < limit:
            return [tuple(row) for row in rows], len(rows)
        total = self._one(f"SELECT COUNT(*) FROM {table}{condition}", params)  # noqa: S608
        return [tuple(row) for row in rows], int(total[0])

    def event_rows(self, where: EventFilter) -> Iterator[tuple[Any, ...]]:
        """Every event ``where`` selects, in order, read in batches."""
        condition, params = self._event_condition(where)
        return self.stream(
            f"SELECT {EVENT_COLUMNS} FROM audit_events{condition} ORDER BY seq",  # noqa: S608
            params,
        )

    @staticmethod
    def _event_condition(where: EventFilter) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        if where.subject is not None:
            clauses.append("subject = ?")
            params.append(where.subject)
        if where.since is not None:
            clauses.append("time >= ?")
            params.append(where.since)
        return (f" WHERE {' AND '.join(clauses)}" if clauses else ""), params


class LightTx(SqlPlumbing, ReadQueries):
    """A read transaction with the read queries alone: what the read commands open, so that
    listing requests never imports the models the store's other queries build."""
