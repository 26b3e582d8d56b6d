"""``ctg-exchange init``."""

from __future__ import annotations

from pathlib import Path

import click

from ..i18n import _
from .common import common_options, emit_json, options, say


@click.command()
@click.option(
    "--policy",
    "policy_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Policy file (default: the shipped convention ctg-sceaux-caf92).",
)
@click.option("--admin", "admin_id", required=True, metavar="ID", help="Id of the first admin.")
@click.option("--admin-name", required=True, metavar="NAME", help="The first admin's name.")
@click.option(
    "--admin-party",
    required=True,
    metavar="PARTY",
    help="The first admin's party (e.g. ville_sceaux, caf92).",
)
@click.option(
    "--database",
    default="sqlite:ctg.sqlite3",
    show_default=True,
    envvar="CTG_DATABASE",
    metavar="URL",
    help="sqlite:FILE inside the workspace, sqlite:///ABSOLUTE/PATH, or an empty PostgreSQL "
    "database shared by every agent: postgresql://USER@HOST:PORT/DATABASE (password in "
    "~/.pgpass or PGPASSWORD, never in the URL). Env: CTG_DATABASE.",
)
@click.option(
    "--simulated-clock",
    is_flag=True,
    help="A rehearsal: CTG_TODAY=YYYY-MM-DD may set the procedure's dates. Recorded in the "
    "log and shown on every output; never for a real exchange.",
)
@common_options
def init(
    policy_path: Path | None,
    admin_id: str,
    admin_name: str,
    admin_party: str,
    database: str,
    simulated_clock: bool,
) -> None:
    """Create a workspace: store the policy and its SHA-256, create the first admin and its key.

    The admin's key is made in the key directory unless one is already there; its passphrase
    is asked twice (or read from CTG_PASSPHRASE). The workspace is the current directory
    unless --workspace / CTG_WORKSPACE says otherwise.

    \b
    Examples:
      ctg-exchange --workspace ./ctg init --admin v.admin \\
          --admin-name "Admin Exemple" --admin-party ville_sceaux
      ctg-exchange --workspace ./ctg init --admin v.admin \\
          --admin-name "Admin Exemple" --admin-party ville_sceaux \\
          --database postgresql://ctg@db.example.invalid:5432/ctg_sceaux
    """
    from ..policy import load_policy, shipped_policy_path
    from ..services.clock import Clock
    from ..services.members import init_workspace
    from ..services.session import Keyring
    from .common import ask_passphrase

    opts = options()
    loaded = load_policy(policy_path or shipped_policy_path())
    workspace = init_workspace(
        opts.workspace_dir.resolve(),
        loaded,
        admin_id,
        admin_name,
        admin_party,
        database,
        Keyring(opts.keys(), ask_passphrase),
        Clock.from_env(),
        simulated=simulated_clock,
    )
    workspace.close()
    result = {
        "workspace": str(workspace.root),
        "id": workspace.id,
        "database": workspace.database,
        "policy": {"id": loaded.policy.id, "version": 1, "sha256": loaded.sha256},
        "admin": admin_id,
        "key_dir": str(opts.keys().path),
        "simulated_clock": simulated_clock,
    }
    if opts.json:
        emit_json(result)
        return
    say("[green]✓[/] " + _("Workspace created in {folder}").format(folder=workspace.root))
    facts = (
        (_("workspace"), workspace.id),
        (_("policy"), f"{loaded.policy.id} v1 (sha256 {loaded.sha256})"),
        (
            _("admin"),
            _("{id} ({party}), key in {path}").format(
                id=admin_id, party=admin_party, path=opts.keys().path
            ),
        ),
    )
    width = max(len(heading) for heading, _value in facts)
    for heading, value in facts:
        click.echo(f"{heading:<{width}}  {value}")
    if simulated_clock:
        say(_("[yellow]simulated clock[/]: a rehearsal; CTG_TODAY sets its dates"))
    say(_("Next: add members with `ctg-exchange member add` (see --help)."))
