"""Named, forward-only schema migrations, recorded in ``schema_migrations``.

The SQL is portable (SQLite and PostgreSQL): TEXT and INTEGER columns, explicit keys, no
autoincrement. Statements that only one engine understands (the triggers that make the audit
table append-only) are listed per dialect. On PostgreSQL, INTEGER becomes BIGINT (a delivery's
size passes 2 GiB) and TEXT compares byte by byte (``COLLATE "C"``), as in SQLite, so that every
listing is ordered the same way on both engines.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    common: tuple[str, ...]
    dialect: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # data a migration derives from what is already stored, run after its statements
    after: Callable[[Any], None] | None = None

    def statements(self, dialect: str) -> tuple[str, ...]:
        statements = self.common + self.dialect.get(dialect, ())
        if dialect == "postgres":
            return tuple(postgres_types(statement) for statement in statements)
        return statements


def postgres_types(statement: str) -> str:
    """The portable column types as PostgreSQL should store them."""
    statement = re.sub(r"\bINTEGER\b", "BIGINT", statement)
    return re.sub(r"\bTEXT\b", 'TEXT COLLATE "C"', statement)


_INITIAL = (
    """CREATE TABLE meta (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    )""",
    """CREATE TABLE policies (
        version INTEGER PRIMARY KEY,
        policy_id TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        source TEXT NOT NULL,
        text TEXT NOT NULL,
        loaded_at TEXT NOT NULL
    )""",
    """CREATE TABLE members (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        party TEXT NOT NULL,
        roles TEXT NOT NULL,
        public_key TEXT NOT NULL UNIQUE,
        fingerprint TEXT NOT NULL,
        added_by TEXT NOT NULL,
        added_at TEXT NOT NULL,
        revoked_at TEXT,
        revoked_by TEXT,
        revoke_reason TEXT
    )""",
    """CREATE TABLE counters (
        name TEXT PRIMARY KEY,
        value INTEGER NOT NULL
    )""",
    """CREATE TABLE audit_events (
        seq INTEGER PRIMARY KEY,
        time TEXT NOT NULL,
        actor TEXT NOT NULL,
        party TEXT NOT NULL,
        role TEXT NOT NULL,
        action TEXT NOT NULL,
        subject TEXT NOT NULL,
        payload TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL UNIQUE,
        signature TEXT NOT NULL
    )""",
    "CREATE INDEX audit_events_subject ON audit_events (subject)",
    """CREATE TABLE requests (
        id TEXT PRIMARY KEY,
        status TEXT NOT NULL,
        from_party TEXT NOT NULL,
        to_party TEXT NOT NULL,
        filed_by TEXT NOT NULL REFERENCES members (id),
        updated_at TEXT NOT NULL,
        doc TEXT NOT NULL
    )""",
    "CREATE INDEX requests_status ON requests (status)",
    """CREATE TABLE request_steps (
        seq INTEGER PRIMARY KEY REFERENCES audit_events (seq),
        request_id TEXT NOT NULL REFERENCES requests (id),
        action TEXT NOT NULL,
        from_status TEXT,
        to_status TEXT,
        text TEXT
    )""",
    "CREATE INDEX request_steps_request ON request_steps (request_id)",
)

_APPEND_ONLY_SQLITE = (
    """CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
       BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END""",
    """CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
       BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END""",
)

_APPEND_ONLY_POSTGRES = (
    """CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN RAISE EXCEPTION 'audit events are append-only'; END $$""",
    """CREATE TRIGGER audit_events_no_change BEFORE UPDATE OR DELETE ON audit_events
       FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()""",
    """CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
       FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only()""",
)

_CONVENTION_CHANGES = (
    """CREATE TABLE convention_changes (
        seq INTEGER PRIMARY KEY REFERENCES audit_events (seq),
        kind TEXT NOT NULL,
        effective TEXT NOT NULL,
        reference TEXT NOT NULL,
        policy_version INTEGER REFERENCES policies (version),
        reason TEXT
    )""",
)

_EXCHANGE = (
    """CREATE TABLE party_recipients (
        recipient TEXT PRIMARY KEY,
        party TEXT NOT NULL,
        added_seq INTEGER NOT NULL REFERENCES audit_events (seq),
        retired_seq INTEGER REFERENCES audit_events (seq)
    )""",
    """CREATE TABLE deliveries (
        request_id TEXT NOT NULL REFERENCES requests (id),
        number INTEGER NOT NULL,
        seq INTEGER NOT NULL REFERENCES audit_events (seq),
        sent_on TEXT NOT NULL,
        payload_sha256 TEXT NOT NULL,
        payload_size INTEGER NOT NULL,
        manifest_sha256 TEXT NOT NULL,
        rows_count INTEGER NOT NULL,
        columns TEXT NOT NULL,
        conditions TEXT NOT NULL,
        retention_deadline TEXT NOT NULL,
        PRIMARY KEY (request_id, number)
    )""",
    """CREATE TABLE receptions (
        request_id TEXT NOT NULL,
        number INTEGER NOT NULL,
        seq INTEGER NOT NULL REFERENCES audit_events (seq),
        received_on TEXT NOT NULL,
        path TEXT NOT NULL,
        PRIMARY KEY (request_id, number),
        FOREIGN KEY (request_id, number) REFERENCES deliveries (request_id, number)
    )""",
    """CREATE TABLE destructions (
        request_id TEXT NOT NULL,
        number INTEGER NOT NULL,
        seq INTEGER NOT NULL REFERENCES audit_events (seq),
        destroyed_on TEXT NOT NULL,
        method TEXT NOT NULL,
        file_sha256 TEXT,
        note TEXT,
        PRIMARY KEY (request_id, number),
        FOREIGN KEY (request_id, number) REFERENCES receptions (request_id, number)
    )""",
    """CREATE TABLE pseudonym_keys (
        request_id TEXT PRIMARY KEY REFERENCES requests (id),
        sealed TEXT NOT NULL,
        seq INTEGER NOT NULL REFERENCES audit_events (seq)
    )""",
)

_REGISTER = (
    """CREATE TABLE register_versions (
        ref TEXT NOT NULL,
        version INTEGER NOT NULL,
        controller TEXT NOT NULL,
        seq INTEGER NOT NULL REFERENCES audit_events (seq),
        reason TEXT NOT NULL,
        doc TEXT NOT NULL,
        PRIMARY KEY (ref, version)
    )""",
    "CREATE INDEX register_versions_controller ON register_versions (controller)",
)

_CHECKPOINTS = (
    """CREATE TABLE audit_tree (
        level INTEGER NOT NULL,
        idx INTEGER NOT NULL,
        hash TEXT NOT NULL,
        PRIMARY KEY (level, idx)
    )""",
    """CREATE TABLE checkpoints (
        id INTEGER PRIMARY KEY,
        tree_size INTEGER NOT NULL,
        root TEXT NOT NULL,
        body TEXT NOT NULL,
        created_at TEXT NOT NULL
    )""",
    "CREATE INDEX checkpoints_size ON checkpoints (tree_size)",
    """CREATE TABLE checkpoint_signatures (
        checkpoint_id INTEGER NOT NULL REFERENCES checkpoints (id),
        signer TEXT NOT NULL,
        party TEXT NOT NULL,
        role TEXT NOT NULL,
        signed_at TEXT NOT NULL,
        cosign INTEGER NOT NULL,
        line TEXT NOT NULL,
        PRIMARY KEY (checkpoint_id, signer)
    )""",
)

_CHECKPOINT_TABLES = ("audit_tree", "checkpoints", "checkpoint_signatures")

_CHECKPOINTS_APPEND_ONLY_SQLITE = tuple(
    f"""CREATE TRIGGER {table}_no_{verb} BEFORE {verb.upper()} ON {table}
       BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"""
    for table in _CHECKPOINT_TABLES
    for verb in ("update", "delete")
)

_CHECKPOINTS_APPEND_ONLY_POSTGRES = tuple(
    f"""CREATE TRIGGER {table}_no_change BEFORE UPDATE OR DELETE ON {table}
       FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()"""
    for table in _CHECKPOINT_TABLES
)


_REQUEST_CONTENTS = (
    """CREATE TABLE request_contents (
        request_id TEXT NOT NULL REFERENCES requests (id),
        sha256 TEXT NOT NULL,
        doc TEXT NOT NULL,
        PRIMARY KEY (request_id, sha256)
    )""",
)


_CONVENTION_AGREEMENT = (
    "ALTER TABLE convention_changes ADD COLUMN agreed_seq INTEGER REFERENCES audit_events (seq)",
    "ALTER TABLE convention_changes ADD COLUMN agreed_reference TEXT",
    "ALTER TABLE convention_changes ADD COLUMN withdrawn_seq INTEGER REFERENCES audit_events (seq)",
    "ALTER TABLE convention_changes ADD COLUMN withdrawn_reason TEXT",
    # recorded before countersignatures existed: each took effect as it was recorded
    "UPDATE convention_changes SET agreed_seq = seq",
)


# rules 3: a successor convention's period and deliberation, a termination's case and notice
_CONVENTION_PERIODS = (
    "ALTER TABLE convention_changes ADD COLUMN until TEXT",
    "ALTER TABLE convention_changes ADD COLUMN deliberation TEXT",
    "ALTER TABLE convention_changes ADD COLUMN termination_case TEXT",
    "ALTER TABLE convention_changes ADD COLUMN notice_date TEXT",
)


_HTTP_NONCES = (
    # the nonces of the signed calls a server accepted, until they expire: a call is taken once
    """CREATE TABLE http_nonces (
        nonce TEXT PRIMARY KEY,
        member TEXT NOT NULL,
        expires TEXT NOT NULL
    )""",
    "CREATE INDEX http_nonces_expires ON http_nonces (expires)",
)


# a hosted workspace's record of who took each (encrypted) package, and when: the server's
# own record, beside the reception the receiving member signs once the package checked
_PACKAGE_DOWNLOADS = (
    """CREATE TABLE package_downloads (
        request_id TEXT NOT NULL,
        number INTEGER NOT NULL,
        member TEXT NOT NULL REFERENCES members (id),
        at TEXT NOT NULL,
        FOREIGN KEY (request_id, number) REFERENCES deliveries (request_id, number)
    )""",
    "CREATE INDEX package_downloads_delivery ON package_downloads (request_id, number)",
)
# eliminating public archives needs the archives service's approval (Code du patrimoine L212-3)
_ARCHIVES_APPROVAL = ("ALTER TABLE destructions ADD COLUMN archives_approval TEXT",)


# notifications (issue 18): each member's address and preference (read and written apart from
# the member's other columns); the outbox, written in the transaction of the event it reports
# on and emptied after the commit, so that an outage of the mail server loses nothing; and the
# record of the daily reminders sent, one per member and day at most
_NOTIFICATIONS = (
    "ALTER TABLE members ADD COLUMN email TEXT",
    "ALTER TABLE members ADD COLUMN notify TEXT",
    """CREATE TABLE outbox (
        id INTEGER PRIMARY KEY,
        seq INTEGER NOT NULL REFERENCES audit_events (seq),
        channel TEXT NOT NULL,
        target TEXT NOT NULL,
        mode TEXT NOT NULL,
        facts TEXT NOT NULL,
        queued_at TEXT NOT NULL,
        due_at TEXT NOT NULL,
        attempts INTEGER NOT NULL,
        last_error TEXT,
        sent_at TEXT
    )""",
    "CREATE INDEX outbox_pending ON outbox (sent_at, due_at)",
    """CREATE TABLE reminders_sent (
        member TEXT NOT NULL REFERENCES members (id),
        day TEXT NOT NULL,
        sent_at TEXT NOT NULL,
        items INTEGER NOT NULL,
        PRIMARY KEY (member, day)
    )""",
)

# issue 19: a member's signing keys, one row per rotation (the key retired, the key registered)
_KEY_ROTATIONS = (
    """CREATE TABLE key_rotations (
        seq INTEGER PRIMARY KEY REFERENCES audit_events (seq),
        member_id TEXT NOT NULL REFERENCES members (id),
        previous_key TEXT NOT NULL UNIQUE,
        previous_fingerprint TEXT NOT NULL,
        public_key TEXT NOT NULL UNIQUE,
        fingerprint TEXT NOT NULL,
        lost INTEGER NOT NULL,
        reason TEXT
    )""",
    "CREATE INDEX key_rotations_member ON key_rotations (member_id)",
)


def _list_indexes(dialect: str) -> tuple[str, ...]:
    """What ``request list`` and ``audit log`` filter and order by, indexed (issue 17): the
    request's columns, and the values of its JSON document read as :mod:`.sql_reads` reads
    them (an index serves a query only when written with the very same expression)."""
    from .sql_reads import DOC_VALUE_FUNCTION, doc_value

    def value(*path: str) -> str:
        return doc_value(dialect, *path)

    filed = value("filed_at")
    return (
        *((DOC_VALUE_FUNCTION,) if dialect == "postgres" else ()),
        f"CREATE INDEX requests_filed ON requests ({filed}, id)",
        f"CREATE INDEX requests_from ON requests (from_party, {filed})",
        f"CREATE INDEX requests_to ON requests (to_party, {filed})",
        f"CREATE INDEX requests_field ON requests ({value('content', 'field')}, {filed})",
        f"CREATE INDEX requests_filed_on ON requests ({value('filed_on')})",
        f"CREATE INDEX requests_submitted ON requests (status, {value('submitted_on')})",
        "CREATE INDEX audit_events_time ON audit_events (time)",
    )


def _keep_current_contents(tx: Any) -> None:
    """Workspaces made before every filed content was kept: keep each request's current one
    (its earlier ones, if it was amended, were overwritten; logs of that time are verified by
    rules 1, which do not screen again)."""
    from ..audit.canonical import document_digest

    for request in tx.list_requests():
        digest = document_digest(request.content.digest_document())
        tx.keep_content(request.id, digest, request.content)


def _build_tree(tx: Any) -> None:
    """Workspaces made before checkpoints existed: derive the tree from their events."""
    from .sql_audit import backfill_tree

    backfill_tree(tx)


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "initial: members, policies, requests, audit events",
        _INITIAL,
        {"sqlite": _APPEND_ONLY_SQLITE, "postgres": _APPEND_ONLY_POSTGRES},
    ),
    Migration(2, "convention changes: renewals, avenants, terminations", _CONVENTION_CHANGES),
    Migration(3, "exchange: party recipients, deliveries, receptions, destructions", _EXCHANGE),
    Migration(4, "register: versioned Article 30 entries", _REGISTER),
    Migration(
        5,
        "audit checkpoints: Merkle tree, signed checkpoints and cosignatures",
        _CHECKPOINTS,
        {
            "sqlite": _CHECKPOINTS_APPEND_ONLY_SQLITE,
            "postgres": _CHECKPOINTS_APPEND_ONLY_POSTGRES,
        },
        after=_build_tree,
    ),
    Migration(
        6,
        "request contents: every content filed or amended, by its digest",
        _REQUEST_CONTENTS,
        after=_keep_current_contents,
    ),
    Migration(
        7,
        "convention changes: countersigned by the other party, or withdrawn",
        _CONVENTION_AGREEMENT,
    ),
    Migration(8, "served workspaces: the nonces of signed calls", _HTTP_NONCES),
    Migration(9, "served workspaces: who downloaded each package", _PACKAGE_DOWNLOADS),
    Migration(10, "destructions: the archives service's approval", _ARCHIVES_APPROVAL),
    Migration(
        11,
        "convention changes: a successor's period and deliberation, a termination's case",
        _CONVENTION_PERIODS,
    ),
    Migration(
        12,
        "lists: requests by date, party, field and waiting; events by time",
        (),
        {"sqlite": _list_indexes("sqlite"), "postgres": _list_indexes("postgres")},
    ),
    Migration(
        13,
        "notifications: members' addresses, the outbox, the daily reminders sent",
        _NOTIFICATIONS,
    ),
    Migration(
        14,
        "members: the last day a member may act or read (an auditor's --until)",
        ("ALTER TABLE members ADD COLUMN valid_until TEXT",),
    ),
    Migration(15, "members' signing keys: rotations", _KEY_ROTATIONS),
)

LATEST = MIGRATIONS[-1].version
