"""Shell completion of the ids a command takes (click's ``shell_complete`` callbacks).

``_CTG_EXCHANGE_COMPLETE=bash_source ctg-exchange`` (or ``zsh_source``, ``fish_source``) prints
the script a shell sources (README, "Shell completion"); choices (verdicts, roles, statuses,
formats) complete by themselves. The callbacks read the workspace the command line names
(``--workspace``, ``CTG_WORKSPACE``, else the current directory), and answer nothing rather than
fail: this module imports nothing heavy until Tab is pressed.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

    import click
    from click.shell_completion import CompletionItem


def _workspace(ctx: click.Context) -> Path:
    from pathlib import Path

    given = ctx.find_root().params.get("workspace")
    if given:
        return Path(given)
    return Path(os.environ.get("CTG_WORKSPACE") or Path.cwd())


def _ids(kind: str, ctx: click.Context, incomplete: str) -> list[CompletionItem]:
    from click.shell_completion import CompletionItem

    from ..services.completion import known_ids

    return [CompletionItem(i) for i in known_ids(_workspace(ctx), kind, incomplete)]


def members(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """Active members' ids."""
    return _ids("member", ctx, incomplete)


def requests(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """Request ids (DX-2026-0001)."""
    return _ids("request", ctx, incomplete)


def deliveries(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """Delivery ids (DX-2026-0001-1)."""
    return _ids("delivery", ctx, incomplete)


def packages(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """A package file, or a delivery id (on a remote workspace)."""
    from click.shell_completion import CompletionItem

    return [*_ids("delivery", ctx, incomplete), CompletionItem(incomplete, type="file")]


def fiches(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """Register fiche refs (VS-EAJE)."""
    return _ids("fiche", ctx, incomplete)


def parties(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """The convention's parties (ville_sceaux, caf92)."""
    return _ids("party", ctx, incomplete)
