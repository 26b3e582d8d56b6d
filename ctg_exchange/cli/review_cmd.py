"""``ctg-exchange review``."""

from __future__ import annotations

import click

from ..domain.models import ReviewOutcome
from ..i18n import _, short_date
from ..labels import label
from . import complete
from .choices import Coded
from .common import common_options, emit_json, options, say, table
from .texts import text_option
from .views import finish, request_json, status_text


@click.group()
def review() -> None:
    """The holding party reviews each active exchange yearly, and may close it."""


@review.command()
@click.argument("request_id", metavar="REQUEST", shell_complete=complete.requests)
@click.option(
    "--outcome",
    required=True,
    type=Coded("review", [o.value for o in ReviewOutcome]),
    help="continue the exchange, or close it (nothing is sent after).",
)
@text_option("--note", required=True, help="What the review found.")
@common_options
def record(request_id: str, outcome: str, note: str) -> None:
    """Record the yearly review of an exchange (the holding party's controller).

    An exchange whose conditions are accepted (sent or not, suspended or not) is reviewed at
    least once a year: still needed, conditions kept? `close` ends it: nothing is sent after,
    and the recipient still deletes what it received when its retention ends.

    \b
    Example:
      ctg-exchange --as c.controller review record DX-2026-0001 --outcome continue \\
          --note "Flux toujours nécessaire ; conditions respectées"
    """
    from ..services.conditions import record_review

    updated = record_review(options().session(), request_id, ReviewOutcome(outcome), note)
    finish(
        updated,
        _("review of {id} recorded: {status}").format(
            id=updated.id, status=label("status", updated.status.value)
        ),
    )


@review.command()
@common_options
def due() -> None:
    """List the active exchanges whose yearly review is due, the longest overdue first.

    Due 365 days after the last review, or after the acceptance of the conditions.

    \b
    Example:
      ctg-exchange review due
    """
    from ..services.conditions import reviews_due

    opts = options()
    items = reviews_due(opts.reading_workspace())
    if opts.json:
        emit_json(
            [
                {**request_json(d.request), "since": d.since.isoformat(), "due": d.due.isoformat()}
                for d in items
            ]
        )
        return
    out = table(_("Yearly reviews due"), _("id"), _("due"), _("since"), _("holder"), _("status"))
    for d in items:
        r = d.request
        out.add_row(
            r.id, short_date(d.due), short_date(d.since), r.to_party, status_text(r.status.value)
        )
    out.print()
    if not items:
        say(_("No review is due."))
