"""Acting in a workspace: who acts, with which key, and how a state change is recorded.

Every state change goes through :func:`perform`:

1. the operation runs once in a transaction that is always rolled back, with no key: every
   rule is checked, so a refused action never asks for a passphrase and writes nothing;
2. the acting member's private key is decrypted (passphrase prompt or ``CTG_PASSPHRASE``) and
   checked against the key registered for them;
3. the operation runs again in one write transaction, which appends its signed audit event:
   the change and its event commit together or not at all. A database still busy after the
   store's own wait (SQLite's busy timeout) is tried again, not reported.

Both passes hold the workspace's write lock, so writers queue and the audit chain stays linear.
Each pass asks at once for what it will read (the acting member, the log's last event, and the
``reads`` its caller names: a request, the policy), so that on PostgreSQL a pass costs about two
round trips to the server, and the lock is held no longer.
"""

from __future__ import annotations

import contextlib
import random
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import date
from typing import Any, Protocol, TypeVar

from ..audit import merkle
from ..audit.checkpoint import CHECKPOINT_EVERY as _EVERY
from ..audit.checkpoint import (
    CheckpointSigner,
    StoredCheckpoint,
    note_text,
    origin_of,
    signature_line,
)
from ..audit.events import GENESIS_HASH, Event, StoredEvent
from ..crypto.keys import KeyDir, Signer, read_public_key
from ..crypto.sshsig import NAMESPACE_CHECKPOINT, NAMESPACE_EVENT
from ..domain.models import Member, Role
from ..domain.payloads import Payload
from ..domain.rules import ensure_acting, ensure_active, ensure_in_term
from ..errors import InvalidInput, KeyFileError, NotFound, Refused, WorkspaceError, cut
from ..i18n import _
from ..notify.outbox import deliver_quietly, enqueue
from ..store.base import Reads, Tx
from .clock import Clock, before_predecessor
from .workspace import Workspace

T = TypeVar("T")
BUSY_RETRIES = 8  # attempts of a write transaction that meets a busy database
CHECKPOINT_EVERY = _EVERY  # events; sends, receptions, deletions and exports checkpoint too
_pool: ThreadPoolExecutor | None = None


def background(function: Callable[..., T], *args: object) -> Future[T]:
    """Run ``function`` on the worker thread (key derivations release the GIL).

    One at a time: a receive unlocks an scrypt identity (16 MiB) and a bcrypt key, and the two
    together would raise the command's peak memory for no gain in time.
    """
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ctg-unlock")
    return _pool.submit(function, *args)


class PassphraseProvider(Protocol):
    def __call__(self, prompt: str, *, confirm: bool = False) -> str: ...


