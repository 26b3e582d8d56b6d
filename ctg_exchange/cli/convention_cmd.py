"""``ctg-exchange convention``."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import click

from ..i18n import _, date_text
from .choices import Coded
from .common import common_options, emit_json, options, say
from .convention_views import emitted, proposed, render, state_json, view_json, what
from .texts import text_option


def _date(value: datetime) -> date:
    return value.date()


DATE = click.DateTime(formats=["%Y-%m-%d"])


@click.group()
def convention() -> None:
    """The convention's life: validity (Art. 10), avenants (Art. 11), termination (Art. 12).

    A renewal, an avenant or a successor convention binds both parties: one party's admin
    proposes it, an admin of the other countersigns it, and only then does it take effect. A
    renewal is decided before the end; after it, the parties adopt a successor convention. A
    termination is unilateral, in one of Article 12's cases.
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
        emit_json(view_json(view))
    else:
        render(view)


@convention.command()
@click.option(
    "--until", required=True, type=DATE, metavar="YYYY-MM-DD", help="The new last day of validity."
)
@click.option("--reference", required=True, help="The express decision(s) renewing it.")
@common_options
def renew(until: datetime, reference: str) -> None:
    """Propose an express renewal (Article 10: it renews only by express decision); admin.

    It is decided before the convention's end: after it, the parties adopt a new convention
    (`convention successor`). It takes effect when an admin of the other party countersigns it
    (`convention countersign`); until then it is pending and changes nothing.

    \b
    Example:
      ctg-exchange --as v.admin convention renew --until 2029-12-31 \\
          --reference "Délibération du conseil municipal du 12 mars 2029"
    """
    from ..services.convention import renew as renew_convention

    proposed(renew_convention(options().session(), _date(until), reference))


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
    proposed(amend_from_text(options().session(), loaded.text, loaded.source, reference))


@convention.command()
@click.argument("seq", type=click.IntRange(min=1), metavar="SEQ")
@click.option(
    "--reference", required=True, help="This party's decision (deliberation, board decision)."
)
@common_options
def countersign(seq: int, reference: str) -> None:
    """Countersign, for the other party, the renewal, avenant or successor #SEQ: it takes
    effect; admin.

    SEQ is the proposal's number, shown by `convention show`.

    \b
    Example:
      ctg-exchange --as c.admin convention countersign 14 \\
          --reference "Décision du conseil d'administration de la Caf du 20 mars 2029"
    """
    from ..services.convention import countersign as countersign_change

    proposed(countersign_change(options().session(), seq, reference))


@convention.command()
@click.argument("seq", type=click.IntRange(min=1), metavar="SEQ")
@text_option("--reason", required=True, help="Why it is withdrawn or declined.")
@common_options
def withdraw(seq: int, reason: str) -> None:
    """Withdraw the pending renewal, avenant or successor #SEQ (its party), or decline it
    (the other party): it never takes effect; admin.

    \b
    Example:
      ctg-exchange --as v.admin convention withdraw 14 --reason "Erreur de date"
    """
    from ..services.convention import withdraw as withdraw_change

    outcome = withdraw_change(options().session(), seq, reason)
    if emitted(outcome):
        return
    change = outcome.change
    done = (
        _("#{seq} ({what}) declined: it never takes effect")
        if outcome.declined
        else _("#{seq} ({what}) withdrawn: it never takes effect")
    )
    say("[green]✓[/] " + done.format(seq=change.seq, what=what(change)))


@convention.command()
@click.option(
    "--start", required=True, type=DATE, metavar="YYYY-MM-DD", help="Its first day in force."
)
@click.option("--end", required=True, type=DATE, metavar="YYYY-MM-DD", help="Its last day.")
@click.option("--reference", required=True, help="The new convention (title, date signed).")
@click.option(
    "--deliberation", required=True, help="This party's deliberation adopting it (number, date)."
)
@common_options
def successor(start: datetime, end: datetime, reference: str, deliberation: str) -> None:
    """Propose the convention that follows one that has ended (expired or terminated); admin.

    After its end a convention is not renewed: the parties adopt a new one, each by its own
    deliberation. It takes effect when an admin of the other party countersigns it with that
    party's deliberation (`convention countersign SEQ --reference …`); requests left open
    lapse first, and new ones may then be filed for the new period: what the old convention
    approved is not sent under the new one. It starts no earlier than the day it is proposed.

    \b
    Example:
      ctg-exchange --as v.admin convention successor --start 2026-01-01 --end 2030-12-31 \\
          --reference "CTG Sceaux – Caf 92, 2026-2030" \\
          --deliberation "Délibération du conseil municipal n° 2026-14 du 12 mars 2026"
    """
    from ..services.successor import propose_successor

    session = options().session()
    proposed(propose_successor(session, _date(start), _date(end), reference, deliberation))


@convention.command()
@click.option(
    "--case",
    "case",
    required=True,
    type=Coded(
        "termination", ["breach", "breach_of_law", "modification_without_avenant", "denunciation"]
    ),
    help="Article 12's case: breach of the convention (either party, a month after the formal "
    "notice), breach_of_law (the Caf, a month after the formal notice), "
    "modification_without_avenant (the Caf, without notice), denunciation (either party, six "
    "months' notice).",
)
@click.option(
    "--notice-date",
    "notice",
    type=DATE,
    metavar="YYYY-MM-DD",
    help="The day the formal notice (mise en demeure) or the dénonciation was sent.",
)
@click.option(
    "--on",
    "effective",
    required=True,
    type=DATE,
    metavar="YYYY-MM-DD",
    help="The day from which the convention is no longer in force: today at the earliest, "
    "the convention's last day at the latest.",
)
@text_option("--reason", required=True, help="Why (the breach, the letter's reference).")
@common_options
def terminate(case: str, notice: datetime | None, effective: datetime, reason: str) -> None:
    """Record the termination of the convention (Article 12); admin only.

    Its date must respect the case: a month after the formal notice for a breach, six months
    after the dénonciation (a period ending on a Saturday, a Sunday or a public holiday runs to
    the next working day, Code de procédure civile art. 642); only the Caf terminates for a
    breach of law, or at once for a modification made without an avenant. It is not
    retroactive, and takes effect by the convention's end; a termination with an earlier effect
    takes the place of one still running its notice. From that day filing, approving and
    accepting conditions are refused, and every request not yet exchanged lapses (at once if
    the day has come, else with `convention lapse`).

    \b
    Example:
      ctg-exchange --as c.admin convention terminate --case denunciation \\
          --notice-date 2027-01-15 --on 2027-07-16 --reason "Dénonciation, LRAR du 15/01/2027"
    """
    from ..policy.termination import TerminationCase
    from ..services.termination import terminate as terminate_convention

    state, lapsed = terminate_convention(
        options().session(),
        _date(effective),
        reason,
        TerminationCase(case),
        None if notice is None else _date(notice),
    )
    if options().json:
        emit_json({**state_json(state, options().session().clock.today()), "lapsed": lapsed})
        return
    say(
        "[green]✓[/] "
        + _("convention terminated with effect from {date}").format(
            date=date_text(_date(effective))
        )
        + (_("; lapsed: {ids}").format(ids=", ".join(lapsed)) if lapsed else "")
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
        say("[green]✓[/] " + _("lapsed: {ids}").format(ids=", ".join(lapsed)))
