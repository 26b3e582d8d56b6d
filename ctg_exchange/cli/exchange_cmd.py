"""``ctg-exchange exchange``."""

from __future__ import annotations

import contextlib
import os
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import click

from ..i18n import N_, _, date_text, ngettext, short_date
from ..labels import label
from . import complete
from .common import Options, common_options, emit_json, options, refuse_dash, say, table
from .texts import text_option


@contextlib.contextmanager
def progress_bar(description: str, total: int) -> Iterator[Callable[[int], None] | None]:
    """A progress bar on stderr when it is a terminal (and not --json); else no callback."""
    if options().json or not sys.stderr.isatty():
        yield None
        return
    from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

    from .console import console

    with Progress(
        "[progress.description]{task.description}", BarColumn(), DownloadColumn(),
        TransferSpeedColumn(), console=console(stderr=True), transient=True,
    ) as bar:  # fmt: skip
        task = bar.add_task(description, total=total)
        yield lambda n: bar.advance(task, n)


# `exchange receive --dialect` (ctg_exchange/exchange/dialect.py NAMED: a test keeps them equal;
# written here so that `--help` does not import the module)
DIALECTS = ("csv", "excel", "excel-fr", "tsv")
DIALECTS_HELP = (
    "csv: ',' UTF-8 LF; tsv: tab UTF-8 LF; excel: ',' UTF-8 with BOM CRLF; "
    "excel-fr: ';' UTF-8 with BOM CRLF"
)


def _dialect(dialect: Any) -> str:
    return "',' UTF-8" if dialect is None else str(dialect.describe())


# why these two commands write files only
NO_STDOUT_PACKAGE = N_(
    "the delivery is recorded when its package is written whole, so the package must be a "
    "file (give --out FILE, then pass the file on)"
)
NO_STDOUT_DATASET = N_(
    "the received file is tracked until it is deleted (retention purge, retention attest), "
    "so it must be a file (give --out FILE)"
)


@click.group()
def exchange() -> None:
    """Send and receive approved datasets: age-encrypted, signed, checked on both sides."""


