"""``ctg-exchange witness``."""

from __future__ import annotations

import click

from ..i18n import _, ngettext
from .common import common_options, emit_json, options, say


@click.group()
def witness() -> None:
    """The party that does not host: keep your own verified copy of the log, and cosign it."""


@witness.command()
@click.option(
    "--full",
    is_flag=True,
    help="Read again every event already copied (by default, the next 10,000 in turn).",
)
@common_options
def pull(full: bool) -> None:
    """Copy the host's new events, verify the whole copy here, then cosign the latest checkpoint.

    Run by your party's DPO or admin against your remote workspace (from cron, say). The copy
    (DIR/copy, a read-only workspace) gets the new events and the records they bind; it is then
    verified on this machine as `audit verify` verifies a workspace (chain, signatures, roles,
    checkpoints, the law re-applied, the records replayed). The host's latest checkpoint must
    extend the last one your party cosigned (RFC 9162 consistency proof) and be the root of the
    events copied; only then is it cosigned with your key and sent. If events remain that no
    checkpoint covers, a checkpoint of all of them is signed and sent too. Anything else exits
    3, signs nothing and keeps the evidence under DIR/copy/evidence/.

    The Caf's DPO, the town hall hosting, runs the first line from cron (every 15 minutes,
    say); the second works with the server down.

    \b
    Examples:
      ctg-exchange --workspace ~/ctg-sceaux --as c.dpo witness pull
      ctg-exchange --workspace ~/ctg-sceaux/copy audit verify
    """
    from ..remote.witness import witness_pull
    from ..services.workspace import open_remote

    opts = options()
    config = open_remote(opts.workspace_dir)
    remote = opts.remote()
    assert remote is not None
    client = remote.client()
    done = witness_pull(config, client, client.signer, full=full)
    pulled = done.pulled
    if opts.json:
        emit_json(
            {
                "copy": str(pulled.root),
                "events": pulled.size,
                "new_events": pulled.size - pulled.before,
                "rechecked": pulled.rechecked,
                "verified": done.verified,
                "checkpoint": done.checkpoint,
                "cosigned": done.cosigned_now,
                "anchored": done.anchored_now,
            }
        )
        return
    say(
        "[green]✓[/] "
        + _(
            "copy {folder}: {count} events ({new} new, {again} read again), all verified here"
        ).format(
            folder=pulled.root,
            count=pulled.size,
            new=pulled.size - pulled.before,
            again=pulled.rechecked,
        )
    )
    if done.cosigned_now:
        say("[green]✓[/] " + _("cosigned the host's latest checkpoint"))
    if done.anchored_now:
        say(
            "[green]✓[/] "
            + _("signed a checkpoint of all {count} events verified").format(count=done.checkpoint)
        )
    if not done.cosigned_now and not done.anchored_now:
        say(
            ngettext(
                "the checkpoint of {n} event was already signed by your party",
                "the checkpoint of {n} events was already signed by your party",
                done.checkpoint or 0,
            ).format(n=done.checkpoint)
        )