class Keyring:
    """Opens members' signing keys from a key directory."""

    def __init__(
        self,
        key_dir: KeyDir,
        passphrase: PassphraseProvider,
        identity_passphrase: PassphraseProvider | None = None,
    ) -> None:
        self.key_dir = key_dir
        self.passphrase = passphrase
        # a party's decryption identity may have its own passphrase (CTG_IDENTITY_PASSPHRASE)
        self.identity_passphrase = identity_passphrase or passphrase
        self._open: dict[str, Signer] = {}

    def signer(self, member: Member) -> Signer:
        """The member's signer, refused unless it is the key registered for them."""
        return self.signer_future(member).result()

    collects = False  # a remote member's keyring collects what they are to sign instead

    def signer_for(self, member: Member, dry: Recorder) -> Signer:
        """The signer of a change whose dry run was ``dry`` (here: the member's key; a
        server's keyring gives what the member's client signed)."""
        return self.signer(member)

    def signer_by_id(
        self, member_id: str, accepted: Callable[[Signer], bool] | None = None
    ) -> Signer:
        """The key in the key directory under ``member_id``, unchecked here: a remote
        workspace's server checks it against the registered key on every call. A rotation
        whose files were not swapped (``NAME~new`` left) is finished first when the server
        (``accepted``, a signed call) refuses the current key and takes the new one."""
        path, staged = self.key_dir.private_path(member_id), self.key_dir.staged_path(member_id)
        if accepted is not None and staged.exists() and not path.exists():
            # a swap stopped inside (its public files moved): it ran once the key registered
            public = self.key_dir.public_path(member_id)
            with contextlib.suppress(KeyFileError, InvalidInput):
                registered = read_public_key(public).openssh
                self.key_dir.finish_rotation(member_id, registered, retired_stamp())
        passphrase = self.passphrase(
            _("Passphrase for {member}'s key ({path})").format(member=member_id, path=path)
        )
        signer = self.key_dir.open_signer(member_id, passphrase)
        if accepted is None or not staged.exists() or accepted(signer):
            return signer
        passphrase = self.passphrase(
            _(
                "Passphrase for {member}'s new key ({path}), from a key rotation not finished"
            ).format(member=member_id, path=staged)
        )
        new = self.key_dir.open_staged(member_id, passphrase)
        if not accepted(new):
            return signer  # the server takes neither: its refusal says why
        self.key_dir.finish_rotation(member_id, new.public_key.openssh, retired_stamp())
        return self.key_dir.open_signer(member_id, passphrase)

    def signer_future(self, member: Member) -> Future[Signer]:
        """Ask the passphrase now; decrypt the key (bcrypt-pbkdf) in the background.

        Long operations (encrypting a dataset) run while the key is being unlocked;
        ``result()`` raises the key's error, if any, when the signer is needed.
        """
        if member.id in self._open:
            done: Future[Signer] = Future()
            done.set_result(self._open[member.id])
            return done
        path = self.key_dir.private_path(member.id)
        passphrase = self.passphrase(
            _("Passphrase for {member}'s key ({path})").format(member=member.id, path=path)
        )
        return background(self._unlock, member, passphrase)

    def _unlock(self, member: Member, passphrase: str) -> Signer:
        path = self.key_dir.private_path(member.id)
        if self.key_dir.staged_path(member.id).exists():
            # a rotation the log holds, whose key files its command did not get to swap
            self.key_dir.finish_rotation(member.id, member.public_key, retired_stamp())
        signer = self.key_dir.open_signer(member.id, passphrase)
        if signer.public_key.openssh != member.public_key:
            raise KeyFileError(
                _("the key {path} is not the key registered for {member} ({fingerprint})").format(
                    path=path, member=member.id, fingerprint=member.fingerprint
                )
            )
        self._open[member.id] = signer
        return signer


@dataclass
class Session:
    """One command's context: the workspace, who acts, their keys, and the clock."""

    workspace: Workspace
    keyring: Keyring
    clock: Clock
    actor_id: str | None = None
    # send the messages a change queued once it commits (a hosted workspace's loop sends them)
    deliver: bool = True

    def require_actor(self) -> str:
        if not self.actor_id:
            raise InvalidInput(
                _("who is acting? pass --as MEMBER or set CTG_MEMBER"),
            )
        return self.actor_id


