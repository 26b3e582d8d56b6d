"""Portable SQL for the exchange: party recipients, deliveries, receptions, destructions.

Who acted and when comes from the audit event each row points to (``seq``), so the evidence and
the records cannot disagree.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date
from typing import Any

from ..domain.exchange import Delivery, Destruction, PartyRecipient, Reception
from .rows import parsed_row


class ExchangeQueries:
    """Mixed into :class:`~ctg_exchange.store.sql.SqlTx`."""

    def execute(self, query: str, params: Sequence[Any] = ()) -> Any:  # provided by SqlTx
        raise NotImplementedError

    # -- party recipients -------------------------------------------------------------------
    def add_recipient(self, recipient: str, party: str, seq: int) -> None:
        self.execute(
            "INSERT INTO party_recipients (recipient, party, added_seq) VALUES (?, ?, ?)",
            (recipient, party, seq),
        )

    def retire_recipient(self, recipient: str, seq: int) -> None:
        self.execute(
            "UPDATE party_recipients SET retired_seq = ? WHERE recipient = ?", (seq, recipient)
        )

    def recipients(self, party: str | None = None) -> list[PartyRecipient]:
        where, params = ("WHERE r.party = ? ", (party,)) if party else ("", ())
        rows = self.execute(
            "SELECT r.recipient, r.party, a.actor, a.time, t.time FROM party_recipients r "  # noqa: S608
            "JOIN audit_events a ON a.seq = r.added_seq "
            f"LEFT JOIN audit_events t ON t.seq = r.retired_seq {where}"
            "ORDER BY r.party, r.added_seq",
            params,
        ).fetchall()
        keys = ("recipient", "party", "added_by", "added_at", "retired_at")
        return [
            parsed_row(
                "party_recipients",
                row[0],
                PartyRecipient.model_validate,
                dict(zip(keys, row, strict=True)),
            )
            for row in rows
        ]

    # -- deliveries -------------------------------------------------------------------------
    _DELIVERY = (
        "SELECT d.request_id, d.number, e.actor, e.time, d.sent_on, d.payload_sha256, "
        "d.payload_size, d.manifest_sha256, d.rows_count, d.columns, d.conditions, "
        "d.retention_deadline, s.text FROM deliveries d JOIN audit_events e ON e.seq = d.seq "
        # an early delivery's justification: the text of its step (the event binds its digest)
        "LEFT JOIN request_steps s ON s.seq = d.seq "
    )

    @staticmethod
    def _delivery(row: Sequence[Any]) -> Delivery:
        return parsed_row("deliveries", f"{row[0]}-{row[1]}", _make_delivery, row)

    @staticmethod
    def _reception(row: Sequence[Any]) -> Reception:
        return parsed_row("receptions", f"{row[0]}-{row[1]}", _make_reception, row)

    def insert_delivery(self, delivery: Delivery, seq: int) -> None:
        self.execute(
            "INSERT INTO deliveries (request_id, number, seq, sent_on, payload_sha256, "
            "payload_size, manifest_sha256, rows_count, columns, conditions, "
            "retention_deadline) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                delivery.request_id,
                delivery.number,
                seq,
                delivery.sent_on.isoformat(),
                delivery.payload_sha256,
                delivery.payload_size,
                delivery.manifest_sha256,
                delivery.rows,
                json.dumps(list(delivery.columns)),
                json.dumps(list(delivery.conditions), ensure_ascii=False),
                delivery.retention_deadline.isoformat(),
            ),
        )

    def deliveries(self, request_id: str | None = None) -> list[Delivery]:
        where, params = ("WHERE d.request_id = ? ", (request_id,)) if request_id else ("", ())
        rows = self.execute(
            self._DELIVERY + where + "ORDER BY d.request_id, d.number", params
        ).fetchall()
        return [self._delivery(row) for row in rows]

    def get_delivery(self, request_id: str, number: int) -> Delivery | None:
        row = self.execute(
            self._DELIVERY + "WHERE d.request_id = ? AND d.number = ?", (request_id, number)
        ).fetchone()
        return None if row is None else self._delivery(row)

    # -- receptions and destructions --------------------------------------------------------
    _RECEPTION = (
        "SELECT r.request_id, r.number, e.actor, e.time, r.received_on, r.path, "
        "d.retention_deadline FROM receptions r JOIN audit_events e ON e.seq = r.seq "
        "JOIN deliveries d ON d.request_id = r.request_id AND d.number = r.number "
    )

    def insert_reception(self, reception: Reception, seq: int) -> None:
        self.execute(
            "INSERT INTO receptions (request_id, number, seq, received_on, path) "
            "VALUES (?, ?, ?, ?, ?)",
            (
                reception.request_id,
                reception.number,
                seq,
                reception.received_on.isoformat(),
                reception.path,
            ),
        )

    def get_reception(self, request_id: str, number: int) -> Reception | None:
        row = self.execute(
            self._RECEPTION + "WHERE r.request_id = ? AND r.number = ?", (request_id, number)
        ).fetchone()
        return None if row is None else self._reception(row)

    def receptions(self) -> list[Reception]:
        rows = self.execute(
            self._RECEPTION + "ORDER BY d.retention_deadline, r.request_id, r.number"
        ).fetchall()
        return [self._reception(row) for row in rows]

    def insert_destruction(self, destruction: Destruction, seq: int) -> None:
        self.execute(
            "INSERT INTO destructions (request_id, number, seq, destroyed_on, method, "
            "file_sha256, note, archives_approval) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                destruction.request_id,
                destruction.number,
                seq,
                destruction.destroyed_on.isoformat(),
                destruction.method,
                destruction.file_sha256,
                destruction.note,
                destruction.archives_approval,
            ),
        )

    def destructions(self) -> list[Destruction]:
        rows = self.execute(
            "SELECT x.request_id, x.number, e.actor, e.time, x.destroyed_on, x.method, r.path, "
            "x.file_sha256, x.note, x.archives_approval FROM destructions x "
            "JOIN audit_events e ON e.seq = x.seq "
            "JOIN receptions r ON r.request_id = x.request_id AND r.number = x.number "
            "ORDER BY x.seq"
        ).fetchall()
        keys = (
            "request_id",
            "number",
            "destroyed_by",
            "destroyed_at",
            "destroyed_on",
            "method",
            "path",
            "file_sha256",
            "note",
            "archives_approval",
        )
        return [
            parsed_row(
                "destructions",
                f"{row[0]}-{row[1]}",
                Destruction.model_validate,
                dict(zip(keys, row, strict=True)),
            )
            for row in rows
        ]

    # -- pseudonymisation keys (sealed to the holder's own recipients) ----------------------
    def get_pseudonym_key(self, request_id: str) -> str | None:
        row = self.execute(
            "SELECT sealed FROM pseudonym_keys WHERE request_id = ?", (request_id,)
        ).fetchone()
        return None if row is None else str(row[0])

    # -- downloads of packages from a hosted workspace --------------------------------------
    def record_download(self, request_id: str, number: int, member: str, at: str) -> None:
        self.execute(
            "INSERT INTO package_downloads (request_id, number, member, at) VALUES (?, ?, ?, ?)",
            (request_id, number, member, at),
        )

    def downloads(self, request_id: str, number: int) -> list[tuple[str, str]]:
        """Who downloaded a delivery's package, and when (member, UTC time), oldest first."""
        rows = self.execute(
            "SELECT member, at FROM package_downloads WHERE request_id = ? AND number = ? "
            "ORDER BY at, member",
            (request_id, number),
        ).fetchall()
        return [(str(member), str(at)) for member, at in rows]

    def put_pseudonym_key(self, request_id: str, sealed: str, seq: int) -> None:
        self.execute(
            "INSERT INTO pseudonym_keys (request_id, sealed, seq) VALUES (?, ?, ?)",
            (request_id, sealed, seq),
        )


def _make_delivery(row: Sequence[Any]) -> Delivery:
    (
        request_id,
        number,
        actor,
        time,
        sent_on,
        sha,
        size,
        manifest,
        rows,
        columns,
        conditions,
        deadline,
        justification,
    ) = row
    return Delivery(
        request_id=request_id,
        number=number,
        sent_by=actor,
        sent_at=time,
        sent_on=date.fromisoformat(sent_on),
        payload_sha256=sha,
        payload_size=size,
        manifest_sha256=manifest,
        rows=rows,
        columns=tuple(json.loads(columns)),
        conditions=tuple(json.loads(conditions)),
        retention_deadline=date.fromisoformat(deadline),
        early=justification is not None,
        justification=justification,
    )


def _make_reception(row: Sequence[Any]) -> Reception:
    request_id, number, actor, time, received_on, path, deadline = row
    return Reception(
        request_id=request_id,
        number=number,
        received_by=actor,
        received_at=time,
        received_on=date.fromisoformat(received_on),
        path=path,
        retention_deadline=date.fromisoformat(deadline),
    )
