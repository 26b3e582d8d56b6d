"""``ctg-exchange remote``."""

from __future__ import annotations

from pathlib import Path

import click

from ..i18n import _
from .common import common_options, emit_json, options, say


@click.group()
def remote() -> None:
    """A workspace hosted by the other party (or your own IT): pin it, check who you are."""


@remote.command()
@click.argument("url")
@click.option(
    "--fingerprint",
    metavar="SHA256:…",
    help="The server certificate's SHA-256 fingerprint, given by its admin out of band.",
)
@click.option(
    "--ca-file",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="Or: the authority (PEM) its certificate must be signed by.",
)
@click.option(
    "--rehearsal",
    is_flag=True,
    help="The server's workspace is a rehearsal (its dates are simulated): accept it.",
)
@common_options
def add(url: str, fingerprint: str | None, ca_file: Path | None, rehearsal: bool) -> None:
    """Make --workspace DIR a remote workspace of the server at URL, its certificate pinned.

    A server later showing another certificate is refused before anything signed is sent.

    \b
    Example:
      ctg-exchange --workspace ~/ctg-sceaux remote add https://ctg.ville-sceaux.fr:8443 \\
          --fingerprint SHA256:3q2+7w…
    """
    from ..remote.client import add as add_remote

    config = add_remote(
        options().workspace_dir, url, expect=fingerprint, ca_file=ca_file, rehearsal=rehearsal
    )
    if options().json:
        emit_json({"workspace": str(config.root), "url": config.url, "id": config.workspace_id})
    else:
        from .console import shown

        where = _("{folder} is the workspace {id} at {url}").format(
            folder=shown(str(config.root)), id=shown(config.workspace_id), url=shown(config.url)
        )
        say(f"[green]✓[/] {where}")


@remote.command()
@common_options
def status() -> None:
    """Check, with a call signed by the acting member, who the server takes you for.

    \b
    Example:
      ctg-exchange --as c.dpo remote status
    """
    from ..remote.client import Client
    from ..services.workspace import open_remote

    config = open_remote(options().workspace_dir)
    signer = options().keyring().signer_by_id(options().require_actor())
    answer = Client(config, signer).call("GET", "/v1/whoami")
    if options().json:
        emit_json({"url": config.url, **answer})
    else:
        from .console import shown

        said = {k: shown(str(answer.get(k, ""))) for k in ("workspace", "member", "party")}
        roles = shown("/".join(str(r) for r in answer.get("roles", [])))
        say(
            "[green]✓[/] "
            + _("{url}: workspace {id}, you are {member} ({roles} of {party})").format(
                url=shown(config.url),
                id=said["workspace"],
                member=said["member"],
                roles=roles,
                party=said["party"],
            )
        )
