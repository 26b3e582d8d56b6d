"""Verify an audit log from its events alone (docs/spec/audit-log.md §5).

The verifier trusts nothing but the events: it learns members and their keys from the log itself
(the genesis event declares the first admin, ``member.add`` events the others), so the same check
runs on the store or on an export handed to an auditor. It stops at the first bad event and names
its sequence number.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from ..crypto.keys import PublicKey
from ..crypto.sshsig import NAMESPACE_EVENT, verify
from ..errors import AuditBroken, InvalidInput, SignatureInvalid
from .events import GENESIS_HASH, StoredEvent

ACTION_INIT = "workspace.init"
ACTION_MEMBER_ADD = "member.add"
ACTION_MEMBER_REVOKE = "member.revoke"


@dataclass
class _Member:
    party: str
    roles: frozenset[str]
    key: PublicKey
    revoked: bool = False


@dataclass
class VerifyResult:
    """What a successful verification saw."""

    events: int = 0
    head: str = GENESIS_HASH
    members: dict[str, str] = field(default_factory=dict)  # member id -> party


def verify_events(events: Iterable[StoredEvent], log_id: str) -> VerifyResult:
    """Recompute the chain and every signature; raise :class:`AuditBroken` at the first failure."""
    members: dict[str, _Member] = {}
    result = VerifyResult()
    expected_seq = 1
    for stored in events:
        event = stored.event
        if event.seq != expected_seq:
            if event.seq > expected_seq:
                raise AuditBroken(expected_seq, "the event is missing")
            raise AuditBroken(event.seq, "sequence number out of order")
        if event.log != log_id:
            raise AuditBroken(event.seq, "the event belongs to another log")
        if event.digest() != stored.hash:
            raise AuditBroken(event.seq, "the stored hash does not match the event's content")
        if event.prev != result.head:
            raise AuditBroken(event.seq, "the link to the previous event is broken")
        if event.seq == 1:
            _register_genesis(stored, members)
        actor = members.get(event.actor)
        if actor is None:
            raise AuditBroken(event.seq, f"the actor {event.actor!r} is not a member at this point")
        if actor.revoked:
            raise AuditBroken(event.seq, f"the actor {event.actor!r} was revoked")
        if actor.party != event.party or event.role not in actor.roles:
            raise AuditBroken(
                event.seq, f"the actor {event.actor!r} does not hold {event.role} for {event.party}"
            )
        try:
            verify(actor.key, NAMESPACE_EVENT, event.signed_bytes(), stored.signature)
        except SignatureInvalid as exc:
            raise AuditBroken(event.seq, f"bad signature: {exc.message}") from None
        _apply_membership(stored, members)
        result.head = stored.hash
        result.events += 1
        expected_seq += 1
    result.members = {member_id: m.party for member_id, m in members.items()}
    return result


def _member_from_payload(stored: StoredEvent, declared: dict[str, object]) -> _Member:
    try:
        key = PublicKey.parse(str(declared["public_key"]))
        roles = declared["roles"]
        if not isinstance(roles, list):
            raise TypeError
        return _Member(party=str(declared["party"]), roles=frozenset(map(str, roles)), key=key)
    except (KeyError, TypeError, InvalidInput):
        raise AuditBroken(stored.event.seq, "the event declares a malformed member") from None


def _register_genesis(stored: StoredEvent, members: dict[str, _Member]) -> None:
    event = stored.event
    admin = event.payload.get("admin")
    if event.action != ACTION_INIT or not isinstance(admin, dict):
        raise AuditBroken(event.seq, f"the first event must be {ACTION_INIT}")
    members[str(admin.get("member"))] = _member_from_payload(stored, admin)


def _apply_membership(stored: StoredEvent, members: dict[str, _Member]) -> None:
    event = stored.event
    if event.action == ACTION_MEMBER_ADD:
        member_id = str(event.payload.get("member"))
        if member_id in members:
            raise AuditBroken(event.seq, f"the member {member_id!r} is added twice")
        members[member_id] = _member_from_payload(stored, event.payload)
    elif event.action == ACTION_MEMBER_REVOKE:
        target = members.get(str(event.payload.get("member")))
        if target is None:
            raise AuditBroken(event.seq, "the event revokes an unknown member")
        target.revoked = True
