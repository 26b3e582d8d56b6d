"""What a dataset must satisfy before it is encrypted (docs/spec/package.md §5).

The header must name approved columns only. Rows are then checked or rewritten only when a
condition needs it: ``pseudonymise`` and suppressed small cells rewrite rows (plain lines a
block at a time, :mod:`.hashed_rows`; others with the csv module);
``aggregate_min_count`` and the policy's aggregate rules read every count cell first, so a refusal
comes before anything is written. Otherwise the file travels byte for byte and
:class:`FastScanner` counts rows and checks field counts on raw blocks as they stream past
(C-speed ``bytes.count``); a quoted field sends it back to a full csv parse.

Every reader takes the file's :class:`~.dialect.Dialect` (delimiter, encoding), detected
before; rewritten rows are written in that same dialect, so the manifest's stays true.

Error messages name columns and row numbers, never a value.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InvalidInput
from ..i18n import _, ngettext
from .dialect import UTF8_BOM, Dialect
from .hashed_rows import Handover, PlainRows
from .hashed_rows import Pseudonymiser as Pseudonymiser  # where it was before
from .scanner import fields_differ

FLUSH_ROWS = 10_000


@dataclass(frozen=True)
class AggregateRules:
    """The policy's rules for anonymous aggregates (non-personal requests)."""

    min_cell: int
    round_to: int
    group_by: tuple[str, ...]


@dataclass(frozen=True)
class DatasetRules:
    approved: tuple[str, ...]
    count_columns: tuple[str, ...] = ()
    pseudonymise: tuple[str, ...] = ()
    min_count: int | None = None
    aggregates: AggregateRules | None = None
    suppress_small_cells: bool = False

    @property
    def inspects_cells(self) -> bool:
        return self.min_count is not None or self.aggregates is not None


def _open_text(path: Path, dialect: Dialect, offset: int | None = None) -> io.TextIOWrapper:
    if offset is None:
        return open(path, encoding=dialect.codec, newline="")  # noqa: SIM115
    raw = open(path, "rb")  # noqa: SIM115
    raw.seek(offset)  # past the start: a BOM is no longer the file's to skip
    codec = "cp1252" if dialect.encoding == "windows-1252" else "utf-8"
    return io.TextIOWrapper(raw, encoding=codec, newline="")


def _not_encoded(path: Path, dialect: Dialect, row: int | None = None) -> InvalidInput:
    encoding = "UTF-8" if dialect.encoding == "utf-8" else "Windows-1252"
    if row is None:
        message = _("{path} is not {encoding} text: the encoding is mixed")
    else:
        message = _("{path} is not {encoding} text after row {row}: the encoding is mixed")
    return InvalidInput(
        message.format(path=path, encoding=encoding, row=row),
        hint=_("save the whole file again from the spreadsheet in one encoding"),
    )


def read_header(path: Path, dialect: Dialect) -> list[str]:
    try:
        with _open_text(path, dialect) as handle:
            header = next(csv.reader(handle, delimiter=dialect.delimiter), None)
    except UnicodeDecodeError:
        raise _not_encoded(path, dialect) from None
    except csv.Error:
        raise InvalidInput(
            _("{path}: the header line is not valid CSV").format(path=path)
        ) from None
    except OSError as exc:
        raise InvalidInput(
            _("cannot read {path}: {reason}").format(path=path, reason=exc.strerror)
        ) from None
    if not header or header == [""]:
        raise InvalidInput(
            _("{path} is empty: a dataset starts with its header line").format(path=path)
        )
    return header


def check_header(header: Sequence[str], approved: Sequence[str], request_id: str) -> None:
    """Refuse duplicate, empty or unapproved column names, listing them."""
    if any(not name.strip() for name in header):
        raise InvalidInput(_("the dataset's header has an empty column name"))
    duplicates = sorted({name for name in header if header.count(name) > 1})
    if duplicates:
        raise InvalidInput(
            _("the dataset's header repeats {names}").format(names=", ".join(duplicates))
        )
    unapproved = [name for name in header if name not in approved]
    if unapproved:
        raise InvalidInput(
            ngettext(
                "column(s) not approved for {id}: {names} (approved: {approved})",
                "column(s) not approved for {id}: {names} (approved: {approved})",
                len(unapproved),
            ).format(id=request_id, names=", ".join(unapproved), approved=", ".join(approved))
        )


def _rows(
    path: Path, dialect: Dialect, columns: int | None, offset: int | None = None, after: int = 0
) -> Iterator[tuple[int, list[str]]]:
    """The data rows with their numbers (from 1), each with ``columns`` fields if given; from
    the line at byte ``offset`` (data row ``after + 1``) when given."""
    number = after
    try:
        with _open_text(path, dialect, offset) as handle:
            reader = csv.reader(handle, delimiter=dialect.delimiter)
            if offset is None:
                next(reader, None)
            for number, row in enumerate(reader, start=after + 1):
                if columns is not None and len(row) != columns:
                    raise fields_differ(number, len(row), columns, dialect)
                yield number, row
    except UnicodeDecodeError:
        raise _not_encoded(path, dialect, number) from None
    except csv.Error as exc:
        raise InvalidInput(
            _("{path}: invalid CSV after row {row} ({error})").format(
                path=path, row=number, error=exc
            )
        ) from None


