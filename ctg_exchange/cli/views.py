"""How requests look: as JSON (``--json``) and as rich text for a person."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ..labels import label

if TYPE_CHECKING:
    from rich.console import Console

    from ..domain.exchange import Delivery, Reception
    from ..domain.models import ExchangeRequest, Finding, RequestContent, Step


Deliveries = list[tuple["Delivery", "Reception | None"]]


def request_json(
    request: ExchangeRequest, steps: list[Step] | None = None, deliveries: Deliveries | None = None
) -> dict[str, Any]:
    from ..services.documents import request_document

    return request_document(request, steps, deliveries)


_STATUS_STYLE = {
    "approved": "green",
    "conditions_accepted": "green",
    "exchanged": "green",
    "rejected": "red",
    "withdrawn": "dim",
    "suspended": "red",
    "closed": "dim",
    "lapsed": "dim",
    "returned": "yellow",
    "awaiting_dpo": "cyan",
}


def status_text(status: str) -> str:
    """A request's status as a person reads it (its French label in French), coloured."""
    style = _STATUS_STYLE.get(status)
    shown = label("status", status)
    return f"[{style}]{shown}[/]" if style else shown


def render_findings(console: Console, findings: Iterable[Finding], indent: str = "  ") -> None:
    from .console import shown

    for finding in findings:
        style = "red" if finding.severity == "blocking" else "yellow"
        console.print(
            f"{indent}[{style}]{finding.code}[/] ({finding.severity}) {shown(finding.message)}"
        )
        if finding.channel:
            console.print(f"{indent}  channel: {shown(finding.channel)}")


def _facts(request: ExchangeRequest) -> list[tuple[str, str]]:
    from .console import shown

    c = request.content
    basis = c.legal_basis or "—"
    if c.art9_condition:
        basis += f" + {c.art9_condition}"
    rows = [
        ("status", status_text(request.status.value)),
        ("from → to", f"{request.from_party} → {c.to} (holder)"),
        (
            "triage",
            request.triage.value
            + (
                " — anonymous aggregates: no DPO opinion (Article 7 governs personal data)"
                if request.triage == "non_personal"
                else ""
            ),
        ),
        ("field", c.field),
        ("purpose", shown(c.purpose)),
        ("purpose kind", c.purpose_kind),
        ("categories", ", ".join(c.categories)),
        ("subjects", shown(c.subjects)),
        ("legal basis", f"{basis} — {shown(_legal(c) or 'no legal text')}"),
        (
            "retention",
            f"{c.retention_days} days"
            + (f", then {c.archive_days} days archived" if c.archive_days else ""),
        ),
        ("frequency", label("frequency", c.frequency.value)),
    ]
    rows += _declared(c)
    if c.recipients:
        rows.append(("recipients", shown(c.recipients)))
    if c.volume is not None:
        rows.append(("volume", str(c.volume)))
    if c.transfer_outside_eu:
        rows.append(("transfer", "[red]outside the EU[/]"))
    if request.dpia_required:
        rows.append(("DPIA", "[yellow]required[/] (GDPR art. 35)"))
    rows.append(
        ("filed", f"{request.filed_on} by {request.filed_by} (policy v{request.policy_version})")
    )
    return rows


def _legal(c: RequestContent) -> str:
    return "; ".join([*c.legal_refs, *([c.legal_text] if c.legal_text else [])])


def _declared(c: RequestContent) -> list[tuple[str, str]]:
    """What the requester declared of decisions, processors and onward recipients."""
    from .console import shown

    rows = []
    if c.aggregates_of:
        rows.append(("counts of", ", ".join(c.aggregates_of)))
    if c.automated_decision != "none":
        rows.append(("decisions", c.automated_decision.value))
    flags = [
        label
        for label, on in (
            ("profiling", c.profiling),
            ("decides access", c.decides_access),
            ("new technology", c.new_technology),
            ("combined with own files", c.combines_with_own_files),
        )
        if on
    ]
    if flags:
        rows.append(("declared", ", ".join(flags)))
    rows += [
        ("processor", f"{shown(p.name)} — {shown(p.contract or 'no contract')}")
        for p in c.processors
    ]
    rows += [("passed on to", shown(recipient)) for recipient in c.onward_recipients]
    if c.necessity:
        rows.append(("necessity", shown(c.necessity)))
    if c.right_to_object:
        rows.append(("right to object", shown(c.right_to_object)))
    return rows


