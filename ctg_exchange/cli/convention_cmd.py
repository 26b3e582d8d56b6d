"""``ctg-exchange convention``."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from .common import common_options, emit_json, options, say, stdout

if TYPE_CHECKING:
    from ..policy.convention import ConventionChange, ConventionState
    from ..services.convention import ConventionView


def _date(value: datetime) -> date:
    return value.date()


DATE = click.DateTime(formats=["%Y-%m-%d"])


def _change_json(change: ConventionChange) -> dict[str, Any]:
    return {
        "seq": change.seq,
        "kind": change.kind.value,
        "effective": change.effective.isoformat(),
        "reference": change.reference,
        "by": change.by,
        "at": change.at,
        "policy_version": change.policy_version,
        "reason": change.reason,
    }


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
        "changes": [_change_json(c) for c in state.changes],
    }


def _view_json(view: ConventionView) -> dict[str, Any]:
    return {
        **_state_json(view.state, view.today),
        "policy_versions": [
            {"version": p.version, "sha256": p.sha256, "source": p.source, "loaded_at": p.loaded_at}
            for p in view.policies
        ],
        "open_requests": list(view.open_requests),
    }


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
        what = {
            "renewal": f"renewed until {change.effective}",
            "amendment": f"avenant: policy v{change.policy_version}",
            "termination": f"terminated with effect from {change.effective}",
        }[change.kind.value]
        console.print(
            f"  #{change.seq:<8} {change.at[:10]} {change.by}: {what} — {shown(change.reference)}"
        )
    for record in view.policies:
        console.print(
            f"  policy v{record.version}  sha256 {record.sha256[:16]}…  {shown(record.source)}, "
            f"loaded {record.loaded_at[:10]}"
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
    """The convention's life: validity (Art. 10), avenants (Art. 11), termination (Art. 12)."""


@convention.command()
@common_options
def show() -> None:
    """Show the convention: status, validity, days left, renewals, avenants, policy versions.

    \b
    Example:
      ctg-exchange convention show
    """
    from ..services.convention import show_convention

    view = show_convention(options().session())
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
    """Record an express renewal (Article 10: it renews only by express decision); admin only.

    If the convention had already ended, requests left open lapse first.

    \b
    Example:
      ctg-exchange --as v.admin convention renew --until 2029-12-31 \\
          --reference "Délibération du conseil municipal et décision du CA de la Caf"
    """
    from ..services.convention import renew as renew_convention

    state = renew_convention(options().session(), _date(until), reference)
    if options().json:
        emit_json(_state_json(state, options().session().clock.today()))
    else:
        say(f"[green]✓[/] convention {state.policy.id} renewed until {state.end}")


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
    """Record an avenant (Article 11): a new policy version; earlier versions are kept.

    Requests record the version they were filed under.

    \b
    Example:
      ctg-exchange --as c.admin convention amend --policy avenant-1.yaml \\
          --reference "Avenant n° 1 du 15 mars 2027"
    """
    from ..policy import load_policy
    from ..services.convention import amend as amend_convention

    state = amend_convention(options().session(), load_policy(policy_path), reference)
    if options().json:
        emit_json(_state_json(state, options().session().clock.today()))
    else:
        say(f"[green]✓[/] avenant recorded: policy v{state.policy_version}")


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
