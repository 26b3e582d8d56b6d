"""The register as a document: JSON (the full model), Markdown, and printable HTML."""

from __future__ import annotations

import html
import json
from pathlib import Path

from ...fsutil import write_atomic
from ...textsafe import for_markdown as md
from .base import SIMULATED_FR, RegisterView, controller_text, dpo_text, fr_date, sections


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
            "| N° / RÉF | Nom du traitement | Création | Mise à jour | Données sensibles ? |",
            "| --- | --- | --- | --- | --- |",
        ]
        for fiche in view.fiches:
            e = fiche.entry
            lines.append(
                f"| {md(e.ref)} | {md(e.name)} | {fr_date(fiche.created)} | "
                f"{fr_date(fiche.updated)} | {'Oui' if e.has_sensitive_data else 'Non'} |"
            )
        for fiche in view.fiches:
            lines += ["", f"## Fiche {md(fiche.entry.ref)} — {md(fiche.entry.name)}"]
            for heading, pairs in sections(fiche, view):
                lines += ["", f"### {heading}", ""]
                lines += [f"- **{md(label)}** : {md(value)}" for label, value in pairs]
        write_atomic(out, ("\n".join(lines) + "\n").encode("utf-8"), mode=0o640)


_STYLE = """
body { font-family: "DejaVu Sans", Arial, sans-serif; font-size: 10.5pt; margin: 2cm; }
h1 { font-size: 20pt; } h2 { font-size: 14pt; border-bottom: 1px solid #444; }
h3 { font-size: 11.5pt; margin-bottom: 0.2em; }
table { border-collapse: collapse; width: 100%; }
th, td { border: 1px solid #999; padding: 3px 6px; vertical-align: top; text-align: left; }
th { background: #eee; width: 32%; }
.cover { page-break-after: always; }
.fiche { page-break-before: always; }
@page { size: A4; margin: 1.5cm; }
"""


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
            "<table>",
            f"<tr><th>Responsable du traitement</th><td>{esc(controller_text(party))}</td></tr>",
            f"<tr><th>Délégué à la protection des données</th><td>{esc(dpo_text(party))}</td></tr>",
            f"<tr><th>Date d'édition</th><td>{fr_date(view.generated_on)}</td></tr>",
            *(
                [f"<tr><th>Exercice</th><td><strong>{esc(SIMULATED_FR)}</strong></td></tr>"]
                if view.simulated
                else []
            ),
            f"<tr><th>Version du registre</th><td>{view.register_version}</td></tr>",
            "</table><h2>Liste des traitements</h2><table>",
            "<tr><th>N° / RÉF</th><th>Nom du traitement</th><th>Création</th>"
            "<th>Mise à jour</th><th>Données sensibles ?</th></tr>",
        ]
        for fiche in view.fiches:
            e = fiche.entry
            parts.append(
                f"<tr><td>{esc(e.ref)}</td><td>{esc(e.name)}</td>"
                f"<td>{fr_date(fiche.created)}</td><td>{fr_date(fiche.updated)}</td>"
                f"<td>{'Oui' if e.has_sensitive_data else 'Non'}</td></tr>"
            )
        parts.append("</table></section>")
        for fiche in view.fiches:
            parts.append(
                f'<section class="fiche" id="{esc(fiche.entry.ref)}">'
                f"<h2>Fiche {esc(fiche.entry.ref)} — {esc(fiche.entry.name)}</h2>"
            )
            for heading, pairs in sections(fiche, view):
                parts.append(f"<h3>{esc(heading)}</h3><table>")
                parts += [
                    f"<tr><th>{esc(label)}</th><td>{esc(value)}</td></tr>" for label, value in pairs
                ]
                parts.append("</table>")
            parts.append("</section>")
        parts.append("</body></html>")
        write_atomic(out, ("\n".join(parts) + "\n").encode("utf-8"), mode=0o640)
