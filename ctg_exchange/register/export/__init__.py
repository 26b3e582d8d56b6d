"""Register exports, one module per family of formats, behind one protocol."""

from __future__ import annotations

from .base import EXTENSION_COLUMNS, LIST_COLUMNS, Fiche, RegisterExporter, RegisterView
from .document import HtmlExporter, JsonExporter, MarkdownExporter
from .tabular import CsvExporter
from .xlsx import XlsxExporter

EXPORTERS: dict[str, RegisterExporter] = {
    "csv": CsvExporter(),
    "json": JsonExporter(),
    "md": MarkdownExporter(),
    "html": HtmlExporter(),
    "xlsx": XlsxExporter(),
}

__all__ = [
    "EXPORTERS",
    "EXTENSION_COLUMNS",
    "LIST_COLUMNS",
    "Fiche",
    "RegisterExporter",
    "RegisterView",
]
