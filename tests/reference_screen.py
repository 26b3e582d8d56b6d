"""The screen ``request show`` printed from the models, up to issue 17, kept as the reference
the light screen (``ctg_exchange/cli/request_screen.py``) is held to, byte for byte."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import tzinfo
from typing import TYPE_CHECKING

from ctg_exchange.cli.views import Deliveries, render_findings, short_time, status_text
from ctg_exchange.i18n import _, date_text, ngettext
from ctg_exchange.labels import label

if TYPE_CHECKING:
    from rich.console import Console

    from ctg_exchange.domain.models import ExchangeRequest, RequestContent, Step


def _facts(request: ExchangeRequest, purposes: Mapping[str, str]) -> list[tuple[str, str]]:
    from ctg_exchange.cli.console import shown

    c = request.content
    basis = c.legal_basis or "—"
    if c.art9_condition:
        basis += f" + {c.art9_condition}"
    retention = ngettext("{count} day", "{count} days", c.retention_days).format(
        count=c.retention_days
    )
    if c.archive_days:
        retention += ngettext(
            ", then {count} day archived", ", then {count} days archived", c.archive_days
        ).format(count=c.archive_days)
    no_text = _("no legal text")
    rows = [
        (_("status"), status_text(request.status.value)),
        (
            _("from → to"),
            _("{source} → {holder} (holder)").format(source=request.from_party, holder=c.to),
        ),
        (
            _("triage"),
            label("triage", request.triage.value)
            + (
                _(" — anonymous aggregates: no DPO opinion (Article 7 governs personal data)")
                if request.triage == "non_personal"
                else ""
            ),
        ),
        (_("field"), c.field),
        (_("purpose"), shown(c.purpose)),
        (_("purpose kind"), shown(purposes.get(c.purpose_kind, c.purpose_kind))),
        (_("categories"), ", ".join(c.categories)),
        (_("subjects"), shown(c.subjects)),
        (_("legal basis"), f"{basis} — {shown(_legal(c) or no_text)}"),
        (_("retention"), retention),
        (_("frequency"), label("frequency", c.frequency.value)),
    ]
    rows += _declared(c)
    if c.recipients:
        rows.append((_("recipients"), shown(c.recipients)))
    if c.volume is not None:
        rows.append((_("volume"), str(c.volume)))
    if c.transfer_outside_eu:
        rows.append((_("transfer"), _("[red]outside the EU[/]")))
    if request.dpia_required:
        rows.append((_("DPIA"), _("[yellow]required[/] (GDPR art. 35)")))
    filed = _("{date} by {member} (policy v{version})").format(
        date=date_text(request.filed_on), member=request.filed_by, version=request.policy_version
    )
    rows.append((_("filed"), filed))
    return rows


def _legal(c: RequestContent) -> str:
    return _("; ").join([*c.legal_refs, *([c.legal_text] if c.legal_text else [])])


def _declared(c: RequestContent) -> list[tuple[str, str]]:
    """What the requester declared of decisions, processors and onward recipients."""
    from ctg_exchange.cli.console import shown

    rows = []
    if c.aggregates_of:
        rows.append((_("counts of"), ", ".join(c.aggregates_of)))
    if c.automated_decision != "none":
        rows.append((_("decisions"), label("decision", c.automated_decision.value)))
    flags = [
        flag
        for flag, on in (
            (_("profiling"), c.profiling),
            (_("decides access"), c.decides_access),
            (_("new technology"), c.new_technology),
            (_("combined with own files"), c.combines_with_own_files),
        )
        if on
    ]
    if flags:
        rows.append((_("declared"), ", ".join(flags)))
    no_contract = _("no contract")
    rows += [
        (_("processor"), f"{shown(p.name)} — {shown(p.contract or no_contract)}")
        for p in c.processors
    ]
    rows += [(_("passed on to"), shown(recipient)) for recipient in c.onward_recipients]
    if c.necessity:
        rows.append((_("necessity"), shown(c.necessity)))
    if c.right_to_object:
        rows.append((_("right to object"), shown(c.right_to_object)))
    return rows


def render_request(
    console: Console,
    request: ExchangeRequest,
    steps: list[Step],
    deliveries: Deliveries,
    zone: tzinfo | None = None,
    purposes: Mapping[str, str] | None = None,
) -> None:
    """The request for a person; times in ``zone`` (the convention's, :func:`display_zone`),
    its purpose kind by its label in ``purposes`` (the policy's, French), else by its code."""
    from ctg_exchange.cli.console import shown

    _render_facts(console, request, purposes or {})

    if request.findings:
        console.print(_("[bold]Pre-screening[/]"))
        render_findings(console, request.findings)
    if request.opinion is not None:
        o = request.opinion
        console.print(
            _("[bold]DPO opinion[/] ({member}, {date}): {verdict}").format(
                member=o.by, date=date_text(o.on), verdict=label("verdict", o.verdict.value)
            )
        )
        console.print(f"  {shown(o.note)}")
        for rec in o.recommendations:
            console.print(f"  {rec.label}  {shown(rec.text)}")
    if request.decision is not None:
        d = request.decision
        line = _("[bold]Decision[/] ({member}, {date}): {outcome}").format(
            member=d.by, date=date_text(d.on), outcome=status_text(d.outcome.value)
        )
        if d.against_opinion:
            line += " " + _("[red]against the DPO's opinion[/]")
        console.print(line)
        if d.text:
            console.print(f"  {shown(d.text)}")
        for answer in d.answers:
            verb = (
                _("adopted")
                if answer.adopted
                else _("set aside: {reason}").format(reason=shown(answer.reason or ""))
            )
            console.print(f"  R{answer.number} {verb}")
    if request.conditions:
        console.print(_("[bold]Conditions of the exchange[/]"))
        for condition in request.conditions:
            console.print(f"  {condition.label}  {shown(condition.text)}")
    if request.acceptance is not None:
        a = request.acceptance
        console.print(
            _("[bold]Conditions accepted[/] by {member} on {date}").format(
                member=a.by, date=date_text(a.on)
            )
        )
        if a.information:
            console.print(
                "  "
                + _("persons informed (GDPR art. 14): {text}").format(text=shown(a.information))
            )
        if a.l311_mention:
            console.print(
                "  "
                + _("algorithmic decision mention (CRPA L311-3-1): {text}").format(
                    text=shown(a.l311_mention)
                )
            )
    if request.suspension is not None:
        held = request.suspension
        console.print(
            _("[bold red]Suspended[/] by {member} on {date} (was {status}): {reason}").format(
                member=held.by,
                date=date_text(held.on),
                status=label("status", held.from_status.value),
                reason=shown(held.reason),
            )
        )
    for r in request.reviews:
        console.print(
            _("[bold]Yearly review[/] ({member}, {date}): {outcome} — {note}").format(
                member=r.by,
                date=date_text(r.on),
                outcome=label("review", r.outcome.value),
                note=shown(r.note),
            )
        )
    if deliveries:
        console.print(_("[bold]Deliveries[/]"))
        for sent, got in deliveries:
            received = (
                _("received {date} by {member}").format(
                    date=date_text(got.received_on), member=got.received_by
                )
                if got
                else _("not received")
            )
            console.print(
                f"  {sent.id}  "
                + ngettext(
                    "sent {date} by {member}, {rows} row, delete by {deadline}; {received}",
                    "sent {date} by {member}, {rows} rows, delete by {deadline}; {received}",
                    sent.rows,
                ).format(
                    date=date_text(sent.sent_on),
                    member=sent.sent_by,
                    rows=sent.rows,
                    deadline=date_text(sent.retention_deadline),
                    received=received,
                )
            )
            if sent.early:
                reasons = shown(sent.justification or "")
                console.print(
                    "    "
                    + _("[yellow]early[/] (sooner than its frequency allows): {reasons}").format(
                        reasons=reasons
                    )
                )
    for advice in request.advices:
        console.print(
            _("[bold]Requester's DPO advice[/] ({member}, {date}): {note}").format(
                member=advice.by, date=date_text(advice.on), note=shown(advice.note)
            )
        )
    for annotation in request.annotations:
        console.print(
            _("[bold]DPO annotation[/] ({member}, {party}, {date}): {note}").format(
                member=annotation.by,
                party=annotation.party,
                date=date_text(annotation.on),
                note=shown(annotation.note),
            )
        )
    from ctg_exchange.domain.dates import day_of
    from ctg_exchange.services.documents import owners

    whose = {"requester": request.from_party, "holder": request.to_party}
    for side, who in owners(request.filed_by, request.handovers, steps).items():
        if who is not None:
            console.print(
                _("[bold]Followed by[/] {member} for {party}").format(member=who, party=whose[side])
            )
    for handed in request.handovers:
        console.print(
            "  "
            + _("handed over on {date} by {by}: {previous} → {successor}").format(
                date=date_text(day_of(handed.at)),
                by=handed.by,
                previous=handed.previous,
                successor=handed.successor,
            )
        )

    console.print(_("[bold]History[/]"))
    for step in steps:
        moved = (
            f" → {label('status', step.to_status.value)}"
            if step.to_status and step.to_status != step.from_status
            else ""
        )
        console.print(
            f"  #{step.seq:<4} {short_time(step.at, zone)}  {step.actor} "
            f"({label('role', step.role)})  {label('action', step.action)}{moved}"
        )
        if step.text:
            console.print(f"        {shown(step.text)}")


def _render_facts(console: Console, request: ExchangeRequest, purposes: Mapping[str, str]) -> None:
    """The request's facts: in a panel on a terminal; on a pipe or a file, its id then one
    ``key: value`` line each, unpadded."""
    from rich.panel import Panel
    from rich.table import Table

    from ctg_exchange.cli.console import InertConsole

    if isinstance(console, InertConsole) and console.plain:
        console.print(request.id)
        for key, value in _facts(request, purposes):
            console.print(_("{key}: {value}").format(key=key, value=value))
        return
    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="bold")
    facts.add_column()
    for key, value in _facts(request, purposes):
        facts.add_row(key, value)
    console.print(Panel(facts, title=f"[bold]{request.id}[/]", expand=False))