@exchange.command()
@click.argument("request_id", metavar="REQUEST", shell_complete=complete.requests)
@click.option(
    "--dataset",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="The CSV to send (its header names the columns): ',' ';' or tab separated, UTF-8 "
    "(with or without BOM) or Windows-1252, LF or CRLF, as detected and named in the manifest.",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Where to write the package (default: REQUEST-N.ctgx here; on a remote workspace, "
    "uploaded only).",
)
@click.option(
    "--suppress-small-cells",
    is_flag=True,
    help="Blank count cells under an adopted aggregate_min_count instead of refusing.",
)
@click.option(
    "--early",
    is_flag=True,
    help="Send sooner than the request's frequency allows (needs --justification; recorded).",
)
@text_option(
    "--justification",
    help="Why an --early delivery cannot wait (kept with the delivery, its digest in the log).",
)
@common_options
def send(
    request_id: str,
    dataset: Path,
    out: Path | None,
    suppress_small_cells: bool,
    early: bool,
    justification: str | None,
) -> None:
    """Send an approved dataset (the holding party's staff), encrypted to the requester.

    Refused unless the request's conditions are accepted and the convention is in force. The
    header must name approved columns only; adopted conditions (pseudonymise, small cells,
    retention) are applied to the file itself. The package is age-encrypted to the requesting
    party's keys and its manifest is signed by you. On a remote workspace all this happens
    on your machine, and the package is uploaded encrypted.

    A delivery comes no sooner than the approved frequency allows, counted from the previous
    delivery's date in France: daily, the next day; weekly, 7 days later; monthly, quarterly
    and yearly, the same day 1, 3 or 12 months later (or that month's last day); once, never
    again. The refusal gives the date of the next allowed one; --early with --justification
    sends sooner, and the log records it.

    \b
    Examples:
      ctg-exchange --as c.agent exchange send DX-2026-0001 --dataset qf-mai.csv
      ctg-exchange --as c.agent exchange send DX-2026-0001 --dataset qf-mai-bis.csv \\
          --early --justification "Rectification des QF de mai (erreur de l'extraction)"
    """
    opts = options()
    opts.open_key_ahead()  # while the services are imported and the dataset read
    from ..services.send import send as send_dataset

    refuse_dash(out, "--out", _(NO_STDOUT_PACKAGE))
    with progress_bar(_("Encrypting"), dataset.stat().st_size) as advance:
        result = send_dataset(opts.session(), request_id, dataset, out, suppress_small_cells,
                              advance, early, justification)  # fmt: skip
    d = result.delivery
    if opts.json:
        emit_json(
            {
                **_delivery_json(d),
                "package": None if result.path is None else str(result.path),
                "manifest": result.manifest.model_dump(mode="json"),
            }
        )
        return
    if result.path is not None:
        click.echo(str(result.path))
    where = "" if result.path is not None else _(" (uploaded)")
    say(
        "[green]✓[/] "
        + ngettext(
            "Delivery {id}{where}: {rows} row, {columns} columns ({dialect}), encrypted to "
            "{party}; to be deleted by {deadline}",
            "Delivery {id}{where}: {rows} rows, {columns} columns ({dialect}), encrypted to "
            "{party}; to be deleted by {deadline}",
            d.rows,
        ).format(
            id=d.id,
            where=where,
            rows=d.rows,
            columns=len(d.columns),
            dialect=_dialect(result.manifest.dialect),
            party=result.manifest.recipient.party,
            deadline=date_text(d.retention_deadline),
        )
        + (_("; sent early, as justified") if d.early else "")
    )


@exchange.command()
@click.argument("package", metavar="PACKAGE|DELIVERY", shell_complete=complete.packages)
@click.option(
    "--out",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="Where to write the decrypted CSV (never overwritten).",
)
@click.option(
    "--dialect",
    type=click.Choice(sorted(DIALECTS)),
    help="Write the CSV in this dialect instead of the sender's (" + DIALECTS_HELP + ").",
)
@common_options
def receive(package: str, out: Path, dialect: str | None) -> None:
    """Receive a package (the requesting party's staff): verify, then decrypt.

    The manifest's signature, the manifest against the workspace (request, delivery, this
    party, not yet received) and the payload's hash are checked before anything is
    decrypted; the CSV appears at --out only when the last chunk has authenticated. Any
    failure exits 3 and writes nothing. On a remote workspace, give the delivery
    (DX-2026-0001-1): its package is downloaded encrypted, then checked here.

    The CSV is written as the sender's file was (delimiter, encoding, line ends: the
    manifest names them), or converted to the --dialect asked for: excel-fr opens in a
    French spreadsheet, csv suits scripts.

    \b
    Examples:
      ctg-exchange --as v.agent exchange receive DX-2026-0001-1.ctgx --out qf-mai.csv
      ctg-exchange --as v.agent exchange receive DX-2026-0001-1 --out qf-mai.csv \\
          --dialect excel-fr
    """
    opts = options()
    path = Path(package)
    # while the services are imported: the reception is signed once the payload has checked,
    # and the payload is opened with the party's identity
    opts.open_key_ahead()
    _open_identities_ahead(opts, path)
    from ..exchange.dialect import NAMED
    from ..services.receive import receive as receive_package
    from ..services.receive import receive_delivery

    refuse_dash(out, "--out", _(NO_STDOUT_DATASET))
    wanted = None if dialect is None else NAMED[dialect]
    if path.is_file():
        with progress_bar(_("Decrypting"), path.stat().st_size) as advance:
            reception = receive_package(opts.session(), path, out, advance, wanted)
    else:
        reception = receive_delivery(opts.session(), package, out, None, wanted)
    if opts.json:
        emit_json(reception.model_dump(mode="json"))
        return
    say(
        "[green]✓[/] "
        + _("Received {id} into {path}; delete it by {deadline} (`retention list`)").format(
            id=reception.id, path=reception.path, deadline=date_text(reception.retention_deadline)
        )
    )


_SAFE_NAME = re.compile(r"[a-z0-9][a-z0-9_-]*\.age1[a-z0-9]+")  # a file of the key directory


def _open_identities_ahead(opts: Options, package: Path) -> None:
    """Start decrypting (scrypt) the identity files that the package's manifest names, when
    their passphrase is in the environment: the manifest is only read here, unchecked, and
    nothing is done with an identity before the service has checked it (it then finds it
    open). Any problem is left for the service to report where it did."""
    import json

    from ..crypto.agestream import decrypt_ahead
    from ..crypto.keys import read_private_file
    from ..errors import ExchangeError
    from ..exchange.container import MANIFEST, PackageReader

    passphrase = os.environ.get("CTG_IDENTITY_PASSPHRASE")
    if passphrase is None or not package.is_file():
        return
    try:
        with package.open("rb") as handle:
            manifest = PackageReader(handle, package.stat().st_size).read(MANIFEST)
        recipient = json.loads(manifest)["recipient"]
        party, recipients = str(recipient["party"]), [str(r) for r in recipient["recipients"]]
        for name in recipients:  # named as services/party_keys.py identity_file names them
            path = opts.keys().path / f"{party}.{name}.age"
            if _SAFE_NAME.fullmatch(f"{party}.{name}") and path.is_file():
                decrypt_ahead(read_private_file(path), passphrase)
    except (OSError, ValueError, KeyError, TypeError, ExchangeError):
        return


@exchange.command()
@click.argument("request_id", metavar="REQUEST", shell_complete=complete.requests)
@text_option("--reason", required=True, help="The condition breached, and how it was found.")
@common_options
def suspend(request_id: str, reason: str) -> None:
    """Suspend an exchange whose conditions were breached (the holding party's controller).

    Nothing is sent while it is suspended; what was received is still deleted when its
    retention ends. `exchange resume` returns it to where it was.

    \b
    Example:
      ctg-exchange --as c.controller exchange suspend DX-2026-0001 \\
          --reason "Condition R1 non respectée : conservation au-delà de 180 jours"
    """
    from ..services.conditions import suspend as suspend_exchange
    from .views import finish

    updated = suspend_exchange(options().session(), request_id, reason)
    finish(updated, _("{id} suspended: nothing is sent until it is resumed").format(id=updated.id))


@exchange.command()
@click.argument("request_id", metavar="REQUEST", shell_complete=complete.requests)
@text_option("--note", required=True, help="How the breach was remedied.")
@common_options
def resume(request_id: str, note: str) -> None:
    """Resume a suspended exchange where it was (the holding party's controller).

    \b
    Example:
      ctg-exchange --as c.controller exchange resume DX-2026-0001 \\
          --note "Purge des fichiers anciens constatée le 3 mars"
    """
    from ..services.conditions import resume as resume_exchange
    from .views import finish

    updated = resume_exchange(options().session(), request_id, note)
    finish(
        updated,
        _("{id} resumed: {status}").format(
            id=updated.id, status=label("status", updated.status.value)
        ),
    )


def _delivery_json(d: Any) -> dict[str, Any]:
    return {"id": d.id, **d.model_dump(mode="json")}


@exchange.command(name="list")
@click.option(
    "--request",
    "request_id",
    metavar="ID",
    help="Only this request's deliveries.",
    shell_complete=complete.requests,
)
@common_options
def list_(request_id: str | None) -> None:
    """List deliveries: when sent, rows, deadline, and whether they were received.

    \b
    Example:
      ctg-exchange exchange list --request DX-2026-0001
    """
    from ..services.receive import list_deliveries

    opts = options()
    items = list_deliveries(opts.reading_session(), request_id)
    if opts.json:
        emit_json(
            [
                {**_delivery_json(d), "received": r.model_dump(mode="json") if r else None}
                for d, r in items
            ]
        )
        return
    out = table(
        _("Deliveries"),
        _("id"),
        _("sent"),
        _("by"),
        _("rows"),
        _("delete by"),
        _("received"),
        wrap=_("received"),
    )
    for d, r in items:
        out.add_row(
            d.id,
            short_date(d.sent_on),
            d.sent_by,
            str(d.rows),
            short_date(d.retention_deadline),
            _("{date} by {member}").format(date=short_date(r.received_on), member=r.received_by)
            if r
            else _("not yet"),
        )
    out.print()
    if not items:
        say(
            _("No deliveries for {id}.").format(id=request_id)
            if request_id
            else _("No deliveries yet.")
        )
