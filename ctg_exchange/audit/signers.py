"""Who may have signed a checkpoint (docs/audit-format.md §7): a member of the log, with a key
it held then, neither an auditor, nor past its term, nor revoked by the checkpoint's size."""

from __future__ import annotations

import hashlib
from datetime import date

from ..crypto.publickey import PublicKey
from ..domain.rules import RULE_AUDITOR, RULE_TERM_ENDED
from ..domain.states import Role
from ..i18n import _
from .checkpoint import Checkpoint, key_id
from .key_replay import KEY_RETIRED
from .replay import LogMember


def signer_problem(
    member: LogMember, retired_seq: int | None, size: int, day: date | None
) -> tuple[str, str | None] | None:
    """Why ``member``'s signature on a checkpoint of ``size`` events (the last dated ``day`` in
    France) is not one it may make, and the rule's code; None if it may. ``retired_seq``: the
    event that retired the key it signed with, if any."""
    if member.has(Role.AUDITOR):
        return (
            _("signed by {member}, an auditor: an auditor signs no checkpoint").format(
                member=member.id
            ),
            RULE_AUDITOR,
        )
    if retired_seq is not None and retired_seq < size:
        return (
            _("signed by {member} with a key retired at event #{seq}").format(
                member=member.id, seq=retired_seq
            ),
            KEY_RETIRED,
        )
    if member.until is not None and day is not None and day > member.until:
        return (
            _("{rule}: signed by {member}, a member until {date}, after that day").format(
                rule=RULE_TERM_ENDED, member=member.id, date=member.until.isoformat()
            ),
            RULE_TERM_ENDED,
        )
    if member.revoked_seq is not None and member.revoked_seq <= size:
        return (
            _("signed by {member}, revoked at event #{seq}").format(
                member=member.id, seq=member.revoked_seq
            ),
            None,
        )
    return None


def member_key(member: LogMember, wanted: bytes) -> tuple[PublicKey, int | None] | None:
    """The member's key whose note key id is ``wanted``, with the event that retired it."""
    return next(
        ((key, until) for key, until in member.keys() if key_id(member.id, key.blob) == wanted),
        None,
    )


def note_key(checkpoint: Checkpoint) -> str:
    """What identifies a signed note: its text and every signature line."""
    digest = hashlib.sha256(checkpoint.text.encode("utf-8"))
    for signature in checkpoint.signatures:
        digest.update(b"\n" + signature.name.encode("utf-8") + signature.key_id + signature.blob)
    return digest.hexdigest()
