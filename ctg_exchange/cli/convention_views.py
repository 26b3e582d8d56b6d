"""What ``ctg-exchange convention`` prints: the convention as it stands, a proposal's outcome."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

from ..i18n import _, date_text, ngettext, short_date
from ..labels import label
from .common import emit_json, options, say, stdout

if TYPE_CHECKING:
    from ..policy.convention import ConventionChange, ConventionState
    from ..services.convention import ConventionView, Outcome


def _other_party(state: ConventionState, change: ConventionChange) -> str:
    return next((p for p in state.policy.party_ids if p != change.party), _("the other party"))


def what(change: ConventionChange) -> str:
    kind = change.kind.value
    if kind == "renewal":
        return _("renewal until {date}").format(date=date_text(change.effective))
    if kind == "amendment":
        return _("avenant: policy v{version}").format(version=change.policy_version)
    if kind == "successor":
        return _("successor convention from {start} to {end}").format(
            start=date_text(change.effective), end=date_text(change.until)
        )
    text = _("termination with effect from {date}").format(date=date_text(change.effective))
    if not change.case:
        return text
    case = label("termination", change.case)
    if change.notice:
        return text + _(" ({case}, notice of {notice})").format(
            case=case, notice=date_text(change.notice)
        )
    return text + f" ({case})"


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
        if change.kind.value == "renewal":
            done = _("convention {id} renewed until {date}").format(
                id=state.policy.id, date=date_text(state.end)
            )
        elif change.kind.value == "successor":
            done = _("convention {id} in force again, from {start} to {end}").format(
                id=state.policy.id, start=date_text(state.start), end=date_text(state.end)
            )
        else:
            done = _("convention {id}: avenant in effect, policy v{version}").format(
                id=state.policy.id, version=state.policy_version
            )
        say(f"[green]✓[/] {done}" + _lapsed(outcome))
        if change.agreed_seq == change.seq:
            say(
                "[yellow]"
                + _(
                    "This workspace was begun by ctg-exchange 0.1.0 and keeps its rules: a "
                    "renewal or an avenant takes effect with one admin's signature."
                )
                + "[/]"
            )
        return
    other = _other_party(state, change)
    say(
        "[green]✓[/] "
        + _(
            "{what} proposed as #{seq}: it takes effect when an admin of {other} countersigns "
            "it (`convention countersign {seq} --reference …`); until then nothing changes"
        ).format(what=what(change), seq=change.seq, other=other)
    )


def _lapsed(outcome: Outcome) -> str:
    if not outcome.lapsed:
        return ""
    return _("; lapsed: {ids}").format(ids=", ".join(outcome.lapsed))


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

    def line(heading: str, text: str) -> None:
        console.print(f"  {heading:<10} {text}")

    console.print(f"[bold]{state.policy.id}[/] — {shown(state.policy.title)}")
    why = state.why_not_in_force(today)
    if why is None:
        days = state.days_left(today) or 0
        status = ngettext(
            "[green]in force[/] on {today}, {n} day left",
            "[green]in force[/] on {today}, {n} days left",
            days,
        ).format(today=date_text(today), n=days)
    else:
        status = _("[red]not in force[/] on {today}: {why}").format(
            today=date_text(today), why=shown(why)
        )
    line(_("status"), status)
    renewed = (
        _(", renewed until {date}").format(date=date_text(state.end))
        if state.end != state.first_end
        else ""
    )
    line(
        _("validity"),
        _("{start} → {end} (Article 10)").format(
            start=date_text(state.policy.validity.start), end=date_text(state.policy.validity.end)
        )
        + ("" if state.successor else renewed),
    )
    if state.successor is not None:
        line(
            _("now"),
            _("{start} → {end}, successor convention #{seq}").format(
                start=date_text(state.start),
                end=date_text(state.first_end),
                seq=state.successor.seq,
            )
            + renewed,
        )
    marks = {
        "pending": " [yellow]" + _("(pending)") + "[/]",
        "withdrawn": " [dim]" + _("(withdrawn)") + "[/]",
    }
    for change in state.changes:
        status = (
            "" if change.status == "in_effect" else marks.get(change.status, marks["withdrawn"])
        )
        console.print(
            f"  #{change.seq:<8} {short_date(change.at[:10])} "
            + _("{member} ({party}): {change}").format(
                member=change.by, party=change.party, change=what(change)
            )
            + f"{status} — {shown(change.reference)}"
        )
        if change.in_effect and change.agreed_seq != change.seq:
            console.print(
                f"  {'':9} "
                + _("countersigned #{seq} — {reference}").format(
                    seq=change.agreed_seq, reference=shown(change.agreed_reference or "")
                )
            )
        if change.deliberation is not None:
            console.print(
                f"  {'':9} " + _("deliberation — {text}").format(text=shown(change.deliberation))
            )
        elif change.withdrawn_seq is not None:
            console.print(
                f"  {'':9} "
                + _("withdrawn #{seq} — {reason}").format(
                    seq=change.withdrawn_seq, reason=shown(change.withdrawn_reason or "")
                )
            )
    if state.pending is not None:
        line(
            _("pending"),
            _(
                "{change} awaits the countersignature of {other}: it changes nothing until then"
            ).format(
                change=shown(state.pending.describe()), other=_other_party(state, state.pending)
            ),
        )
    for record in view.policies:
        status = _version_status(state, record.version)
        console.print(
            "  "
            + _("policy v{version}  sha256 {sha}…  {source}, loaded {date}").format(
                version=record.version,
                sha=record.sha256[:16],
                source=shown(record.source),
                date=short_date(record.loaded_at[:10]),
            )
            + marks.get(status, "")
        )
    if view.open_requests:
        count = len(view.open_requests)
        line(
            _("open"),
            ngettext(
                "{n} request not yet exchanged: {ids}",
                "{n} requests not yet exchanged: {ids}",
                count,
            ).format(n=count, ids=", ".join(view.open_requests)),
        )
        if why is not None:
            say(_("They lapse: an admin records it with `convention lapse`."))
