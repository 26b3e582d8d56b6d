"""Raw CSV bytes checked as they stream past: a file sent as it is, and a plaintext received.

:class:`FastScanner` checks every line of a quote-free file (fields, line ending, encoding) at
C speed and counts its rows; a quoted field raises :class:`QuotedCsv`, for
the csv module. :func:`check_payload` holds a received plaintext to its signed manifest.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Sequence
from typing import BinaryIO

from ..errors import InvalidInput
from ..i18n import _, ngettext
from . import accel
from .dialect import Dialect, named_delimiter

# the bytes Windows-1252 leaves undefined (Python's cp1252 codec refuses them)
CP1252_UNDEFINED = (b"\x81", b"\x8d", b"\x8f", b"\x90", b"\x9d")


class QuotedCsv(Exception):
    """The raw scan met a quote: the rows need the csv module to be counted."""


class FastScanner:
    """Checks raw, quote-free CSV bytes as they stream past, and counts their rows.

    Every line of every block must have the header's number of fields and the dialect's line
    ending, and the bytes must be in the dialect's encoding (an incremental decoder, skipped
    for ASCII blocks): a row with an extra field, or bytes of another encoding, far into a
    large file are refused as surely as in its first lines.

    The lines are checked at C speed without a pass per line: ``bytes.translate`` keeps only
    delimiters, quotes and line-end bytes, and what is left of a block's complete lines must be
    one line's skeleton (``,,\\n`` for three columns) repeated; with CRLF, each ``\\r`` must
    also be followed by its ``\\n``. Where ``ctg_exchange._native`` was built, its
    ``plain_lines`` gives the same verdict in one pass, 64 bytes at a time, without the GIL.
    A block that is not so is checked line by line (one compiled pattern), which names the
    first bad row. The partial line a block ends with is
    carried to the next. Quoted fields need the csv module: the scanner raises
    :class:`QuotedCsv` so the caller can count the rows properly.
    """

    def __init__(
        self,
        columns: int,
        delimiter: str = ",",
        line_ending: str = "lf",
        encoding: str = "utf-8",
    ) -> None:
        self._commas = columns - 1
        self._delimiter = delimiter.encode("ascii")
        self._crlf = line_ending == "crlf"
        end = b"\r\n" if self._crlf else b"\n"
        self._end = end
        field = b"[^" + re.escape(self._delimiter) + b"\r\n]*"
        self._line = re.compile(field + (re.escape(self._delimiter) + field) * self._commas + end)
        kept = set(self._delimiter + b'"\r\n')
        self._others = bytes(b for b in range(256) if b not in kept)
        self._unit = self._delimiter * self._commas + end
        self._pattern = b""  # the skeleton of as many lines as a block has
        self._carry = b""  # the partial line the last block ended with
        self._row = 0  # complete lines checked so far (the header is row 0)
        self._decoder = (
            None if encoding == "windows-1252" else codecs.getincrementaldecoder("utf-8")()
        )

    def feed(self, block: memoryview | bytes | bytearray) -> None:
        data = block.obj if isinstance(block, memoryview) else block
        size = len(block)
        if not isinstance(data, bytes | bytearray) or len(data) != size:
            data = bytes(block)  # a view on part of a buffer (a last, short read)
        if data.find(b'"') >= 0:
            raise QuotedCsv
        self._decode(data)
        first = data.find(b"\n")
        if first < 0:
            self._carry += data
            return
        last = data.rfind(b"\n")
        self._check(self._carry + data[: first + 1])
        if last > first:
            self._check_run(data, first + 1, last + 1)
        self._carry = bytes(data[last + 1 :])

    def _decode(self, data: bytes | bytearray, *, final: bool = False) -> None:
        if self._decoder is None:  # Windows-1252: single bytes, five of them undefined
            bad = any(data.find(byte) >= 0 for byte in CP1252_UNDEFINED)
        elif not final and data.isascii() and not self._decoder.getstate()[0]:
            return  # ASCII is UTF-8 on its own, when no character was left open
        else:
            try:
                self._decoder.decode(data, final)
                bad = False
            except UnicodeDecodeError:
                bad = True
        if bad:
            raise InvalidInput(
                _(
                    "after row {row}, bytes that are not in the file's encoding: a file "
                    "saved in one encoding throughout is sent as it is"
                ).format(row=self._row)
            )

    def _check_run(self, data: bytes | bytearray, start: int, end: int) -> None:
        """Check the complete lines ``data[start:end]``: in C when it was built (the same
        verdict in one pass, without the GIL), else the whole block translated once."""
        if accel.plain_lines is not None:
            lines = accel.plain_lines(
                data, start, end, self._commas, self._delimiter, self._crlf, False
            )
            if lines >= 0:
                self._row += lines
            else:
                self._check(data[start:end])
            return
        skeleton = data.translate(None, self._others)
        head = skeleton.find(b"\n") + 1
        tail = skeleton.rfind(b"\n") + 1
        lines, rest = divmod(tail - head, len(self._unit))
        if len(self._pattern) < tail - head:
            self._pattern = self._unit * (lines + (1 << 14))
        fits = not rest and self._pattern.startswith(memoryview(skeleton)[head:tail])
        if fits and self._crlf:
            fits = data.count(b"\r\n", start, end) == lines
        if fits:
            self._row += lines
        else:
            self._check(data[start:end])

    def _check(self, whole: bytes | bytearray) -> None:
        """Check complete lines one by one, naming the first that is wrong."""
        for line in whole.splitlines(keepends=True):
            if self._line.fullmatch(line) is None:
                if line.rstrip(b"\r\n").count(self._delimiter) != self._commas:
                    raise InvalidInput(
                        _(
                            "row {row} does not have {count} fields like the header "
                            "(delimiter {delimiter})"
                        ).format(
                            row=self._row,
                            count=self._commas + 1,
                            delimiter=named_delimiter(self._delimiter.decode()),
                        )
                    )
                raise InvalidInput(
                    _(
                        "row {row} does not end its line as the header does (mixed line "
                        "endings: save the file again with one kind)"
                    ).format(row=self._row)
                )
            self._row += 1

    def finish(self) -> int:
        """Data rows (the header excluded)."""
        self._decode(b"", final=True)  # the file may end inside a character
        if self._carry:  # a last line without its line feed
            self._check(self._carry + self._end)
        return max(self._row - 1, 0)


def fields_differ(number: int, got: int, columns: int, dialect: Dialect) -> InvalidInput:
    return InvalidInput(
        _("row {row} has {got} fields, the header {columns} (delimiter {delimiter})").format(
            row=number, got=got, columns=columns, delimiter=named_delimiter(dialect.delimiter)
        )
    )


class PayloadCheck:
    """Holds a received plaintext to its signed manifest as it streams past: its header is the
    manifest's columns, every row has as many fields, in the manifest's dialect and encoding,
    and there are as many rows as the manifest says. :meth:`feed` each block in order, then
    :meth:`finish`. ``InvalidInput`` otherwise (the caller calls the package tampered: an
    honest sender checked all of it before signing)."""

    def __init__(self, dialect: Dialect, columns: Sequence[str], rows: int) -> None:
        self._dialect, self._columns, self._rows = dialect, list(columns), rows
        self._scanner = FastScanner(
            len(columns), dialect.delimiter, dialect.line_ending, dialect.encoding
        )
        self._header: bytes | None = None  # the first line, once seen
        self.quoted = False  # quoted fields: the rows are counted by the csv module instead

    def feed(self, block: memoryview | bytes | bytearray) -> None:
        if self._header is None:
            data = bytes(block)
            self._header = data.split(b"\n", 1)[0]
        if self.quoted:
            return
        try:
            self._scanner.feed(block)
        except QuotedCsv:
            self.quoted = True

    def finish(self, source: BinaryIO | None = None) -> None:
        """The verdict; ``source`` (the whole plaintext, from its start) is read again only
        when quoted fields need the csv module."""
        dialect, columns = self._dialect, self._columns
        if self.quoted:
            if source is None:
                raise ValueError("quoted fields: the plaintext must be read again")
            names, counted = _csv_rows(source, dialect, columns)
        else:
            counted = self._scanner.finish()
            try:
                header = (self._header or b"").rstrip(b"\r").decode(dialect.codec)
            except UnicodeDecodeError:
                raise InvalidInput(_("its header is not in its encoding")) from None
            names = header.split(dialect.delimiter) if self._header else []
        _compare(names, counted, columns, self._rows)


def _csv_rows(source: BinaryIO, dialect: Dialect, columns: Sequence[str]) -> tuple[list[str], int]:
    text = io.TextIOWrapper(source, encoding=dialect.codec, newline="")
    try:
        reader = csv.reader(text, delimiter=dialect.delimiter)
        names = next(reader, [])
        counted = 0
        for counted, row in enumerate(reader, start=1):
            if len(row) != len(columns):
                raise fields_differ(counted, len(row), len(columns), dialect) from None
    except (UnicodeDecodeError, csv.Error):
        raise InvalidInput(_("it does not read as CSV in its dialect")) from None
    finally:
        text.detach()
    return names, counted


def check_payload(source: BinaryIO, dialect: Dialect, columns: Sequence[str], rows: int) -> None:
    """:class:`PayloadCheck` over a whole plaintext file, read from its current position."""
    start = source.tell()
    check = PayloadCheck(dialect, columns, rows)
    while block := source.read(1 << 20):
        check.feed(block)
    source.seek(start)
    check.finish(source)


def _compare(names: list[str], counted: int, columns: Sequence[str], rows: int) -> None:
    if names != list(columns):
        raise InvalidInput(_("its header is not the manifest's columns"))
    if counted != rows:
        raise InvalidInput(
            ngettext(
                "it has {counted} rows, the manifest {rows}",
                "it has {counted} rows, the manifest {rows}",
                counted,
            ).format(counted=counted, rows=rows)
        )
