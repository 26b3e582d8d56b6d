"""``ctg-exchange demo``."""

from __future__ import annotations

import shlex
import tempfile
from pathlib import Path

import click

from .common import common_options, emit_json, options, say


@click.command()
@click.option(
    "--dir",
    "directory",
    type=click.Path(path_type=Path, file_okay=False),
    help="Where to create the demo workspace (default: a new temporary folder).",
)
@common_options
def demo(directory: Path | None) -> None:
    """Run one request from filing to an encrypted delivery and its deletion; verify the log.

    The workspace is left in place, with the members' keys in DIR/keys, so you can explore it:
    the last lines print the commands to do so.

    \b
    Example:
      ctg-exchange demo
      ctg-exchange demo --dir ./ctg-demo
    """
    from ..i18n import _
    from ..services.demo import DEMO_PASSPHRASE, run_demo

    opts = options()
    root = (directory or Path(tempfile.mkdtemp(prefix="ctg-demo-"))).resolve()
    steps: list[str] = []

    def report(line: str) -> None:
        steps.append(line)
        if not opts.json:
            say(line)

    if not opts.json:
        say(_("[bold]ctg-exchange demo[/] in {folder}").format(folder=root))
    result = run_demo(root, report)
    env = {
        "CTG_WORKSPACE": str(result.root),
        "CTG_KEY_DIR": str(result.key_dir),
        "CTG_PASSPHRASE": DEMO_PASSPHRASE,
        "CTG_IDENTITY_PASSPHRASE": DEMO_PASSPHRASE,  # the parties' decryption identities
    }
    explore = [
        "export " + " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items()),
        "ctg-exchange convention show",
        f"ctg-exchange request show {result.request_id}",
        "ctg-exchange register list",
        "ctg-exchange register check",
        "ctg-exchange audit log",
        "ctg-exchange audit verify",
        "ctg-exchange audit checkpoints",
        f"ctg-exchange audit prove --request {result.request_id}",
        "ctg-exchange member list",
        "ctg-exchange exchange list",
        f"ctg-exchange --as v.dpo dpo annotate {result.request_id} --note 'Registre mis à jour'",
    ]
    if opts.json:
        emit_json(
            {
                "workspace": str(result.root),
                "key_dir": str(result.key_dir),
                "request": result.request_id,
                "events_verified": result.events,
                "steps": steps,
                "explore": explore,
            }
        )
        return
    say("\n" + _("Explore the workspace it left:"))
    for line in explore:
        click.echo(f"  {line}")
