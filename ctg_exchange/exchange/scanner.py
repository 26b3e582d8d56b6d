"""Raw CSV bytes checked as they stream past: a file sent as it is, and a plaintext received.

:class:`FastScanner` checks every line of a quote-free file (fields, line ending, encoding) at
C speed and counts its rows (:class:`LineCounter`); a quoted field raises :class:`QuotedCsv`, for
the csv module. :func:`check_payload` holds a received plaintext to its signed manifest.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO

from ..errors import InvalidInput
from ..i18n import _, ngettext
from .dialect import Dialect, named_delimiter


class QuotedCsv(Exception):
    """The raw scan met a quote: the rows need the csv module to be counted."""


class LineCounter:
    """Counts a file's line feeds for the raw path.

    ``wc -l`` in a child process when the system has it: it counts with SIMD instructions, on
    its own core, outside this process's GIL, which the encryption threads need. Otherwise the
    blocks are counted as they pass (``bytes.count``, holding the GIL).
    """

    def __init__(self, path: Path, use_wc: bool = True) -> None:
        wc = shutil.which("wc") if use_wc else None
        self._count = 0
        self._child: subprocess.Popen[bytes] | None = None
        if wc is not None:
            with open(path, "rb") as source:
                self._child = subprocess.Popen(
                    [wc, "-l"],
                    stdin=source,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.DEVNULL,
                    env={"LC_ALL": "C"},
                )

    def feed(self, data: bytes | bytearray, size: int) -> None:
        if self._child is None:
            self._count += data.count(b"\n", 0, size)

    def result(self) -> int:
        if self._child is None:
            return self._count
        out, _errors = self._child.communicate()
        if self._child.returncode != 0:
            raise InvalidInput(_("counting the dataset's rows failed"))
        return int(out.split()[0])

    def close(self) -> None:
        """Reap the child (killing it if its count is no longer wanted) and close its pipe."""
        if self._child is not None and self._child.returncode is None:
            if self._child.poll() is None:
                self._child.kill()
            self._child.communicate()


class FastScanner:
    """Checks raw, quote-free CSV bytes as they stream past, and counts their rows.

    Every complete line of every block must have the header's number of fields and the
    dialect's line ending (one compiled pattern, matched at C speed; the partial line a block
    ends with is carried to the next), and the bytes must be in the dialect's encoding (an
    incremental decoder): a row with an extra field, or bytes of another encoding, far into a
    large file are refused as surely as in its first lines. Rows are counted by a
    :class:`LineCounter`. Quoted fields need the csv module: the scanner raises
    :class:`QuotedCsv` so the caller can count the rows properly.
    """

    def __init__(
        self,
        columns: int,
        lines: LineCounter,
        delimiter: str = ",",
        line_ending: str = "lf",
        encoding: str = "utf-8",
    ) -> None:
        self._commas = columns - 1
        self._delimiter = delimiter.encode("ascii")
        self._lines = lines
        field = b"[^" + re.escape(self._delimiter) + b"\r\n]*"
        end = b"\r\n" if line_ending == "crlf" else b"\n"
        self._line = re.compile(field + (re.escape(self._delimiter) + field) * self._commas + end)
        self._all = re.compile(b"(?:" + self._line.pattern + b")*")
        self._carry = b""  # the partial line the last block ended with
        self._row = 0  # complete lines checked so far (the header is row 0)
        self._decoder = codecs.getincrementaldecoder(
            "cp1252" if encoding == "windows-1252" else "utf-8"
        )()
        self._unterminated = False  # the data so far ends without a line feed

    def feed(self, block: memoryview | bytes) -> None:
        data: bytes | bytearray = block.obj if isinstance(block, memoryview) else block  # type: ignore[assignment]
        size = len(block)
        if data.find(b'"', 0, size) >= 0:
            raise QuotedCsv
        chunk = bytes(data[:size])
        self._decode(chunk, final=False)
        self._check(self._carry + chunk)
        self._lines.feed(data, size)
        self._unterminated = data[size - 1 : size] != b"\n"

    def _decode(self, chunk: bytes, *, final: bool) -> None:
        try:
            self._decoder.decode(chunk, final)
        except UnicodeDecodeError:
            raise InvalidInput(
                _(
                    "after row {row}, bytes that are not in the file's encoding: a file "
                    "saved in one encoding throughout is sent as it is"
                ).format(row=self._row)
            ) from None

    def _check(self, data: bytes) -> None:
        cut = data.rfind(b"\n") + 1
        whole, self._carry = data[:cut], data[cut:]
        if self._all.fullmatch(whole) is not None:
            self._row += whole.count(b"\n")
            return
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
        self._decode(b"", final=True)
        if self._carry:  # a last line without its line feed
            self._check(self._carry + (b"\r\n" if self._line.pattern.endswith(b"\r\n") else b"\n"))
        return max(self._lines.result() + self._unterminated - 1, 0)


def fields_differ(number: int, got: int, columns: int, dialect: Dialect) -> InvalidInput:
    return InvalidInput(
        _("row {row} has {got} fields, the header {columns} (delimiter {delimiter})").format(
            row=number, got=got, columns=columns, delimiter=named_delimiter(dialect.delimiter)
        )
    )


def check_payload(source: BinaryIO, dialect: Dialect, columns: Sequence[str], rows: int) -> None:
    """A received plaintext is the CSV its signed manifest names: its header is the manifest's
    columns, every row has as many fields, in the manifest's dialect and encoding, and there
    are as many rows as the manifest says. ``InvalidInput`` otherwise (the caller calls the
    package tampered: an honest sender checked all of it before signing)."""
    start = source.tell()
    lines = LineCounter(Path(), use_wc=False)
    scanner = FastScanner(
        len(columns), lines, dialect.delimiter, dialect.line_ending, dialect.encoding
    )
    first = b""
    try:
        while block := source.read(1 << 20):
            first = first or block
            scanner.feed(block)
        counted = scanner.finish()
        header = first.split(b"\n", 1)[0].rstrip(b"\r").decode(dialect.codec)
        names = header.split(dialect.delimiter) if first else []
    except QuotedCsv:
        source.seek(start)
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
    except UnicodeDecodeError:
        raise InvalidInput(_("its header is not in its encoding")) from None
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
