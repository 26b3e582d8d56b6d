"""The portable SQL behind :class:`~ctg_exchange.store.base.Tx`, shared by every backend.

Queries use ``?`` placeholders; a backend whose driver wants another style overrides
:meth:`SqlTx.sql`. Nothing here is specific to one engine.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import date
from typing import Any

from ..audit.events import Event, StoredEvent
from ..domain.models import ExchangeRequest, Member, RequestContent, Role, Status, Step
from ..policy.convention import ChangeKind, ConventionChange
from .base import PolicyRecord
from .rows import parsed_row
from .sql_audit import AuditQueries
from .sql_exchange import ExchangeQueries
from .sql_register import RegisterQueries

_EVENT_COLUMNS = (
    "seq, time, actor, party, role, action, subject, payload, prev_hash, hash, signature"
)
_MEMBER_COLUMNS = (
    "id, name, party, roles, public_key, fingerprint, added_by, added_at, "
    "revoked_at, revoked_by, revoke_reason"
)
_BATCH = 2000


def _change(
    seq: int, kind: str, effective: str, reference: str, by: str, at: str, party: str,
    version: int | None, reason: str | None, agreed_seq: int | None,
    agreed_reference: str | None, withdrawn_seq: int | None, withdrawn_reason: str | None,
) -> ConventionChange:  # fmt: skip
    return ConventionChange(
        seq=int(seq),
        kind=ChangeKind(kind),
        effective=date.fromisoformat(effective),
        reference=reference,
        by=by,
        at=at,
        party=party,
        policy_version=None if version is None else int(version),
        reason=reason,
        agreed_seq=None if agreed_seq is None else int(agreed_seq),
        agreed_reference=agreed_reference,
        withdrawn_seq=None if withdrawn_seq is None else int(withdrawn_seq),
        withdrawn_reason=withdrawn_reason,
    )


def _step(keys: Sequence[str], row: Sequence[Any]) -> Step:
    return Step.model_validate(dict(zip(keys, row, strict=True)))


def _request(request_id: str, doc: str) -> ExchangeRequest:
    return parsed_row("requests", request_id, ExchangeRequest.model_validate_json, doc)


class SqlTx(ExchangeQueries, RegisterQueries, AuditQueries):
    """One transaction on a DB-API connection."""

    def __init__(self, connection: Any) -> None:
        self._connection = connection
        self._cursor = connection.cursor()
        self._log_id: str | None = None

    # -- plumbing ---------------------------------------------------------------------------
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

    # -- policies ---------------------------------------------------------------------------
    def add_policy(self, record: PolicyRecord) -> None:
        self.execute(
            "INSERT INTO policies (version, policy_id, sha256, source, text, loaded_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (
                record.version,
                record.policy_id,
                record.sha256,
                record.source,
                record.text,
                record.loaded_at,
            ),
        )

    def current_policy(self) -> PolicyRecord | None:
        """The version in effect: the first, or the latest avenant countersigned (one awaiting
        countersignature, or withdrawn, is stored but not in effect)."""
        row = self._one(
            "SELECT version, policy_id, sha256, source, text, loaded_at FROM policies p "
            "WHERE version = 1 OR EXISTS (SELECT 1 FROM convention_changes c WHERE "
            "c.kind = 'amendment' AND c.policy_version = p.version AND c.agreed_seq IS NOT NULL) "
            "ORDER BY version DESC LIMIT 1"
        )
        return None if row is None else PolicyRecord(*row)

    def policies(self) -> list[PolicyRecord]:
        rows = self._all(
            "SELECT version, policy_id, sha256, source, text, loaded_at FROM policies "
            "ORDER BY version"
        )
        return [PolicyRecord(*row) for row in rows]

    # -- the convention's life --------------------------------------------------------------
    def add_convention_change(self, change: ConventionChange) -> None:
        self.execute(
            "INSERT INTO convention_changes (seq, kind, effective, reference, policy_version, "
            "reason, agreed_seq) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                change.seq,
                change.kind.value,
                change.effective.isoformat(),
                change.reference,
                change.policy_version,
                change.reason,
                change.agreed_seq,
            ),
        )

    def agree_convention_change(self, seq: int, agreed_seq: int, reference: str) -> None:
        self.execute(
            "UPDATE convention_changes SET agreed_seq = ?, agreed_reference = ? WHERE seq = ?",
            (agreed_seq, reference, seq),
        )

    def withdraw_convention_change(self, seq: int, withdrawn_seq: int, reason: str) -> None:
        self.execute(
            "UPDATE convention_changes SET withdrawn_seq = ?, withdrawn_reason = ? WHERE seq = ?",
            (withdrawn_seq, reason, seq),
        )

    def convention_changes(self) -> list[ConventionChange]:
        rows = self._all(
            "SELECT c.seq, c.kind, c.effective, c.reference, e.actor, e.time, e.party, "
            "c.policy_version, c.reason, c.agreed_seq, c.agreed_reference, c.withdrawn_seq, "
            "c.withdrawn_reason FROM convention_changes c JOIN audit_events e ON e.seq = c.seq "
            "ORDER BY c.seq"
        )
        return [parsed_row("convention_changes", row[0], _change, *row) for row in rows]

    # -- served calls -----------------------------------------------------------------------
    def remember_nonce(self, nonce: str, member: str, expires: str, now: str) -> bool:
        """Record a signed call's nonce; False if it was already taken (a replay). ``expires``
        is when the call is refused for its date whatever its nonce (its expiry, plus the
        clocks' allowance): a nonce is forgotten only after that."""
        self.execute("DELETE FROM http_nonces WHERE expires < ?", (now,))
        if self._one("SELECT 1 FROM http_nonces WHERE nonce = ?", (nonce,)) is not None:
            return False
        self.execute(
            "INSERT INTO http_nonces (nonce, member, expires) VALUES (?, ?, ?)",
            (nonce, member, expires),
        )
        return True

    # -- members ----------------------------------------------------------------------------
    @staticmethod
    def _member(row: Sequence[Any]) -> Member:
        values = dict(zip(_MEMBER_COLUMNS.split(", "), row, strict=True))

        def build() -> Member:
            values["roles"] = tuple(Role(r) for r in str(values["roles"]).split(","))
            return Member.model_validate(values)

        return parsed_row("members", values["id"], build)

    def insert_member(self, member: Member) -> None:
        self.execute(
            f"INSERT INTO members ({_MEMBER_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",  # noqa: S608
            (
                member.id,
                member.name,
                member.party,
                ",".join(member.roles),
                member.public_key,
                member.fingerprint,
                member.added_by,
                member.added_at,
                member.revoked_at,
                member.revoked_by,
                member.revoke_reason,
            ),
        )

    def get_member(self, member_id: str) -> Member | None:
        row = self._one(f"SELECT {_MEMBER_COLUMNS} FROM members WHERE id = ?", (member_id,))  # noqa: S608
        return None if row is None else self._member(row)

    def member_by_key(self, public_key: str) -> Member | None:
        row = self._one(
            f"SELECT {_MEMBER_COLUMNS} FROM members WHERE public_key = ?",  # noqa: S608
            (public_key,),
        )
        return None if row is None else self._member(row)

    def list_members(self) -> list[Member]:
        rows = self._all(f"SELECT {_MEMBER_COLUMNS} FROM members ORDER BY party, id")  # noqa: S608
        return [self._member(row) for row in rows]

    def revoke_member(self, member_id: str, at: str, by: str, reason: str) -> None:
        self.execute(
            "UPDATE members SET revoked_at = ?, revoked_by = ?, revoke_reason = ? WHERE id = ?",
            (at, by, reason, member_id),
        )

    def party_had_admin(self, party: str) -> bool:
        rows = self._all("SELECT roles FROM members WHERE party = ?", (party,))
        return any("admin" in str(row[0]).split(",") for row in rows)

    def active_admins(self, party: str) -> int:
        rows = self._all(
            "SELECT roles FROM members WHERE party = ? AND revoked_at IS NULL", (party,)
        )
        return sum("admin" in str(row[0]).split(",") for row in rows)

    # -- requests ---------------------------------------------------------------------------
    def next_number(self, counter: str) -> int:
        row = self._one("SELECT value FROM counters WHERE name = ?", (counter,))
        if row is None:
            self.execute("INSERT INTO counters (name, value) VALUES (?, 1)", (counter,))
            return 1
        value = int(row[0]) + 1
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
        return parsed_row("request_contents", key, RequestContent.model_validate_json, row[0])

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
        seq, time, actor, party, role, action, subject, payload, prev, digest, signature = row
        payload = parsed_row(
            "audit_events", f"#{seq}", lambda: StoredEvent.payload_from_text(payload)
        )
        event = Event(
            log=self.log_id(),
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

    def count_events(self) -> int:
        row = self._one("SELECT COUNT(*) FROM audit_events")
        return int(row[0])
