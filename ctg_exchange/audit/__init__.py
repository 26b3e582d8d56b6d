"""The hash-chained, signed audit log with its Merkle tree and checkpoints (DESIGN §7,
docs/audit-format.md).

The names below load with the module that defines them, on first use: reading the log
(``audit.events``, ``audit.canonical``) does not load the verifier.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import attributes

if TYPE_CHECKING:
    from .canonical import canonical_json, text_digest
    from .events import EVENT_PREFIX, GENESIS_HASH, Event, StoredEvent, utc_timestamp
    from .report import Failure, VerifyResult
    from .verify import verify_log

_HOME = {
    "canonical_json": "canonical",
    "text_digest": "canonical",
    "EVENT_PREFIX": "events",
    "GENESIS_HASH": "events",
    "Event": "events",
    "StoredEvent": "events",
    "utc_timestamp": "events",
    "Failure": "report",
    "VerifyResult": "report",
    "verify_log": "verify",
}

__all__ = [
    "EVENT_PREFIX",
    "GENESIS_HASH",
    "Event",
    "Failure",
    "StoredEvent",
    "VerifyResult",
    "canonical_json",
    "text_digest",
    "utc_timestamp",
    "verify_log",
]


__getattr__ = attributes(__name__, _HOME)
