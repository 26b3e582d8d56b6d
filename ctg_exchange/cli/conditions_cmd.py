"""``ctg-exchange conditions``."""

from __future__ import annotations

import click

from .common import common_options, options
from .views import finish


@click.group()
def conditions() -> None:
    """The requesting party accepts the conditions of an approved exchange."""


@conditions.command()
@click.argument("request_id", metavar="ID")
@common_options
def accept(request_id: str) -> None:
    """Accept the conditions of an approved request (the requesting party's controller).

    The conditions are the DPO's recommendations the holder adopted; nothing is sent before
    they are accepted. `request show ID` lists them.

    \b
    Example:
      ctg-exchange --as v.controller conditions accept DX-2025-0001
    """
    from ..services.review import accept_conditions

    updated = accept_conditions(options().session(), request_id)
    finish(updated, f"conditions of {updated.id} accepted ({len(updated.conditions)})")
