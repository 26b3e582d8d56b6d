"""``ctg-exchange report``: the steering committee's evaluation (issue 18)."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ..i18n import _
from . import complete
from .common import common_options, emit_json, is_dash, one_on_stdout, options, say, table
from .listing import DATE

if TYPE_CHECKING:
    from ..report.tables import Section
    from ..services.report import Report


@click.command()
@click.option("--from", "start", type=DATE, metavar="YYYY-MM-DD",
              help="First day of the period (default: 1 January of this year).")  # fmt: skip
@click.option("--to", "end", type=DATE, metavar="YYYY-MM-DD",
              help="Last day of the period (default: 31 December of its year).")  # fmt: skip
@click.option("--field", metavar="FIELD", help="Only the requests of this intervention field.")
@click.option(
    "--party",
    metavar="PARTY",
    help="Only the requests this party files or receives.",
    shell_complete=complete.parties,
)
@click.option(
    "--csv",
    "csv_out",
    type=click.Path(path_type=Path, dir_okay=False),
    metavar="FILE",
    help="Write the figures as CSV to FILE, one line per figure (- for stdout).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "csv"]),
    default="table",
    help="What is printed: tables, or CSV (as --csv -).",
)
@click.option(
    "--html",
    "html_out",
    type=click.Path(path_type=Path, dir_okay=False),
    metavar="FILE",
    help="Write the committee's printable HTML report, with its charts, to FILE (- for stdout).",
)
@common_options
def report(
    start: datetime | None,
    end: datetime | None,
    field: str | None,
    party: str | None,
    csv_out: Path | None,
    fmt: str,
    html_out: Path | None,
) -> None:
    """The steering committee's evaluation: figures of a period, from the audit log alone.

    Requests by status and direction, delays of each stage (median, 90th percentile, maximum,
    against the policy's due time), opinions, decisions, deliveries and deletions. A request
    counts in the period of its filing, a delivery in that of its sending, a deletion in that
    of its deadline (docs/report.md defines each figure). Reads only: nothing is signed or
    recorded, and a party's copy of a hosted workspace gives the same figures.

    \b
    Example:
      ctg-exchange report
      ctg-exchange report --from 2025-01-01 --to 2025-06-30 --field petite_enfance
      ctg-exchange report --html rapport-2025.html --csv rapport-2025.csv
    """
    from ..report.tables import csv_text, document, sections
    from ..services.report import make_report

    if fmt == "csv":
        if csv_out is not None and not is_dash(csv_out):
            raise click.UsageError(_("--format csv prints the CSV: give it or --csv FILE"))
        csv_out = Path("-")
    opts = options()
    one_on_stdout(("--csv", csv_out), ("--html", html_out))
    reader = opts.reader()
    made = make_report(
        reader,
        reader.clock().today(),
        start.date() if start else None,
        end.date() if end else None,
        field,
        party,
    )
    parts = sections(made.figures, made.policy.parties)
    if html_out is not None:
        from ..report.html import html_report
        from .common import write_output

        write_output(html_out, html_report(made, parts).encode("utf-8"))
    if csv_out is not None:
        from .common import write_output

        text = csv_text(made.figures, parts, made.simulated)
        write_output(csv_out, text.encode("utf-8"))
    if opts.json:
        emit_json(document(made.figures, made.simulated))
    elif csv_out is None and html_out is None:  # a file asked for: only it is written
        _print(made, parts)
    for option, path in (("--csv", csv_out), ("--html", html_out)):
        if path is not None and not is_dash(path):
            say(_("{option}: written to {path}").format(option=option, path=path))


def _print(made: Report, parts: list[Section]) -> None:
    from ..i18n import date_text
    from ..report.tables import REFUSALS_NOTE, SIMULATED, number
    from .markup import shown

    figures = made.figures
    period = _("Period from {start} to {end} (overdue judged on {as_of})").format(
        start=date_text(figures.period.start),
        end=date_text(figures.period.end),
        as_of=date_text(figures.period.as_of),
    )
    say(f"[bold]{shown(made.policy.title)}[/]")
    say(period)
    if figures.scope.field or figures.scope.party:
        say(
            _("Only: field {field}, party {party}").format(
                field=figures.scope.field or "—", party=figures.scope.party or "—"
            )
        )
    if made.simulated:
        say(f"[yellow]{_(SIMULATED)}[/]")
    from .tty import is_terminal

    plain = not is_terminal(sys.stdout)
    for part in parts:
        if plain:  # a table's title, which rich shows on a terminal: said, between the data
            say(part.title)
        listing = table(part.title, *part.headers, wrap=part.headers[0])
        for row in part.rows:
            listing.add_row(shown(row.label), *(number(cell) for cell in row.cells))
        listing.print()
        if part.code == "findings":
            say(_(REFUSALS_NOTE))
