"""How requests look: as JSON (``--json``) and as rich text for a person."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ..i18n import _, short_date
from ..labels import label

if TYPE_CHECKING:
    from datetime import tzinfo
    from zoneinfo import ZoneInfo

    from rich.console import Console

    from ..domain.exchange import Delivery, Reception
    from ..domain.models import ExchangeRequest, Finding, Step
    from ..services.workspace import Workspace


Deliveries = list[tuple["Delivery", "Reception | None"]]


def request_json(
    request: ExchangeRequest, steps: list[Step] | None = None, deliveries: Deliveries | None = None
) -> dict[str, Any]:
    from ..services.documents import request_document

    return request_document(request, steps, deliveries)


_STATUS_STYLE = {
    "approved": "green",
    "conditions_accepted": "green",
    "exchanged": "green",
    "rejected": "red",
    "withdrawn": "dim",
    "suspended": "red",
    "closed": "dim",
    "lapsed": "dim",
    "returned": "yellow",
    "awaiting_dpo": "cyan",
}


def status_text(status: str) -> str:
    """A request's status as a person reads it (its French label in French), coloured."""
    style = _STATUS_STYLE.get(status)
    shown = label("status", status)
    return f"[{style}]{shown}[/]" if style else shown


def render_findings(console: Console, findings: Iterable[Finding], indent: str = "  ") -> None:
    from .console import shown

    for finding in findings:
        style = "red" if finding.severity == "blocking" else "yellow"
        severity = label("severity", finding.severity.value)
        console.print(f"{indent}[{style}]{finding.code}[/] ({severity}) {shown(finding.message)}")
        if finding.channel:
            console.print(
                f"{indent}  " + _("channel: {where}").format(where=shown(finding.channel))
            )


def short_time(timestamp: str, zone: tzinfo | None = None) -> str:
    """A stored UTC time as its users read it, in the convention's time zone (``zone``, the
    policy's ``time_zone``; Europe/Paris by default) with the offset named:
    ``2026-11-27T03:49:58.123456Z`` -> ``2026-11-27 04:49 +01:00``."""
    from datetime import UTC, datetime

    from ..domain.dates import PARIS

    try:
        moment = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    except ValueError:
        return timestamp[:16].replace("T", " ")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    local = moment.astimezone(zone or PARIS)
    return f"{short_date(local.date())} {local:%H:%M} {local.isoformat()[-6:]}"


def display_zone(workspace: Workspace) -> ZoneInfo:
    """The time zone the workspace's policy in force shows times in."""
    with workspace.store.transaction() as tx:
        return workspace.current_policy(tx).policy.display_zone


def finish(request: ExchangeRequest, message: str) -> None:
    """Print the outcome of a step: the request as JSON, or one line for a person."""
    from .common import emit_json, options, say

    if options().json:
        emit_json(request_json(request))
    else:
        say(f"[green]✓[/] {message}")  # message: translated by the caller
