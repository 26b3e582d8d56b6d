"""The register as a document: JSON (the full model), Markdown, and printable HTML."""

from __future__ import annotations

import html
import json
from datetime import date
from pathlib import Path

from ...fsutil import write_atomic
from ...textsafe import for_markdown as md
from .base import (
    LIST_COLUMNS,
    SIMULATED_FR,
    RegisterView,
    Value,
    as_text,
    controller_text,
    dpo_text,
    fr_date,
    list_row,
    sections,
)


class JsonExporter:
    """Everything: the current version of each fiche and its history."""

    suffix = "json"

    def write(self, view: RegisterView, out: Path) -> None:
        document = {
            "controller": view.controller.model_dump(mode="json"),
            "generated_on": view.generated_on.isoformat(),
            "register_version": view.register_version,
            "simulated_clock": view.simulated,
            "fiches": [
                {
                    **fiche.entry.model_dump(mode="json"),
                    "version": fiche.current.version,
                    "created": fiche.created.isoformat(),
                    "updated": fiche.updated.isoformat(),
                    "last_change": {
                        "by": fiche.current.author,
                        "at": fiche.current.at,
                        "reason": fiche.current.reason,
                    },
                }
                for fiche in view.fiches
            ],
            "exchanges": view.exchanges,
        }
        text = json.dumps(document, ensure_ascii=False, indent=2) + "\n"
        write_atomic(out, text.encode("utf-8"), mode=0o640)


class MarkdownExporter:
    suffix = "md"

    def write(self, view: RegisterView, out: Path) -> None:
        party = view.controller
        lines = [
            f"# Registre des activités de traitement — {md(party.name)}",
            "",
            f"- Responsable du traitement : {md(controller_text(party))}",
            f"- Délégué à la protection des données : {md(dpo_text(party))}",
            f"- {view.edition}",
            "",
            "## Liste des traitements",
            "",
            "| " + " | ".join(md(column) for column in LIST_COLUMNS) + " |",
            "|" + " --- |" * len(LIST_COLUMNS),
        ]
        for fiche in view.fiches:
            cells = (md(as_text(value)) for value in list_row(fiche))
            lines.append("| " + " | ".join(cells) + " |")
        for fiche in view.fiches:
            lines += ["", f"## Fiche {md(fiche.entry.ref)} — {md(fiche.entry.name)}"]
            for heading, pairs in sections(fiche, view):
                lines += ["", f"### {heading}", ""]
                lines += [f"- **{md(label)}** : {md(as_text(value))}" for label, value in pairs]
        write_atomic(out, ("\n".join(lines) + "\n").encode("utf-8"), mode=0o640)


# Printed, the page's margins are the only ones (the body has none on paper), each page says
# its number, no table row is cut in two, and a heading stays with what follows it; on a
# screen the body keeps a margin of its own.
_STYLE = """
body { font-family: "DejaVu Sans", Arial, sans-serif; font-size: 10.5pt; margin: 1.5cm; }
h1 { font-size: 20pt; } h2 { font-size: 14pt; border-bottom: 1px solid #444; }
h3 { font-size: 11.5pt; margin-bottom: 0.2em; }
h1, h2, h3 { break-after: avoid; }
table { border-collapse: collapse; width: 100%; }
th, td { border: 1px solid #999; padding: 3px 6px; vertical-align: top; text-align: left; }
th { background: #eee; }
tr { break-inside: avoid; }
thead { display: table-header-group; }
.pairs th { width: 32%; }
td { overflow-wrap: break-word; }
.list .short { white-space: nowrap; }
.list th:first-child { width: 24%; } .list th:nth-child(5) { width: 36%; }
.cover { break-after: page; }
.fiche { break-before: page; }
@page {
  size: A4; margin: 1.5cm 1.5cm 2cm;
  @bottom-center { content: "Page " counter(page) " / " counter(pages); font-size: 9pt; }
}
@media print { body { margin: 0; } }
"""


def _short(column: str, value: Value) -> str:
    """A list cell that reads best on one line (a reference, a date, yes or no)."""
    one_line = isinstance(value, date) or column in (LIST_COLUMNS[1], LIST_COLUMNS[5])
    return ' class="short"' if one_line else ""


class HtmlExporter:
    """Printable: a cover (controller, DPO, date, register version), then one page per fiche."""

    suffix = "html"

    def write(self, view: RegisterView, out: Path) -> None:
        esc = html.escape
        party = view.controller
        parts = [
            "<!DOCTYPE html>",
            '<html lang="fr"><head><meta charset="utf-8">',
            f"<title>Registre des activités de traitement — {esc(party.name)}</title>",
            f"<style>{_STYLE}</style></head><body>",
            '<section class="cover">',
            f"<h1>Registre des activités de traitement</h1><h2>{esc(party.name)}</h2>",
            '<table class="pairs">',
            f"<tr><th>Responsable du traitement</th><td>{esc(controller_text(party))}</td></tr>",
            f"<tr><th>Délégué à la protection des données</th><td>{esc(dpo_text(party))}</td></tr>",
            f"<tr><th>Date d'édition</th><td>{fr_date(view.generated_on)}</td></tr>",
            *(
                [f"<tr><th>Exercice</th><td><strong>{esc(SIMULATED_FR)}</strong></td></tr>"]
                if view.simulated
                else []
            ),
            f"<tr><th>Version du registre</th><td>{view.register_version}</td></tr>",
            "</table><h2>Liste des traitements</h2>",
            '<table class="list"><thead><tr>',
            *(f"<th>{esc(column)}</th>" for column in LIST_COLUMNS),
            "</tr></thead><tbody>",
        ]
        for fiche in view.fiches:
            cells = "".join(
                f"<td{_short(column, value)}>{esc(as_text(value))}</td>"
                for column, value in zip(LIST_COLUMNS, list_row(fiche), strict=True)
            )
            parts.append(f"<tr>{cells}</tr>")
        parts.append("</tbody></table></section>")
        for fiche in view.fiches:
            parts.append(
                f'<section class="fiche" id="{esc(fiche.entry.ref)}">'
                f"<h2>Fiche {esc(fiche.entry.ref)} — {esc(fiche.entry.name)}</h2>"
            )
            for heading, pairs in sections(fiche, view):
                parts.append(f'<h3>{esc(heading)}</h3><table class="pairs">')
                parts += [
                    f"<tr><th>{esc(label)}</th><td>{esc(as_text(value))}</td></tr>"
                    for label, value in pairs
                ]
                parts.append("</table>")
            parts.append("</section>")
        parts.append("</body></html>")
        write_atomic(out, ("\n".join(parts) + "\n").encode("utf-8"), mode=0o640)