class Recorder:
    """Appends signed events within the current transaction."""

    def __init__(
        self,
        tx: Tx,
        log_id: str,
        clock: Clock,
        signer: Signer | None,
        now: str | None = None,
        *,
        collect: bool = False,
    ) -> None:
        self._tx = tx
        self._log_id = log_id
        self._clock = clock
        self._signer = signer
        self.now = now or clock.now()
        self.dry_run = signer is None  # the checking pass: side effects wait for the real one
        self.last_seq = 0
        self.recorded: list[StoredEvent] = []  # this transaction's events, in order
        # a dry run for a remote member: every message they will sign (events, checkpoints),
        # in order, so that their client signs them and the commit re-makes the same ones
        self.collect = collect and signer is None
        self.to_sign: list[tuple[str, bytes]] = []
        self.proofs: dict[int, list[bytes]] = {}  # by index in to_sign: checkpoints' proofs

    def _sign(self, namespace: str, message: bytes) -> str:
        if self._signer is not None:
            return self._signer.sign(namespace, message)
        if self.collect:
            self.to_sign.append((namespace, message))
        return ""  # the dry run's placeholder, rolled back with the rest

    def record(self, actor: Member, role: Role, subject: str, payload: Payload) -> StoredEvent:
        """Sign and append the event of ``payload``'s action, taken by ``actor`` as ``role``."""
        last = self._tx.last_event()
        if last is not None and before_predecessor(self.now, last.event.time):
            raise Refused(
                "CLOCK_BEHIND_LOG",
                _(
                    "{rule}: this machine's date ({now} UTC) is before the log's last event "
                    "(#{seq}, {time} UTC): no event is dated earlier"
                ).format(
                    rule="CLOCK_BEHIND_LOG",
                    now=self.now[:16],
                    seq=last.seq,
                    time=last.event.time[:16],
                ),
                hint=_(
                    "set the machine's clock right (a simulated workspace: CTG_TODAY later); if it "
                    "is right, the last event is dated in the future: run audit verify"
                ),
            )
        event = Event(
            log=self._log_id,
            seq=1 if last is None else last.event.seq + 1,
            time=self.now,
            actor=actor.id,
            party=actor.party,
            role=role.value,
            action=payload.action.value,
            subject=subject,
            prev=GENESIS_HASH if last is None else last.hash,
            payload=payload.to_json(),
        )
        signed = event.signed_bytes()
        signature = self._sign(NAMESPACE_EVENT, signed)
        stored = StoredEvent(event=event, hash=event.digest(), signature=signature)
        self._tx.append_event(stored)
        self._tx.tree_append(event.seq - 1, merkle.leaf_hash(signed))
        self.last_seq = stored.seq
        self.recorded.append(stored)
        if stored.seq % CHECKPOINT_EVERY == 0:
            self.checkpoint(actor, role)
        return stored

    def checkpoint(self, actor: Member, role: Role) -> StoredCheckpoint | None:
        """Sign a checkpoint of the log as it stands in this transaction (none in a dry run).

        A checkpoint of the same size gains this member's signature rather than a twin.
        """
        if self._signer is None and not self.collect:
            return None
        last = self._tx.last_event()
        size = 0 if last is None else last.seq
        latest = self._tx.latest_checkpoint()
        if latest is not None and latest.size == size:
            if any(s.signer == actor.id for s in latest.signers):
                return latest
            if self.collect:
                self._collect_checkpoint(latest.text, size)
                return None
            return self.sign_checkpoint(latest.id, latest.text, actor, role)
        root = self._tx.tree_root(size)
        text = note_text(origin_of(self._log_id), size, root)
        if self.collect:
            self._collect_checkpoint(text, size)
            return None
        checkpoint_id = self._tx.add_checkpoint(size, root.hex(), text, self.now)
        return self.sign_checkpoint(checkpoint_id, text, actor, role)

    def _collect_checkpoint(self, text: str, size: int) -> None:
        """A checkpoint a remote member is to sign, with the proof that their last event is
        the tree's last leaf (their client rebuilds the root from it)."""
        message = (NAMESPACE_CHECKPOINT, text.encode("utf-8"))
        if message in self.to_sign:  # a change's own checkpoint on a thousandth event
            return
        proof = self._tx.inclusion_proof(size - 1, size) if size else []
        self.to_sign.append(message)
        self.proofs[len(self.to_sign) - 1] = proof

    def sign_checkpoint(
        self, checkpoint_id: int, text: str, actor: Member, role: Role, *, cosign: bool = False
    ) -> StoredCheckpoint | None:
        if self._signer is None and not self.collect:
            return None
        armored = self._sign(NAMESPACE_CHECKPOINT, text.encode("utf-8"))
        if self._signer is None:
            return None  # collected: the dry run signs nothing
        line = signature_line(actor.id, self._signer.public_key.blob, armored)
        self._tx.add_checkpoint_signature(
            checkpoint_id,
            CheckpointSigner(actor.id, actor.party, role.value, self.now, cosign, line),
        )
        return self._tx.get_checkpoint(checkpoint_id)


