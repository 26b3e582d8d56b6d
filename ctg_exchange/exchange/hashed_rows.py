"""Pseudonymised columns rewritten a block of rows at a time (docs/spec/package.md §5).

The csv module parses and writes every row in Python; for a file whose lines are plain (no
quote, no stray line-end byte, as many fields as the header, in the file's encoding: what
:class:`~.scanner.FastScanner` checks at C speed) the same output is made from whole blocks:
the block is split into its fields once, each pseudonymised column is a slice of that list,
and the rows are joined back at C speed; only the keyed hash is done value by value. Those
lines are exactly what the csv module would read and write back unchanged, so the bytes are
the same as the csv module's (a test pins them). The first block that is not plain hands the
rest of the file, from its first line, to the csv module (:func:`.dataset.rewrite`), which
then also names any error.

The keyed hash costs about 0.7 µs a value in Python whatever the trick (two SHA-256
compressions and the calls around them; batching through ``map`` does not help), and
splitting and joining the fields as much again. So the plain lines are checked and rewritten
by ``ctg_exchange._native`` when it was built (C around OpenSSL's SHA-256, about 0.2 µs a row:
``hatch_build.py``, :mod:`.accel`), by the Python below otherwise; both give the same bytes
(the tests check it). A large file's blocks are rewritten by worker processes, one a CPU, a
few blocks ahead and put back in order (:mod:`.block_workers`).
"""

from __future__ import annotations

import binascii
import contextlib
import hashlib
import importlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

from . import accel
from .block_workers import in_order
from .dialect import Dialect
from .scanner import CP1252_UNDEFINED

PARALLEL_FROM = 1 << 20  # smaller files are rewritten here: starting workers costs more


class Pseudonymiser:
    """Hex HMAC-SHA-256 (RFC 2104) of values under one key, millions of times.

    ``hmac.digest`` sets OpenSSL's HMAC up again for every value (2-3 µs here); keeping the
    inner and outer SHA-256 states of the padded key and copying them is cheaper. The states
    are CPython's own SHA-256 (:func:`_sha256_states`), not OpenSSL's: a value takes two
    compressions either way, and OpenSSL 3 allocates and copies a context for each ``copy``
    and again for each ``digest`` (0.9 µs a value against 0.8 µs, measured side by side). The
    test suite checks the output against ``hmac.digest``.
    """

    def __init__(self, key: bytes) -> None:
        self.key = key
        block = (hashlib.sha256(key).digest() if len(key) > 64 else key).ljust(64, b"\0")
        sha256 = _sha256_states()
        self._inner = sha256(bytes(b ^ 0x36 for b in block))
        self._outer = sha256(bytes(b ^ 0x5C for b in block))

    def __call__(self, value: str) -> str:
        return self.raw(value.encode("utf-8")).decode("ascii")

    def raw(self, value: bytes) -> bytes:
        """The pseudonym of a value given as its UTF-8 bytes, as ASCII hex bytes."""
        inner = self._inner.copy()
        inner.update(value)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return binascii.hexlify(outer.digest())

    def column(self, values: list[bytes], codec: str) -> list[bytes]:
        """Pseudonyms of a column's values (bytes in the file's ``codec``); empty stays empty."""
        if codec != "utf-8":
            values = [v if v.isascii() else v.decode(codec).encode("utf-8") for v in values]
        inner, outer, hexlify = self._inner.copy, self._outer.copy, binascii.hexlify
        out: list[bytes] = []
        append = out.append
        for value in values:  # the loop costs less than batching through map (measured)
            if not value:
                append(value)
                continue
            hashed = inner()
            hashed.update(value)
            final = outer()
            final.update(hashed.digest())
            append(hexlify(final.digest()))
        return out


def _sha256_states() -> Callable[[bytes], hashlib._Hash]:
    """CPython's built-in SHA-256 (``_sha2`` from 3.12, ``_sha256`` before), else OpenSSL's."""
    for name in ("_sha2", "_sha256"):
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        constructor: Callable[[bytes], hashlib._Hash] = module.sha256
        return constructor
    return hashlib.sha256


