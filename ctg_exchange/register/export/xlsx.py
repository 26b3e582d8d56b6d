"""The register as the CNIL model's workbook (XLSX), ready to print.

A *Liste des traitements* sheet (the list, then the contact blocks) and one sheet per fiche.
Every sheet prints on A4 landscape, fitted to the page's width, with its heading rows repeated
on each page; columns are as wide as their content (up to a cap, beyond which the text wraps and
the row is as tall as its lines); the list's header row stays in view (frozen) and carries a
filter; dates are dates. Names are written as the data gives them, never split into guesses of
a first and a last name. Typed text stays text, never a formula.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from ...fsutil import write_atomic
from ...textsafe import starts_formula, visible_controls
from .base import LIST_COLUMNS, RegisterView, Value, list_row, sections

if TYPE_CHECKING:
    from openpyxl.worksheet.worksheet import Worksheet

# each contact block of the CNIL model: the name as given (never split), then the address
CONTACT_FIELDS = ("Nom", "Adresse", "Code postal", "Ville", "Téléphone", "Adresse mél")
FONT = "Arial"  # on every cell: metrics a printer and every spreadsheet program know
SIZE = 10
LINE_HEIGHT = 13.0  # points per line of text in the font above, with a little air
DATE_FORMAT = "DD/MM/YYYY"
MIN_WIDTH = 6.0  # in the spreadsheets' unit: the width of a digit
LIST_CAP = 48.0  # the widest a list column grows before its text wraps
LABEL_CAP = 48.0  # a fiche's labels
VALUE_CAP = 110.0  # a fiche's values
_WIDE = set("MWmw@%&—")


def text_width(text: str, *, bold: bool = False) -> float:
    """How wide ``text`` prints, in digit widths: capitals and wide letters count more, and bold
    text is wider (estimated generously, so that nothing is cut)."""
    width = sum(1.3 if (c.isupper() or c in _WIDE) else 1.0 for c in text)
    return width * (1.1 if bold else 1.0)


def _shown(value: Value) -> str:
    return "00/00/0000" if isinstance(value, date) else value


def lines_needed(text: str, width: float, *, bold: bool = False) -> int:
    """The lines ``text`` takes, wrapped at spaces, in a column ``width`` digits wide."""
    room = max(width - 1.5, 1.0)  # the cell's inner margins
    count = 0
    for paragraph in text.split("\n"):
        line = 0.0
        count += 1
        for word in paragraph.split(" "):
            size = text_width(word, bold=bold)
            step = size if line == 0 else size + 1.0
            if line and line + step > room:
                count += 1
                line = size
            else:
                line += step
            if line > room:  # a word wider than the column breaks where it must
                extra = math.ceil(line / room) - 1
                count += extra
                line -= extra * room
    return count


def _fit(content: list[tuple[str, bool]], cap: float) -> float:
    """A column's width for its content (text, bold), at most ``cap``."""
    widest = max(
        (text_width(line, bold=bold) for text, bold in content for line in text.split("\n")),
        default=0.0,
    )
    return min(max(widest + 2.0, MIN_WIDTH), cap)


class _Sheet:
    """Writes one worksheet: typed cells, fitted columns, rows as tall as their lines."""

    def __init__(self, sheet: Worksheet) -> None:
        self.sheet = sheet
        self.tall: dict[int, list[tuple[int, int, str, bool]]] = {}  # row -> cells that wrap

    def put(
        self,
        row: int,
        column: int,
        value: Value,
        *,
        bold: bool = False,
        size: int = SIZE,
        shade: bool = False,
    ) -> None:
        from openpyxl.styles import Alignment, Font, PatternFill

        cell = self.sheet.cell(row=row, column=column)
        if isinstance(value, date):
            cell.value = value
            cell.number_format = DATE_FORMAT
        else:
            text = visible_controls(value)  # XLSX cannot hold control characters
            cell.value = text
            if starts_formula(text):  # openpyxl makes a formula of any "=…": text it stays
                cell.data_type = "s"
                cell.quotePrefix = True  # and stays text when the cell is edited
        cell.font = Font(name=FONT, size=size, bold=bold)
        left = "left" if isinstance(value, date) else None  # as the text around it
        cell.alignment = Alignment(horizontal=left, vertical="top", wrap_text=True)
        if shade:
            cell.fill = PatternFill(fill_type="solid", fgColor="DDDDDD")

    def wraps(self, row: int, first: int, last: int, text: str, *, bold: bool = False) -> None:
        """Record that ``text`` in ``row`` spans columns ``first``..``last`` (merged when more
        than one), so the row is made tall enough for it once the widths are known."""
        if last > first:
            self.sheet.merge_cells(start_row=row, start_column=first, end_row=row, end_column=last)
        self.tall.setdefault(row, []).append((first, last, text, bold))

    def widths(self, widths: list[float]) -> None:
        from openpyxl.utils import get_column_letter

        for index, width in enumerate(widths, start=1):
            self.sheet.column_dimensions[get_column_letter(index)].width = round(width, 1)
        for row, cells in self.tall.items():
            lines = max(
                lines_needed(text, sum(widths[first - 1 : last]), bold=bold)
                for first, last, text, bold in cells
            )
            self.sheet.row_dimensions[row].height = max(lines, 1) * LINE_HEIGHT + 2

    def print_setup(self, title_rows: str) -> None:
        """A4 landscape, one page wide (as many tall as needed), ``title_rows`` on each page."""
        from openpyxl.worksheet.properties import PageSetupProperties

        sheet = self.sheet
        sheet.page_setup.orientation = "landscape"
        sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
        sheet.page_setup.fitToWidth = 1
        sheet.page_setup.fitToHeight = 0
        sheet.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=True)
        sheet.print_title_rows = title_rows
        sheet.print_options.gridLines = True
        margins = sheet.page_margins
        margins.left = margins.right = margins.top = margins.bottom = 0.6  # inches
        margins.header = margins.footer = 0.3
        footer = sheet.oddFooter
        if footer is not None:
            footer.center.text = "&A — page &P / &N"


