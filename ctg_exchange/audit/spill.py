"""The replay's per-record state, held in a bounded cache over a private SQLite file.

A log of a million events binds a few hundred thousand requests, deliveries and receptions: the
replay must know each one's standing until the end, but not in memory. :class:`Spill` keeps the
most recently used records in memory (a least-recently-used cache shared by every kind) and
writes the others, pickled, to a SQLite file of its own — created only when the cache first
overflows, so a small log never touches the disk. Each kind of record is a
:class:`SpillDict`, a mapping the replay uses as it would a ``dict``.

The same file is what a verification remembers (:mod:`ctg_exchange.services.verified`): it is
written by this process only, in the verifier's private state directory or a private temporary
file, and read back by the same user; pickle is used for that reason and no other.
"""

from __future__ import annotations

import json
import os
import pickle
import sqlite3
import tempfile
from collections import OrderedDict
from collections.abc import Iterator, MutableMapping
from pathlib import Path
from typing import Any, TypeVar

K = TypeVar("K")
V = TypeVar("V")

CACHE = 4096  # records kept in memory, of every kind together (a quarter evicted at once)
_WRITE = 256  # records pickled and written in one statement
_ABSENT: Any = object()
# a Bloom filter of the records written to the file (2 MiB, two bits a record: about 1% false
# positives at a million records), so a record not cached and never written (a new request's)
# is known absent without a query
_BLOOM_BITS = 1 << 24
_BLOOM_MASK = _BLOOM_BITS - 1
_SCHEMA = (
    # a rowid table: records of a kilobyte would overflow the pages of a WITHOUT ROWID one
    "CREATE TABLE IF NOT EXISTS record (kind TEXT NOT NULL, key TEXT NOT NULL, value BLOB NOT NULL,"
    " PRIMARY KEY (kind, key))",
    "CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value BLOB NOT NULL)",
)


_KEY = json.JSONEncoder(separators=(",", ":"))  # json.dumps's, made once


def _encode(key: Any) -> str:
    return _KEY.encode(key)


def _decode(text: str) -> Any:
    key = json.loads(text)
    return tuple(key) if isinstance(key, list) else key


