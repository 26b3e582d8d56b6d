"""What ``ctg-exchange convention`` prints: the convention as it stands, a proposal's outcome."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

from .common import emit_json, options, say, stdout

if TYPE_CHECKING:
    from ..policy.convention import ConventionChange, ConventionState
    from ..services.convention import ConventionView, Outcome


def _other_party(state: ConventionState, change: ConventionChange) -> str:
    return next((p for p in state.policy.party_ids if p != change.party), "the other party")


def what(change: ConventionChange) -> str:
    return {
        "renewal": f"renewal until {change.effective}",
        "amendment": f"avenant: policy v{change.policy_version}",
        "termination": f"termination with effect from {change.effective}"
        + (f" ({change.case}" if change.case else "")
        + (f", notice of {change.notice}" if change.notice else "")
        + (")" if change.case else ""),
        "successor": f"successor convention from {change.effective} to {change.until}",
    }[change.kind.value]


def state_json(state: ConventionState, today: date) -> dict[str, Any]:
    return {
        "id": state.policy.id,
        "title": state.policy.title,
        "status": state.status(today).value,
        "today": today.isoformat(),
        "start": state.start.isoformat(),
        "end": state.end.isoformat(),
        "successor": None if state.successor is None else state.successor.seq,
        "last_day": state.last_day.isoformat(),
        "days_left": state.days_left(today),
        "policy_version": state.policy_version,
        "changes": [c.to_json() for c in state.changes],
        "pending": None if state.pending is None else state.pending.seq,
    }


def outcome_json(outcome: Outcome, today: date) -> dict[str, Any]:
    return {
        **state_json(outcome.state, today),
        "change": outcome.change.to_json(),
        "lapsed": list(outcome.lapsed),
    }


def emitted(outcome: Outcome) -> bool:
    """With --json, print the outcome as one document (and say so)."""
    if options().json:
        emit_json(outcome_json(outcome, options().session().clock.today()))
    return options().json


def proposed(outcome: Outcome) -> None:
    """What a renewal, an avenant or a countersignature left: the change in effect (a
    countersignature; anything in a 0.1.0 workspace) or pending."""
    if emitted(outcome):
        return
    change, state = outcome.change, outcome.state
    if change.in_effect:
        done = {
            "renewal": f"renewed until {state.end}",
            "successor": f"in force again, from {state.start} to {state.end}",
        }.get(change.kind.value, f"avenant in effect: policy v{state.policy_version}")
        say(f"[green]✓[/] convention {state.policy.id} {done}" + _lapsed(outcome))
        if change.agreed_seq == change.seq:
            say(
                "[yellow]This workspace was begun by ctg-exchange 0.1.0 and keeps its rules: a "
                "renewal or an avenant takes effect with one admin's signature.[/]"
            )
        return
    other = _other_party(state, change)
    say(
        f"[green]✓[/] {what(change)} proposed as #{change.seq}: it takes effect when an admin "
        f"of {other} countersigns it (`convention countersign {change.seq} --reference …`); "
        "until then nothing changes"
    )


def _lapsed(outcome: Outcome) -> str:
    return f"; lapsed: {', '.join(outcome.lapsed)}" if outcome.lapsed else ""


def view_json(view: ConventionView) -> dict[str, Any]:
    return {
        **state_json(view.state, view.today),
        "policy_versions": [
            {
                "version": p.version,
                "sha256": p.sha256,
                "source": p.source,
                "loaded_at": p.loaded_at,
                "status": _version_status(view.state, p.version),
            }
            for p in view.policies
        ],
        "open_requests": list(view.open_requests),
    }


def _version_status(state: ConventionState, version: int) -> str:
    """``adopted`` (the first, or an avenant countersigned), ``pending`` or ``withdrawn``."""
    avenant = next(
        (c for c in state.changes if c.kind.value == "amendment" and c.policy_version == version),
        None,
    )
    return "adopted" if avenant is None or avenant.in_effect else avenant.status


def render(view: ConventionView) -> None:
    from .console import shown

    state, today = view.state, view.today
    console = stdout()
    console.print(f"[bold]{state.policy.id}[/] — {shown(state.policy.title)}")
    why = state.why_not_in_force(today)
    if why is None:
        status = f"[green]in force[/] on {today}, {state.days_left(today)} days left"
    else:
        status = f"[red]not in force[/] on {today}: {shown(why)}"
    console.print(f"  status     {status}")
    renewed = f", renewed until {state.end}" if state.end != state.first_end else ""
    console.print(
        f"  validity   {state.policy.validity.start} → {state.policy.validity.end} (Article 10)"
        + ("" if state.successor else renewed)
    )
    if state.successor is not None:
        console.print(
            f"  now        {state.start} → {state.first_end}, successor convention "
            f"#{state.successor.seq}{renewed}"
        )
    for change in state.changes:
        status = {"in_effect": "", "pending": " [yellow](pending)[/]"}.get(
            change.status, " [dim](withdrawn)[/]"
        )
        console.print(
            f"  #{change.seq:<8} {change.at[:10]} {change.by} ({change.party}): {what(change)}"
            f"{status} — {shown(change.reference)}"
        )
        if change.in_effect and change.agreed_seq != change.seq:
            console.print(
                f"  {'':9} countersigned #{change.agreed_seq} — "
                f"{shown(change.agreed_reference or '')}"
            )
        if change.deliberation is not None:
            console.print(f"  {'':9} deliberation — {shown(change.deliberation)}")
        elif change.withdrawn_seq is not None:
            console.print(
                f"  {'':9} withdrawn #{change.withdrawn_seq} — "
                f"{shown(change.withdrawn_reason or '')}"
            )
    if state.pending is not None:
        console.print(
            f"  pending    {shown(state.pending.describe())} awaits the countersignature of "
            f"{_other_party(state, state.pending)}: it changes nothing until then"
        )
    for record in view.policies:
        status = _version_status(state, record.version)
        marks = {
            "adopted": "",
            "pending": " [yellow](pending)[/]",
            "withdrawn": " [dim](withdrawn)[/]",
        }
        console.print(
            f"  policy v{record.version}  sha256 {record.sha256[:16]}…  {shown(record.source)}, "
            f"loaded {record.loaded_at[:10]}{marks[status]}"
        )
    if view.open_requests:
        console.print(
            f"  open       {len(view.open_requests)} request(s) not yet exchanged: "
            f"{', '.join(view.open_requests)}"
        )
        if why is not None:
            say("They lapse: an admin records it with `convention lapse`.")
