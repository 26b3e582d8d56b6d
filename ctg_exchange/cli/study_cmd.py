"""``ctg-exchange study``."""

from __future__ import annotations

import click

from ..i18n import _
from . import complete
from .common import common_options, options
from .texts import text_option
from .views import finish


@click.group()
def study() -> None:
    """The holding party's controller studies a request: opportunity, feasibility, GDPR."""


@study.command()
@click.argument("request_id", metavar="ID", shell_complete=complete.requests)
@text_option("--note", required=True, help="What the study starts from.")
@common_options
def accept(request_id: str, note: str) -> None:
    """Take a filed request into study (the holding party's controller).

    \b
    Example:
      ctg-exchange --as c.controller study accept DX-2025-0001 --note "Besoin établi"
    """
    from ..services.review import study_accept

    updated = study_accept(options().session(), request_id, note)
    finish(updated, _("{id} under study").format(id=updated.id))


@study.command(name="return")
@click.argument("request_id", metavar="ID", shell_complete=complete.requests)
@text_option("--reason", required=True, help="What the requester must change.")
@common_options
def return_(request_id: str, reason: str) -> None:
    """Return a request under study to the requester for changes.

    \b
    Example:
      ctg-exchange --as c.controller study return DX-2025-0001 \\
          --reason "Préciser les colonnes utiles"
    """
    from ..services.review import study_return

    updated = study_return(options().session(), request_id, reason)
    finish(updated, _("{id} returned to {party}").format(id=updated.id, party=updated.from_party))


@study.command()
@click.argument("request_id", metavar="ID", shell_complete=complete.requests)
@text_option("--note", help="A note for the DPO.")
@common_options
def submit(request_id: str, note: str | None) -> None:
    """Submit a studied request to the holding party's DPO for the prior opinion.

    \b
    Example:
      ctg-exchange --as c.controller study submit DX-2025-0001
    """
    from ..services.review import study_submit

    updated = study_submit(options().session(), request_id, note)
    finish(
        updated, _("{id} submitted to {party}'s DPO").format(id=updated.id, party=updated.to_party)
    )
