"""``request show``'s screen, from the request as stored (:mod:`..services.showing`).

The same text as :func:`.views.render_request` draws from the models (a test compares them
byte for byte): on a terminal through rich, the facts in a panel; on a pipe or a file, plain
lines written without loading rich (the markup of our messages read by :mod:`.markup`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..domain.states import Status
from ..i18n import _, date_text, ngettext
from ..labels import label
from .listing import Out
from .markup import shown
from .views import short_time, status_text

if TYPE_CHECKING:
    from datetime import tzinfo

    from ..services.showing import RequestScreen


_STATUSES = frozenset(s.value for s in Status)


def print_request(out: Out, screen: RequestScreen, zone: tzinfo) -> None:
    """The request for a person; times in ``zone``."""
    r = screen.request
    _print_facts(out, r, _facts(r, screen.purposes))
    if r["findings"]:
        out.print(_("[bold]Pre-screening[/]"))
        _print_findings(out, r["findings"])
    if (o := r["opinion"]) is not None:
        out.print(
            _("[bold]DPO opinion[/] ({member}, {date}): {verdict}").format(
                member=shown(o["by"]),
                date=date_text(o["on"]),
                verdict=_label("verdict", o["verdict"]),
            )
        )
        out.print(f"  {shown(o['note'])}")
        for rec in o["recommendations"]:
            out.print(f"  R{rec['number']}  {shown(rec['text'])}")
    if (d := r["decision"]) is not None:
        line = _("[bold]Decision[/] ({member}, {date}): {outcome}").format(
            member=shown(d["by"]), date=date_text(d["on"]), outcome=_status(d["outcome"])
        )
        if d["against_opinion"]:
            line += " " + _("[red]against the DPO's opinion[/]")
        out.print(line)
        if d["text"]:
            out.print(f"  {shown(d['text'])}")
        for answer in d["answers"]:
            verb = (
                _("adopted")
                if answer["adopted"]
                else _("set aside: {reason}").format(reason=shown(answer["reason"] or ""))
            )
            out.print(f"  R{answer['number']} {verb}")
    if r["conditions"]:
        out.print(_("[bold]Conditions of the exchange[/]"))
        for condition in r["conditions"]:
            out.print(f"  R{condition['source']}  {shown(condition['text'])}")
    if (a := r["acceptance"]) is not None:
        out.print(
            _("[bold]Conditions accepted[/] by {member} on {date}").format(
                member=shown(a["by"]), date=date_text(a["on"])
            )
        )
        if a["information"]:
            out.print(
                "  "
                + _("persons informed (GDPR art. 14): {text}").format(text=shown(a["information"]))
            )
        if a["l311_mention"]:
            out.print(
                "  "
                + _("algorithmic decision mention (CRPA L311-3-1): {text}").format(
                    text=shown(a["l311_mention"])
                )
            )
    if (held := r["suspension"]) is not None:
        out.print(
            _("[bold red]Suspended[/] by {member} on {date} (was {status}): {reason}").format(
                member=shown(held["by"]),
                date=date_text(held["on"]),
                status=_label("status", held["from_status"]),
                reason=shown(held["reason"]),
            )
        )
    for review in r["reviews"]:
        out.print(
            _("[bold]Yearly review[/] ({member}, {date}): {outcome} — {note}").format(
                member=shown(review["by"]),
                date=date_text(review["on"]),
                outcome=_label("review", review["outcome"]),
                note=shown(review["note"]),
            )
        )
    if screen.deliveries:
        _print_deliveries(out, screen.deliveries)
    for advice in r["advices"]:
        out.print(
            _("[bold]Requester's DPO advice[/] ({member}, {date}): {note}").format(
                member=shown(advice["by"]), date=date_text(advice["on"]), note=shown(advice["note"])
            )
        )
    for annotation in r["annotations"]:
        out.print(
            _("[bold]DPO annotation[/] ({member}, {party}, {date}): {note}").format(
                member=shown(annotation["by"]),
                party=shown(annotation["party"]),
                date=date_text(annotation["on"]),
                note=shown(annotation["note"]),
            )
        )
    _print_owners(out, r, screen.steps)
    out.print(_("[bold]History[/]"))
    for step in screen.steps:
        to_status = step["to_status"]
        moved = (
            f" → {label('status', to_status)}"
            if to_status and to_status != step["from_status"]
            else ""
        )
        out.print(
            f"  #{step['seq']:<4} {short_time(step['at'], zone)}  {shown(step['actor'])} "
            f"({_label('role', step['role'])})  {_label('action', step['action'])}{moved}"
        )
        if step["text"]:
            out.print(f"        {shown(step['text'])}")


def _print_owners(out: Out, r: dict[str, Any], steps: list[dict[str, Any]]) -> None:
    """Who follows the request now, for each side, and the hand-overs (issue 19)."""
    from ..domain.dates import day_of
    from ..domain.handover import SIDES, owner

    handed = [(h["side"], h["successor"]) for h in r["handovers"]]
    taken = [(step["action"], step["actor"]) for step in steps]
    whose = {"requester": r["from_party"], "holder": r["content"]["to"]}
    for side in SIDES:
        who = owner(side, r["filed_by"], handed, taken)
        if who is not None:
            out.print(
                _("[bold]Followed by[/] {member} for {party}").format(
                    member=shown(who), party=shown(whose[side])
                )
            )
    for h in r["handovers"]:
        out.print(
            "  "
            + _("handed over on {date} by {by}: {previous} → {successor}").format(
                date=date_text(day_of(h["at"])),
                by=shown(h["by"]),
                previous=shown(h["previous"]),
                successor=shown(h["successor"]),
            )
        )


def _label(kind: str, code: str) -> str:
    """A code's label (markup: the catalog's text); a code it does not label, shown as typed
    text (a row changed behind the tool's back may hold anything)."""
    text = label(kind, code)
    return shown(code) if text == code else text


def _status(code: str) -> str:
    return status_text(code) if code in _STATUSES else shown(code)


def _print_findings(out: Out, findings: list[dict[str, Any]]) -> None:
    for finding in findings:
        style = "red" if finding["severity"] == "blocking" else "yellow"
        severity = label("severity", finding["severity"])
        out.print(
            f"  [{style}]{shown(finding['code'])}[/] ({severity}) {shown(finding['message'])}"
        )
        if finding["channel"]:
            out.print("    " + _("channel: {where}").format(where=shown(finding["channel"])))


def _print_deliveries(out: Out, deliveries: list[dict[str, Any]]) -> None:
    out.print(_("[bold]Deliveries[/]"))
    for sent in deliveries:
        received = (
            _("received {date} by {member}").format(
                date=date_text(sent["received_on"]), member=shown(sent["received_by"])
            )
            if sent["received_on"] is not None
            else _("not received")
        )
        out.print(
            f"  {shown(sent['id'])}  "
            + ngettext(
                "sent {date} by {member}, {rows} row, delete by {deadline}; {received}",
                "sent {date} by {member}, {rows} rows, delete by {deadline}; {received}",
                sent["rows"],
            ).format(
                date=date_text(sent["sent_on"]),
                member=shown(sent["sent_by"]),
                rows=sent["rows"],
                deadline=date_text(sent["retention_deadline"]),
                received=received,
            )
        )
        if sent["early"]:
            out.print(
                "    "
                + _("[yellow]early[/] (sooner than its frequency allows): {reasons}").format(
                    reasons=shown(sent["justification"] or "")
                )
            )


def _facts(r: dict[str, Any], purposes: Mapping[str, str]) -> list[tuple[str, str]]:
    c = r["content"]
    basis = shown(c["legal_basis"] or "—")
    if c["art9_condition"]:
        basis += f" + {shown(c['art9_condition'])}"
    retention = ngettext("{count} day", "{count} days", c["retention_days"]).format(
        count=c["retention_days"]
    )
    if c["archive_days"]:
        retention += ngettext(
            ", then {count} day archived", ", then {count} days archived", c["archive_days"]
        ).format(count=c["archive_days"])
    legal = _("; ").join([*c["legal_refs"], *([c["legal_text"]] if c["legal_text"] else [])])
    rows = [
        (_("status"), status_text(r["status"])),
        (
            _("from → to"),
            _("{source} → {holder} (holder)").format(
                source=shown(r["from_party"]), holder=shown(c["to"])
            ),
        ),
        (
            _("triage"),
            label("triage", r["triage"])
            + (
                _(" — anonymous aggregates: no DPO opinion (Article 7 governs personal data)")
                if r["triage"] == "non_personal"
                else ""
            ),
        ),
        (_("field"), shown(c["field"])),
        (_("purpose"), shown(c["purpose"])),
        (_("purpose kind"), shown(purposes.get(c["purpose_kind"], c["purpose_kind"]))),
        (_("categories"), shown(", ".join(c["categories"]))),
        (_("subjects"), shown(c["subjects"])),
        (_("legal basis"), f"{basis} — {shown(legal or _('no legal text'))}"),
        (_("retention"), retention),
        (_("frequency"), _label("frequency", c["frequency"])),
    ]
    rows += _declared(c)
    if c["recipients"]:
        rows.append((_("recipients"), shown(c["recipients"])))
    if c["volume"] is not None:
        rows.append((_("volume"), shown(str(c["volume"]))))
    if c["transfer_outside_eu"]:
        rows.append((_("transfer"), _("[red]outside the EU[/]")))
    if r["dpia_required"]:
        rows.append((_("DPIA"), _("[yellow]required[/] (GDPR art. 35)")))
    filed = _("{date} by {member} (policy v{version})").format(
        date=date_text(r["filed_on"]), member=shown(r["filed_by"]), version=r["policy_version"]
    )
    rows.append((_("filed"), filed))
    return rows


def _declared(c: dict[str, Any]) -> list[tuple[str, str]]:
    """What the requester declared of decisions, processors and onward recipients."""
    rows = []
    if c["aggregates_of"]:
        rows.append((_("counts of"), shown(", ".join(c["aggregates_of"]))))
    if c["automated_decision"] != "none":
        rows.append((_("decisions"), _label("decision", c["automated_decision"])))
    flags = [
        flag
        for flag, on in (
            (_("profiling"), c["profiling"]),
            (_("decides access"), c["decides_access"]),
            (_("new technology"), c["new_technology"]),
            (_("combined with own files"), c["combines_with_own_files"]),
        )
        if on
    ]
    if flags:
        rows.append((_("declared"), ", ".join(flags)))
    no_contract = _("no contract")
    rows += [
        (_("processor"), f"{shown(p['name'])} — {shown(p['contract'] or no_contract)}")
        for p in c["processors"]
    ]
    rows += [(_("passed on to"), shown(recipient)) for recipient in c["onward_recipients"]]
    if c["necessity"]:
        rows.append((_("necessity"), shown(c["necessity"])))
    if c["right_to_object"]:
        rows.append((_("right to object"), shown(c["right_to_object"])))
    return rows


def _print_facts(out: Out, r: dict[str, Any], facts: list[tuple[str, str]]) -> None:
    """The request's facts: in a panel on a terminal; on a pipe or a file, its id then one
    ``key: value`` line each, unpadded."""
    if out.plain:
        out.print(shown(r["id"]))
        for key, value in facts:
            out.print(_("{key}: {value}").format(key=key, value=value))
        return
    from rich.panel import Panel
    from rich.table import Table

    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    for key, value in facts:
        grid.add_row(key, value)
    out.console.print(Panel(grid, title=f"[bold]{shown(r['id'])}[/]", expand=False))
