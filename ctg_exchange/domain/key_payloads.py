"""The payload of a member's key rotation (issue 19), and the statement its new key signs.

A rotation retires the member's signing key and registers a new one. Taken by the member, the
event is signed with the key it retires, and its ``proof`` is the new key's own signature of
:func:`rotation_statement`: both keys are proved held. A lost or compromised key is replaced by
an admin of the member's party, whose key signs the event; it then carries the digest of the
admin's stated reason instead of a proof (the member made the new key on their own machine and
handed over only its public half, as for ``member.add``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, ClassVar

from pydantic import Field, StrictBool, StringConstraints

from .actions import Action
from .facts import FactBook, KeyRotationFacts, Logged
from .models import Member
from .payloads import Fingerprint, OpenSshKey, Payload, Sha256
from .types import Doc, Frozen, MemberId

ROTATION_PREFIX = b"ctg-exchange/key-rotation@v1\n"
Armored = Annotated[
    str,
    StringConstraints(
        pattern=r"^-----BEGIN SSH SIGNATURE-----\n[A-Za-z0-9+/=\n]+-----END SSH SIGNATURE-----\n?$",
        max_length=2048,
    ),
    Doc("armored SSHSIG"),
]


def rotation_statement(log: str, member: str, previous: str, new: str) -> bytes:
    """What the new key signs (namespace ``ctg-exchange/key-rotation@v1``): this log, this
    member, the key retired and the key registered, each fingerprint on its own line."""
    return ROTATION_PREFIX + f"log {log}\nmember {member}\nretires {previous}\nkey {new}\n".encode()


class KeyRotation(Payload):
    action = Action.KEY_ROTATE
    subject = "member id"
    omitted_when_none: ClassVar[frozenset[str]] = frozenset({"proof", "reason_sha256"})
    member: MemberId
    previous_fingerprint: Fingerprint = Field(description="of the key it retires")
    public_key: OpenSshKey = Field(description="the new key")
    fingerprint: Fingerprint = Field(description="of the new key")
    lost: StrictBool = Field(
        description="true: a lost or compromised key, replaced by an admin of the party"
    )
    proof: Armored | None = Field(
        None,
        description="the new key's SSHSIG of the rotation statement (audit-format.md §4.1); "
        "required unless lost",
    )
    reason_sha256: Sha256 | None = Field(
        None, description="of the admin's reason; required when lost"
    )

    def subject_of(self) -> str | None:
        return self.member

    def apply(self, book: FactBook, event: Logged) -> None:
        book.key_rotation[event.seq] = KeyRotationFacts(
            member=self.member,
            previous_fingerprint=self.previous_fingerprint,
            public_key=self.public_key,
            fingerprint=self.fingerprint,
            by=event.actor,
            lost=self.lost,
            reason_sha256=self.reason_sha256,
        )
        known = book.member.get(self.member)
        if known is not None:
            known.public_key, known.fingerprint = self.public_key, self.fingerprint

    def highlights(self) -> dict[str, str]:
        return {"member": self.member}


class KeyChange(Frozen):
    """A rotation as the store keeps it: the key retired, the key registered, when and by
    whom (its event's), and an admin's reason for a lost key."""

    seq: int
    member: MemberId
    previous_key: str
    previous_fingerprint: str
    public_key: str
    fingerprint: str
    at: str
    by: str
    lost: bool
    reason: str | None = None


@dataclass(frozen=True)
class KeySpan:
    """One of a member's signing keys and when it was theirs: from the event that registered
    it (``None``: its addition) to the one that retired it (``None``: still current)."""

    public_key: str
    fingerprint: str
    since_seq: int | None
    since: str
    until_seq: int | None = None
    until: str | None = None
    lost: bool = False  # retired as lost or compromised, for ``reason``
    reason: str | None = None
    retired_by: str | None = None


def key_history(member: Member, changes: list[KeyChange]) -> list[KeySpan]:
    """Every signing key of ``member``, oldest first, from its rotations (in order)."""
    if not changes:
        return [KeySpan(member.public_key, member.fingerprint, None, member.added_at)]
    first = changes[0]
    spans = [KeySpan(first.previous_key, first.previous_fingerprint, None, member.added_at)]
    for change in changes:
        last = spans[-1]
        spans[-1] = KeySpan(
            last.public_key,
            last.fingerprint,
            last.since_seq,
            last.since,
            change.seq,
            change.at,
            change.lost,
            change.reason,
            change.by,
        )
        spans.append(KeySpan(change.public_key, change.fingerprint, change.seq, change.at))
    return spans
