"""``ctg-exchange audit``."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ..i18n import N_, _, ngettext
from . import complete
from .checkpoint_cmd import checkpoint, checkpoint_json, checkpoint_line, checkpoints, cosign
from .common import (
    common_options,
    emit_json,
    is_dash,
    one_on_stdout,
    options,
    say,
    table,
    through_stdout,
    write_output,
)
from .listing import DATE, page_size, paging_options, tell

if TYPE_CHECKING:
    from datetime import tzinfo

    from ..audit.events import Event, StoredEvent


def _summary(event: Event) -> str:
    """The states an event moves its request between, and its verdict, outcome or member."""
    from ..domain.highlights import highlights

    words = highlights(event.action, event.payload)
    return _("; ").join(_highlight(key, value) for key, value in words.items())


_HIGHLIGHTS = {"changed": N_("changed"), "member": N_("member")}


def _highlight(key: str, value: str) -> str:
    """One highlight for a person: statuses, verdicts and outcomes by their labels."""
    from ..domain.states import Status
    from ..labels import label

    statuses = {status.value for status in Status}
    if key == "states":
        return " → ".join(
            label("status", state) if state in statuses else state for state in value.split(" → ")
        )
    if key == "verdict":
        return _("verdict {verdict}").format(verdict=label("verdict", value))
    if key == "outcome":
        shown = label("review", value) if value in ("continue", "close") else label("status", value)
        return _("outcome {outcome}").format(outcome=shown)
    return f"{_(_HIGHLIGHTS[key]) if key in _HIGHLIGHTS else key} {value}"


SIMULATED = N_("simulated clock: a rehearsal's log (init --simulated-clock), its dates were set")


def current_rules() -> int:
    from ..domain.payloads import RULES

    return RULES


RULES_1 = N_(
    "rules 1: a log begun by ctg-exchange 0.1.0, verified by its roles and state machine only "
    "(the law is not re-applied; a renewal or an avenant took effect with one admin's "
    "signature)"
)


only_request = click.option(
    "--request",
    "request_id",
    metavar="ID",
    help="Only this request's events.",
    shell_complete=complete.requests,
)


@click.group()
def audit() -> None:
    """Read, verify, checkpoint, prove and export the signed, hash-chained audit log."""


for _command in (checkpoint, cosign, checkpoints):
    audit.add_command(_command)


@audit.command()
@only_request
@click.option(
    "--since", type=DATE, metavar="YYYY-MM-DD", help="Only the events of this day and after."
)
@paging_options
@common_options
def log(request_id: str | None, since: datetime | None, limit: int | None, show_all: bool) -> None:
    """Show audit events in order: the 50 latest (--limit N, --all).

    \b
    Example:
      ctg-exchange audit log --request DX-2025-0001
      ctg-exchange audit log --since 2026-01-01 --all
    """
    from zoneinfo import ZoneInfo

    from ..errors import NotFound, cut
    from ..services.reading import event_page, policy_facts, since_time
    from ..store.sql_reads import EventFilter

    opts = options()
    reader = opts.reader()
    with reader.store.reading() as tx:
        if request_id is not None and tx.request_doc(request_id) is None:
            raise NotFound(_("no request {id!r}").format(id=cut(request_id)))
        zone = None if opts.json else policy_facts(tx, reader.root).time_zone
    where = EventFilter(subject=request_id, since=since_time(since.date()) if since else None)
    events, total = event_page(reader, where, page_size(limit, show_all))
    if opts.json:
        emit_json([stored.to_json() for stored in events])
    else:
        _print_log(events, request_id, ZoneInfo(zone or "Europe/Paris"))
    more = total - len(events)
    if more:
        tell(
            ngettext(
                "{count} earlier event not shown: --limit N or --all shows it",
                "{count} earlier events not shown: --limit N or --all shows them",
                more,
            ).format(count=more)
        )


def _print_log(events: list[StoredEvent], request_id: str | None, zone: tzinfo) -> None:
    from ..labels import label
    from .listing import Out
    from .markup import shown
    from .views import short_time

    out = Out()  # plain lines on a pipe, without rich
    out.print(
        _("[bold]Audit log[/] of {request}").format(request=request_id)
        if request_id
        else _("[bold]Audit log[/]")
    )
    for stored in events:
        e = stored.event
        out.print(
            f"  #{e.seq:<4} {short_time(e.time, zone)}  {e.actor} ({label('role', e.role)})  "
            f"{label('action', e.action)}  {shown(e.subject)}"
        )
        if summary := _summary(e):
            out.print(f"        {shown(summary)}")
    out.flush()


@audit.command()
@click.option(
    "--checkpoint",
    "checkpoint_files",
    multiple=True,
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="Also verify against this signed checkpoint note, kept elsewhere (repeatable).",
)
@click.option(
    "--export",
    "export_file",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="Verify this audit export instead of the workspace (no workspace needed).",
)
@click.option(
    "--full",
    is_flag=True,
    help="Verify every event and every stored record again, not only what changed since the "
    "last verification this verifier remembers.",
)
@common_options
def verify(checkpoint_files: tuple[Path, ...], export_file: Path | None, full: bool) -> None:
    """Verify the log; exit 3 naming the first failure (--json lists them all).

    Checks the hash chain, every signature against the key the member had, that each actor held
    the role the action needs at that time, every signed checkpoint (a truncated tail or a
    rewritten suffix fails there; a removed one the log implies too), re-applies the law at each
    event's date (screening, the convention in force, separation of duties, retention), and
    replays the log against the stored state: a row changed behind the tool's back is named.
    A checkpoint kept outside the workspace (the other party's copy, an earlier export) is
    checked with --checkpoint.

    A verification that finds nothing wrong is remembered in your own state directory
    ($XDG_STATE_HOME/ctg-exchange/verified, never the workspace); the next one verifies only
    the events after it, that every newer checkpoint is consistent with the root verified then
    (RFC 9162), and the stored records those events touched. --full verifies everything again
    (a record changed behind the tool's back in a request no new event touched is found there).

    \b
    Example:
      ctg-exchange audit verify
      ctg-exchange audit verify --full
      ctg-exchange audit verify --checkpoint caf92-checkpoint-12.txt
      ctg-exchange audit verify --export journal-2026.jsonl
    """
    from ..services.auditing import audit_verify, raise_if_broken, read_checkpoint_file

    opts = options()
    if export_file is not None:
        if checkpoint_files:
            raise click.UsageError(_("--checkpoint applies to the workspace, not to --export"))
        from ..services.audit_export import verify_export_file

        result = raise_if_broken(verify_export_file(export_file))
    else:
        external = [read_checkpoint_file(path) for path in checkpoint_files]
        result = audit_verify(opts.reading_workspace(), external, full=full)
    if opts.json:
        emit_json(result.to_json())
        return
    click.echo(
        ngettext("{n} event verified", "{n} events verified", result.events).format(n=result.events)
    )
    covered = (
        ngettext(
            ", the latest covering {n} event",
            ", the latest covering {n} events",
            result.latest_checkpoint or 0,
        ).format(n=result.latest_checkpoint)
        if result.checkpoints
        else ""
    )
    say(
        ngettext(
            "{n} checkpoint verified ({cosigned} cosigned)",
            "{n} checkpoints verified ({cosigned} cosigned)",
            result.checkpoints,
        ).format(n=result.checkpoints, cosigned=result.cosigned)
        + covered
    )
    if result.resumed:
        new = result.events - result.resumed
        say(
            ngettext(
                "{new} new event read; the {old} before were verified earlier (--full reads "
                "them again)",
                "{new} new events read; the {old} before were verified earlier (--full reads "
                "them again)",
                new,
            ).format(new=new, old=result.resumed)
        )
    if export_file is None:
        say(_("replay: the stored state matches the log"))
    if result.simulated:
        say(f"[yellow]{_(SIMULATED)}[/]")
    if result.rules < 2:
        say(f"[yellow]{_(RULES_1)}[/]")
    elif result.rules < current_rules():
        say(
            "[yellow]"
            + _(
                "rules {rules}: a log begun by an earlier version keeps the rules it began "
                "with; this version's (rules {current}) apply to workspaces it creates"
            ).format(rules=result.rules, current=current_rules())
            + "[/]"
        )
    else:
        say(
            _("rules {rules}: the procedure's rules are re-applied to every event").format(
                rules=result.rules
            )
        )
    say(_("head {hash}").format(hash=result.head))


@audit.command()
@click.option(
    "--request",
    "request_id",
    metavar="ID",
    required=True,
    help="The request.",
    shell_complete=complete.requests,
)
@common_options
def prove(request_id: str) -> None:
    """Prove that a request's events are in the latest signed checkpoint (RFC 9162 proofs).

    Each proof is checked before it is printed; --json gives the proofs in full, for anyone to
    check against the checkpoint's root.

    \b
    Example:
      ctg-exchange audit prove --request DX-2026-0001 --json > proofs.json
    """
    from ..services.auditing import prove_request

    opts = options()
    proofs = prove_request(opts.reading_workspace(), request_id)
    cp = proofs.checkpoint
    if opts.json:
        emit_json(
            {
                "request": request_id,
                "checkpoint": checkpoint_json(cp),
                "proofs": [
                    {
                        "seq": p.seq,
                        "leaf_index": p.seq - 1,
                        "tree_size": cp.size,
                        "action": p.action,
                        "leaf_hash": p.leaf,
                        "path": p.path,
                    }
                    for p in proofs.proofs
                ],
                "uncovered": proofs.uncovered,
            }
        )
        return
    say(checkpoint_line(cp))
    from ..labels import label

    rows = table(
        _("{request}: inclusion in checkpoint {checkpoint}").format(
            request=request_id, checkpoint=cp.id
        ),
        _("event"),
        _("action"),
        _("proof"),
        _("checked"),
    )
    for p in proofs.proofs:
        rows.add_row(
            f"#{p.seq}",
            label("action", p.action),
            ngettext("{n} hash", "{n} hashes", len(p.path)).format(n=len(p.path)),
            _("✓ leads to the root"),
        )
    rows.print()
    if proofs.uncovered:
        listed = ", ".join(f"#{seq}" for seq in proofs.uncovered)
        say(
            _("not yet in a checkpoint: {events} (`audit checkpoint` covers them)").format(
                events=listed
            )
        )


@audit.command()
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    required=True,
    help="The JSON-lines file to write (it must not exist; - for stdout).",
)
@only_request
@click.option("--from", "first", type=click.IntRange(min=1), metavar="SEQ", help="First event.")
@click.option("--to", "last", type=click.IntRange(min=1), metavar="SEQ", help="Last event.")
@common_options
def export(out: Path, request_id: str | None, first: int | None, last: int | None) -> None:
    """Export events with their hashes, signatures, signers' keys and checkpoints.

    An auditor verifies the file without this tool (docs/verify_audit_export.py, or any program
    written from docs/audit-format.md). A partial export (--request, --from/--to) carries each
    event's inclusion proof in the latest checkpoint. Acting as a member (--as) first verifies
    the log and signs a checkpoint of it (on a remote workspace: from your copy of the log,
    verified on your machine, which the export is then written from).

    \b
    Example:
      ctg-exchange --as c.dpo audit export --out journal.jsonl
      ctg-exchange --as c.dpo audit export --request DX-2026-0001 --out DX-2026-0001.jsonl
      python3 docs/verify_audit_export.py DX-2026-0001.jsonl
      ctg-exchange audit export --out - | gzip > journal.jsonl.gz
    """
    from ..errors import InvalidInput
    from ..services.audit_export import export_audit

    opts = options()
    if is_dash(out) and opts.json:
        raise InvalidInput(_("--json and --out - would both write to stdout: give one"))
    remote = opts.remote()
    session, sign = opts.session(), True
    if remote is not None:  # the export is written here, from this party's copy of the log
        if opts.actor:
            from ..remote.witness import checkpoint_remotely

            checkpoint_remotely(remote.config, remote.client(), remote.client().signer)
        session, sign = opts.reading_session(), False
    if is_dash(out):
        summary = through_stdout(
            "journal.jsonl",
            lambda path: export_audit(
                session, path, request_id=request_id, first=first, last=last, sign=sign
            ),
        )
    else:
        summary = export_audit(
            session, out, request_id=request_id, first=first, last=last, sign=sign
        )
    where = _("stdout") if is_dash(out) else str(summary.path)
    if opts.json:
        emit_json(
            {
                "path": str(summary.path),
                "events": summary.events,
                "complete": summary.complete,
                "checkpoints": summary.checkpoints,
                "checkpoint": None if summary.checkpoint is None else summary.checkpoint.id,
            }
        )
        return
    what = _("the whole log") if summary.complete else _("with inclusion proofs")
    say(
        "[green]✓[/] "
        + _("{count} events exported to {where} ({what})").format(
            count=summary.events, where=where, what=what
        )
    )
    if summary.checkpoint is not None:
        say(checkpoint_line(summary.checkpoint))
    file = _("FILE") if is_dash(out) else str(summary.path)
    say(
        _("verify it without ctg-exchange: python3 docs/verify_audit_export.py {file}").format(
            file=file
        )
    )


@audit.command()
@click.argument("seq", type=click.IntRange(min=1))
@click.option(
    "--signed-bytes",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write the exact bytes that were hashed and signed to this file (- for stdout).",
)
@click.option(
    "--signature",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write the event's SSHSIG signature to this file (- for stdout).",
)
@common_options
def show(seq: int, signed_bytes: Path | None, signature: Path | None) -> None:
    """Show one event; optionally write its signed bytes and signature for ssh-keygen.

    Either of them may go to stdout (-), which then carries only those bytes.

    \b
    Example:
      ctg-exchange audit show 3 --signed-bytes e3.bin --signature e3.sig
      ctg-exchange member allowed-signers --out allowed_signers
      ssh-keygen -Y verify -f allowed_signers -I c.dpo -n ctg-exchange/event@v1 \\
          -s e3.sig < e3.bin
      ctg-exchange audit show 3 --signature e3.sig --signed-bytes - | ssh-keygen -Y verify \\
          -f allowed_signers -I c.dpo -n ctg-exchange/event@v1 -s e3.sig
    """
    from ..services.auditing import audit_event

    opts = options()
    to_stdout = one_on_stdout(("--signed-bytes", signed_bytes), ("--signature", signature))
    stored = audit_event(opts.reading_workspace(), seq)
    if signature is not None:
        write_output(signature, stored.signature.encode())
    if signed_bytes is not None:
        write_output(signed_bytes, stored.event.signed_bytes())
    if to_stdout:
        return
    if opts.json:
        emit_json(stored.to_json())
        return
    for key, value in stored.to_json().items():
        if key != "signature":
            click.echo(f"{key:10} {value}")
    click.echo(stored.signature, nl=False)
