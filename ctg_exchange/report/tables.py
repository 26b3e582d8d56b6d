"""The committee's figures laid out: one JSON document (stable codes), and sections of rows that
the terminal, the CSV file and the HTML report show (labels in the reader's language)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..i18n import N_, _, is_french
from ..labels import label
from .figures import DELETION_OUTCOMES, STAGES, Delay, Figures

Cell = int | float | str | None

STAGE_LABELS = {
    "filing_to_opinion": N_("filing → DPO's opinion"),
    "submission_to_opinion": N_("submission to the DPO → opinion"),
    "opinion_to_decision": N_("opinion → decision"),
    "filing_to_decision": N_("filing → decision"),
    "decision_to_conditions": N_("approval → conditions accepted"),
    "conditions_to_first_delivery": N_("conditions accepted → first delivery"),
    "filing_to_first_delivery": N_("filing → first delivery"),
}
DELETION_LABELS = {
    "on_time": N_("deleted on time"),
    "late": N_("deleted late"),
    "overdue": N_("overdue (not deleted, deadline passed)"),
    "not_yet_due": N_("not yet due"),
}
REFUSALS_NOTE = N_(
    "Refused actions are not recorded in the audit log (a refusal changes nothing), so they "
    "cannot be counted: the screening findings shown are the warnings recorded at filing or "
    "amendment; rejections and lapses are counted with the decisions."
)


@dataclass(frozen=True)
class Row:
    code: str  # stable, as in --json and the CSV
    label: str
    cells: tuple[Cell, ...]


@dataclass(frozen=True)
class Section:
    code: str
    title: str
    headers: tuple[str, ...]  # the label's column, then one per cell
    rows: tuple[Row, ...]


def document(figures: Figures, simulated: bool) -> dict[str, Any]:
    """What ``--json`` prints: codes and numbers only."""
    f = figures
    return {
        "period": {
            "from": f.period.start.isoformat(),
            "to": f.period.end.isoformat(),
            "as_of": f.period.as_of.isoformat(),
        },
        "scope": {"field": f.scope.field, "party": f.scope.party},
        "simulated_clock": simulated,
        "requests": {
            "filed": f.filed,
            "non_personal": f.non_personal,
            "by_status": f.by_status,
            "by_direction": [
                {"from": a, "to": b, "count": n} for (a, b), n in f.by_direction.items()
            ],
            "findings": f.findings,
        },
        "refusals_recorded": False,
        "delays": {stage: _delay_json(f.delays[stage]) for stage in STAGES},
        "opinions": {"by_verdict": f.verdicts, "overdue": f.opinions_overdue},
        "decisions": {
            "approved": f.approved,
            "rejected": f.rejected,
            "against_opinion": f.against_opinion,
            "recommendations_adopted": f.adopted,
            "recommendations_set_aside": f.set_aside,
        },
        "returns": f.returns,
        "withdrawals": f.withdrawals,
        "lapses": f.lapses,
        "deliveries": {
            "count": f.deliveries,
            "early": f.early_deliveries,
            "rows": f.rows,
            "bytes": f.bytes,
        },
        "deletions": f.deletions,
    }


def _delay_json(delay: Delay) -> dict[str, Any]:
    return {
        "count": delay.count,
        "median": delay.median,
        "p90": delay.p90,
        "max": delay.maximum,
        "due_days": list(delay.due_days),
        "within_due": delay.within_due,
        "late": delay.late,
    }


def sections(figures: Figures, parties: dict[str, str]) -> list[Section]:
    """Every table of the report, in the order the committee reads them."""
    f = figures
    count = (_("count"),)
    requests = (
        Row("filed", _("requests filed"), (f.filed,)),
        Row("non_personal", _("of which non-personal (no DPO's opinion)"), (f.non_personal,)),
        *(Row(s, label("status", s), (n,)) for s, n in f.by_status.items() if n),
    )
    directions = tuple(
        Row(f"{a}>{b}", f"{parties.get(a, a)} → {parties.get(b, b)}", (n,))
        for (a, b), n in f.by_direction.items()
    )
    delay_headers = (_("stage"), _("count"), _("median"), _("90th percentile"), _("maximum"),
                     _("due (days)"), _("within due"), _("late"))  # fmt: skip
    delays = tuple(
        Row(stage, _(STAGE_LABELS[stage]), _delay_cells(f.delays[stage])) for stage in STAGES
    )
    opinions = (
        *(Row(v, label("verdict", v), (n,)) for v, n in f.verdicts.items()),
        Row("overdue", _("awaiting, past due"), (f.opinions_overdue,)),
    )
    decisions = (
        Row("approved", _("approved"), (f.approved,)),
        Row("rejected", _("rejected"), (f.rejected,)),
        Row("against_opinion", _("approved against the DPO's opinion"), (f.against_opinion,)),
        Row("recommendations_adopted", _("recommendations adopted"), (f.adopted,)),
        Row("recommendations_set_aside", _("recommendations set aside"), (f.set_aside,)),
        Row("returns", _("returned to the requester"), (f.returns,)),
        Row("withdrawals", _("withdrawn by the requester"), (f.withdrawals,)),
        Row("lapses", _("lapsed (convention ended)"), (f.lapses,)),
    )
    deliveries = (
        Row("count", _("deliveries sent"), (f.deliveries,)),
        Row("early", _("of which early (justified)"), (f.early_deliveries,)),
        Row("rows", _("rows sent"), (f.rows,)),
        Row("bytes", _("bytes sent (encrypted)"), (f.bytes,)),
    )
    deletions = tuple(Row(o, _(DELETION_LABELS[o]), (f.deletions[o],)) for o in DELETION_OUTCOMES)
    findings = tuple(Row(code, code, (n,)) for code, n in f.findings.items())
    return [
        Section("requests", _("Requests filed in the period"), (_("requests"), *count), requests),
        Section(
            "directions", _("Requests by direction"), (_("who asks whom"), *count), directions
        ),  # fmt: skip
        Section("delays", _("Delays in days"), delay_headers, delays),
        Section("opinions", _("DPO's opinions given"), (_("verdict"), *count), opinions),
        Section("decisions", _("Decisions and outcomes"), (_("figure"), *count), decisions),
        Section("findings", _("Screening findings by rule code"), (_("rule"), *count), findings),
        Section("deliveries", _("Deliveries"), (_("figure"), _("total")), deliveries),
        Section("deletions", _("Deletions due in the period"), (_("outcome"), *count), deletions),
    ]


def _delay_cells(delay: Delay) -> tuple[Cell, ...]:
    due = "/".join(str(d) for d in delay.due_days) or None
    return (delay.count, delay.median, delay.p90, delay.maximum, due, delay.within_due,
            delay.late)  # fmt: skip


def number(value: Cell) -> str:
    """A cell as text: a whole number without decimals, a half with one (``12,5`` in
    French), nothing as a dash."""
    if value is None:
        return "—"
    if isinstance(value, float):
        text = str(int(value)) if value.is_integer() else f"{value:.1f}"
        return text.replace(".", ",") if is_french() else text
    return str(value)


MEASURES = {"delays": ("count", "median", "p90", "max", "due_days", "within_due", "late")}


def csv_text(figures: Figures, parts: list[Section], simulated: bool) -> str:
    """One line per figure: UTF-8 with a byte-order mark and semicolons, as French
    spreadsheets expect; every cell text, never a formula (the codes and labels are the tool's
    and the policy's, and are still written as text)."""
    import csv
    import io

    from ..textsafe import for_spreadsheet

    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow([_("section"), _("figure"), _("measure"), _("label"), _("value")])
    period = f"{figures.period.start.isoformat()} / {figures.period.end.isoformat()}"
    writer.writerow(["period", "from_to", "", _("period"), period])
    writer.writerow(["period", "as_of", "", _("overdue judged on"), figures.period.as_of])
    for part in parts:
        measures = MEASURES.get(part.code, ("count",))
        for row in part.rows:
            for measure, header, cell in zip(measures, part.headers[1:], row.cells, strict=True):
                text = f"{row.label} — {header}" if len(measures) > 1 else row.label
                cells = (part.code, row.code, measure, text, "" if cell is None else number(cell))
                writer.writerow([for_spreadsheet(str(c)) for c in cells])
    if simulated:
        writer.writerow(["note", "simulated_clock", "", _(SIMULATED), ""])
    return "\ufeff" + buffer.getvalue()


SIMULATED = N_("simulated clock: a rehearsal's log (init --simulated-clock), its dates were set")
