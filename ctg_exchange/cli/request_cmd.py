"""``ctg-exchange request``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ..domain.states import Status
from ..i18n import _, ngettext, short_date
from ..labels import label
from . import complete
from .choices import Coded
from .common import common_options, emit_json, options, say, stdout
from .listing import DATE, emit_json_items, page_size, paging_options, show_rows, tell
from .request_options import (
    content_from,
    content_options,
    given_fields,
    read_request_file,
    refusal,
)
from .texts import text_option

if TYPE_CHECKING:
    pass


@click.group()
def request() -> None:
    """Check, file, amend, withdraw, list and show exchange requests."""


@request.command()
@common_options
def template() -> None:
    """Print a request file to fill in: every field, with the values the policy allows.

    \b
    Example:
      ctg-exchange request template > request.yaml
      ctg-exchange request check --from-file request.yaml
    """
    from .policy_cmd import policy_in_use
    from .request_template import template as request_template

    click.echo(request_template(*policy_in_use()), nl=False)


@request.command()
@content_options
@common_options
def check(from_file: Path | None, **values: Any) -> None:
    """Pre-screen a request without filing it: print the findings; exit 1 if any blocks.

    Nothing is written and no key is needed. The same screening runs at filing and at every
    amendment: a blocking finding refuses them, a warning goes to the controller and the DPO.

    \b
    Example:
      ctg-exchange request check --from-file request.yaml
    """
    from ..services.requests import check_request
    from .views import render_findings

    opts = options()
    screening = check_request(opts.session(), content_from(from_file, values))
    blocking = [f.code for f in screening.blocking]
    if opts.json:
        emit_json(
            {
                "findings": [f.model_dump(mode="json") for f in screening.findings],
                "blocking": bool(blocking),
                "triage": screening.triage.value,
                "dpia_required": screening.dpia_required,
            }
        )
    else:
        console = stdout()
        console.print(
            "[bold]"
            + _("triage")
            + "[/] "
            + label("triage", screening.triage.value)
            + ("   " + _("[bold]DPIA[/] required") if screening.dpia_required else "")
        )
        render_findings(console, screening.findings, indent="")
        if not screening.findings:
            console.print(_("no findings"))
    if blocking:
        if not opts.json:
            # one line, never wrapped, as every error (cli/app.py)
            from .localise import error_prefix

            refused = _("filing would be refused: {codes}").format(codes=", ".join(blocking))
            click.echo(f"{error_prefix()} {refused}", err=True)
        click.get_current_context().exit(1)


@request.command()
@content_options
@common_options
def new(from_file: Path | None, **values: Any) -> None:
    """File a request for personal data held by the other party (its staff).

    \b
    Example:
      ctg-exchange --as v.agent request new --to caf92 --field petite_enfance \\
          --purpose "Tarifer les crèches selon le barème national" --purpose-kind pricing \\
          --category numero_allocataire --category quotient_familial \\
          --subjects "Familles inscrites en EAJE" --legal-basis art6_1_e \\
          --legal-ref loi_98_657_art147 --retention-days 365 --archive-days 1825 \\
          --frequency monthly
      ctg-exchange --as v.agent request new --from-file request.yaml
    """
    from ..services.requests import file_request
    from .views import request_json

    opts = options()
    filed = file_request(opts.session(), content_from(from_file, values))
    if opts.json:
        emit_json(request_json(filed))
        return
    click.echo(filed.id)
    warnings = ", ".join(f.code for f in filed.findings)
    say(
        "[green]✓[/] "
        + _("Filed {id}: {source} → {holder}, status {status}").format(
            id=filed.id,
            source=filed.from_party,
            holder=filed.to_party,
            status=label("status", filed.status.value),
        )
        + (f", {label('triage', filed.triage.value)}" if filed.triage != "personal" else "")
        + (_("; warnings: {codes}").format(codes=warnings) if warnings else "")
        + _(". Next: {party}'s controller studies it (`study accept`).").format(
            party=filed.to_party
        )
    )


@request.command()
@click.argument("request_id", metavar="ID", shell_complete=complete.requests)
@content_options
@common_options
def amend(request_id: str, from_file: Path | None, **values: Any) -> None:
    """Change a filed or returned request (the requesting party's staff); it is filed again.

    \b
    Example:
      ctg-exchange --as v.agent request amend DX-2025-0001 --retention-days 180
    """
    from ..services.requests import amend_request
    from .views import request_json

    opts = options()
    from ..errors import InvalidRequest

    changes, doc = read_request_file(from_file) if from_file else ({}, None)
    given = given_fields(values)
    changes.update(given)
    try:
        amended = amend_request(opts.session(), request_id, changes)
    except InvalidRequest as exc:
        raise refusal(list(exc.problems), doc, set(given)) from None
    if opts.json:
        emit_json(request_json(amended))
        return
    say(
        "[green]✓[/] "
        + _("{id} amended, status {status}").format(
            id=amended.id, status=label("status", amended.status.value)
        )
    )


@request.command()
@click.argument("request_id", metavar="ID", shell_complete=complete.requests)
@text_option("--reason", required=True, help="Why the request is withdrawn.")
@common_options
def withdraw(request_id: str, reason: str) -> None:
    """Withdraw a request before it is decided (the requesting party's staff).

    \b
    Example:
      ctg-exchange --as v.agent request withdraw DX-2025-0001 --reason "need met otherwise"
    """
    from ..services.requests import withdraw_request
    from .views import request_json

    opts = options()
    withdrawn = withdraw_request(opts.session(), request_id, reason)
    if opts.json:
        emit_json(request_json(withdrawn))
        return
    say("[green]✓[/] " + _("{id} withdrawn").format(id=withdrawn.id))


@request.command(name="hand-over")
@click.argument("request_id", metavar="ID", shell_complete=complete.requests)
@click.option(
    "--to",
    "to",
    required=True,
    metavar="MEMBER",
    shell_complete=complete.members,
    help="The successor: a member of the same party and role.",
)
@common_options
def hand_over(request_id: str, to: str) -> None:
    """Hand your follow-up of a request over to another member of your party.

    The requester's follow-up (the filer's, staff) goes to another staff member; the holder's
    (the studying controller's) to another controller. The current owner hands over, or the
    party's admin once the owner is revoked. The history keeps who did what.

    \b
    Example:
      ctg-exchange --as v.agent request hand-over DX-2025-0001 --to v.agent2
    """
    from ..services.handover import hand_over as hand
    from .views import request_json

    opts = options()
    handed = hand(opts.session(), request_id, to)
    if opts.json:
        emit_json(request_json(handed))
        return
    say("[green]✓[/] " + _("{id} now followed by {member}").format(id=handed.id, member=to))


@request.command(name="list")
@click.option("--status", type=Coded("status", [s.value for s in Status]), help="Only this status.")
@click.option(
    "--from",
    "from_party",
    metavar="PARTY",
    shell_complete=complete.parties,
    help="Only the requests this party filed.",
)
@click.option(
    "--to",
    "to_party",
    metavar="PARTY",
    shell_complete=complete.parties,
    help="Only the requests addressed to this party.",
)
@click.option("--field", metavar="FIELD", help="Only the requests in this field of intervention.")
@click.option(
    "--overdue", is_flag=True, help="Only the requests awaiting a DPO opinion past its deadline."
)
@click.option(
    "--since", type=DATE, metavar="YYYY-MM-DD", help="Only the requests filed on or after this day."
)
@paging_options
@common_options
def list_(
    status: str | None,
    from_party: str | None,
    to_party: str | None,
    field: str | None,
    overdue: bool,
    since: datetime | None,
    limit: int | None,
    show_all: bool,
) -> None:
    """List requests: the 50 most recent, oldest first (--limit N, --all); filters combine.

    \b
    Example:
      ctg-exchange request list --status awaiting_dpo
      ctg-exchange request list --to caf92 --since 2026-01-01 --all
    """
    from ..services.reading import each_request, overdue_filter, request_page
    from ..services.stored import request_document
    from ..store.sql_reads import RequestFilter

    opts = options()
    reader = opts.reader()
    where = RequestFilter(
        status=status,
        from_party=from_party,
        to_party=to_party,
        field=field,
        since=since.date().isoformat() if since else None,
    )
    if overdue:
        today = reader.clock().today()
        with reader.store.reading() as tx:
            cutoff = overdue_filter(tx, reader.root, today)
        where = replace(where, submitted_before=cutoff)
    size = page_size(limit, show_all)
    if opts.json and size is None:  # every one, written as read
        emit_json_items(request_document(r) for r in each_request(reader, where))
        return
    page = request_page(reader, where, size)
    if opts.json:
        emit_json([request_document(r) for r in page.rows])
    else:
        show_rows(
            _("Requests"),
            (_("id"), _("filed"), _("status"), _("to"), _("categories")),
            [
                (
                    r["id"],
                    short_date(r["filed_on"]),
                    r["status"],
                    r["content"]["to"],
                    ", ".join(r["content"]["categories"]),
                )
                for r in page.rows
            ],  # fmt: skip
            plain=lambda row: (*row[:2], label("status", row[2]), *row[3:]),
            rich=_rich_request_row,
            wrap=_("categories"),
        )
    if page.more:
        tell(
            ngettext(
                "{count} earlier request not shown: --limit N or --all shows it",
                "{count} earlier requests not shown: --limit N or --all shows them",
                page.more,
            ).format(count=page.more)
        )
    elif not page.rows and not opts.json:
        if where == RequestFilter(status=status):
            tell(
                _("No requests with status {status}.").format(status=label("status", status))
                if status
                else _("No requests yet.")
            )
        else:
            tell(_("No requests match these filters."))


def _rich_request_row(row: Sequence[str]) -> tuple[str, ...]:
    from .console import shown
    from .views import status_text

    return (shown(row[0]), row[1], status_text(row[2]), shown(row[3]), shown(row[4]))


@request.command()
@click.argument("request_id", metavar="ID", shell_complete=complete.requests)
@common_options
def show(request_id: str) -> None:
    """Show a request: its content, opinion, decision, annotations and history.

    \b
    Example:
      ctg-exchange request show DX-2025-0001
      ctg-exchange request show DX-2025-0001 --json
    """
    opts = options()
    if opts.json:
        from ..services.requests import get_request
        from .views import request_json

        workspace = opts.reading_workspace()
        view = get_request(workspace, request_id)
        document = request_json(view.request, view.steps, view.deliveries)
        emit_json({**document, "simulated_clock": workspace.simulated})
        return
    from zoneinfo import ZoneInfo

    from ..i18n import is_french
    from ..services.showing import request_screen
    from .listing import Out
    from .request_screen import print_request

    reader = opts.reader()
    screen = request_screen(reader, request_id)
    out = Out()
    # a purpose kind by the policy's French label, in French
    purposes = screen.purposes if is_french() else {}
    print_request(out, replace(screen, purposes=purposes), ZoneInfo(screen.time_zone))
    if reader.simulated:
        out.print(_("[yellow]simulated clock[/]: a rehearsal (init --simulated-clock)"))
    out.flush()