Operation = Callable[[Tx, Member, Recorder], T]


def retired_stamp() -> str:
    """What names a retired key file (issue 19): the UTC time of its retirement, to the second."""
    from datetime import UTC, datetime

    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")


def known_member(tx: Tx, member_id: str) -> Member:
    member = tx.get_member(member_id)
    if member is None:
        raise unknown_member(member_id)
    return member


def unknown_member(member_id: str) -> NotFound:
    return NotFound(
        _("unknown member {id!r}").format(id=cut(member_id)),
        hint=_("`ctg-exchange member list` shows them"),
    )


def load_actor(
    tx: Tx, actor_id: str, *, reading: bool = False, today: date | None = None
) -> Member:
    """The acting member: active, and (unless only ``reading``) not an auditor; on ``today``,
    within the term it was added for, if any."""
    member = known_member(tx, actor_id)
    if reading:
        ensure_active(member)
    else:
        ensure_acting(member)
    if today is not None:
        ensure_in_term(member.id, member.until, today)
    return member


def may_read_as(workspace: Workspace, actor_id: str | None) -> None:
    """Reading as a member (``--as``): refused to one revoked or past its term (see
    :func:`ctg_exchange.services.reading.may_read`)."""
    if not actor_id:
        return
    today = workspace.clock().today()
    with workspace.store.transaction() as tx:
        if tx.get_member(actor_id) is not None:
            load_actor(tx, actor_id, reading=True, today=today)


def perform(session: Session, operation: Operation[T], reads: Reads | None = None) -> T:
    """Check ``operation`` in a dry run, then sign and commit it (see the module's docstring);
    ``reads``: what the operation reads, asked for with the transaction's first statement."""
    actor_id = session.require_actor()
    store = session.workspace.store
    log_id = session.workspace.id
    wanted = replace(reads or Reads(), member=actor_id)

    collect = session.keyring.collects

    def check() -> tuple[Member, Recorder]:
        with store.transaction(write=True, commit=False) as tx:
            tx.prefetch(wanted)
            actor = load_actor(tx, actor_id, today=session.clock.today())
            dry = Recorder(tx, log_id, session.clock, None, collect=collect)
            operation(tx, actor, dry)
            return actor, dry

    actor, dry = when_not_busy(store, check)
    signer = session.keyring.signer_for(actor, dry)

    queued = 0

    def commit() -> T:
        nonlocal queued
        with store.transaction(write=True) as tx:
            tx.prefetch(wanted)
            actor = load_actor(tx, actor_id, today=session.clock.today())
            recorder = Recorder(tx, log_id, session.clock, signer)
            result = operation(tx, actor, recorder)
            # the messages the change calls for, in its transaction: they commit with it
            queued = enqueue(tx, session.workspace, recorder.recorded, recorder.now)
            return result

    result = when_not_busy(store, commit)
    if queued and session.deliver:
        deliver_quietly(session.workspace)
    return result


def when_not_busy(store: Any, transaction: Callable[[], T]) -> T:
    """Run ``transaction``; if the database stayed busy past the store's own wait (SQLite's busy
    timeout), it rolled back whole: run it again (every rule re-checked), a few times."""
    for attempt in range(1, BUSY_RETRIES + 1):
        try:
            return transaction()
        except Exception as exc:
            if not store.is_busy(exc):
                raise
            if attempt == BUSY_RETRIES:
                raise WorkspaceError(
                    _("the database stayed busy through {count} tries: nothing was changed").format(
                        count=BUSY_RETRIES
                    ),
                    hint=_("another command holds it for long; run this one again"),
                ) from None
            time.sleep(min(0.05 * 2**attempt, 2.0) * (0.5 + random.random()))  # noqa: S311
    raise AssertionError("unreachable")
