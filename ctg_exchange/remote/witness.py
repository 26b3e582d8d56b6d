"""``witness pull``: the party that does not host checks the host's log, then cosigns it.

Run by that party's DPO or admin (from cron, say), against its remote workspace:

1. the copy (:mod:`.copy`) is brought up to the server's log, a page of new events at a time,
   each chained onto the last one copied; a window of the events already copied is read again
   and compared (all of them with ``--full``);
2. the whole copy is verified on this machine, as ``audit verify`` verifies a workspace: chain,
   signatures, roles, checkpoints, the law re-applied to every event, the records replayed;
3. the server's latest checkpoint must extend the last one this party cosigned: the RFC 9162
   consistency proof the server gives is checked against both roots, and the checkpoint's root
   must be that of the copy's own tree of its size;
4. only then is it cosigned, with this member's key (C2SP tlog-witness: a witness never signs
   a tree inconsistent with one it signed before). The cosigned checkpoint is recorded in
   ``copy/witness.json`` (atomically) *before* the cosignature is sent.

Anything else stops it with exit 3 and signs nothing; a checkpoint inconsistent with the one
cosigned (a split view, a rewritten history) is kept as evidence beside the one cosigned.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..audit import merkle
from ..audit.checkpoint import (
    Checkpoint,
    NoteSignature,
    StoredCheckpoint,
    key_id,
    note_text,
    origin_of,
    parse_note,
    signature_line,
)
from ..crypto import sshsig
from ..crypto.sshsig import NAMESPACE_CHECKPOINT
from ..errors import ExchangeError, InvalidInput
from ..fsutil import write_atomic
from ..i18n import _, ngettext
from .copy import RECHECK, Diverged, Pulled, evidence, pull, verify_copy

if TYPE_CHECKING:
    from ..crypto.keys import Signer
    from ..services.workspace import Workspace
    from ..store.sql import SqlTx
    from .client import Client, RemoteConfig

STATE = "witness.json"


@dataclass(frozen=True)
class Cosigned:
    size: int
    root: bytes
    note: str  # the checkpoint as served when it was cosigned


@dataclass(frozen=True)
class WitnessState:
    cosigned: Cosigned | None = None
    recheck: int = 0  # the next event already copied to read again

    @classmethod
    def read(cls, root: Path) -> WitnessState:
        path = root / STATE
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return cls()
        except (OSError, ValueError):
            raise InvalidInput(
                _("{path} is unreadable: it records what was cosigned").format(path=path)
            ) from None
        held = data.get("cosigned")
        cosigned = None
        if held is not None:
            cosigned = Cosigned(int(held["size"]), bytes.fromhex(held["root"]), str(held["note"]))
        return cls(cosigned, int(data.get("recheck", 0)))

    def write(self, root: Path) -> None:
        held = self.cosigned
        data = {
            "cosigned": None
            if held is None
            else {"size": held.size, "root": held.root.hex(), "note": held.note},
            "recheck": self.recheck,
        }
        write_atomic(root / STATE, (json.dumps(data, indent=2) + "\n").encode(), mode=0o600)


@dataclass(frozen=True)
class Witnessed:
    pulled: Pulled
    verified: int  # events verified
    checkpoint: int | None  # the size of the latest checkpoint this party has signed
    cosigned_now: bool  # the host's latest checkpoint, cosigned by this pull
    anchored_now: bool = False  # a checkpoint of every event verified, signed by this pull


def witness_pull(
    config: RemoteConfig, client: Client, signer: Signer, *, full: bool = False
) -> Witnessed:
    from .copy import copy_root, ensure_copy

    ensure_copy(config)
    root = copy_root(config)
    state = WitnessState.read(root)
    since = None if state.cosigned is None else state.cosigned.size
    recheck = _window(root, state.recheck, full)
    found: dict[str, Any] = {}

    def check(tx: SqlTx, workspace: Workspace, pulled: Pulled) -> None:
        found["verified"] = verify_copy(root, tx, workspace)
        found["root"] = tx.tree_root(pulled.size)
        if pulled.checkpoint is None and state.cosigned is not None:
            raise Diverged(
                ngettext(
                    "the server no longer shows any checkpoint, though this party cosigned one "
                    "of {size} events: they were withdrawn",
                    "the server no longer shows any checkpoint, though this party cosigned one "
                    "of {size} events: they were withdrawn",
                    state.cosigned.size,
                ).format(size=state.cosigned.size),
                evidence(root, "withdrawn", {"cosigned-checkpoint.txt": state.cosigned.note}),
            )
        if pulled.checkpoint is not None:
            found["checkpoint"] = _checked(root, config, state.cosigned, pulled, tx)

    pulled = pull(config, client, since=since, recheck=recheck, check=check)
    next_recheck = 0 if recheck is None else recheck[1]
    verified, cosigned, cosigned_now = found["verified"], state.cosigned, False
    if pulled.checkpoint is not None:
        checkpoint: Checkpoint = found["checkpoint"]
        mine = any(_signed_by(signer, checkpoint, line) for line in checkpoint.signatures)
        cosigned = Cosigned(checkpoint.size, checkpoint.root, str(pulled.checkpoint["note"]))
        WitnessState(cosigned, next_recheck).write(root)  # before the cosignature leaves
        if not mine:
            line = _line(signer, checkpoint.text)
            client.call("POST", "/v1/cosign", {"note": checkpoint.text, "line": line})
            cosigned_now = True
    anchored = None
    if cosigned is None or cosigned.size < pulled.size:
        # events no checkpoint covers yet: this party signs one of all it verified, so that
        # a host showing no new checkpoint cannot keep them out of what the witness vouches
        text = note_text(origin_of(config.workspace_id), pulled.size, found["root"])
        line = _line(signer, text)
        anchored = Cosigned(pulled.size, found["root"], text + "\n" + line)
        WitnessState(anchored, next_recheck).write(root)  # before the signature leaves
        client.call("POST", "/v1/checkpoints", {"note": text, "line": line})
    else:
        WitnessState(cosigned, next_recheck).write(root)
    size = pulled.size if anchored is not None else (cosigned.size if cosigned else None)
    return Witnessed(pulled, verified, size, cosigned_now, anchored is not None)


def _line(signer: Signer, text: str) -> str:
    armored = signer.sign(NAMESPACE_CHECKPOINT, text.encode("utf-8"))
    return signature_line(signer.name, signer.public_key.blob, armored)


def _signed_by(signer: Signer, checkpoint: Checkpoint, line: NoteSignature) -> bool:
    """Whether ``line`` is this member's signature of the checkpoint (a line naming them that
    is not theirs counts for nothing)."""
    if line.name != signer.name or line.key_id != key_id(signer.name, signer.public_key.blob):
        return False
    try:
        sshsig.verify_blob(
            signer.public_key, NAMESPACE_CHECKPOINT, checkpoint.text.encode("utf-8"), line.blob
        )
    except ExchangeError:
        return False
    return True


def _window(root: Path, start: int, full: bool) -> tuple[int, int] | None:
    """The events already copied to read again this time: all of them (``full``, or fewer
    than :data:`RECHECK`), else the next :data:`RECHECK` of them, in turn."""
    from ..services.workspace import Workspace

    workspace = Workspace.open(root)
    try:
        with workspace.store.transaction() as tx:
            held = tx.count_events()
    finally:
        workspace.close()
    if held == 0:
        return None
    if full or held <= RECHECK:
        return 1, held
    first = start + 1 if 0 <= start < held else 1
    return first, min(held, first + RECHECK - 1)


def _checked(
    root: Path, config: RemoteConfig, cosigned: Cosigned | None, pulled: Pulled, tx: SqlTx
) -> Checkpoint:
    """The served latest checkpoint, if it extends the one cosigned and is of the copy."""
    served, size = pulled.checkpoint or {}, pulled.size
    try:
        checkpoint = parse_note(str(served.get("note")))
    except InvalidInput:
        raise InvalidInput(_("the server's latest checkpoint is not a signed note")) from None
    files = {"served-checkpoint.txt": str(served.get("note"))}
    if cosigned is not None:
        files["cosigned-checkpoint.txt"] = cosigned.note
    if checkpoint.origin != origin_of(config.workspace_id) or checkpoint.size > size:
        raise Diverged(
            _("the server's latest checkpoint is not of the log it served"),
            evidence(root, "checkpoint", files),
        )
    if cosigned is not None:
        proof = served.get("consistency")
        try:
            nodes = [bytes.fromhex(node) for node in proof or ()]
            consistent = checkpoint.size >= cosigned.size and merkle.consistent(
                cosigned.size, checkpoint.size, cosigned.root, checkpoint.root, nodes
            )
        except (TypeError, ValueError):
            consistent = False
        if not consistent:
            files["consistency-proof.json"] = json.dumps(proof) + "\n"
            raise Diverged(
                _(
                    "the server's latest checkpoint ({size} events) does not extend the one this "
                    "party cosigned ({cosigned}): a split view or a rewritten history"
                ).format(size=checkpoint.size, cosigned=cosigned.size),
                evidence(root, "split-view", files),
            )
    own = tx.tree_root(checkpoint.size)
    if own != checkpoint.root:
        files["copy-root.txt"] = base64.b64encode(own).decode("ascii") + "\n"
        raise Diverged(
            ngettext(
                "the server's latest checkpoint is not the root of the {size} events it served",
                "the server's latest checkpoint is not the root of the {size} events it served",
                checkpoint.size,
            ).format(size=checkpoint.size),
            evidence(root, "checkpoint", files),
        )
    return checkpoint


def checkpoint_remotely(config: RemoteConfig, client: Client, signer: Signer) -> StoredCheckpoint:
    """``audit checkpoint`` on a remote workspace: the copy brought up to date and verified
    here, a checkpoint of it signed here, and kept by the server (which checks its root)."""
    from .copy import copy_root, ensure_copy

    root = ensure_copy(config)
    found: dict[str, str] = {}

    def check(tx: SqlTx, workspace: Workspace, pulled: Pulled) -> None:
        verify_copy(root, tx, workspace)
        size = pulled.size
        found["text"] = note_text(origin_of(config.workspace_id), size, tx.tree_root(size))

    pull(config, client, check=check)
    text = found["text"]
    armored = signer.sign(NAMESPACE_CHECKPOINT, text.encode("utf-8"))
    line = signature_line(signer.name, signer.public_key.blob, armored)
    answer = client.call("POST", "/v1/checkpoints", {"note": text, "line": line})
    return kept_checkpoint(config, client, answer.get("checkpoint"), copy_root(config))


def cosign_remotely(config: RemoteConfig, client: Client, signer: Signer) -> StoredCheckpoint:
    """``audit cosign`` on a remote workspace: a witness pull (:func:`witness_pull`); the
    checkpoint it cosigned, as the copy then holds it."""
    from .copy import copy_root

    done = witness_pull(config, client, signer)
    if done.checkpoint is None:
        raise InvalidInput(
            _("there is no checkpoint to cosign"),
            hint=_("`ctg-exchange audit checkpoint` makes one"),
        )
    return kept_checkpoint(config, client, None, copy_root(config))


def kept_checkpoint(
    config: RemoteConfig, client: Client, checkpoint_id: Any, root: Path
) -> StoredCheckpoint:
    """A checkpoint (by its id; None: the latest) as the copy holds it once up to date."""
    from ..services.auditing import get_checkpoint
    from ..services.workspace import Workspace

    pull(config, client)
    workspace = Workspace.open(root)
    try:
        return get_checkpoint(workspace, checkpoint_id if isinstance(checkpoint_id, int) else None)
    finally:
        workspace.close()