class Spill:
    """Records by (kind, key), the recent ones in memory, the rest in ``path`` (or, without a
    path, a temporary file made when first needed). A ``temporary`` file is removed by
    :meth:`close` unless :meth:`save` moved it."""

    def __init__(
        self, path: Path | None = None, *, temporary: bool = False, cache: int = CACHE
    ) -> None:
        self._path = path
        self._temporary = path is None or temporary  # removed by close() unless saved
        self._db: sqlite3.Connection | None = None
        self._cache: OrderedDict[tuple[str, Any], Any] = OrderedDict()
        # records used since last written: a record read may be changed in place by its user
        self._dirty: set[tuple[str, Any]] = set()
        self._limit = cache
        self.touched: set[tuple[str, Any]] | None = None  # what this run used, if tracked
        # the records this process wrote, while they are all the file holds (a file it began)
        self._written: bytearray | None = None
        self._exact = path is None
        if path is not None:
            self._open(path)

    # -- the file -----------------------------------------------------------------------------
    def _open(self, path: Path) -> sqlite3.Connection:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        os.close(fd)
        db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA synchronous = NORMAL")
        db.execute("PRAGMA cache_size = -2048")  # 2 MiB of pages
        for statement in _SCHEMA:
            db.execute(statement)
        self._exact = db.execute("SELECT 1 FROM record LIMIT 1").fetchone() is None
        # one transaction, holding the file from the start (a second verifier of the same
        # memory is refused at once): committed by save(), else rolled back
        db.execute("BEGIN IMMEDIATE")
        self._db = db
        return db

    def _disk(self) -> sqlite3.Connection:
        if self._db is None:
            fd, name = tempfile.mkstemp(prefix="ctg-verify-", suffix=".sqlite3")
            os.close(fd)
            self._path = Path(name)
            return self._open(self._path)
        return self._db

    # -- records ------------------------------------------------------------------------------
    def get(self, kind: str, key: Any, *, keep: bool = True) -> Any:
        """The record, or ``_ABSENT``; read from the file, it is cached unless not ``keep``
        (a record read once, to compare it)."""
        slot = (kind, key)
        if self.touched is not None:
            self.touched.add(slot)
        value = self._cache.get(slot, _ABSENT)
        if value is not _ABSENT:
            self._cache.move_to_end(slot)
            self._dirty.add(slot)
            return value
        if self._db is None or (self._exact and not self._maybe_written(slot)):
            return _ABSENT
        row = self._db.execute(
            "SELECT value FROM record WHERE kind = ? AND key = ?", (kind, _encode(key))
        ).fetchone()
        if row is None:
            return _ABSENT
        value = pickle.loads(row[0])  # noqa: S301 - this process's own private file
        if keep:
            self._put(slot, value)
            self._dirty.add(slot)
        return value

    def set(self, kind: str, key: Any, value: Any) -> None:
        slot = (kind, key)
        if self.touched is not None:
            self.touched.add(slot)
        if slot in self._cache:
            self._cache.move_to_end(slot)
            self._cache[slot] = value
        else:
            self._put(slot, value)
        self._dirty.add(slot)

    def delete(self, kind: str, key: Any) -> bool:
        found = self._cache.pop((kind, key), _ABSENT) is not _ABSENT
        self._dirty.discard((kind, key))
        if self._db is not None:
            cursor = self._db.execute(
                "DELETE FROM record WHERE kind = ? AND key = ?", (kind, _encode(key))
            )
            found = found or cursor.rowcount > 0
        return found

    def _put(self, slot: tuple[str, Any], value: Any) -> None:
        self._cache[slot] = value
        if len(self._cache) > self._limit:
            self._write([self._cache.popitem(last=False) for _ in range(self._limit // 4 or 1)])

    def _write(self, items: list[tuple[tuple[str, Any], Any]]) -> None:
        """Write the records used since they were last written."""
        dirty = self._dirty
        items = [(slot, value) for slot, value in items if slot in dirty]
        dirty.difference_update(slot for slot, _value in items)
        if not items:
            return
        db = self._disk()
        if self._exact:
            self._mark_written(slot for slot, _value in items)
        for start in range(0, len(items), _WRITE):  # a few pickles in memory at a time
            db.executemany(
                "INSERT OR REPLACE INTO record (kind, key, value) VALUES (?, ?, ?)",
                [
                    (kind, _encode(key), pickle.dumps(value, pickle.HIGHEST_PROTOCOL))
                    for (kind, key), value in items[start : start + _WRITE]
                ],
            )

    def _mark_written(self, slots: Iterator[tuple[str, Any]]) -> None:
        bits = self._written
        if bits is None:
            bits = self._written = bytearray(_BLOOM_BITS // 8)
        for slot in slots:
            code = hash(slot)
            first, second = code & _BLOOM_MASK, (code >> 24) & _BLOOM_MASK
            bits[first >> 3] |= 1 << (first & 7)
            bits[second >> 3] |= 1 << (second & 7)

    def _maybe_written(self, slot: tuple[str, Any]) -> bool:
        bits = self._written
        if bits is None:
            return False
        code = hash(slot)
        first, second = code & _BLOOM_MASK, (code >> 24) & _BLOOM_MASK
        return bool(bits[first >> 3] & (1 << (first & 7))) and bool(
            bits[second >> 3] & (1 << (second & 7))
        )

    def flush(self) -> None:
        """Write every cached record used since it was last written (they stay cached)."""
        if self._dirty:
            self._write([(slot, self._cache[slot]) for slot in self._dirty if slot in self._cache])

    def release(self) -> None:
        """Write the cached records and forget them (if any is on disk already): the memory
        they held is for what comes next."""
        if self._db is not None:
            self.flush()
            self._cache.clear()

    def keys(self, kind: str) -> Iterator[Any]:
        """Every key of a kind: the cached ones written first."""
        if self._db is None:
            yield from [key for k, key in self._cache if k == kind]
            return
        self.flush()
        rows = self._db.execute("SELECT key FROM record WHERE kind = ?", (kind,)).fetchall()
        for (text,) in rows:
            yield _decode(text)

    def count(self, kind: str) -> int:
        if self._db is None:
            return sum(1 for k, _key in self._cache if k == kind)
        self.flush()
        row = self._db.execute("SELECT COUNT(*) FROM record WHERE kind = ?", (kind,)).fetchone()
        return int(row[0])

    # -- what is remembered beside the records ------------------------------------------------
    def meta(self, name: str) -> bytes | None:
        if self._db is None:
            return None
        row = self._db.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
        return None if row is None else bytes(row[0])

    def save(self, meta: dict[str, bytes], target: Path | None = None) -> None:
        """Write everything and commit; then (a temporary file) move it to ``target``."""
        db = self._disk()
        self.flush()
        db.executemany(
            "INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)", list(meta.items())
        )
        db.execute("COMMIT")
        db.close()
        self._db = None
        if target is not None and self._path is not None and self._path != target:
            os.replace(self._path, target)
            self._path, self._temporary = target, False

    def close(self) -> None:
        """Forget what was not saved; remove a temporary file."""
        if self._db is not None:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            self._db.close()
            self._db = None
        if self._temporary and self._path is not None:
            for suffix in ("", "-journal"):
                Path(f"{self._path}{suffix}").unlink(missing_ok=True)
            self._path = None
        self._cache.clear()
        self._dirty.clear()
        self._written = None


class SpillDict(MutableMapping[K, V]):
    """One kind of record in a :class:`Spill`, used as a ``dict``."""

    def __init__(self, spill: Spill, kind: str) -> None:
        self._spill = spill
        self._kind = kind

    def __getitem__(self, key: K) -> V:
        value = self._spill.get(self._kind, key)
        if value is _ABSENT:
            raise KeyError(key)
        return value  # type: ignore[no-any-return]

    def get(self, key: K, default: Any = None) -> Any:
        value = self._spill.get(self._kind, key)
        return default if value is _ABSENT else value

    def peek(self, key: K) -> V | None:
        """The record, read without caching it (to compare it with the store's, once)."""
        value = self._spill.get(self._kind, key, keep=False)
        return None if value is _ABSENT else value

    def setdefault(self, key: K, default: Any = None) -> Any:
        value = self._spill.get(self._kind, key)
        if value is _ABSENT:
            self._spill.set(self._kind, key, default)
            return default
        return value

    def __contains__(self, key: object) -> bool:
        return self._spill.get(self._kind, key) is not _ABSENT

    def __setitem__(self, key: K, value: V) -> None:
        self._spill.set(self._kind, key, value)

    def __delitem__(self, key: K) -> None:
        if not self._spill.delete(self._kind, key):
            raise KeyError(key)

    def __iter__(self) -> Iterator[K]:
        return iter(list(self._spill.keys(self._kind)))

    def __len__(self) -> int:
        return self._spill.count(self._kind)
