"""Replaying a member's key rotation (issue 19; docs/audit-format.md §4.1).

The rotation must be taken by someone allowed to (the member itself, with the key it retires;
an admin of its party for a lost key, with a reason), name the key the log has for the member
as the one it retires, register a key never registered before, and, unless lost, carry the new
key's proof of possession. Then the member's key is the new one: :mod:`.verify` checks every
later event of the member against it, and reports one signed with a retired key.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Protocol

from ..crypto import sshsig
from ..crypto.publickey import PublicKey
from ..domain.facts import FactBook
from ..domain.key_payloads import KeyRotation, rotation_statement
from ..domain.models import Role
from ..domain.rules import authorise_key_rotation
from ..domain.states import Acting
from ..errors import ExchangeError, InvalidInput, ReplayError
from ..i18n import _
from .events import Event


class KeyHolder(Acting, Protocol):
    """A member as the replay knows them (:class:`~.replay.LogMember`), with their keys."""

    key: PublicKey
    retired: list[tuple[PublicKey, int]]

    def keys(self) -> list[tuple[PublicKey, int | None]]: ...


class Replaying(Protocol):
    """What of the replay (:class:`~.replay.Replay`) a rotation reads and changes."""

    book: FactBook

    @property
    def members(self) -> Mapping[str, KeyHolder]: ...
    def _allowed(self, check: Callable[[], object]) -> None: ...
    def _expect_role(self, event: Event, role: Role) -> None: ...


KEY_REUSED = "KEY_REUSED"
KEY_PROOF = "KEY_PROOF"
KEY_RETIRED = "KEY_RETIRED"


def declared_key(text: str, fingerprint: str) -> PublicKey:
    """A member's key as an event declares it, with its fingerprint (``member.add``, the
    genesis, ``keys.rotate``)."""
    try:
        key = PublicKey.parse(text)
    except InvalidInput:
        raise ReplayError(_("the event declares a malformed member")) from None
    if key.fingerprint != fingerprint:
        raise ReplayError(_("the event declares a member's key with another key's fingerprint"))
    return key


def registered_before(members: Mapping[str, KeyHolder], key: PublicKey) -> bool:
    """Whether ``key`` is, or was, a member's key (a key is registered once, ever)."""
    return any(key == held for member in members.values() for held, _until in member.keys())


def rotate_key(replay: Replaying, event: Event, payload: KeyRotation, actor: KeyHolder) -> None:
    target = replay.members.get(payload.member)
    if target is None:
        raise ReplayError(_("the event rotates the key of an unknown member"))
    try:
        new = _checked(replay, event, payload, actor, target)
    finally:
        payload.apply(replay.book, event)
    # only a rotation that checks changes the key: a bad one leaves the member's key as it was
    target.retired.append((target.key, event.seq))
    target.key = new


def _checked(
    replay: Replaying, event: Event, payload: KeyRotation, actor: KeyHolder, target: KeyHolder
) -> PublicKey:
    """The new key, if the rotation is one the tool would have recorded."""
    replay._allowed(lambda: authorise_key_rotation(actor, target, payload.lost))
    if payload.lost:
        replay._expect_role(event, Role.ADMIN)
    if payload.previous_fingerprint != target.key.fingerprint:
        raise ReplayError(
            _("it retires {fingerprint}, which is not {member}'s key at this point").format(
                fingerprint=payload.previous_fingerprint, member=target.id
            )
        )
    new = declared_key(payload.public_key, payload.fingerprint)
    if registered_before(replay.members, new):
        raise ReplayError(
            _("{rule}: the new key of {member} was registered before").format(
                rule=KEY_REUSED, member=target.id
            ),
            rule=KEY_REUSED,
        )
    if payload.lost != (payload.reason_sha256 is not None):
        raise ReplayError(_("a lost key's rotation, and only it, states a reason"))
    if payload.proof is None:
        if payload.lost:
            return new
        raise ReplayError(
            _("{rule}: the new key's proof of possession is missing").format(rule=KEY_PROOF),
            rule=KEY_PROOF,
        )
    statement = rotation_statement(
        event.log, target.id, payload.previous_fingerprint, payload.fingerprint
    )
    try:
        sshsig.verify(new, sshsig.NAMESPACE_KEY_ROTATION, statement, payload.proof)
    except ExchangeError as exc:
        raise ReplayError(
            _("{rule}: the new key's proof of possession does not verify: {reason}").format(
                rule=KEY_PROOF, reason=exc.message
            ),
            rule=KEY_PROOF,
        ) from None
    return new
