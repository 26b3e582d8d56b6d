"""The committee's report as one self-contained HTML page, printable on A4 (issue 18).

Everything is inside the page: the style, and the charts as inline SVG (:mod:`.charts`); no
font, script or image is fetched when it is viewed. It is written in the reader's language
(French under a French locale, dates as « 7 décembre 2026 »), and every text that is not the
tool's own (the policy's titles and names) is escaped; no free text typed by a member (a
purpose, a note) appears in it at all.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

from ..i18n import N_, _, date_text, is_french
from ..labels import label
from . import charts
from .figures import DELETION_OUTCOMES, STAGES
from .tables import DELETION_LABELS, REFUSALS_NOTE, SIMULATED, STAGE_LABELS, Section, number

if TYPE_CHECKING:
    from ..services.report import Report

_STYLE = """
body { font-family: "DejaVu Sans", Arial, sans-serif; font-size: 10pt; margin: 1.5cm;
       color: #111; }
h1 { font-size: 18pt; margin-bottom: 0.2em; } h2 { font-size: 13pt; border-bottom: 1px solid #444;
  margin-top: 1.4em; } h3 { font-size: 11pt; margin-bottom: 0.3em; }
h1, h2, h3 { break-after: avoid; }
.meta { color: #333; margin: 0.2em 0; }
.rehearsal { color: #8a4b00; font-weight: bold; }
table { border-collapse: collapse; margin: 0.4em 0 0.8em; }
th, td { border: 1px solid #999; padding: 2px 6px; text-align: left; vertical-align: top; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
th { background: #eee; }
tr, figure { break-inside: avoid; }
figure { margin: 0.5em 0; } figure svg { max-width: 100%; height: auto; }
figcaption { font-size: 9pt; color: #333; }
.keys { display: flex; gap: 1.5em; flex-wrap: wrap; }
.key { border: 1px solid #bbb; padding: 4px 10px; } .key b { font-size: 14pt; display: block; }
dl dt { font-weight: bold; margin-top: 0.4em; } dl dd { margin-left: 1em; }
@page { size: A4; margin: 1.5cm 1.5cm 2cm;
  @bottom-center { content: counter(page) " / " counter(pages); font-size: 9pt; } }
@media print { body { margin: 0; } }
"""

DEFINITIONS = (
    (N_("Period"), N_("Days in France (Europe/Paris), both included. Each event counts in the "
     "period of its day; events after the period's end are not read, so the figures of a past "
     "period do not change. Overdue is judged on the period's last day, or today while it "
     "runs.")),
    (N_("Requests"), N_("The requests filed in the period, with their status at its end; "
     "direction: which party asks which; non-personal: triaged as anonymous aggregates, "
     "without the DPO's opinion.")),
    (N_("Delays"), N_("Calendar days between two steps of one request, counted in the period "
     "of the step that ends them: filing, submission to the DPO, opinion, decision, acceptance "
     "of the conditions, first delivery. Median; 90th percentile (nearest rank); maximum. The "
     "policy sets one due time, the DPO's opinion's (days after the submission): within due "
     "means given on or before that day.")),
    (N_("Opinions and decisions"), N_("Opinions by verdict and decisions recorded in the "
     "period; recommendations adopted or set aside when approving; approvals against an "
     "unfavourable opinion; opinions awaited past their due day; returns, withdrawals and "
     "lapses recorded in the period.")),
    (N_("Refusals"), REFUSALS_NOTE),
    (N_("Deliveries"), N_("Deliveries sent in the period: their number, rows and size of the "
     "encrypted payload.")),
    (N_("Deletions"), N_("Received deliveries whose retention deadline falls in the period: "
     "deleted on or before the deadline (on time), after it (late), not deleted once it has "
     "passed (overdue), or not yet due.")),
)  # fmt: skip


def html_report(made: Report, parts: list[Section]) -> str:
    f, esc = made.figures, html.escape
    title = _("Evaluation of the data exchanges")
    period = _("from {start} to {end}").format(
        start=date_text(f.period.start), end=date_text(f.period.end)
    )
    by_code = {part.code: part for part in parts}
    body = [
        f"<h1>{esc(title)}</h1>",
        f'<p class="meta">{esc(made.policy.title)}</p>',
        _meta(_("Period: {period}").format(period=period)),
        _meta(_("Overdue judged on {day}").format(day=date_text(f.period.as_of))),
    ]
    if f.scope.field or f.scope.party:
        named = (made.policy.fields.get(f.scope.field or "", f.scope.field),
                 made.policy.parties.get(f.scope.party or "", f.scope.party))  # fmt: skip
        shown = " · ".join(s for s in named if s)
        body.append(_meta(_("Only the requests of: {scope}").format(scope=shown)))
    if made.simulated:
        body.append(f'<p class="rehearsal">{esc(_(SIMULATED))}</p>')
    keys = ((_("requests filed"), f.filed), (_("opinions given"), sum(f.verdicts.values())),
            (_("approved"), f.approved), (_("deliveries sent"), f.deliveries))  # fmt: skip
    body.append('<div class="keys">')
    body += [f'<div class="key"><b>{n}</b>{esc(k)}</div>' for k, n in keys]
    body.append("</div>")

    body.append(f"<h2>{esc(by_code['requests'].title)}</h2>")
    statuses = [(s, n) for s, n in f.by_status.items() if n]
    body.append(_chart("status", _("Requests by status at the period's end"), statuses and
                       charts.bars("status", [label("status", s) for s, _n in statuses],
                                   [n for _s, n in statuses], [charts.BLUE] * len(statuses),
                                   _("requests"))))  # fmt: skip
    body += [_table(by_code["requests"]), f"<h3>{esc(by_code['directions'].title)}</h3>",
             _table(by_code["directions"])]  # fmt: skip

    body.append(f"<h2>{esc(by_code['delays'].title)}</h2>")
    measured = [s for s in STAGES if f.delays[s].count]
    series: list[tuple[str, str, list[float]]] = [
        (_("median"), charts.BLUE, [f.delays[s].median or 0.0 for s in measured]),
        (_("90th percentile"), charts.ORANGE, [float(f.delays[s].p90 or 0) for s in measured]),
        (_("maximum"), charts.GREY, [float(f.delays[s].maximum or 0) for s in measured]),
    ]
    due = [max(f.delays[s].due_days) if f.delays[s].due_days else None for s in measured]
    body.append(_chart("delays", _("Days taken by each stage"), measured and charts.delays(
        "delays", [_(STAGE_LABELS[s]) for s in measured], series, due,
        _("the policy's due time"), _("days"))))  # fmt: skip
    body.append(_table(by_code["delays"]))

    body.append(f"<h2>{esc(by_code['opinions'].title)}</h2>")
    verdicts = list(f.verdicts.items())
    colours = [charts.GREEN, charts.BLUE, charts.RED, charts.GREY]
    body.append(_chart("verdicts", _("Opinions by verdict"), any(n for _v, n in verdicts) and
                       charts.bars("verdicts", [label("verdict", v) for v, _n in verdicts],
                                   [n for _v, n in verdicts], colours, _("opinions"))))  # fmt: skip
    body += [_table(by_code["opinions"]), f"<h2>{esc(by_code['decisions'].title)}</h2>",
             _table(by_code["decisions"]), f"<h2>{esc(by_code['findings'].title)}</h2>",
             f"<p>{esc(_(REFUSALS_NOTE))}</p>", _table(by_code["findings"]),
             f"<h2>{esc(by_code['deliveries'].title)}</h2>", _table(by_code["deliveries"]),
             f"<h2>{esc(by_code['deletions'].title)}</h2>"]  # fmt: skip
    outcomes = [(o, f.deletions[o]) for o in DELETION_OUTCOMES]
    body.append(_chart("deletions", _("Deletions by outcome"), any(n for _o, n in outcomes) and
                       charts.bars("deletions", [_(DELETION_LABELS[o]) for o, _n in outcomes],
                                   [n for _o, n in outcomes],
                                   [charts.GREEN, charts.ORANGE, charts.RED, charts.GREY],
                                   _("deliveries"))))  # fmt: skip
    body.append(_table(by_code["deletions"]))
    definitions = _("Definitions")
    body.append(f"<h2>{esc(definitions)}</h2><dl>")
    body += [f"<dt>{esc(_(term))}</dt><dd>{esc(_(text))}</dd>" for term, text in DEFINITIONS]
    body.append("</dl>")
    edition = _("Edited on {day} by ctg-exchange, from the audit log alone.").format(
        day=date_text(made.today)
    )
    body.append(f'<p class="meta">{esc(edition)}</p>')
    lang = "fr" if is_french() else "en"
    return "\n".join([
        "<!DOCTYPE html>",
        f'<html lang="{lang}"><head><meta charset="utf-8">',
        f"<title>{esc(title)} — {esc(made.policy.title)}</title>",
        f"<style>{_STYLE}</style></head><body>",
        *body,
        "</body></html>",
        "",
    ])  # fmt: skip


def _meta(text: str) -> str:
    return f'<p class="meta">{html.escape(text)}</p>'


def _chart(code: str, caption: str, svg: object) -> str:
    """A chart and its caption, or a line saying there is nothing to draw."""
    esc = html.escape
    if not isinstance(svg, str) or not svg:
        return _meta(_("{chart}: nothing to show in this period").format(chart=caption))
    return (
        f'<figure class="chart" id="chart-{code}">{svg}'
        f"<figcaption>{esc(caption)}</figcaption></figure>"
    )


def _table(part: Section) -> str:
    esc = html.escape
    head = "".join(f"<th>{esc(h)}</th>" for h in part.headers)
    rows = [
        f"<tr><td>{esc(row.label)}</td>"
        + "".join(f'<td class="n">{esc(number(cell))}</td>' for cell in row.cells)
        + "</tr>"
        for row in part.rows
    ]
    if not rows:
        none = _("none")
        rows = [f'<tr><td colspan="{len(part.headers)}">{esc(none)}</td></tr>']
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
