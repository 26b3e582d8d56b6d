"""``ctg-exchange decide``."""

from __future__ import annotations

import click

from ..i18n import _
from . import complete
from .common import common_options, options
from .texts import text_option
from .views import finish


@click.group()
def decide() -> None:
    """The holding party's controller decides, after the DPO's opinion."""


@decide.command()
@click.argument("request_id", metavar="ID", shell_complete=complete.requests)
@text_option("--justification", help="Written reasons (required against an unfavourable opinion).")
@click.option(
    "--adopt",
    multiple=True,
    metavar="R1",
    help="Adopt a recommendation: it becomes a condition. Repeat for several.",
)
@click.option(
    "--set-aside",
    multiple=True,
    metavar='R2="REASON"',
    help="Set a recommendation aside, with written reasons. Repeat for several.",
)
@common_options
def approve(
    request_id: str, justification: str | None, adopt: tuple[str, ...], set_aside: tuple[str, ...]
) -> None:
    """Approve a request (the holding party's controller; never the one who filed it).

    Every recommendation of the DPO is answered: adopted ones become the conditions of the
    exchange, which the requesting party's controller then accepts; set-aside ones need reasons.

    \b
    Example:
      ctg-exchange --as c.controller decide approve DX-2025-0001 \\
          --adopt R1 --set-aside R2="Information déjà faite au guichet"
    """
    from ..services.review import approve as approve_request

    updated = approve_request(options().session(), request_id, justification, adopt, set_aside)
    conditions = len(updated.conditions)
    finish(
        updated,
        _("{id} approved").format(id=updated.id)
        + (
            _(
                " with {count} condition(s); {party}'s controller accepts them next "
                "(`conditions accept`)"
            ).format(count=conditions, party=updated.from_party)
            if conditions
            else ""
        ),
    )


@decide.command()
@click.argument("request_id", metavar="ID", shell_complete=complete.requests)
@text_option("--reason", required=True, help="Why the request is rejected.")
@common_options
def reject(request_id: str, reason: str) -> None:
    """Reject a request (the holding party's controller).

    \b
    Example:
      ctg-exchange --as c.controller decide reject DX-2025-0001 --reason "Finalité non établie"
    """
    from ..services.review import reject as reject_request

    updated = reject_request(options().session(), request_id, reason)
    finish(updated, _("{id} rejected").format(id=updated.id))
