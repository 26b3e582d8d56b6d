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
"""

from __future__ import annotations

import binascii
import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

from .dialect import Dialect
from .scanner import CP1252_UNDEFINED

BLOCK = 1 << 18  # a block's fields become Python objects, many times its size


class Pseudonymiser:
    """Hex HMAC-SHA-256 (RFC 2104) of values under one key, millions of times.

    ``hmac.digest`` sets OpenSSL's HMAC up again for every value (2 µs here); keeping the
    inner and outer SHA-256 states of the padded key and copying them costs 0.6 µs. The test
    suite checks the output against ``hmac.digest``.
    """

    def __init__(self, key: bytes) -> None:
        block = (hashlib.sha256(key).digest() if len(key) > 64 else key).ljust(64, b"\0")
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in block))
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in block))

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
        inner, outer, hexlify = self._inner.copy, self._outer.copy, binascii.hexlify
        out: list[bytes] = []
        append = out.append
        utf8 = codec == "utf-8"
        for value in values:
            if not value:
                append(value)
                continue
            if not utf8 and not value.isascii():
                value = value.decode(codec).encode("utf-8")
            hashed = inner()
            hashed.update(value)
            final = outer()
            final.update(hashed.digest())
            append(hexlify(final.digest()))
        return out


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
        rows = zip(*[iter(fields)] * columns, strict=True)
        return end.join(map(delimiter.join, rows)) + end

    def blocks(
        self, source: BinaryIO, start: int, progress: Callable[[int], None]
    ) -> Iterator[bytes | Handover]:
        """The rewritten blocks from ``start`` (the first data line); a :class:`Handover` last
        if a line was not plain. ``progress(rows)`` after each block."""
        source.seek(start)
        offset, row, carry = start, 0, b""
        while True:
            block = source.read(BLOCK)
            data = carry + block
            if not block:
                if data:  # a last line without its line end: the csv module writes one
                    yield Handover(offset, row)
                return
            cut = data.rfind(b"\n") + 1
            whole, carry = data[:cut], data[cut:]
            if not whole:
                continue
            lines = self._plain(whole)
            rewritten = None if lines is None else self._rewrite(whole)
            if lines is None or rewritten is None:
                yield Handover(offset, row)
                return
            yield rewritten
            offset += len(whole)
            row += lines
            progress(row)