def render_request(
    console: Console, request: ExchangeRequest, steps: list[Step], deliveries: Deliveries
) -> None:
    from .console import shown

    _render_facts(console, request)

    if request.findings:
        console.print("[bold]Pre-screening[/]")
        render_findings(console, request.findings)
    if request.opinion is not None:
        o = request.opinion
        console.print(f"[bold]DPO opinion[/] ({o.by}, {o.on}): {label('verdict', o.verdict.value)}")
        console.print(f"  {shown(o.note)}")
        for rec in o.recommendations:
            console.print(f"  {rec.label}  {shown(rec.text)}")
    if request.decision is not None:
        d = request.decision
        line = f"[bold]Decision[/] ({d.by}, {d.on}): {status_text(d.outcome.value)}"
        if d.against_opinion:
            line += " [red]against the DPO's opinion[/]"
        console.print(line)
        if d.text:
            console.print(f"  {shown(d.text)}")
        for answer in d.answers:
            verb = "adopted" if answer.adopted else f"set aside: {shown(answer.reason or '')}"
            console.print(f"  R{answer.number} {verb}")
    if request.conditions:
        console.print("[bold]Conditions of the exchange[/]")
        for condition in request.conditions:
            console.print(f"  {condition.label}  {shown(condition.text)}")
    if request.acceptance is not None:
        a = request.acceptance
        console.print(f"[bold]Conditions accepted[/] by {a.by} on {a.on}")
        if a.information:
            console.print(f"  persons informed (GDPR art. 14): {shown(a.information)}")
        if a.l311_mention:
            console.print(
                f"  algorithmic decision mention (CRPA L311-3-1): {shown(a.l311_mention)}"
            )
    if request.suspension is not None:
        held = request.suspension
        console.print(
            f"[bold red]Suspended[/] by {held.by} on {held.on} (was {held.from_status.value}): "
            f"{shown(held.reason)}"
        )
    for r in request.reviews:
        console.print(
            f"[bold]Yearly review[/] ({r.by}, {r.on}): {r.outcome.value} — {shown(r.note)}"
        )
    if deliveries:
        console.print("[bold]Deliveries[/]")
        for sent, got in deliveries:
            received = f"received {got.received_on} by {got.received_by}" if got else "not received"
            console.print(
                f"  {sent.id}  sent {sent.sent_on} by {sent.sent_by}, {sent.rows} rows, "
                f"delete by {sent.retention_deadline}; {received}"
            )
            if sent.early:
                reasons = shown(sent.justification or "")
                console.print(f"    [yellow]early[/] (sooner than its frequency allows): {reasons}")
    for advice in request.advices:
        console.print(
            f"[bold]Requester's DPO advice[/] ({advice.by}, {advice.on}): {shown(advice.note)}"
        )
    for annotation in request.annotations:
        console.print(
            f"[bold]DPO annotation[/] ({annotation.by}, {annotation.party}, "
            f"{annotation.on}): {shown(annotation.note)}"
        )

    console.print("[bold]History[/]")
    for step in steps:
        moved = (
            f" → {step.to_status.value}"
            if step.to_status and step.to_status != step.from_status
            else ""
        )
        console.print(
            f"  #{step.seq:<4} {short_time(step.at)}  {step.actor} ({step.role})  "
            f"{step.action}{moved}"
        )
        if step.text:
            console.print(f"        {shown(step.text)}")


def _render_facts(console: Console, request: ExchangeRequest) -> None:
    """The request's facts: in a panel on a terminal; on a pipe or a file, its id then one
    ``key: value`` line each, unpadded."""
    from rich.panel import Panel
    from rich.table import Table

    from .console import InertConsole

    if isinstance(console, InertConsole) and console.plain:
        console.print(request.id)
        for key, value in _facts(request):
            console.print(f"{key}: {value}")
        return
    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="bold")
    facts.add_column()
    for key, value in _facts(request):
        facts.add_row(key, value)
    console.print(Panel(facts, title=f"[bold]{request.id}[/]", expand=False))


def short_time(timestamp: str) -> str:
    """A stored UTC time as its users read it, in Paris with the offset named:
    ``2026-11-27T03:49:58.123456Z`` -> ``2026-11-27 04:49 +01:00``."""
    from datetime import UTC, datetime

    from ..domain.dates import PARIS

    try:
        moment = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    except ValueError:
        return timestamp[:16].replace("T", " ")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    local = moment.astimezone(PARIS)
    return f"{local:%Y-%m-%d %H:%M} {local.isoformat()[-6:]}"


def finish(request: ExchangeRequest, message: str) -> None:
    """Print the outcome of a step: the request as JSON, or one line for a person."""
    from .common import emit_json, options, say

    if options().json:
        emit_json(request_json(request))
    else:
        say(f"[green]✓[/] {message}")
