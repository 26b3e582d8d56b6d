"""``ctg-exchange audit``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from .common import common_options, emit_json, options, say, stdout


def _summary(payload: dict[str, Any]) -> str:
    parts = []
    if "to_status" in payload:
        parts.append(f"{payload.get('from_status') or '—'} → {payload['to_status']}")
    for key in ("verdict", "outcome", "member", "changed"):
        if key in payload:
            value = payload[key]
            parts.append(f"{key} {', '.join(value) if isinstance(value, list) else value}")
    return "; ".join(parts)


@click.group()
def audit() -> None:
    """Read and verify the audit log: every state change, signed by its actor, hash-chained."""


@audit.command()
@click.option("--request", "request_id", metavar="ID", help="Only this request's events.")
@common_options
def log(request_id: str | None) -> None:
    """Show audit events in order.

    \b
    Example:
      ctg-exchange audit log --request DX-2025-0001
    """
    from ..services.auditing import audit_log

    opts = options()
    events = audit_log(opts.open_workspace(), request_id)
    if opts.json:
        emit_json([stored.to_json() for stored in events])
        return
    from rich.markup import escape

    from .views import short_time

    console = stdout()
    console.print("[bold]Audit log[/]" + (f" of {request_id}" if request_id else ""))
    for stored in events:
        e = stored.event
        console.print(
            f"  #{e.seq:<4} {short_time(e.time)}  {e.actor} ({e.role})  {e.action}  "
            f"{escape(e.subject)}"
        )
        if summary := _summary(e.payload):
            console.print(f"        {escape(summary)}")


@audit.command()
@common_options
def verify() -> None:
    """Recompute the hash chain and check every signature; exit 3 at the first bad event.

    \b
    Example:
      ctg-exchange audit verify
    """
    from ..services.auditing import audit_verify

    opts = options()
    result = audit_verify(opts.open_workspace())
    if opts.json:
        emit_json({"ok": True, "events": result.events, "head": result.head})
        return
    click.echo(f"{result.events} events verified")
    say(f"head {result.head}")


@audit.command()
@click.argument("seq", type=click.IntRange(min=1))
@click.option(
    "--signed-bytes",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write the exact bytes that were hashed and signed to this file.",
)
@click.option(
    "--signature",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write the event's SSHSIG signature to this file.",
)
@common_options
def show(seq: int, signed_bytes: Path | None, signature: Path | None) -> None:
    """Show one event; optionally write its signed bytes and signature for ssh-keygen.

    \b
    Example:
      ctg-exchange audit show 3 --signed-bytes e3.bin --signature e3.sig
      ctg-exchange member allowed-signers --out allowed_signers
      ssh-keygen -Y verify -f allowed_signers -I c.dpo -n ctg-exchange/event@v1 \\
          -s e3.sig < e3.bin
    """
    from ..fsutil import write_atomic
    from ..services.auditing import audit_event

    opts = options()
    stored = audit_event(opts.open_workspace(), seq)
    if signed_bytes is not None:
        write_atomic(signed_bytes, stored.event.signed_bytes(), mode=0o644)
    if signature is not None:
        write_atomic(signature, stored.signature.encode(), mode=0o644)
    if opts.json:
        emit_json(stored.to_json())
        return
    for key, value in stored.to_json().items():
        if key != "signature":
            click.echo(f"{key:10} {value}")
    click.echo(stored.signature, nl=False)
