"""``ctg-exchange dpo``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import click

from ..domain.states import Verdict
from ..i18n import _, ngettext, short_date
from ..labels import label
from . import complete
from .choices import Coded
from .common import common_options, emit_json, options
from .listing import show_rows, tell
from .texts import text_option
from .views import finish


@click.group()
def dpo() -> None:
    """The holding party's DPO gives the prior opinion (Article 7); the requester's advises."""


@dpo.command()
@common_options
def inbox() -> None:
    """Requests awaiting your opinion, by due date; overdue ones are marked.

    \b
    Example:
      ctg-exchange --as c.dpo dpo inbox
    """
    from ..services.reading import dpo_inbox
    from ..services.stored import request_document

    opts = options()
    reader = opts.reader()
    items = dpo_inbox(reader, opts.actor, reader.clock().today())
    if opts.json:
        emit_json(
            [
                {**request_document(i.request), "due": i.due.isoformat(), "overdue": i.overdue}
                for i in items
            ]
        )
        return
    # due: the day it was submitted + the policy's opinion deadline
    show_rows(
        _("Awaiting your opinion"),
        (_("id"), _("due"), _("from"), _("DPIA"), _("findings")),
        [
            (
                i.request["id"],
                short_date(i.due),
                i.overdue,
                i.request["from_party"],
                _("yes") if i.request["dpia_required"] else "",
                ", ".join(f["code"] for f in i.request["findings"]),
            )
            for i in items
        ],
        plain=lambda row: (row[0], _due(row[1], row[2]), *row[3:]),
        rich=_rich_inbox_row,
        wrap=_("findings"),
    )
    if not items:
        tell(_("Nothing awaits your opinion."))


def _due(day: str, overdue: bool) -> str:
    return _("{date} overdue").format(date=day) if overdue else day


def _rich_inbox_row(row: Sequence[Any]) -> tuple[str, ...]:
    from .console import shown

    due = _("[red]{date} overdue[/]").format(date=row[1]) if row[2] else row[1]
    return (shown(row[0]), due, shown(row[3]), row[4], shown(row[5]))


@dpo.command()
@click.argument("request_id", metavar="ID", shell_complete=complete.requests)
@click.option("--verdict", required=True, type=Coded("verdict", [v.value for v in Verdict]))
@text_option("--note", required=True, help="The opinion's reasoning.")
@text_option(
    "--recommend",
    multiple=True,
    help="A recommendation (numbered R1, R2… in order); repeat for several. Checkable: "
    "limit_columns:COL,COL, max_retention_days:N, pseudonymise:COL,COL, "
    "aggregate_min_count:N; free text starting with a word and a colon: free:TEXT.",
)
@common_options
def opinion(request_id: str, verdict: str, note: str, recommend: tuple[str, ...]) -> None:
    """Give the prior opinion on a request addressed to your party (its DPO only).

    \b
    Example:
      ctg-exchange --as c.dpo dpo opinion DX-2025-0001 \\
          --verdict favourable_with_recommendations --note "Finalité légitime" \\
          --recommend "max_retention_days:180" \\
          --recommend "Informer les familles de l'origine des données (CRPA L114-8)"
    """
    from ..services.review import give_opinion

    updated = give_opinion(options().session(), request_id, Verdict(verdict), note, recommend)
    count = len(updated.opinion.recommendations) if updated.opinion else 0
    finish(
        updated,
        _("opinion on {id}: {verdict}").format(id=updated.id, verdict=label("verdict", verdict))
        + (
            ngettext(" with {count} recommendation", " with {count} recommendations", count).format(
                count=count
            )
            if count
            else ""
        ),
    )


@dpo.command()
@click.argument("request_id", metavar="ID", shell_complete=complete.requests)
@text_option("--note", required=True, help="The annotation.")
@common_options
def annotate(request_id: str, note: str) -> None:
    """Annotate a request at any stage (a DPO of either party involved); signed and audited.

    \b
    Example:
      ctg-exchange --as v.dpo dpo annotate DX-2025-0001 --note "Registre mis à jour"
    """
    from ..services.review import annotate as annotate_request

    updated = annotate_request(options().session(), request_id, note)
    finish(updated, _("annotation recorded on {id}").format(id=updated.id))


@dpo.command()
@click.argument("request_id", metavar="ID", shell_complete=complete.requests)
@text_option("--note", required=True, help="The advice (DPIA, information of the families…).")
@common_options
def advise(request_id: str, note: str) -> None:
    """Advise your own party on its request (the requesting party's DPO); never blocking.

    The requesting party runs the DPIA and informs the persons concerned (GDPR art. 14, 35):
    its DPO's advice is recorded with the request, signed and audited, from filing until the
    request is closed, withdrawn, rejected or lapsed. No step waits for it.

    \b
    Example:
      ctg-exchange --as v.dpo dpo advise DX-2025-0001 --note "AIPD à mettre à jour"
    """
    from ..services.review import advise as advise_on

    updated = advise_on(options().session(), request_id, note)
    finish(updated, _("advice recorded on {id}").format(id=updated.id))