def _list_sheet(out: _Sheet, view: RegisterView) -> None:
    """The title, the list (header frozen, with a filter), then the contact blocks."""
    ncols = len(LIST_COLUMNS)
    party = view.controller
    title = f"Registre des activités de traitement — {party.name}"
    out.put(1, 1, title, bold=True, size=14)
    out.wraps(1, 1, ncols, title, bold=True)
    out.put(2, 1, view.edition)
    out.wraps(2, 1, ncols, view.edition)
    header = 3
    # a heading wraps between its words: its longest word, not its whole text, widens a column
    content = [[(max(c.split(), key=text_width), True)] for c in LIST_COLUMNS]
    for index, column in enumerate(LIST_COLUMNS, start=1):
        out.put(header, index, column, bold=True)
        out.wraps(header, index, index, column, bold=True)
    rows = [list_row(fiche) for fiche in view.fiches]
    for offset, values in enumerate(rows, start=1):
        for index, value in enumerate(values, start=1):
            out.put(header + offset, index, value)
            out.wraps(header + offset, index, index, _shown(value))
            content[index - 1].append((_shown(value), False))
    last = header + len(rows)
    out.sheet.freeze_panes = f"A{header + 1}"
    out.sheet.auto_filter.ref = f"A{header}:{out.sheet.cell(row=last, column=ncols).coordinate}"
    a = party.address
    dpo_address = party.dpo.address or a
    blocks = [
        ("Responsable du traitement", [party.name, a.street, a.postcode, a.city, "", ""]),
        ("Représentant", [party.representative.name, a.street, a.postcode, a.city, "", ""]),
        (
            "Délégué à la protection des données (DPO)",
            [
                party.dpo.name,
                dpo_address.street,
                dpo_address.postcode,
                dpo_address.city,
                party.dpo.phone or "",
                party.dpo.email,
            ],
        ),
    ]
    row = last + 1
    for block, details in blocks:
        row += 1
        out.put(row, 1, block, bold=True)
        out.wraps(row, 1, ncols, block, bold=True)
        for label, detail in zip(CONTACT_FIELDS, details, strict=True):
            row += 1
            out.put(row, 1, label)
            out.wraps(row, 1, 1, label)
            content[0].append((label, False))
            out.put(row, 2, detail)
            out.wraps(row, 2, ncols, detail)
    out.widths([_fit(column, LIST_CAP) for column in content])
    out.print_setup(f"{header}:{header}")


def _fiche_sheet(
    out: _Sheet, fiche_title: str, pairs: list[tuple[str, Sequence[tuple[str, Value]]]]
) -> None:
    """A fiche: its title (repeated on each printed page), then headed sections of pairs."""
    out.put(1, 1, fiche_title, bold=True, size=13)
    out.wraps(1, 1, 2, fiche_title, bold=True)
    labels: list[tuple[str, bool]] = []
    values: list[tuple[str, bool]] = []
    row = 1
    for heading, section in pairs:  # a heading on a shaded row, no blank row: fewer pages
        row += 1
        out.put(row, 1, heading, bold=True, shade=True)
        out.wraps(row, 1, 2, heading, bold=True)
        for label, value in section:
            row += 1
            out.put(row, 1, label)
            out.wraps(row, 1, 1, label)
            out.put(row, 2, value)
            out.wraps(row, 2, 2, _shown(value))
            labels.append((label, False))
            values.append((_shown(value), False))
    out.sheet.freeze_panes = "A2"
    out.widths([_fit(labels, LABEL_CAP), _fit(values, VALUE_CAP)])
    out.print_setup("1:1")


class XlsxExporter:
    """A *Liste des traitements* sheet with the contact blocks, then one sheet per fiche."""

    suffix = "xlsx"

    def write(self, view: RegisterView, out: Path) -> None:
        from openpyxl import Workbook

        book = Workbook()
        sheet = book.active
        assert sheet is not None
        sheet.title = "Liste des traitements"
        _list_sheet(_Sheet(sheet), view)
        for fiche in view.fiches:
            page = book.create_sheet(fiche.entry.ref[:31])
            title = f"Fiche de registre — {fiche.entry.name}"
            _fiche_sheet(_Sheet(page), title, sections(fiche, view))
        buffer = io.BytesIO()
        book.save(buffer)
        write_atomic(out, buffer.getvalue(), mode=0o640)
