"""The register as a table: CSV, for a spreadsheet."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from ...fsutil import write_atomic
from ...textsafe import for_spreadsheet
from .base import SIMULATED_FR, RegisterView, row, row_columns


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
