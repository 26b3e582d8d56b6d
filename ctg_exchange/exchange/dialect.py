"""The CSV dialect of a dataset: delimiter, encoding, BOM, line ends (docs/spec/package.md §6).

Spreadsheets save CSV in several dialects: a French Excel writes ``;`` separated Windows-1252
or UTF-8 with a BOM and CRLF line ends; LibreOffice and scripts write ``,`` and LF. At
``exchange send`` the dialect is detected from the file's first MiB (:func:`sniff`), the file
travels as it is (byte for byte unless a condition rewrites its rows, then in the same dialect),
and the manifest names the dialect. At ``exchange receive`` the file is written in the sender's
dialect, or converted (:func:`convert`) to a named one the receiver asks for.

A dialect that cannot be told (a header that splits on two delimiters alike, bytes that are
neither UTF-8 nor Windows-1252, UTF-8 and another encoding mixed, CRLF and LF mixed, bare CR
line ends, UTF-16) is refused with a message naming the problem, never guessed. Messages name
bytes' offsets and line numbers, never a value.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import BinaryIO, Literal

from ..domain.types import Frozen
from ..errors import InvalidInput
from ..i18n import N_, _, pgettext

Delimiter = Literal[",", ";", "\t"]
SAMPLE = 1 << 20  # what detection reads: the first MiB, where export settings show
SNIFF_ROWS = 200  # rows parsed with each candidate delimiter
FLUSH_ROWS = 10_000
DELIMITERS: tuple[Delimiter, ...] = (",", ";", "\t")
UTF8_BOM = codecs.BOM_UTF8
# a UTF-8 multi-byte sequence: in a file that is not UTF-8, a sign of mixed encodings
_UTF8_SEQUENCE = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}")

Encoding = Literal["utf-8", "windows-1252"]
LineEnding = Literal["lf", "crlf"]


def named_delimiter(delimiter: str) -> str:
    """A delimiter as a message names it: quoted, or the word for a tab."""
    return pgettext("delimiter", "tab") if delimiter == "\t" else repr(delimiter)


class Dialect(Frozen):
    """How a CSV file is written; named in a package's manifest (``dialect``)."""

    delimiter: Delimiter = ","
    encoding: Encoding = "utf-8"
    bom: bool = False
    line_ending: LineEnding = "lf"

    @property
    def codec(self) -> str:
        """The Python codec that reads the file (a UTF-8 BOM is skipped either way)."""
        return "cp1252" if self.encoding == "windows-1252" else "utf-8-sig"

    @property
    def terminator(self) -> str:
        return "\r\n" if self.line_ending == "crlf" else "\n"

    def describe(self) -> str:
        """In words, e.g. ``';', UTF-8 with BOM, CRLF``."""
        delimiter = named_delimiter(self.delimiter)
        encoding = "UTF-8" if self.encoding == "utf-8" else "Windows-1252"
        if self.bom:
            text = _("{delimiter}, {encoding} with BOM, {line_ending}")
        else:
            text = "{delimiter}, {encoding}, {line_ending}"
        return text.format(
            delimiter=delimiter, encoding=encoding, line_ending=self.line_ending.upper()
        )


# the dialect of a package whose manifest names none (made before dialects were detected)
LEGACY = Dialect()

# what `exchange receive --dialect` offers
NAMED: dict[str, Dialect] = {
    "csv": Dialect(),
    "tsv": Dialect(delimiter="\t"),
    "excel": Dialect(bom=True, line_ending="crlf"),
    "excel-fr": Dialect(delimiter=";", bom=True, line_ending="crlf"),
}
SAVE_HINT = N_("save it from the spreadsheet as CSV (UTF-8, or Windows-1252) with ',' ';' or tab")


def _refuse(path: Path, problem: str) -> InvalidInput:
    return InvalidInput(
        _("{path}: {problem}").format(path=path, problem=problem), hint=_(SAVE_HINT)
    )


def _encoding(path: Path, sample: bytes, complete: bool) -> tuple[Encoding, bool]:
    """The sample's encoding and whether it starts with a UTF-8 BOM."""
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise _refuse(path, _("the file is UTF-16 text, not a CSV encoding this tool reads"))
    nul = sample.find(bytes(1))
    if nul >= 0:
        raise _refuse(
            path,
            _("byte {offset} is a NUL: not CSV text (UTF-16 or a binary file?)").format(offset=nul),
        )
    bom = sample.startswith(UTF8_BOM)
    try:
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=complete)
        return "utf-8", bom
    except UnicodeDecodeError as exc:
        bad = exc.start
    if bom:
        raise _refuse(
            path,
            _("the encoding is mixed: a UTF-8 BOM, but byte {offset} is not UTF-8").format(
                offset=bad
            ),
        )
    found = _UTF8_SEQUENCE.search(sample)
    if found is not None:
        raise _refuse(
            path,
            _("the encoding is mixed: UTF-8 at byte {utf8}, not UTF-8 at byte {other}").format(
                utf8=found.start(), other=bad
            ),
        )
    try:
        sample.decode("cp1252")
    except UnicodeDecodeError as exc:
        raise _refuse(
            path,
            _("the encoding is neither UTF-8 nor Windows-1252 (byte {offset}: 0x{value})").format(
                offset=exc.start, value=f"{sample[exc.start]:02x}"
            ),
        ) from None
    return "windows-1252", False