def count_rows(path: Path, columns: int, dialect: Dialect) -> int:
    """Data rows, by the csv module (quoted fields may hold delimiters and line breaks)."""
    return sum(1 for _ in _rows(path, dialect, columns))


@dataclass
class CellReport:
    """What the cell checks found: small cells to blank, or problems that refuse the send."""

    small: set[tuple[int, int]] = field(default_factory=set)  # (row, column index)
    problems: list[str] = field(default_factory=list)


def _count(value: str, column: str, row: int) -> int | None:
    if value.strip() == "":
        return None
    try:
        return int(value)
    except ValueError:
        raise InvalidInput(
            _("row {row}, count column {column}: not a whole number").format(row=row, column=column)
        ) from None


def check_cells(path: Path, header: list[str], rules: DatasetRules, dialect: Dialect) -> CellReport:
    """Read every count cell: small cells, rounding, and cells equal to their group's total."""
    report = CellReport()
    counts = [i for i, name in enumerate(header) if name in rules.count_columns]
    aggregates = rules.aggregates
    threshold = rules.min_count or 0
    if aggregates is not None:
        threshold = max(threshold, aggregates.min_cell)
    groups: dict[tuple[str, ...], list[tuple[int, int, int]]] = {}
    group_index = (
        [header.index(c) for c in aggregates.group_by if c in header] if aggregates else []
    )
    for row_number, row in _rows(path, dialect, None):
        for index in counts:
            value = _count(row[index], header[index], row_number)
            if value is None:
                continue
            if 0 < value < threshold:
                report.small.add((row_number, index))
            if aggregates is not None:
                if value % aggregates.round_to:
                    report.problems.append(
                        _("row {row}, {column}: not rounded to {step}").format(
                            row=row_number, column=header[index], step=aggregates.round_to
                        )
                    )
                key = tuple(row[i] for i in group_index) + (header[index],)
                groups.setdefault(key, []).append((row_number, index, value))
    if aggregates is not None:
        for cells in groups.values():
            total = sum(value for _, _, value in cells)
            if len(cells) >= 2 and total > 0:
                report.problems += [
                    _("row {row}, {column}: the cell equals its group's total").format(
                        row=row, column=header[index]
                    )
                    for row, index, value in cells
                    if value == total
                ]
    if report.small and not rules.suppress_small_cells:
        rows = sorted({row for row, _ in report.small})
        shown = ", ".join(map(str, rows[:10])) + (", …" if len(rows) > 10 else "")
        small = ngettext(
            "{count} count cell(s) below {threshold} (rows {rows})",
            "{count} count cell(s) below {threshold} (rows {rows})",
            len(report.small),
        )
        report.problems.insert(
            0, small.format(count=len(report.small), threshold=threshold, rows=shown)
        )
    return report


@dataclass
class Rewritten:
    """Filled in by :func:`rewrite` as it goes."""

    rows: int = 0


def rewrite(
    path: Path,
    header: list[str],
    rules: DatasetRules,
    key: bytes | None,
    small: set[tuple[int, int]],
    counter: Rewritten,
    dialect: Dialect,
) -> Iterator[bytes]:
    """The dataset with pseudonymised columns and blanked small cells, as CSV blocks in the
    file's own dialect. Plain lines are pseudonymised a block at a time
    (:class:`~.hashed_rows.PlainRows`); the csv module takes over at the first that is not."""
    hashed = [i for i, name in enumerate(header) if name in rules.pseudonymise]
    if hashed and key is None:
        raise ValueError("pseudonymising needs the request's key")
    pseudonym = Pseudonymiser(key or b"")
    codec = "cp1252" if dialect.encoding == "windows-1252" else "utf-8"
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=dialect.delimiter, lineterminator=dialect.terminator)
    writer.writerow(header)
    if dialect.bom:
        yield UTF8_BOM
    yield buffer.getvalue().encode(codec)
    buffer.seek(0)
    buffer.truncate()
    start = None if small else _plain_header_end(path, dialect)
    offset, row = start, 0
    if start is not None:
        plain = PlainRows(dialect, len(header), hashed, pseudonym)
        with open(path, "rb") as source:
            for item in plain.blocks(source, start, lambda rows: setattr(counter, "rows", rows)):
                if isinstance(item, Handover):
                    offset, row = item.offset, item.row
                    break
                yield item
            else:
                return
    blank: dict[int, list[int]] = {}
    for row_number, index in small:
        blank.setdefault(row_number, []).append(index)
    batch: list[list[str]] = []
    for row_number, fields in _rows(path, dialect, len(header), offset, row):
        for index in hashed:
            if fields[index]:
                fields[index] = pseudonym(fields[index])
        if blank and row_number in blank:
            for index in blank[row_number]:
                fields[index] = ""
        batch.append(fields)
        row = row_number
        if len(batch) == FLUSH_ROWS:  # writerows on a batch: cheaper than row by row
            writer.writerows(batch)
            batch.clear()
            counter.rows = row
            yield buffer.getvalue().encode(codec)
            buffer.seek(0)
            buffer.truncate()
    writer.writerows(batch)
    counter.rows = row
    yield buffer.getvalue().encode(codec)


def _plain_header_end(path: Path, dialect: Dialect) -> int | None:
    """Where the data lines start, if the header line is plain (no quote); else None."""
    with open(path, "rb") as source:
        head = source.read(1 << 16)
    end = head.find(b"\n")
    if end < 0 or b'"' in head[:end]:
        return None
    return end + 1
