"""``ctg-exchange convention``."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from .common import common_options, emit_json, options, say, stdout

if TYPE_CHECKING:
    from ..policy.convention import ConventionChange, ConventionState
    from ..services.convention import ConventionView, Outcome


def _date(value: datetime) -> date:
    return value.date()


DATE = click.DateTime(formats=["%Y-%m-%d"])


def _other_party(state: ConventionState, change: ConventionChange) -> str:
    return next((p for p in state.policy.party_ids if p != change.party), "the other party")


def _what(change: ConventionChange) -> str:
    return {
        "renewal": f"renewal until {change.effective}",
        "amendment": f"avenant: policy v{change.policy_version}",
        "termination": f"termination with effect from {change.effective}",
    }[change.kind.value]


def _state_json(state: ConventionState, today: date) -> dict[str, Any]:
    return {
        "id": state.policy.id,
        "title": state.policy.title,
        "status": state.status(today).value,
        "today": today.isoformat(),
        "start": state.start.isoformat(),
        "end": state.end.isoformat(),
        "last_day": state.last_day.isoformat(),
        "days_left": state.days_left(today),
        "policy_version": state.policy_version,
        "changes": [c.to_json() for c in state.changes],
        "pending": None if state.pending is None else state.pending.seq,
    }


def _outcome_json(outcome: Outcome, today: date) -> dict[str, Any]:
    return {
        **_state_json(outcome.state, today),
        "change": outcome.change.to_json(),
        "lapsed": list(outcome.lapsed),
    }


def _emitted(outcome: Outcome) -> bool:
    """With --json, print the outcome as one document (and say so)."""
    if options().json:
        emit_json(_outcome_json(outcome, options().session().clock.today()))
    return options().json


def _proposed(outcome: Outcome) -> None:
    """What a renewal, an avenant or a countersignature left: the change in effect (a
    countersignature; anything in a 0.1.0 workspace) or pending."""
    if _emitted(outcome):
        return
    change, state = outcome.change, outcome.state
    if change.in_effect:
        done = f"renewed until {state.end}" if change.kind.value == "renewal" else (
            f"avenant in effect: policy v{state.policy_version}"
        )  # fmt: skip
        say(f"[green]✓[/] convention {state.policy.id} {done}" + _lapsed(outcome))
        if change.agreed_seq == change.seq:
            say(
                "[yellow]This workspace was begun by ctg-exchange 0.1.0 and keeps its rules: a "
                "renewal or an avenant takes effect with one admin's signature.[/]"
            )
        return
    other = _other_party(state, change)
    say(
        f"[green]✓[/] {_what(change)} proposed as #{change.seq}: it takes effect when an admin "
        f"of {other} countersigns it (`convention countersign {change.seq} --reference …`); "
        "until then nothing changes"
    )


def _lapsed(outcome: Outcome) -> str:
    return f"; lapsed: {', '.join(outcome.lapsed)}" if outcome.lapsed else ""


def _view_json(view: ConventionView) -> dict[str, Any]:
    return {
        **_state_json(view.state, view.today),
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


def _render(view: ConventionView) -> None:
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
    renewed = f", renewed until {state.end}" if state.end != state.policy.validity.end else ""
    console.print(
        f"  validity   {state.policy.validity.start} → {state.policy.validity.end} "
        f"(Article 10){renewed}"
    )
    for change in state.changes:
        status = {"in_effect": "", "pending": " [yellow](pending)[/]"}.get(
            change.status, " [dim](withdrawn)[/]"
        )
        console.print(
            f"  #{change.seq:<8} {change.at[:10]} {change.by} ({change.party}): {_what(change)}"
            f"{status} — {shown(change.reference)}"
        )
        if change.in_effect and change.agreed_seq != change.seq:
            console.print(
                f"  {'':9} countersigned #{change.agreed_seq} — "
                f"{shown(change.agreed_reference or '')}"
            )
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


@click.group()
def convention() -> None:
    """The convention's life: validity (Art. 10), avenants (Art. 11), termination (Art. 12).

    A renewal or an avenant binds both parties: one party's admin proposes it, an admin of the
    other countersigns it, and only then does it take effect. A termination is unilateral.
    """


@convention.command()
@common_options
def show() -> None:
    """Show the convention: status, validity, days left, renewals, avenants, policy versions.

    \b
    Example:
      ctg-exchange convention show
    """
    from ..services.convention import show_convention

    view = show_convention(options().reading_session())
    if options().json:
        emit_json(_view_json(view))
    else:
        _render(view)


@convention.command()
@click.option(
    "--until", required=True, type=DATE, metavar="YYYY-MM-DD", help="The new last day of validity."
)
@click.option("--reference", required=True, help="The express decision(s) renewing it.")
@common_options
def renew(until: datetime, reference: str) -> None:
    """Propose an express renewal (Article 10: it renews only by express decision); admin.

    It takes effect when an admin of the other party countersigns it (`convention
    countersign`); until then it is pending and changes nothing. When it takes effect after
    the convention had ended, requests left open lapse first.

    \b
    Example:
      ctg-exchange --as v.admin convention renew --until 2029-12-31 \\
          --reference "Délibération du conseil municipal du 12 mars 2029"
    """
    from ..services.convention import renew as renew_convention

    _proposed(renew_convention(options().session(), _date(until), reference))


@convention.command()
@click.option(
    "--policy",
    "policy_path",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="The amended policy file.",
)
@click.option("--reference", required=True, help="The avenant (number, date, signatories).")
@common_options
def amend(policy_path: Path, reference: str) -> None:
    """Propose an avenant (Article 11): a new policy version; earlier versions are kept.

    It takes effect when an admin of the other party countersigns it (`convention
    countersign`); until then requests are screened under the version in effect. Requests
    record the version they were filed under.

    \b
    Example:
      ctg-exchange --as c.admin convention amend --policy avenant-1.yaml \\
          --reference "Avenant n° 1, décision du CA de la Caf du 15 mars 2027"
    """
    from ..policy import load_policy
    from ..services.avenant import amend_from_text

    loaded = load_policy(policy_path)  # its errors as file:line, before anything is signed
    _proposed(amend_from_text(options().session(), loaded.text, loaded.source, reference))


@convention.command()
@click.argument("seq", type=click.IntRange(min=1), metavar="SEQ")
@click.option(
    "--reference", required=True, help="This party's decision (deliberation, board decision)."
)
@common_options
def countersign(seq: int, reference: str) -> None:
    """Countersign, for the other party, the renewal or avenant #SEQ: it takes effect; admin.

    SEQ is the proposal's number, shown by `convention show`.

    \b
    Example:
      ctg-exchange --as c.admin convention countersign 14 \\
          --reference "Décision du conseil d'administration de la Caf du 20 mars 2029"
    """
    from ..services.convention import countersign as countersign_change

    _proposed(countersign_change(options().session(), seq, reference))


@convention.command()
@click.argument("seq", type=click.IntRange(min=1), metavar="SEQ")
@click.option("--reason", required=True, help="Why it is withdrawn or declined.")
@common_options
def withdraw(seq: int, reason: str) -> None:
    """Withdraw the pending renewal or avenant #SEQ (its party), or decline it (the other
    party): it never takes effect; admin.

    \b
    Example:
      ctg-exchange --as v.admin convention withdraw 14 --reason "Erreur de date"
    """
    from ..services.convention import withdraw as withdraw_change

    outcome = withdraw_change(options().session(), seq, reason)
    if _emitted(outcome):
        return
    change = outcome.change
    verb = "declined" if outcome.declined else "withdrawn"
    say(f"[green]✓[/] #{change.seq} ({_what(change)}) {verb}: it never takes effect")


@convention.command()
@click.option(
    "--on",
    "effective",
    required=True,
    type=DATE,
    metavar="YYYY-MM-DD",
    help="The day from which the convention is no longer in force.",
)
@click.option("--reason", required=True, help="Why (Article 12: breach, notice, agreement).")
@common_options
def terminate(effective: datetime, reason: str) -> None:
    """Record the termination of the convention (Article 12); admin only.

    From that day filing, approving and accepting conditions are refused, and every request not
    yet exchanged lapses (at once if the day has come, else with `convention lapse`).

    \b
    Example:
      ctg-exchange --as c.admin convention terminate --on 2027-06-30 \\
          --reason "Dénonciation avec préavis de six mois"
    """
    from ..services.convention import terminate as terminate_convention

    state, lapsed = terminate_convention(options().session(), _date(effective), reason)
    if options().json:
        emit_json({**_state_json(state, options().session().clock.today()), "lapsed": lapsed})
        return
    say(
        f"[green]✓[/] convention terminated with effect from {_date(effective)}"
        + (f"; lapsed: {', '.join(lapsed)}" if lapsed else "")
    )


@convention.command()
@common_options
def lapse() -> None:
    """Record that open requests lapsed because the convention is no longer in force; admin.

    \b
    Example:
      ctg-exchange --as v.admin convention lapse
    """
    from ..services.convention import lapse as lapse_requests

    lapsed = lapse_requests(options().session())
    if options().json:
        emit_json({"lapsed": lapsed})
    else:
        say(f"[green]✓[/] lapsed: {', '.join(lapsed)}")
