"""Portable SQL for the Article 30 register: every version of every fiche, never deleted."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..register.model import EntryVersion, RegisterEntry
from .rows import parsed_row

_VERSIONS = (
    "SELECT v.ref, v.version, e.actor, e.time, v.reason, v.seq, v.doc FROM register_versions v "
    "JOIN audit_events e ON e.seq = v.seq "
)


class RegisterQueries:
    """Mixed into :class:`~ctg_exchange.store.sql.SqlTx`."""

    def execute(self, query: str, params: Sequence[Any] = ()) -> Any:  # provided by SqlTx
        raise NotImplementedError

    @staticmethod
    def _version(row: Sequence[Any]) -> EntryVersion:
        return parsed_row("register_versions", f"{row[0]} v{row[1]}", _make_version, *row)

    def add_entry_version(self, entry: RegisterEntry, version: int, seq: int, reason: str) -> None:
        self.execute(
            "INSERT INTO register_versions (ref, version, controller, seq, reason, doc) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (entry.ref, version, entry.controller, seq, reason, entry.model_dump_json()),
        )

    def entry_versions(self, ref: str) -> list[EntryVersion]:
        rows = self.execute(_VERSIONS + "WHERE v.ref = ? ORDER BY v.version", (ref,)).fetchall()
        return [self._version(row) for row in rows]

    def current_entries(self, controller: str | None = None) -> list[EntryVersion]:
        """The latest version of each fiche (of one controller, or all)."""
        where, params = ("AND v.controller = ? ", (controller,)) if controller else ("", ())
        latest = (
            "WHERE v.version = "
            "(SELECT MAX(w.version) FROM register_versions w WHERE w.ref = v.ref) "
        )
        query = _VERSIONS + latest + where + "ORDER BY v.controller, v.ref"
        rows = self.execute(query, params).fetchall()
        return [self._version(row) for row in rows]


def _make_version(
    ref: str, version: int, actor: str, time: str, reason: str, seq: int, doc: str
) -> EntryVersion:
    return EntryVersion(
        entry=RegisterEntry.model_validate_json(doc),
        version=int(version),
        author=actor,
        at=time,
        reason=reason,
        seq=int(seq),
    )
