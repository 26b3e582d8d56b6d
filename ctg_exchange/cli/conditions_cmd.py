"""``ctg-exchange conditions``."""

from __future__ import annotations

import click

from ..i18n import _
from . import complete
from .common import common_options, options
from .texts import text_option
from .views import finish


@click.group()
def conditions() -> None:
    """The requesting party accepts the conditions of an approved exchange."""


@conditions.command()
@click.argument("request_id", metavar="ID", shell_complete=complete.requests)
@click.option(
    "--dpia-ref",
    metavar="REF",
    help="The DPIA's reference: required when pre-screening found one necessary.",
)
@text_option(
    "--information",
    help="How and when the persons concerned are told which data came from the other party "
    "(GDPR art. 14, CRPA L114-8): required for personal data.",
)
@text_option(
    "--l311-mention",
    help="Where the decisions taken with the data state they rest on an algorithmic "
    "processing (CRPA L311-3-1): required when screening found ALGORITHMIC_DECISION.",
)
@common_options
def accept(
    request_id: str, dpia_ref: str | None, information: str | None, l311_mention: str | None
) -> None:
    """Accept the conditions of an approved request (the requesting party's controller).

    The conditions are the DPO's recommendations the holder adopted; nothing is sent before
    they are accepted. `request show ID` lists them. Accepting records the new processing in
    your Article 30 register and you as a recipient in the holder's, and how the families
    are told where their data came from.

    \b
    Example:
      ctg-exchange --as v.controller conditions accept DX-2025-0001 \\
          --information "Courrier aux familles à l'inscription ; mention sur la facture"
    """
    from ..services.conditions import accept_conditions

    session = options().session()
    updated = accept_conditions(session, request_id, dpia_ref, information, l311_mention)
    finish(
        updated,
        _("conditions of {id} accepted ({count})").format(
            id=updated.id, count=len(updated.conditions)
        ),
    )
