"""Replacing a member's signing key (issue 19; docs/audit-format.md §4.1).

``keys rotate --member ID``, run by the member: a new key is made beside the current one
(``ID~new`` in the key directory), proves itself by signing the rotation statement, and the
``keys.rotate`` event, signed with the current key, registers it; only then do the files swap
(the old key kept as ``ID~retired-STAMP``). A command stopped between the commit and the swap
is finished by the next one that opens the key (:class:`~.session.Keyring`).

``keys rotate --member ID --lost --reason TEXT``, run by an admin of the member's party: the
member made a new key on their own machine (``keys generate --member ID``) and handed over its
public half; the admin's key signs the event, which keeps the digest of the reason (the text
stays in the workspace, as a revocation's).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..audit.canonical import text_digest
from ..crypto import sshsig
from ..crypto.publickey import PublicKey
from ..domain.actions import Action
from ..domain.key_payloads import KeyRotation, KeySpan, key_history, rotation_statement
from ..domain.models import Member
from ..domain.rules import authorise_key_rotation
from ..errors import ExchangeError, InvalidInput, cut
from ..i18n import _
from ..store.base import Tx
from .remoting import RemoteTarget, remotable, said
from .session import (
    Recorder,
    Session,
    known_member,
    perform,
    retired_stamp,
    unknown_member,
)
from .workspace import Workspace


def _reason(lost: bool, reason: str | None) -> str | None:
    text = (reason or "").strip()
    if lost and not text:
        raise InvalidInput(
            _("a lost key's replacement states its reason: give --reason TEXT"),
        )
    if not lost and text:
        raise InvalidInput(_("--reason goes with --lost (a lost or compromised key)"))
    return text or None


def _check_new_key(tx: Tx, key: PublicKey, target: Member) -> None:
    if key.openssh == target.public_key:
        raise InvalidInput(
            _("this is {member}'s current key: a rotation registers a new one").format(
                member=target.id
            ),
            hint=_("the member makes one with `ctg-exchange keys generate --member {id}`").format(
                id=target.id
            ),
        )
    holder = tx.key_holder(key.openssh)
    if holder is not None:
        raise InvalidInput(
            _("this public key is or was registered to {id!r}: a key serves once").format(
                id=cut(holder)
            )
        )


@remotable(
    Action.KEY_ROTATE,
    expect=lambda a: {
        "member": a["member_id"],
        "public_key": PublicKey.parse(a["public_key"]).openssh,
        "lost": a["lost"],
        "proof": a["proof"],
        "reason_sha256": said(a["reason"]),
    },
)
def register_rotation(
    session: Session,
    member_id: str,
    public_key: str,
    lost: bool = False,
    reason: str | None = None,
    proof: str | None = None,
) -> Member:
    """Register ``public_key`` as ``member_id``'s signing key, retiring the current one."""
    key = PublicKey.parse(public_key)
    reason = _reason(lost, reason)
    if not lost and proof is None:
        raise InvalidInput(_("a member's own rotation carries the new key's proof of possession"))

    def operation(tx: Tx, actor: Member, recorder: Recorder) -> Member:
        target = known_member(tx, member_id)
        role = authorise_key_rotation(actor, target, lost)
        _check_new_key(tx, key, target)
        previous = PublicKey.parse(target.public_key)
        if proof is not None:
            statement = rotation_statement(
                session.workspace.id, member_id, previous.fingerprint, key.fingerprint
            )
            try:
                sshsig.verify(key, sshsig.NAMESPACE_KEY_ROTATION, statement, proof)
            except ExchangeError:
                raise InvalidInput(_("the new key's proof of possession does not verify")) from None
        payload = KeyRotation(
            member=member_id,
            previous_fingerprint=previous.fingerprint,
            public_key=key.openssh,
            fingerprint=key.fingerprint,
            lost=lost,
            proof=proof,
            reason_sha256=None if reason is None else text_digest(reason),
        )
        event = recorder.record(actor, role, member_id, payload)
        tx.rotate_member_key(member_id, event.seq, key.openssh, key.fingerprint, lost, reason)
        return known_member(tx, member_id)

    return perform(session, operation)


@dataclass(frozen=True)
class Rotated:
    member: Member
    private_key_file: Path | None  # the member's own rotation: the new key's file
    retired_key_file: Path | None  # … and where the key it replaces is kept


def _prechecked(session: Session, member_id: str, lost: bool) -> tuple[str, Member]:
    """The log's id and the member whose key is replaced, once the rotation is known allowed
    (read as the workspace is now, before any passphrase or key file: the change's own
    transaction checks it all again)."""
    from .members import list_members

    if isinstance(session, RemoteTarget):  # a hosted workspace: its members, as served
        log_id: str = getattr(session, "config").workspace_id  # noqa: B009
        listed = list_members(session)  # type: ignore[arg-type]
    else:
        log_id, listed = session.workspace.id, list_members(session.workspace)
    members = {m.id: m for m in listed}
    target, actor = members.get(member_id), members.get(session.require_actor())
    if target is None or actor is None:
        raise unknown_member(member_id if target is None else session.require_actor())
    authorise_key_rotation(actor, target, lost)
    return log_id, target


def rotate_own_key(session: Session, member_id: str) -> Rotated:
    """The member's own rotation: make the new key, register it (signed with the current
    one), then swap the key files."""
    log_id, target = _prechecked(session, member_id, lost=False)
    keyring = session.keyring
    key_dir = keyring.key_dir
    # a rotation stopped before its files swapped: its key is the registered one, put in place
    # first (else making the next key would drop it)
    key_dir.finish_rotation(member_id, target.public_key, retired_stamp())
    passphrase = keyring.passphrase(
        _("New passphrase for {member}'s new key").format(member=member_id), confirm=True
    )
    new = key_dir.stage(member_id, passphrase)
    try:
        previous = PublicKey.parse(target.public_key)
        statement = rotation_statement(
            log_id, member_id, previous.fingerprint, new.public_key.fingerprint
        )
        proof = new.sign(sshsig.NAMESPACE_KEY_ROTATION, statement)
        member = register_rotation(session, member_id, new.public_key.openssh, False, None, proof)
    except BaseException as exc:
        # refused: the log does not hold the new key, which goes. Otherwise (interrupted, a
        # server out of reach) it may: the staged key stays, for the next command to put in
        # place if the log registered it (Keyring), or for the next rotation to replace
        refused = isinstance(exc, ExchangeError) and getattr(exc, "status", 400) is not None
        if refused:
            key_dir.discard_staged(member_id)
        raise
    retired = key_dir.promote(member_id, retired_stamp())
    return Rotated(member, key_dir.private_path(member_id), retired)


def replace_lost_key(session: Session, member_id: str, key_file: Path, reason: str) -> Rotated:
    """An admin registers the member's new key (its public half, in ``key_file``) in place of
    a lost or compromised one."""
    from ..crypto.keys import read_public_key

    _reason(True, reason)
    _prechecked(session, member_id, lost=True)
    key = read_public_key(key_file)
    member = register_rotation(session, member_id, key.openssh, True, reason, None)
    return Rotated(member, None, None)


def key_spans(workspace: Workspace, member_id: str) -> list[KeySpan]:
    """Every signing key of ``member_id``, with when it was theirs."""
    with workspace.store.transaction() as tx:
        member = known_member(tx, member_id)
        return key_history(member, tx.key_changes(member_id))