BARE_CR = N_("the line ends are bare CR (old Mac format), not LF or CRLF")


def _line_ending(path: Path, sample: bytes) -> LineEnding:
    """CRLF or LF, from the header line; outside quoted fields, the sample must agree."""
    first = sample.find(b"\n")
    crlf = first > 0 and sample[first - 1 : first] == b"\r"
    if b'"' in sample:  # a quoted cell may hold line breaks of its own (Excel: LF in CRLF)
        if first < 0 and b"\r" in sample:
            raise _refuse(path, _(BARE_CR))
        return "crlf" if crlf else "lf"
    lines, pairs, returns = sample.count(b"\n"), sample.count(b"\r\n"), sample.count(b"\r")
    if returns > pairs:
        raise _refuse(path, _(BARE_CR))
    if pairs not in (0, lines):
        ends = [line.endswith(b"\r") for line in sample.split(b"\n")[:-1]]
        other = ends.index(not ends[0]) + 1
        raise _refuse(
            path,
            _(
                "the line ends are mixed: {crlf} CRLF and {lf} LF "
                "(line 1 ends with {first}, line {other} does not)"
            ).format(crlf=pairs, lf=lines - pairs, first="CRLF" if ends[0] else "LF", other=other),
        )
    return "crlf" if crlf else "lf"


def _fields(rows: list[str], delimiter: str) -> list[int]:
    """Fields per row of ``rows`` parsed with ``delimiter`` (an unparsable row: -1)."""
    counts: list[int] = []
    try:
        counts.extend(len(row) for row in csv.reader(rows, delimiter=delimiter, strict=True))
    except csv.Error:
        counts.append(-1)
    return counts


def _delimiter(path: Path, text: str) -> Delimiter:
    """The delimiter the header and the first rows agree on."""
    lines = text.splitlines(keepends=True)[: SNIFF_ROWS + 1]
    split = {d: _fields(lines, d) for d in DELIMITERS}
    candidates = [d for d in DELIMITERS if split[d] and split[d][0] > 1]
    if not candidates:
        return ","  # one column: nothing to split
    if len(candidates) == 1:
        return candidates[0]  # rows that disagree are refused by the row checks, by number
    consistent = [d for d in candidates if len(set(split[d])) == 1]
    if len(consistent) == 1:
        return consistent[0]
    names = _(" and ").join(named_delimiter(d) for d in candidates)
    if consistent:
        problem = _(
            "the delimiter cannot be told: the header splits on {names}, "
            "and the rows agree with both"
        )
    else:
        problem = _(
            "the delimiter cannot be told: the header splits on {names}, "
            "and the rows agree with neither"
        )
    raise _refuse(path, problem.format(names=names))


def sniff(path: Path) -> Dialect:
    """The dialect of the CSV at ``path``, from its first MiB; refused when it cannot be told."""
    try:
        with open(path, "rb") as handle:
            sample = handle.read(SAMPLE + 1)
    except OSError as exc:
        raise InvalidInput(
            _("cannot read {path}: {reason}").format(path=path, reason=exc.strerror)
        ) from None
    complete = len(sample) <= SAMPLE
    sample = sample[:SAMPLE]
    encoding, bom = _encoding(path, sample, complete)
    line_ending = _line_ending(path, sample)
    body = sample[len(UTF8_BOM) :] if bom else sample
    if not complete:  # the last, partial line is left out
        body = body[: body.rfind(b"\n") + 1] or body
    text = body.decode("utf-8" if encoding == "utf-8" else "cp1252", errors="replace")
    return Dialect(
        delimiter=_delimiter(path, text), encoding=encoding, bom=bom, line_ending=line_ending
    )


def undelimited(header: list[str]) -> bool:
    """Whether a header read as one column looks like columns split by another delimiter."""
    return len(header) == 1 and re.search(r"[^\w\s-]", header[0]) is not None


class NotAsNamed(ValueError):
    """The file's header, read in the dialect named for it, is not the columns named for it."""


def convert(
    source: BinaryIO, source_dialect: Dialect, target: Dialect, columns: Sequence[str]
) -> Iterator[bytes]:
    """The CSV in ``source`` (written in ``source_dialect``, its header ``columns``) rewritten
    in ``target``, in blocks of rows: constant memory whatever its size. Bytes that are not in
    the source's encoding raise :class:`UnicodeDecodeError`, a header read otherwise than as
    ``columns`` :class:`NotAsNamed`."""
    text = io.TextIOWrapper(source, encoding=source_dialect.codec, newline="")
    reader = csv.reader(text, delimiter=source_dialect.delimiter)
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=target.delimiter, lineterminator=target.terminator)
    codec = "cp1252" if target.encoding == "windows-1252" else "utf-8"
    yield UTF8_BOM if target.bom and target.encoding == "utf-8" else b""
    header = next(reader, [])
    if [name.lstrip("\ufeff") for name in header] != list(columns):
        raise NotAsNamed
    batch: list[list[str]] = [header]
    for row in reader:
        batch.append(row)
        if len(batch) == FLUSH_ROWS:
            writer.writerows(batch)
            batch.clear()
            yield buffer.getvalue().encode(codec)
            buffer.seek(0)
            buffer.truncate()
    writer.writerows(batch)
    yield buffer.getvalue().encode(codec)
    text.detach()
