"""The host's side of the other party's witness (DESIGN §11): keeping its cosignatures, and
the checkpoints members sign on their own machines.

The party that does not host copies the log, verifies it on its own machine, checks that the
host's latest checkpoint extends the one it cosigned before (:mod:`ctg_exchange.remote.witness`),
and only then cosigns that checkpoint. The host keeps the cosignature beside the checkpoint, as
the local ``audit cosign`` does: from then on neither party can rewrite the log up to it
unseen. The host checks the cosignature is the member's, of a checkpoint it holds: it takes no
one's word, and signs nothing itself.
"""

from __future__ import annotations

from typing import Any

from ..audit.checkpoint import CheckpointSigner, key_id, origin_of, parse_note, parse_text
from ..crypto import sshsig
from ..crypto.publickey import PublicKey
from ..crypto.sshsig import NAMESPACE_CHECKPOINT
from ..domain.models import Member
from ..domain.rules import cosigning_role
from ..errors import InvalidInput, NotAuthorised, NotFound, SignatureInvalid
from ..i18n import _, ngettext
from .auditing import acting_role
from .session import load_actor
from .workspace import Workspace


def add_cosignature(
    workspace: Workspace, member: Member, text: str, line: str, *, cosign: bool = True
) -> dict[str, Any]:
    """Keep ``member``'s signature ``line`` of the checkpoint whose note text is ``text``; what
    the checkpoint's signers are then. ``cosign``: a witness's cosignature (an admin or a DPO)
    of a checkpoint kept here; else a member's signature of the log as it stands (``audit
    checkpoint`` on a remote workspace), kept as a new checkpoint if none of that tree is."""
    stated = parse_text(text)
    try:
        (signature,) = parse_note(text + "\n" + line).signatures
    except ValueError:
        raise InvalidInput(_("a cosignature is one signature line")) from None
    key = PublicKey.parse(member.public_key)
    if signature.name != member.id or signature.key_id != key_id(member.id, key.blob):
        raise InvalidInput(_("the cosignature is not signed as {member}").format(member=member.id))
    try:
        sshsig.verify_blob(key, NAMESPACE_CHECKPOINT, text.encode("utf-8"), signature.blob)
    except SignatureInvalid:
        raise NotAuthorised(
            "bad-checkpoint-signature",
            _("the cosignature is not {member}'s of that checkpoint").format(member=member.id),
        ) from None
    at = workspace.clock().now()  # (a workspace reads its clock in a transaction of its own)
    with workspace.store.transaction(write=True) as tx:
        actor = load_actor(tx, member.id)
        role = cosigning_role(actor) if cosign else acting_role(actor)
        held = [c.id for c in tx.checkpoints() if c.text == text]
        if not held and cosign:
            raise NotFound(_("no checkpoint of that tree is kept here"))
        if not held:
            if stated.origin != origin_of(workspace.id) or stated.size > tx.count_events():
                raise InvalidInput(_("the checkpoint is not of this log as it stands"))
            latest = tx.latest_checkpoint()
            if latest is not None and stated.size < latest.size:
                raise InvalidInput(
                    ngettext(
                        "the latest checkpoint covers {count} event: a new one covers as many",
                        "the latest checkpoint covers {count} events: a new one covers as many",
                        latest.size,
                    ).format(count=latest.size)
                )
            if tx.tree_root(stated.size) != stated.root:
                raise InvalidInput(
                    _("the checkpoint's root is not this log's at {size}").format(size=stated.size)
                )
            held = [tx.add_checkpoint(stated.size, stated.root.hex(), text, at)]
        checkpoint = tx.get_checkpoint(held[-1])
        assert checkpoint is not None
        if all(s.signer != actor.id for s in checkpoint.signers):
            signer = CheckpointSigner(actor.id, actor.party, role.value, at, cosign, line)
            tx.add_checkpoint_signature(checkpoint.id, signer)
        kept = tx.get_checkpoint(checkpoint.id)
    assert kept is not None
    return {"checkpoint": kept.id, "size": kept.size, "signers": [s.signer for s in kept.signers]}
