"""The hash-chained, signed audit log with its Merkle tree and checkpoints (DESIGN §7,
docs/audit-format.md)."""

from .canonical import canonical_json, text_digest
from .events import EVENT_PREFIX, GENESIS_HASH, Event, StoredEvent, utc_timestamp
from .report import Failure, VerifyResult
from .verify import verify_log

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
