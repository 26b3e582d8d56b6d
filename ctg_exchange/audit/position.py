"""Where a verification stopped, and everything it needs to go on from there.

A verification of a large log keeps the records the replay derives in a :class:`~.spill.Spill`
(on disk beyond a few thousand); the rest of its state is small: the members and their keys,
the convention's changes, the tree's right edge, the last hash. :func:`snapshot` pickles that
small part (the spilled records stay in the spill's file) and :func:`restore` puts it back over
the same file, so that the next verification applies the law to the events after it exactly
as a verification of the whole log would (:mod:`ctg_exchange.services.verified`).
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from . import merkle
from .law import Law
from .replay import Replay
from .spill import Spill, SpillDict

FORMAT = 3  # of what is pickled: a memory of another format is not read
# the fact book's kinds that grow with the log: kept in the spill
SPILLED_BOOK = (
    "request",
    "delivery",
    "reception",
    "destruction",
    "pseudonym_key",
    "register_version",
)


@dataclass
class Position:
    """The verifier's own state after its last event."""

    size: int  # events verified
    head: str  # the last one's hash
    frontier: merkle.Frontier  # the tree's right edge
    roots: dict[int, bytes]  # the tree's root at each verified checkpoint's size
    implied: tuple[int, str, str | None] | None  # the last event a checkpoint must cover
    genesis: str  # the first event's hash
    notes: dict[str, tuple[str, ...]] = field(default_factory=dict)  # verified: their signers
    lines: frozenset[str] = frozenset()  # signature lines kept beside checkpoints, verified


def spill_replay(replay: Replay, spill: Spill) -> None:
    """Keep the replay's growing records in ``spill``."""
    for name in SPILLED_BOOK:
        setattr(replay.book, name, SpillDict(spill, name))
    replay._taken = SpillDict(spill, "taken")
    if replay.law is not None:
        replay.law.requests = SpillDict(spill, "law")


def snapshot(position: Position, replay: Replay) -> bytes:
    """The position and the replay's state but its spilled records (and the store it reads)."""
    saved: dict[str, Any] = {name: getattr(replay.book, name) for name in SPILLED_BOOK}
    taken, law = replay._taken, replay.law
    steps = replay.book.steps
    assert not steps, "steps are compared as the log is read"
    store: Law | None = None
    try:
        for name in SPILLED_BOOK:
            setattr(replay.book, name, None)
        replay._taken = None  # type: ignore[assignment]
        if law is not None:
            store, requests, contents = law.law, law.requests, law._contents
            law.law, law.requests, law._contents = None, None, None  # type: ignore[assignment]
        return pickle.dumps((FORMAT, position, replay), pickle.HIGHEST_PROTOCOL)
    finally:
        for name, value in saved.items():
            setattr(replay.book, name, value)
        replay._taken = taken
        if law is not None:
            law.law, law.requests, law._contents = store, requests, contents  # type: ignore[assignment]


def restore(blob: bytes, spill: Spill, law: Law | None) -> tuple[Position, Replay]:
    """The position and the replay ``snapshot`` made, over ``spill``'s records; ValueError if
    the blob is not one."""
    from collections import OrderedDict

    try:
        version, position, replay = pickle.loads(blob)  # noqa: S301 - the verifier's own file
    except Exception as exc:  # noqa: BLE001 - whatever the bytes are, they are not a memory
        raise ValueError(f"not a verifier's memory: {type(exc).__name__}") from None
    if version != FORMAT or not isinstance(position, Position) or not isinstance(replay, Replay):
        raise ValueError("not a verifier's memory of this format")
    if (replay.law is None) != (law is None):
        raise ValueError("a memory of a verification with or without the law")
    if replay.law is not None:
        replay.law.law = law  # type: ignore[assignment]
        replay.law._contents = OrderedDict()
    replay.now = datetime.now(UTC)
    spill_replay(replay, spill)
    return position, replay
