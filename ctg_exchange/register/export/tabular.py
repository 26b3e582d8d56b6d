"""The register as a table: CSV (for a spreadsheet) and XLSX (the CNIL model's workbook)."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import TYPE_CHECKING

from ...fsutil import write_atomic
from ...textsafe import for_spreadsheet, starts_formula, visible_controls
from .base import LIST_COLUMNS, SIMULATED_FR, RegisterView, row, row_columns, sections

if TYPE_CHECKING:
    from openpyxl.worksheet.worksheet import Worksheet

CONTACT_FIELDS = ("Nom", "Prénom", "Adresse", "Code postal", "Ville", "Téléphone", "Adresse mél")


class CsvExporter:
    """UTF-8 with a byte-order mark and semicolons, as French spreadsheets expect."""

    suffix = "csv"

    def write(self, view: RegisterView, out: Path) -> None:
        buffer = io.StringIO()
        writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
        columns = row_columns()
        writer.writerow(columns)
        for fiche in view.fiches:
            writer.writerow([for_spreadsheet(cell) for cell in row(fiche, view)])
        if view.simulated:  # last and as wide as the rest: the header stays the first line
            writer.writerow([SIMULATED_FR] + [""] * (len(columns) - 1))
        write_atomic(out, ("\ufeff" + buffer.getvalue()).encode("utf-8"), mode=0o640)


def _split_name(name: str) -> tuple[str, str]:
    """``Philippe LAURENT`` -> (``LAURENT``, ``Philippe``)."""
    first, _, last = name.rpartition(" ")
    return (last, first) if first else (name, "")


def _append(sheet: Worksheet, values: list[str]) -> None:
    """A row of text cells: never a formula, whatever the text starts with (openpyxl makes a
    formula of any string starting with ``=``), and no control character, which XLSX cannot
    hold."""
    sheet.append([visible_controls(value) for value in values])
    for cell in sheet[sheet.max_row]:
        if isinstance(cell.value, str) and starts_formula(cell.value):
            cell.data_type = "s"
            cell.quotePrefix = True  # the spreadsheet keeps it text when the cell is edited


class XlsxExporter:
    """A *Liste des traitements* sheet with the contact blocks, then one sheet per fiche."""

    suffix = "xlsx"

    def write(self, view: RegisterView, out: Path) -> None:
        from openpyxl import Workbook
        from openpyxl.styles import Alignment, Font

        book = Workbook()
        sheet = book.active
        assert sheet is not None
        sheet.title = "Liste des traitements"
        bold = Font(bold=True)
        party = view.controller
        _append(sheet, [f"Registre des activités de traitement — {party.name}"])
        sheet["A1"].font = Font(bold=True, size=14)
        _append(sheet, [view.edition])
        rep_last, rep_first = _split_name(party.representative.name)
        dpo_last, dpo_first = _split_name(party.dpo.name)
        a = party.address
        dpo_address = party.dpo.address or a
        blocks = [
            ("Responsable du traitement", [party.name, "", a.street, a.postcode, a.city, "", ""]),
            ("Représentant", [rep_last, rep_first, a.street, a.postcode, a.city, "", ""]),
            (
                "Délégué à la protection des données (DPO)",
                [
                    dpo_last,
                    dpo_first,
                    dpo_address.street,
                    dpo_address.postcode,
                    dpo_address.city,
                    party.dpo.phone or "",
                    party.dpo.email,
                ],
            ),
        ]
        for title, values in blocks:
            _append(sheet, [])
            _append(sheet, [title])
            sheet.cell(row=sheet.max_row, column=1).font = bold
            for label, value in zip(CONTACT_FIELDS, values, strict=True):
                _append(sheet, [label, value])
        _append(sheet, [])
        _append(sheet, list(LIST_COLUMNS))
        for cell in sheet[sheet.max_row]:
            cell.font = bold
        for fiche in view.fiches:
            _append(sheet, row(fiche, view)[: len(LIST_COLUMNS)])
        sheet.column_dimensions["A"].width = 48
        for fiche in view.fiches:
            page = book.create_sheet(fiche.entry.ref[:31])
            _append(page, [f"Fiche de registre — {fiche.entry.name}"])
            page["A1"].font = Font(bold=True, size=13)
            for heading, pairs in sections(fiche, view):
                _append(page, [])
                _append(page, [heading])
                page.cell(row=page.max_row, column=1).font = bold
                for label, value in pairs:
                    _append(page, [label, value])
                    page.cell(row=page.max_row, column=2).alignment = Alignment(wrap_text=True)
            page.column_dimensions["A"].width = 44
            page.column_dimensions["B"].width = 100
        buffer = io.BytesIO()
        book.save(buffer)
        write_atomic(out, buffer.getvalue(), mode=0o640)
