"""The register's exports on paper (issue 16, finding 9): the XLSX fitted, frozen, filtered, with
real dates and names as given, printed by a real spreadsheet program with nothing cut; the HTML
printed by a real browser with whole rows and numbered pages; every list with the CSV's columns.
"""

from __future__ import annotations

import csv
import datetime
import html.parser
import re
import shutil
import subprocess
import unicodedata
from pathlib import Path
from typing import Any

import pytest

from ctg_exchange.register.export import LIST_COLUMNS
from ctg_exchange.register.export.xlsx import LIST_CAP, lines_needed, text_width

from conftest import CHROMIUM, Ctg, headless_chromium

REGISTRY = Path(__file__).resolve().parents[1] / "registry"
SSCONVERT = shutil.which("ssconvert")
A4 = (595.3, 841.9)  # points
CAF_DPO = "EXEMPLE — Délégué à la protection des données de la Caf des Hauts-de-Seine (à remplacer)"


@pytest.fixture
def registered(ctg: Ctg) -> Ctg:
    for dpo in ("v.dpo", "c.dpo"):
        ctg.ok("register", "import", str(REGISTRY), as_=dpo)
    return ctg


def export(ctg: Ctg, fmt: str, out: Path, controller: str = "caf92") -> Path:
    ctg.ok("register", "export", "--controller", controller, "--format", fmt, "--out", str(out))
    return out


def squeezed(text: str) -> str:
    """Text as a PDF's extracted text can be compared with it: ligatures undone, no spaces or
    line breaks (a wrapped value breaks where the column does)."""
    return "".join(unicodedata.normalize("NFKC", text).split())


def shown(value: Any) -> str:
    """A cell as a spreadsheet shows it (dates day/month/year)."""
    if isinstance(value, datetime.datetime | datetime.date):
        return value.strftime("%d/%m/%Y")
    return "" if value is None else str(value)


def csv_list(path: Path) -> tuple[list[str], list[list[str]]]:
    """The CSV's *Liste des traitements* columns and rows (the simulated-clock line aside)."""
    rows = list(csv.reader(path.read_text(encoding="utf-8-sig").splitlines(), delimiter=";"))
    width = len(LIST_COLUMNS)
    return rows[0][:width], [row[:width] for row in rows[1:] if any(row[1:])]


