"""What a verification remembers, so that the next one verifies only the events after it.

The memory is the verifier's own, never the workspace's (whoever can write the workspace could
write it too): ``$XDG_STATE_HOME/ctg-exchange/verified/<workspace id>-<place>.sqlite3`` (by
default under ``~/.local/state``; the place is a digest of the workspace's path, so that two
copies of one workspace never share a memory), in a 0700 directory, 0600. It is the replay's
spilled records (:mod:`ctg_exchange.audit.spill`) beside the verifier's position
(:mod:`ctg_exchange.audit.position`): the number of events verified, the last one's hash, the
tree's right edge and root, the first event's hash. It is written only by a verification that
found nothing wrong: a full one into a new file moved over the old; an incremental one in the
file's own transaction.

A memory the log contradicts — fewer events, another first or last hash, a checkpoint whose
consistency proof from the remembered root fails — is a failure of the log (exit 3): it is never
silently replaced. A memory that cannot be read (damaged, of another version, not private) is
set aside and the log verified in full.
"""

from __future__ import annotations

import os
import sqlite3
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..audit import merkle
from ..audit.law import Law
from ..audit.position import Position, restore, snapshot
from ..audit.replay import Replay
from ..audit.report import Failure
from ..audit.spill import Spill
from ..errors import ExchangeError, IntegrityError
from ..fsutil import ensure_private_dir, fsync_dir
from ..i18n import _
from ..store.base import Tx

STATE = "state"  # the meta row holding the pickled position and replay


def state_home() -> Path:
    """``$XDG_STATE_HOME`` (an absolute path), else ``~/.local/state``."""
    configured = os.environ.get("XDG_STATE_HOME", "")
    if configured and Path(configured).is_absolute():
        return Path(configured)
    return Path.home() / ".local" / "state"


def memory_dir() -> Path:
    return state_home() / "ctg-exchange" / "verified"


@dataclass
class Recalled:
    """A readable memory, open in its own transaction."""

    position: Position
    replay: Replay
    spill: Spill


class Memory:
    """The memory of one workspace's verifications (or none: ``path`` None)."""

    def __init__(self, log_id: str, workspace_root: Path | None) -> None:
        path = memory_dir() / f"{log_id}{_place(workspace_root)}.sqlite3"
        inside = workspace_root is not None and _inside(path, workspace_root)
        self.path = None if inside else path  # never inside the workspace: no memory, then

    def recall(self, law: Law | None) -> Recalled | None:
        """The remembered verification, or None (none yet, or one that cannot be read)."""
        if self.path is None or not self.path.exists():
            return None
        spill: Spill | None = None
        try:
            info = self.path.stat()
            if info.st_uid != os.getuid() or stat.S_IMODE(info.st_mode) & 0o077:
                return None  # not this user's private file: not trusted, not read
            spill = Spill(self.path)
            blob = spill.meta(STATE)
            if blob is None:
                raise ValueError("no position")
            position, replay = restore(blob, spill, law)
        except (OSError, sqlite3.Error, ValueError):
            if spill is not None:
                spill.close()
            return None
        return Recalled(position, replay, spill)

    def fresh(self) -> Spill:
        """Where a full verification keeps its records: a new private file beside the memory
        (moved over it once all verified), or a temporary one without a memory."""
        if self.path is None:
            return Spill()
        try:
            ensure_private_dir(self.path.parent)
            fd, name = tempfile.mkstemp(
                prefix=f".{self.path.stem}-", suffix=".tmp", dir=self.path.parent
            )
            os.close(fd)
            return Spill(Path(name), temporary=True)
        except (OSError, sqlite3.Error, ExchangeError):
            return Spill()

    def save(self, spill: Spill, position: Position, replay: Replay) -> None:
        """Remember a verification that found nothing wrong (best effort: a memory that cannot
        be written only makes the next verification a full one)."""
        if self.path is None:
            spill.close()
            return
        try:
            spill.save({STATE: snapshot(position, replay)}, self.path)
            fsync_dir(self.path.parent)
        except (OSError, sqlite3.Error):
            pass
        finally:
            spill.close()


def _place(workspace_root: Path | None) -> str:
    """What tells two copies of one workspace apart (a backup restored elsewhere, a party's copy
    of a hosted log, a rehearsal copied from a template): each has its own memory, and a first
    verification of a copy is a full one."""
    if workspace_root is None:
        return ""
    import hashlib

    where = str(workspace_root.resolve()).encode("utf-8", "surrogateescape")
    return "-" + hashlib.sha256(where).hexdigest()[:16]


def _inside(path: Path, root: Path) -> bool:
    try:
        return path.resolve().is_relative_to(root.resolve())
    except OSError:
        return True


def memory_failure(message: str) -> Failure:
    """A failure of the log found against this verifier's memory: listed after the failures
    of the events themselves, which the full verification it leads to names."""
    return Failure(message, record=_("this verifier's memory"))


def contradictions(tx: Tx, position: Position, log_size: int) -> list[Failure]:
    """Where the log contradicts what an earlier verification of it found: fewer events, or
    another first or last event at the remembered position."""
    size = position.size
    if log_size < size:
        return [
            memory_failure(
                _("{size} events were verified; the log now ends at #{end}").format(
                    size=size, end=log_size
                )
            )
        ]
    failures = []
    for seq in sorted({1, size} - {0}):
        stored = tx.get_event(seq)
        remembered = position.genesis if seq == 1 else position.head
        if stored is None or stored.hash != remembered or stored.event.digest() != remembered:
            failures.append(
                memory_failure(
                    _("event #{seq} is not the one verified (its hash differs)").format(seq=seq)
                )
            )
    return failures


def consistent_with(tx: Tx, position: Position, size: int, root: bytes) -> bool:
    """Whether the tree of ``size`` leaves with ``root`` and the remembered tree are one a
    prefix of the other, by an RFC 9162 consistency proof made from the store's tree."""
    old, old_root = position.size, position.frontier.root()
    try:
        if size >= old:
            return merkle.consistent(old, size, old_root, root, tx.consistency_proof(old, size))
        return merkle.consistent(size, old, root, old_root, tx.consistency_proof(size, old))
    except (ValueError, IntegrityError):
        return False
