"""Audit events: what is hashed, what is signed (docs/audit-format.md §3-§4)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .canonical import canonical_json

FORMAT_VERSION = 1
EVENT_PREFIX = b"ctg-exchange/event@v1\n"
GENESIS_HASH = "0" * 64


def utc_timestamp(moment: datetime | None = None) -> str:
    """``2026-11-27T03:33:11.123456Z``: UTC, microseconds, fixed width."""
    moment = (moment or datetime.now(UTC)).astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class Event:
    """One state change, before signing. ``log`` is the workspace id (the log's origin)."""

    log: str
    seq: int
    time: str
    actor: str
    party: str
    role: str
    action: str
    subject: str
    prev: str
    payload: dict[str, Any] = field(default_factory=dict)

    def body(self) -> dict[str, Any]:
        return {
            "v": FORMAT_VERSION,
            "log": self.log,
            "seq": self.seq,
            "time": self.time,
            "actor": self.actor,
            "party": self.party,
            "role": self.role,
            "action": self.action,
            "subject": self.subject,
            "payload": self.payload,
            "prev": self.prev,
        }

    def signed_bytes(self) -> bytes:
        """The exact bytes hashed and signed: the domain prefix then the canonical body."""
        return EVENT_PREFIX + canonical_json(self.body())

    def digest(self) -> str:
        return hashlib.sha256(self.signed_bytes()).hexdigest()


@dataclass(frozen=True)
class StoredEvent:
    """An event as kept in the store: its fields, its hash and its SSHSIG signature."""

    event: Event
    hash: str
    signature: str

    @property
    def seq(self) -> int:
        return self.event.seq

    def to_json(self) -> dict[str, Any]:
        return {**self.event.body(), "hash": self.hash, "signature": self.signature}

    @staticmethod
    def payload_from_text(text: str) -> dict[str, Any]:
        """A stored payload: a JSON object the canonical encoding can hold (no float, no NaN)."""
        value = loads_canonical(text)
        if not isinstance(value, dict):
            raise ValueError("payload is not an object")
        return value


class NotCanonical(ValueError):
    """JSON the canonical encoding cannot hold: a float, NaN or an infinity."""


def _no_float(text: str) -> Any:
    raise NotCanonical("the canonical encoding has no floats")


_DECODER = json.JSONDecoder(parse_float=_no_float, parse_constant=_no_float)


def loads_canonical(text: str) -> Any:
    """Parse JSON that is to be re-encoded canonically: a float is refused here, with a
    ``ValueError``, rather than failing the encoding later."""
    if type(text) is str and not text.startswith("\ufeff"):
        return _DECODER.decode(text)  # what json.loads does, without a decoder per call
    return json.loads(text, parse_float=_no_float, parse_constant=_no_float)
