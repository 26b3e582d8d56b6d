"""The hash-chained, signed audit log (DESIGN §7, docs/spec/audit-log.md)."""

from .canonical import canonical_json, text_digest
from .events import EVENT_PREFIX, GENESIS_HASH, Event, StoredEvent, utc_timestamp
from .verify import VerifyResult, verify_events

__all__ = [
    "EVENT_PREFIX",
    "GENESIS_HASH",
    "Event",
    "StoredEvent",
    "VerifyResult",
    "canonical_json",
    "text_digest",
    "utc_timestamp",
    "verify_events",
]
