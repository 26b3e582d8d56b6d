"""``ctg-exchange retention``."""

from __future__ import annotations

import click

from ..i18n import _, pgettext, short_date
from . import complete
from .common import common_options, emit_json, options, say, table
from .texts import text_option


@click.group()
def retention() -> None:
    """Received files, from their deadline to their attested deletion."""


@retention.command(name="list")
@common_options
def list_() -> None:
    """List received files by deadline, overdue first.

    \b
    Example:
      ctg-exchange retention list
    """
    from ..services.retention import retention_list
    from .console import shown

    opts = options()
    items = retention_list(opts.reading_session())
    if opts.json:
        emit_json(
            [
                {
                    "delivery": i.reception.id,
                    "status": i.status,
                    **i.reception.model_dump(mode="json"),
                    "destruction": i.destruction.model_dump(mode="json") if i.destruction else None,
                }
                for i in items
            ]
        )
        return
    out = table(
        _("Received files"),
        _("delivery"),
        _("delete by"),
        _("status"),
        _("path"),
        wrap=_("path"),
    )
    styles = {
        "overdue": "[red]" + pgettext("retention", "overdue") + "[/]",
        "deleted": "[dim]" + pgettext("retention", "deleted") + "[/]",
        "kept": pgettext("retention", "kept"),
    }
    for i in items:
        out.add_row(
            i.reception.id,
            short_date(i.reception.retention_deadline),
            styles[i.status],
            shown(i.reception.path),
        )
    out.print()
    if not items:
        say(_("Nothing received yet."))


@retention.command()
@click.option("--dry-run", is_flag=True, help="Show what would be deleted; delete nothing.")
@click.option(
    "--archives-approval",
    metavar="REF",
    help="The reference of the archives service's approval (visa d'élimination), needed for "
    "data kept in intermediate archiving: they are public archives (Code du patrimoine L212-3).",
)
@common_options
def purge(dry_run: bool, archives_approval: str | None) -> None:
    """Delete your party's received files past their deadline, each with a signed attestation.

    Files not found at their recorded path (moved, or on another machine) are listed: once
    deleted by hand, record it with `retention attest`.

    \b
    Example:
      ctg-exchange --as v.agent retention purge --dry-run
      ctg-exchange --as v.agent retention purge
      ctg-exchange --as v.agent retention purge --archives-approval "Visa AD92 n° 2031-117"
    """
    from ..services.retention import purge as purge_files

    opts = options()
    result = purge_files(opts.session(), dry_run, archives_approval)
    if opts.json:
        emit_json(
            {
                "dry_run": dry_run,
                "due": [r.id for r in result.due],
                "deleted": [d.model_dump(mode="json") for d in result.destroyed],
                "missing": [{"delivery": r.id, "path": r.path} for r in result.missing],
            }
        )
        return
    for reception in result.due:
        done = _("would delete {id}: {path}") if dry_run else _("deleted {id}: {path}")
        say(done.format(id=reception.id, path=reception.path))
    for reception in result.missing:
        say(
            _(
                "[yellow]not found[/] {id}: {path} — once deleted, `retention attest {id} --note …`"
            ).format(id=reception.id, path=reception.path)
        )
    if not result.due and not result.missing:
        say(_("Nothing is past its deadline."))


@retention.command()
@click.argument("delivery_id", metavar="DELIVERY", shell_complete=complete.deliveries)
@text_option("--note", required=True, help="How and where the copy was deleted.")
@click.option(
    "--archives-approval",
    metavar="REF",
    help="The reference of the archives service's approval (visa d'élimination), needed for "
    "data kept in intermediate archiving: they are public archives (Code du patrimoine L212-3).",
)
@common_options
def attest(delivery_id: str, note: str, archives_approval: str | None) -> None:
    """Attest that a received copy was deleted by hand (signed and audited).

    \b
    Example:
      ctg-exchange --as v.agent retention attest DX-2026-0001-1 \\
          --note "Copie supprimée du poste de facturation"
    """
    from ..services.retention import attest as attest_deletion

    opts = options()
    destruction = attest_deletion(opts.session(), delivery_id, note, archives_approval)
    if opts.json:
        emit_json(destruction.model_dump(mode="json"))
        return
    say("[green]✓[/] " + _("deletion of {id} attested").format(id=delivery_id))