class _Tables(html.parser.HTMLParser):
    """Every table of an HTML page: rows of cell texts, the header cells included."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[list[list[str]]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1][-1].append("".join(self._cell))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def html_tables(path: Path) -> list[list[list[str]]]:
    parser = _Tables()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser.tables


def test_every_list_carries_the_csvs_columns(registered: Ctg, tmp_path: Path) -> None:
    columns, rows = csv_list(export(registered, "csv", tmp_path / "r.csv"))
    assert columns == list(LIST_COLUMNS) and len(rows) == 4
    # HTML: the cover's second table is the list, header first
    listing = html_tables(export(registered, "html", tmp_path / "r.html"))[1]
    assert listing == [columns, *rows]
    # Markdown: the table under "Liste des traitements", escapes undone
    text = export(registered, "md", tmp_path / "r.md").read_text(encoding="utf-8")
    table = [line for line in text.split("## Liste des traitements")[1].splitlines() if line]
    cells = [[re.sub(r"\\(.)", r"\1", c.strip()) for c in line.split(" | ")] for line in table]
    cells = [[row[0].removeprefix("| "), *row[1:-1], row[-1].removesuffix(" |")] for row in cells]
    assert cells[0] == columns and cells[2 : 2 + len(rows)] == rows
    # XLSX: the list sheet's table, dates as the spreadsheet shows them
    from openpyxl import load_workbook

    sheet = load_workbook(export(registered, "xlsx", tmp_path / "r.xlsx"))["Liste des traitements"]
    table_rows = sheet.iter_rows(min_row=3, max_row=3 + len(rows), values_only=True)
    assert [[shown(v) for v in row] for row in table_rows] == [columns, *rows]


def test_the_xlsx_is_a_table_to_sort_filter_and_print(registered: Ctg, tmp_path: Path) -> None:
    from openpyxl import load_workbook

    book = load_workbook(export(registered, "xlsx", tmp_path / "r.xlsx"))
    sheet = book["Liste des traitements"]
    assert [c.value for c in sheet[3]][: len(LIST_COLUMNS)] == list(LIST_COLUMNS)
    assert sheet.freeze_panes == "A4"  # the title, the edition line and the header stay in view
    assert sheet.auto_filter.ref == "A3:F7"
    assert sheet.print_title_rows == "$3:$3"
    created, updated = sheet["C4"], sheet["D4"]
    assert created.value == datetime.datetime(2021, 1, 1) and created.number_format == "DD/MM/YYYY"
    assert isinstance(updated.value, datetime.datetime) and updated.is_date
    for page in book:
        setup = page.page_setup
        assert (setup.orientation, int(setup.paperSize or 0)) == ("landscape", 9)  # A4
        assert (setup.fitToWidth, setup.fitToHeight) == (1, 0)
        assert page.sheet_properties.pageSetUpPr is not None
        assert page.sheet_properties.pageSetUpPr.fitToPage
        if page is not sheet:
            assert page.print_title_rows == "$1:$1" and page.freeze_panes == "A2"
            assert isinstance(page["B5"].value, datetime.datetime)  # the fiche's creation
    # each list column is as wide as its widest value or, capped, wraps in rows tall enough
    for index, column in enumerate("ABCDEF"):
        width = sheet.column_dimensions[column].width
        for row in range(3, 8):
            cell = sheet.cell(row=row, column=index + 1)
            text = shown(cell.value)
            bold = bool(cell.font and cell.font.b)
            if text_width(text, bold=bold) + 1.5 <= width:
                continue
            # a value only wraps in a column at its widest; a heading wraps between its words
            assert row == 3 or width == LIST_CAP, (cell.coordinate, width)
            assert cell.alignment.wrap_text, cell.coordinate
            height = sheet.row_dimensions[row].height or 0
            assert height >= 13 * lines_needed(text, width, bold=bold), cell.coordinate


def test_the_xlsx_writes_names_as_given(registered: Ctg, tmp_path: Path) -> None:
    from openpyxl import load_workbook

    sheet = load_workbook(export(registered, "xlsx", tmp_path / "r.xlsx"))["Liste des traitements"]
    pairs = [(row[0], row[1]) for row in sheet.iter_rows(min_row=8, values_only=True)]
    assert ("Nom", "Caroline GUGENHEIM") in pairs
    assert ("Nom", CAF_DPO) in pairs  # not "Nom: remplacer)"
    assert "Prénom" not in [label for label, _ in pairs]


def pdf_pages(path: Path) -> list[str]:
    from pypdf import PdfReader

    return [page.extract_text() for page in PdfReader(path).pages]


@pytest.mark.slow
@pytest.mark.skipif(SSCONVERT is None, reason="ssconvert (gnumeric) is missing")
@pytest.mark.parametrize("controller", ["caf92", "ville_sceaux"])
def test_gnumeric_prints_the_xlsx_with_nothing_cut(
    registered: Ctg, tmp_path: Path, controller: str
) -> None:
    from openpyxl import load_workbook
    from pypdf import PdfReader

    xlsx = export(registered, "xlsx", tmp_path / "r.xlsx", controller)
    pdf = tmp_path / "r.pdf"
    subprocess.run([str(SSCONVERT), str(xlsx), str(pdf)], check=True, capture_output=True)
    reader = PdfReader(pdf)
    for page in reader.pages:  # A4 landscape
        box = page.mediabox
        assert (round(float(box.width), 1), round(float(box.height), 1)) == A4[::-1]
    pages = [squeezed(text) for text in pdf_pages(pdf)]
    printed = "".join(pages)
    book = load_workbook(xlsx)
    for sheet in book:
        for row in sheet.iter_rows():
            for cell in row:
                text = squeezed(shown(cell.value))
                assert text in printed, (sheet.title, cell.coordinate, cell.value)
        # fitted to the page's width: every page of a fiche shows its whole title row
        title = squeezed(shown(sheet["A1"].value))
        if sheet.title != "Liste des traitements":
            first = next(i for i, page in enumerate(pages) if page.startswith(sheet.title))
            assert title in pages[first]
    listing = book["Liste des traitements"]
    header = "".join(squeezed(str(c.value)) for c in listing[3])
    assert header in pages[0]  # the header, whole and on one line: one page wide
    # and the program reads the same values back: dates as dates, text as text
    sheets = f"{tmp_path}/sheet-%n.csv"
    subprocess.run([str(SSCONVERT), "-S", str(xlsx), sheets], check=True, capture_output=True)
    with open(sheets.replace("%n", "0"), encoding="utf-8") as handle:
        read = list(csv.reader(handle))
    # (gnumeric's CSV writes a date value as year/month/day: text would stay as it was)
    expected = [
        [v.strftime("%Y/%m/%d") if isinstance(v, datetime.date) else shown(v) for v in row]
        for row in listing.iter_rows(values_only=True)
    ]
    assert expected == [row + [""] * (len(LIST_COLUMNS) - len(row)) for row in read]
    assert read[3][2:4] == ["2021/01/01", "2025/06/02"]
    print(f"{controller}: the XLSX prints on {len(reader.pages)} pages")


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")
def test_chromium_prints_the_html_on_numbered_pages_with_whole_rows(
    registered: Ctg, tmp_path: Path
) -> None:
    from pypdf import PdfReader

    source = export(registered, "html", tmp_path / "r.html", "ville_sceaux")
    pdf = tmp_path / "r.pdf"
    printing = ("--no-pdf-header-footer", f"--print-to-pdf={pdf}")
    headless_chromium(tmp_path / "profile", *printing, source.as_uri())
    reader = PdfReader(pdf)
    texts = pdf_pages(pdf)
    total = len(texts)
    assert total >= 6  # a cover, then each of the five fiches from a page of its own
    for number, text in enumerate(texts, start=1):
        assert f"Page {number} / {total}" in text
    pages = [squeezed(text) for text in texts]
    # every table row is whole on one page: its cells are all found whole on a same page
    tables = html_tables(source)
    for row in (row for table in tables for row in table):
        where = set(range(total))
        for cell in row:
            where &= {i for i, page in enumerate(pages) if squeezed(cell) in page}
        assert where, row
    # the list carries the CSV's columns
    columns, _ = csv_list(export(registered, "csv", tmp_path / "r.csv", "ville_sceaux"))
    assert tables[1][0] == columns
    assert squeezed("".join(columns)) in pages[0]
    # one set of margins: the page's (1.5 cm), the body adds none on paper
    lefts: list[float] = []

    def left(text: str, cm: list[float], tm: list[float], *_: Any) -> None:
        if text.strip():
            lefts.append(tm[4] * cm[0] + cm[4])

    reader.pages[1].extract_text(visitor_text=left)
    margin = 1.5 / 2.54 * 72  # then a cell border and padding
    assert margin <= min(lefts) < margin + 8, min(lefts)
    print(f"the HTML prints on {total} pages")
