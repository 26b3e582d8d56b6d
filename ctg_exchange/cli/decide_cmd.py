"""``ctg-exchange decide``."""

from __future__ import annotations

import click

from .common import common_options, options
from .views import finish


@click.group()
def decide() -> None:
    """The holding party's controller decides, after the DPO's opinion."""


@decide.command()
@click.argument("request_id", metavar="ID")
@click.option("--justification", help="Written reasons (required against an unfavourable opinion).")
@common_options
def approve(request_id: str, justification: str | None) -> None:
    """Approve a request (the holding party's controller; never the one who filed it).

    \b
    Example:
      ctg-exchange --as c.controller decide approve DX-2025-0001
    """
    from ..services.requests import approve as approve_request

    updated = approve_request(options().session(), request_id, justification)
    finish(updated, f"{updated.id} approved")


@decide.command()
@click.argument("request_id", metavar="ID")
@click.option("--reason", required=True, help="Why the request is rejected.")
@common_options
def reject(request_id: str, reason: str) -> None:
    """Reject a request (the holding party's controller).

    \b
    Example:
      ctg-exchange --as c.controller decide reject DX-2025-0001 --reason "Finalité non établie"
    """
    from ..services.requests import reject as reject_request

    updated = reject_request(options().session(), request_id, reason)
    finish(updated, f"{updated.id} rejected")