@dataclass
class Handover:
    """Where the plain lines stopped: the csv module goes on from ``offset`` (a line's
    start), after data row ``row``."""

    offset: int
    row: int


class PlainRows:
    """Rewrites the plain lines of a dataset block by block, until one is not plain."""

    def __init__(self, dialect: Dialect, columns: int, hashed: list[int], pseudonym: Pseudonymiser):
        self._delimiter = dialect.delimiter.encode("ascii")
        self._end = dialect.terminator.encode("ascii")
        self._crlf = dialect.line_ending == "crlf"
        self._codec = "cp1252" if dialect.encoding == "windows-1252" else "utf-8"
        self._columns, self._hashed, self._pseudonym = columns, hashed, pseudonym
        kept = set(self._delimiter + b'"\r\n\0')
        self._others = bytes(b for b in range(256) if b not in kept)
        self._unit = self._delimiter * (columns - 1) + self._end
        self._pattern = b""

    def _plain(self, data: bytes) -> int | None:
        """The number of lines of ``data`` (complete lines) if they are all plain."""
        if accel.plain_lines is not None:
            lines = accel.plain_lines(
                data, 0, len(data), self._columns - 1, self._delimiter, self._crlf, True
            )
            if lines < 0:
                return None
        else:
            skeleton = data.translate(None, self._others)
            lines, rest = divmod(len(skeleton), len(self._unit))
            if rest:
                return None
            if len(self._pattern) < len(skeleton):
                self._pattern = self._unit * (lines + (1 << 14))
            if not self._pattern.startswith(skeleton):
                return None
            if self._crlf and data.count(b"\r\n") != lines:
                return None
        if self._codec == "utf-8":
            if not data.isascii():
                try:
                    data.decode("utf-8")
                except UnicodeDecodeError:
                    return None
        elif any(data.find(byte) >= 0 for byte in CP1252_UNDEFINED):
            return None
        return lines

    def _rewrite(self, data: bytes) -> bytes | None:
        """The plain lines ``data`` with their pseudonymised columns (None: an empty line of a
        one-column file, which has no field for the csv module, and is its to refuse)."""
        columns, delimiter, end = self._columns, self._delimiter, self._end
        if accel.rewrite is not None:  # the same bytes (a Windows-1252 file's values as UTF-8)
            cp1252 = self._codec == "cp1252" and not data.isascii()
            return accel.rewrite(
                data, self._pseudonym.key, columns, self._hashed, delimiter, self._crlf, cp1252
            )
        if columns == 1:
            fields = data.split(end)
        else:
            fields = data.replace(end, delimiter).split(delimiter)
        fields.pop()  # after the last line's end
        if columns == 1 and not all(fields):
            return None
        for index in self._hashed:
            fields[index::columns] = self._pseudonym.column(fields[index::columns], self._codec)
        if columns == 1:
            return end.join(fields) + end
        # fields and separators interleaved, joined once (cheaper than joining each row)
        parts = [delimiter] * (2 * len(fields))
        parts[2 * columns - 1 :: 2 * columns] = [end] * (len(fields) // columns)
        parts[::2] = fields
        return b"".join(parts)

    def rewrite_block(self, whole: bytes) -> tuple[int, bytes] | None:
        """Complete lines rewritten, with their number; None if one of them is not plain."""
        lines = self._plain(whole)
        rewritten = None if lines is None else self._rewrite(whole)
        return None if lines is None or rewritten is None else (lines, rewritten)

    def blocks(
        self, source: BinaryIO, start: int, progress: Callable[[int], None]
    ) -> Iterator[bytes | Handover]:
        """The rewritten blocks from ``start`` (the first data line); a :class:`Handover` last
        if a line was not plain. ``progress(rows)`` after each block."""
        fd = source.fileno()
        end = os.fstat(fd).st_size
        workers = _cpus() if end - start >= PARALLEL_FROM else 1
        offset, row = start, 0
        results = in_order(self.rewrite_block, fd, start, end, workers)
        with contextlib.closing(results):
            for size, result in results:
                if result is None:  # not plain, or a last line without its line end
                    yield Handover(offset, row)
                    return
                lines, rewritten = result
                yield rewritten
                offset += size
                row += lines
                progress(row)


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1
