"""Portable SQL for notifications (issue 18): members' addresses and preferences, the outbox,
and the record of the daily reminders sent.

A member's address and preference live in two columns of ``members`` that only these queries
read and write: the member's other columns, and what a copy of the workspace mirrors of them,
stay as they were. The outbox is written in the transaction of the event it reports on.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .rows import Queries, parsed_row

_OUTBOX_COLUMNS = (
    "id, seq, channel, target, mode, facts, queued_at, due_at, attempts, last_error, sent_at"
)


@dataclass(frozen=True)
class Contact:
    """Where and how a member is told what waits on them."""

    id: str  # the member's
    party: str
    roles: tuple[str, ...]
    active: bool
    email: str | None
    notify: str  # immediate | digest | none
    until: str | None = None  # the last day it may act or read (an auditor's --until)

    def on(self, day: str) -> bool:
        """Whether the member is active on ``day`` (ISO): not revoked, within its term."""
        return self.active and (self.until is None or day <= self.until)


@dataclass(frozen=True)
class Queued:
    """A message in the outbox: by e-mail to a member (``target`` is their id) or by webhook
    (``target`` is its URL); ``facts`` say what it reports, without personal data."""

    id: int
    seq: int
    channel: str
    target: str
    mode: str  # immediate | digest
    facts: dict[str, Any]
    queued_at: str
    due_at: str
    attempts: int
    last_error: str | None
    sent_at: str | None


def _queued(row: Sequence[Any]) -> Queued:
    def build() -> Queued:
        values = list(row)
        values[5] = json.loads(values[5])
        if not isinstance(values[5], dict):
            raise ValueError("facts")
        return Queued(*values)

    return parsed_row("outbox", row[0], build)


class NotifyQueries(Queries):
    """Mixed into :class:`~ctg_exchange.store.sql.SqlTx`."""

    # -- members' addresses -----------------------------------------------------------------
    def contacts(self) -> list[Contact]:
        rows = self._all(
            "SELECT id, party, roles, revoked_at, email, notify, valid_until FROM members "
            "ORDER BY party, id"
        )
        return [
            Contact(
                str(r[0]), str(r[1]), tuple(str(r[2]).split(",")), r[3] is None, r[4],
                r[5] or "immediate", r[6],
            )
            for r in rows
        ]  # fmt: skip

    def set_contact(self, member_id: str, email: str | None, notify: str) -> None:
        self.execute(
            "UPDATE members SET email = ?, notify = ? WHERE id = ?", (email, notify, member_id)
        )

    # -- the outbox -------------------------------------------------------------------------
    def queue_message(
        self, seq: int, channel: str, target: str, mode: str, facts: dict[str, Any], at: str
    ) -> None:
        row = self._one("SELECT COALESCE(MAX(id), 0) FROM outbox")
        self.execute(
            f"INSERT INTO outbox ({_OUTBOX_COLUMNS}) "  # noqa: S608
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, NULL, NULL)",
            (
                int(row[0]) + 1, seq, channel, target, mode,
                json.dumps(facts, sort_keys=True, separators=(",", ":")), at, at,
            ),
        )  # fmt: skip

    def queued(
        self, *, mode: str | None = None, due_by: str | None = None, target: str | None = None
    ) -> list[Queued]:
        """The messages not yet sent, oldest first: of one ``mode``, due by a time, to one
        ``target``."""
        clauses, params = ["sent_at IS NULL"], []
        for column, value, operator in (
            ("mode", mode, "="),
            ("due_at", due_by, "<="),
            ("target", target, "="),
        ):
            if value is not None:
                clauses.append(f"{column} {operator} ?")
                params.append(value)
        rows = self._all(
            f"SELECT {_OUTBOX_COLUMNS} FROM outbox WHERE {' AND '.join(clauses)} ORDER BY id",  # noqa: S608
            params,
        )
        return [_queued(row) for row in rows]

    def sent_messages(self, limit: int) -> list[Queued]:
        rows = self._all(
            f"SELECT {_OUTBOX_COLUMNS} FROM outbox WHERE sent_at IS NOT NULL "  # noqa: S608
            "ORDER BY id DESC LIMIT ?",
            (limit,),
        )
        return [_queued(row) for row in rows]

    def postpone_message(self, message_id: int, due_at: str) -> None:
        """Claimed by a sender until ``due_at``: no other sender takes it meanwhile."""
        self.execute("UPDATE outbox SET due_at = ? WHERE id = ?", (due_at, message_id))

    def message_sent(self, message_id: int, at: str) -> None:
        self.execute(
            "UPDATE outbox SET sent_at = ?, attempts = attempts + 1 WHERE id = ?",
            (at, message_id),
        )

    def message_dropped(self, message_id: int, at: str, why: str) -> None:
        """Never to be sent (its member left, or has no address): out of the queue, with why."""
        self.execute(
            "UPDATE outbox SET sent_at = ?, last_error = ? WHERE id = ?", (at, why, message_id)
        )

    def message_failed(self, message_id: int, error: str, due_at: str) -> None:
        self.execute(
            "UPDATE outbox SET attempts = attempts + 1, last_error = ?, due_at = ? WHERE id = ?",
            (error, due_at, message_id),
        )

    # -- the daily reminders ----------------------------------------------------------------
    def reminded(self, day: str) -> set[str]:
        """The members sent their reminder on ``day``."""
        rows = self._all("SELECT member FROM reminders_sent WHERE day = ?", (day,))
        return {str(row[0]) for row in rows}

    def record_reminder(self, member_id: str, day: str, at: str, items: int) -> None:
        self.execute(
            "INSERT INTO reminders_sent (member, day, sent_at, items) VALUES (?, ?, ?, ?)",
            (member_id, day, at, items),
        )

    def forget_reminder(self, member_id: str, day: str) -> None:
        """A digest claimed but not sent: the next run sends it."""
        self.execute("DELETE FROM reminders_sent WHERE member = ? AND day = ?", (member_id, day))
