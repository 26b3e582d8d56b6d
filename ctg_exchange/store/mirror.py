"""The rows a copy of a workspace holds, as the server reads them and the copy writes them.

The other party keeps a copy of a hosted workspace (DESIGN §11): the log, and every record the
log binds, so that its own ``audit verify`` replays the one against the other, and its DPO can
export the register and build a CNIL bundle from it with the server down. Only the events and
these rows travel; the Merkle tree is rebuilt from the events, and what belongs to the server
alone (its nonces, who downloaded which package) stays there.

Two kinds of rows:

- **stated** rows can change after their first event (a request moves on, a member is revoked,
  a proposal is countersigned) or are few: read whole (a request: when an event after the
  copy's size names it), in one read transaction with the log's size, so that they are exactly
  what that size of log says;
- **logged** rows are written once, with the event they belong to (``seq``), and never change:
  read with the page of events they belong to.

The server may be SQLite or PostgreSQL; a copy is always a SQLite file. Queries use ``?``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from ..i18n import _


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[str, ...]
    key: tuple[str, ...]
    immutable: bool = False  # guarded append-only: a row kept is never updated


STATED = (
    Table("policies", ("version", "policy_id", "sha256", "source", "text", "loaded_at"),
          ("version",)),
    Table("members", ("id", "name", "party", "roles", "public_key", "fingerprint", "added_by",
                      "added_at", "revoked_at", "revoked_by", "revoke_reason", "valid_until"),
          ("id",)),
    Table("counters", ("name", "value"), ("name",)),
    Table("requests", ("id", "status", "from_party", "to_party", "filed_by", "updated_at", "doc"),
          ("id",)),
    Table("request_contents", ("request_id", "sha256", "doc"), ("request_id", "sha256")),
    Table("convention_changes", ("seq", "kind", "effective", "reference", "policy_version",
                                 "reason", "agreed_seq", "agreed_reference", "withdrawn_seq",
                                 "withdrawn_reason", "until", "deliberation", "termination_case",
                                 "notice_date"), ("seq",)),
    Table("party_recipients", ("recipient", "party", "added_seq", "retired_seq"), ("recipient",)),
    Table("checkpoints", ("id", "tree_size", "root", "body", "created_at"), ("id",), True),
    Table("checkpoint_signatures", ("checkpoint_id", "signer", "party", "role", "signed_at",
                                    "cosign", "line"), ("checkpoint_id", "signer"), True),
)  # fmt: skip

LOGGED = (
    Table("request_steps", ("seq", "request_id", "action", "from_status", "to_status", "text"),
          ("seq",), True),
    Table("deliveries", ("request_id", "number", "seq", "sent_on", "payload_sha256",
                         "payload_size", "manifest_sha256", "rows_count", "columns", "conditions",
                         "retention_deadline"), ("request_id", "number"), True),
    Table("receptions", ("request_id", "number", "seq", "received_on", "path"),
          ("request_id", "number"), True),
    Table("destructions", ("request_id", "number", "seq", "destroyed_on", "method",
                           "file_sha256", "note"), ("request_id", "number"), True),
    Table("pseudonym_keys", ("request_id", "sealed", "seq"), ("request_id",), True),
    Table("register_versions", ("ref", "version", "controller", "seq", "reason", "doc"),
          ("ref", "version"), True),
    Table("key_rotations", ("seq", "member_id", "previous_key", "previous_fingerprint",
                            "public_key", "fingerprint", "lost", "reason"), ("seq",), True),
)  # fmt: skip
LIMIT = 1 << 63  # what SQLite's INTEGER holds

TABLES = {table.name: table for table in (*STATED, *LOGGED)}
# requests and their contents: only those named by an event after the copy's size
_NAMED = {"requests": "id", "request_contents": "request_id"}

Rows = dict[str, list[list[Any]]]  # table -> rows, each in its table's column order


def stated_rows(tx: Any, after: int) -> Rows:
    """The stated rows a copy of ``after`` events lacks or holds in an older state."""
    rows: Rows = {}
    for table in STATED:
        query = f"SELECT {', '.join(table.columns)} FROM {table.name}"  # noqa: S608 (names ours)
        params: tuple[Any, ...] = ()
        if table.name in _NAMED:
            column = _NAMED[table.name]
            named = "(SELECT DISTINCT subject FROM audit_events WHERE seq > ?)"
            query += f" WHERE {column} IN {named}"  # noqa: S608 (names ours)
            params = (after,)
        rows[table.name] = [list(row) for row in tx.execute(query, params).fetchall()]
    return rows


def logged_rows(tx: Any, first: int, last: int) -> Rows:
    """The logged rows of the events ``first`` to ``last``."""
    return {
        table.name: [
            list(row)
            for row in tx.execute(
                f"SELECT {', '.join(table.columns)} FROM {table.name} "  # noqa: S608
                "WHERE seq >= ? AND seq <= ?",
                (first, last),
            ).fetchall()
        ]
        for table in LOGGED
    }


def checked(
    rows: Any, tables: Sequence[Table], seqs: range | None = None, named: set[str] | None = None
) -> Rows:
    """Rows as received: of the ``tables`` expected there, each row its table's width of plain
    values; a logged row of an event in ``seqs``; a request (or its content) named by an
    event in ``named``. ValueError otherwise (the copy's own checks then compare the rest
    with the log)."""
    if not isinstance(rows, dict):
        raise ValueError(_("rows are given by table"))
    known = {table.name: table for table in tables}
    out: Rows = {}
    for name, table_rows in rows.items():
        table = known.get(name)
        if table is None or not isinstance(table_rows, list):
            raise ValueError(_("no table {name!r} is copied there").format(name=str(name)[:40]))
        for row in table_rows:
            if not isinstance(row, list) or len(row) != len(table.columns):
                raise ValueError(_("a row of {table} is not one").format(table=name))
            if any(not _plain(value) for value in row):
                raise ValueError(
                    _("a row of {table} holds other than text and numbers").format(table=name)
                )
            values = dict(zip(table.columns, row, strict=True))
            if seqs is not None and values.get("seq") not in seqs:
                raise ValueError(
                    _("a row of {table} is not of the events served with it").format(table=name)
                )
            if named is not None and name in _NAMED and values[_NAMED[name]] not in named:
                raise ValueError(
                    _("a row of {table} is of a request no new event names").format(table=name)
                )
        out[name] = table_rows
    return out


def _plain(value: Any) -> bool:
    if value is None or isinstance(value, str):
        return True
    return isinstance(value, int) and not isinstance(value, bool) and -LIMIT <= value < LIMIT


def write_rows(tx: Any, rows: Rows) -> None:
    """Insert or bring up to date, in the copy, the rows given (in an order the foreign keys
    accept); a guarded append-only row already held is kept as it is."""
    for table in (*STATED, *LOGGED):
        for row in rows.get(table.name, ()):
            tx.execute(_upsert(table), row)


def _upsert(table: Table) -> str:
    columns = ", ".join(table.columns)
    marks = ", ".join("?" for _ in table.columns)
    conflict = f"ON CONFLICT ({', '.join(table.key)}) DO "
    others = [c for c in table.columns if c not in table.key]
    if table.immutable or not others:
        conflict += "NOTHING"
    else:  # a row held as it is is left alone (nothing changed: no verification)
        conflict += "UPDATE SET " + ", ".join(f"{c} = excluded.{c}" for c in others)
        conflict += " WHERE " + " OR ".join(f"{table.name}.{c} IS NOT excluded.{c}" for c in others)
    return f"INSERT INTO {table.name} ({columns}) VALUES ({marks}) {conflict}"  # noqa: S608


def rows_of(rows: Rows, table: str) -> Iterator[dict[str, Any]]:
    """The rows of ``table`` as dictionaries (for evidence and tests)."""
    columns: Sequence[str] = TABLES[table].columns
    for row in rows.get(table, ()):
        yield dict(zip(columns, row, strict=True))
