"""``ctg-exchange audit checkpoint``, ``cosign`` and ``checkpoints``: the signed checkpoints
of the audit log (C2SP tlog-checkpoint), made, countersigned, listed and written out for
``ssh-keygen``. Registered on the ``audit`` group by :mod:`.audit_cmd`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from ..i18n import _, ngettext
from . import complete
from .common import (
    common_options,
    emit_json,
    is_dash,
    one_on_stdout,
    options,
    say,
    table,
    write_output,
)


def checkpoint_line(cp: Any) -> str:
    signers = ", ".join(f"{s.signer} ({s.party})" for s in cp.signers)
    return ngettext(
        "checkpoint {id}: {n} event, root {root}…, signed by {signers}",
        "checkpoint {id}: {n} events, root {root}…, signed by {signers}",
        cp.size,
    ).format(id=cp.id, n=cp.size, root=cp.root_hex[:16], signers=signers)


@click.command()
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Also write the signed checkpoint note to this file (- prints only the note).",
)
@common_options
def checkpoint(out: Path | None) -> None:
    """Verify the log, then sign a checkpoint of it (C2SP tlog-checkpoint, SSHSIG).

    A checkpoint commits to the log's size and Merkle root; keep a copy outside the workspace,
    or have the other party cosign it, and nobody can later truncate or rewrite the log unseen.
    Checkpoints are also made after every send, reception and deletion, every 1,000 events, and
    at each export.

    \b
    Example:
      ctg-exchange --as c.dpo audit checkpoint --out checkpoint.txt
    """
    from ..services.auditing import make_checkpoint

    opts = options()
    one_on_stdout(("--out", out))
    remote = opts.remote()
    if remote is None:
        cp = make_checkpoint(opts.session())
    else:  # verified and signed here, from this party's copy of the log
        from ..remote.witness import checkpoint_remotely

        client = remote.client()
        cp = checkpoint_remotely(remote.config, client, client.signer)
    if out is not None and not is_dash(out):
        write_output(out, cp.note.encode("utf-8"))
    if opts.json:
        emit_json(checkpoint_json(cp))
        return
    click.echo(cp.note, nl=False)  # the note is what stdout carries, with or without --out -
    say(checkpoint_line(cp))


@click.command()
@common_options
def cosign() -> None:
    """Countersign the latest checkpoint for the other party (an admin or the DPO).

    The whole log is verified first; the signature is refused if anything fails. Once both
    parties have signed a checkpoint, neither can rewrite the log up to it unseen. On a remote
    workspace this is `witness pull`: the log is copied and verified on your machine.

    \b
    Example:
      ctg-exchange --as v.dpo audit cosign
    """
    from ..services.auditing import cosign as cosign_latest

    opts = options()
    remote = opts.remote()
    if remote is None:
        cp = cosign_latest(opts.session())
    else:  # as `witness pull` does: copied, verified here, then cosigned
        from ..remote.witness import cosign_remotely

        client = remote.client()
        cp = cosign_remotely(remote.config, client, client.signer)
    if opts.json:
        emit_json(checkpoint_json(cp))
        return
    click.echo(cp.note, nl=False)
    say(checkpoint_line(cp))


def checkpoint_json(cp: Any) -> dict[str, Any]:
    return {
        "id": cp.id,
        "tree_size": cp.size,
        "root": cp.root_hex,
        "created_at": cp.created_at,
        "parties": cp.parties,
        "signers": [
            {
                "member": s.signer,
                "party": s.party,
                "role": s.role,
                "signed_at": s.signed_at,
                "cosign": s.cosign,
            }
            for s in cp.signers
        ],
        "note": cp.note,
    }


@click.command()
@click.option("--show", "show_id", type=click.IntRange(min=1), help="Print this checkpoint's note.")
@click.option(
    "--signer",
    metavar="MEMBER",
    help="With --show: whose signature to write.",
    shell_complete=complete.members,
)
@click.option(
    "--signed-bytes",
    type=click.Path(path_type=Path, dir_okay=False),
    help="With --show: write the signed note text (what ssh-keygen checks) to this file "
    "(- for stdout).",
)
@click.option(
    "--signature",
    type=click.Path(path_type=Path, dir_okay=False),
    help="With --show and --signer: write that member's SSHSIG to this file (- for stdout).",
)
@common_options
def checkpoints(
    show_id: int | None, signer: str | None, signed_bytes: Path | None, signature: Path | None
) -> None:
    """List the signed checkpoints, or show one and write it out for ssh-keygen.

    \b
    Example:
      ctg-exchange audit checkpoints
      ctg-exchange audit checkpoints --show 2 --signer v.dpo --signed-bytes cp2.txt \\
          --signature cp2.sig
      ssh-keygen -Y verify -f allowed_signers -I v.dpo -n ctg-exchange/checkpoint@v1 \\
          -s cp2.sig < cp2.txt
    """
    from ..services.auditing import get_checkpoint, list_checkpoints

    opts = options()
    if show_id is None:
        if signer or signed_bytes or signature:
            raise click.UsageError(_("--signer, --signed-bytes and --signature go with --show"))
        workspace = opts.reading_workspace()
        found = list_checkpoints(workspace)
        if opts.json:
            emit_json([checkpoint_json(cp) for cp in found])
            return
        if not found:
            say(_("No checkpoint yet: `audit checkpoint` makes one."))
            return
        from .views import display_zone, short_time

        zone = display_zone(workspace)
        rows = table(
            _("Checkpoints"),
            "id",
            _("events"),
            _("root"),
            _("made ({zone})").format(zone=zone.key),
            _("signed by"),
            wrap=_("signed by"),
        )
        for cp in found:
            cosigned = _(", cosigned")
            signed = "; ".join(
                f"{s.signer} ({s.party}{cosigned if s.cosign else ''})" for s in cp.signers
            )
            rows.add_row(
                str(cp.id), str(cp.size), cp.root_hex[:12], short_time(cp.created_at, zone), signed
            )
        rows.print()
        return
    to_stdout = one_on_stdout(("--signed-bytes", signed_bytes), ("--signature", signature))
    cp = get_checkpoint(opts.reading_workspace(), show_id)
    _write_for_ssh_keygen(cp, signer, signed_bytes, signature)
    if to_stdout:
        return
    if opts.json:
        emit_json(checkpoint_json(cp))
        return
    click.echo(cp.note, nl=False)


def _write_for_ssh_keygen(
    cp: Any, signer: str | None, signed_bytes: Path | None, signature: Path | None
) -> None:
    from ..audit.checkpoint import parse_note
    from ..errors import InvalidInput

    if signature is not None and signer is None:
        raise click.UsageError(_("--signature needs --signer MEMBER"))
    armored = None
    if signature is not None:
        found = [s for s in parse_note(cp.note).signatures if s.name == signer]
        if not found:
            raise InvalidInput(
                _("checkpoint {id} has no signature by {signer}: it is signed by {signers}").format(
                    id=cp.id, signer=signer, signers=", ".join(s.signer for s in cp.signers)
                )
            )
        armored = found[0].armored
    if signed_bytes is not None:
        write_output(signed_bytes, cp.text.encode("utf-8"))
    if signature is not None and armored is not None:
        write_output(signature, armored.encode("ascii"))
