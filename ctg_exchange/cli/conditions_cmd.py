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
@click.option(
    "--dpia-ref",
    metavar="REF",
    help="The DPIA's reference: required when pre-screening found one necessary.",
)
@common_options
def accept(request_id: str, dpia_ref: str | None) -> None:
    """Accept the conditions of an approved request (the requesting party's controller).

    The conditions are the DPO's recommendations the holder adopted; nothing is sent before
    they are accepted. `request show ID` lists them. Accepting records the new processing in
    your Article 30 register and you as a recipient in the holder's.

    \b
    Example:
      ctg-exchange --as v.controller conditions accept DX-2025-0001
    """
    from ..services.review import accept_conditions

    updated = accept_conditions(options().session(), request_id, dpia_ref)
    finish(updated, f"conditions of {updated.id} accepted ({len(updated.conditions)})")
