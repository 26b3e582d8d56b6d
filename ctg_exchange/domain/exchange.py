"""Deliveries of approved datasets, their reception, and their destruction (DESIGN §4, §8)."""

from __future__ import annotations

from datetime import date

from pydantic import Field

from .types import Frozen, MemberId, Ref, Text


class PartyRecipient(Frozen):
    """An age X25519 recipient registered for a party; retired ones still open old packages."""

    recipient: str
    party: Ref
    added_by: MemberId
    added_at: str
    retired_at: str | None = None

    @property
    def active(self) -> bool:
        return self.retired_at is None


class Delivery(Frozen):
    """What was sent: hashes, counts and dates — never a value of the dataset."""

    request_id: str
    number: int = Field(ge=1)
    sent_by: MemberId
    sent_at: str
    sent_on: date
    payload_sha256: str
    payload_size: int
    manifest_sha256: str
    rows: int
    columns: tuple[str, ...]
    conditions: tuple[str, ...]  # "R1 max_retention_days: deadline 2026-05-26"
    retention_deadline: date
    # sent sooner than the request's frequency allows (``--early``), and why: the text of the
    # send's step, whose digest its event binds
    early: bool = False
    justification: Text | None = None

    @property
    def id(self) -> str:
        return f"{self.request_id}-{self.number}"


class Reception(Frozen):
    request_id: str
    number: int
    received_by: MemberId
    received_at: str
    received_on: date
    path: str
    retention_deadline: date

    @property
    def id(self) -> str:
        return f"{self.request_id}-{self.number}"


class Destruction(Frozen):
    """A signed attestation that a received file was deleted."""

    request_id: str
    number: int
    destroyed_by: MemberId
    destroyed_at: str
    destroyed_on: date
    method: str  # "purge" (by the tool) or "attest" (deleted by hand)
    path: str
    file_sha256: str | None = None  # what was deleted, hashed just before (purge)
    note: Text | None = None
    # eliminating public archives: the archives service's approval (Code du patrimoine L212-3)
    archives_approval: Text | None = None
