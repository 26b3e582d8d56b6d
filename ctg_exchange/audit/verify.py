"""Verify an audit log from its events and checkpoints (docs/audit-format.md §7).

The verifier trusts nothing but the events: it learns members and their keys from the log itself
(the genesis event declares the first admin, ``member.add`` events the others), so the same check
runs on the store or on a full export handed to an auditor. For every event it checks the chain,
the hash, that the actor was a member holding the role the action needs at that time (the replay
applies the commands' own rules), and the signature; it rebuilds the RFC 9162 tree and compares
its root with every signed checkpoint, which is what catches a truncated tail or a rewritten
suffix. It does not stop at the first failure: it reports them all, each at its place.

Signatures are checked in batches by workers (threads, or processes for a large log: see
:mod:`.sigcheck`), while the main thread hashes, chains and replays the next events.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from ..crypto import sshsig
from ..crypto.publickey import PublicKey
from ..crypto.sshsig import NAMESPACE_CHECKPOINT, NAMESPACE_EVENT
from ..domain.actions import Action
from ..errors import InvalidInput, ReplayError, SignatureInvalid
from . import merkle, sigcheck
from .checkpoint import (
    CHECKPOINT_EVERY,
    Checkpoint,
    StoredCheckpoint,
    key_id,
    origin_of,
    parse_note,
)
from .events import GENESIS_HASH, StoredEvent
from .law import Law, LawCheck
from .replay import LogMember, Replay
from .report import Failure, VerifyResult
from .sigcheck import Item

BATCH = 512
WORKERS = os.cpu_count() or 2
# above this many events, signatures are checked in worker processes rather than threads
# (see sigcheck); starting them costs ~0.2 s
PROCESS_THRESHOLD = 20_000


@dataclass(frozen=True)
class CheckpointSource:
    """A checkpoint to verify against: stored in the workspace, or handed in from elsewhere."""

    label: str  # "checkpoint 3", "checkpoint file cp.txt"
    checkpoint: Checkpoint
    stored: StoredCheckpoint | None = None


def stored_sources(checkpoints: Sequence[StoredCheckpoint]) -> list[CheckpointSource | Failure]:
    """Parse stored checkpoints; one that is not even a note is a failure of its own."""
    sources: list[CheckpointSource | Failure] = []
    for cp in checkpoints:
        label = f"checkpoint {cp.id}"
        try:
            parsed = parse_note(cp.note)
        except InvalidInput as exc:
            sources.append(Failure(exc.message, record=label))
            continue
        if parsed.size != cp.size or parsed.root_hex != cp.root_hex:
            sources.append(Failure("its size or root differs from its signed text", record=label))
            continue
        sources.append(CheckpointSource(label, parsed, cp))
    return sources


_CHECKPOINTED_AFTER = frozenset({Action.SEND, Action.RECEIVE, Action.DESTROY})


class LogVerifier:
    """Feed it every event in order, then :meth:`finish`."""

    def __init__(
        self,
        log_id: str,
        checkpoints: Iterable[CheckpointSource | Failure] = (),
        *,
        workers: int = WORKERS,
        processes: bool = False,
        law: Law | None = None,
        implied_checkpoints: bool = False,
    ) -> None:
        self.log_id = log_id
        self.replay = Replay(law=None if law is None else LawCheck(law))
        # the last event a checkpoint must cover: the tool checkpoints after every send,
        # reception and deletion, before every export, and every CHECKPOINT_EVERY events
        self._implied: tuple[int, str] | None = None
        self._check_implied = implied_checkpoints
        self.result = VerifyResult()
        self.failures: list[Failure] = []
        self.sources: list[CheckpointSource] = []
        for source in checkpoints:
            if isinstance(source, Failure):
                self.failures.append(source)
            else:
                self.sources.append(source)
        self._roots_wanted = {s.checkpoint.size for s in self.sources}
        self.roots: dict[int, bytes] = {}
        if 0 in self._roots_wanted:
            self.roots[0] = merkle.EMPTY_ROOT
        self._frontier = merkle.Frontier()
        self._expected = 1
        self._head = GENESIS_HASH
        self._prefixes: dict[bytes, bytes] = {}
        self._batch: list[Item] = []
        self._checker = sigcheck.checker(workers, processes)

    # -- events -----------------------------------------------------------------------------
    def feed(self, stored: StoredEvent) -> None:
        event = stored.event
        fail = self.failures.append
        failed = False
        chained = event.seq == self._expected
        if event.seq > self._expected:
            last = event.seq - 1
            what = "the event is missing" if last == self._expected else "the events are missing"
            fail(Failure(what, self._expected, last_seq=last))
        elif event.seq < self._expected:
            fail(Failure("sequence number out of order", event.seq))
            return
        signed = event.signed_bytes()
        if event.log != self.log_id:
            fail(Failure("the event belongs to another log", event.seq))
            failed = True
        elif hashlib.sha256(signed).hexdigest() != stored.hash:
            fail(Failure("the stored hash does not match the event's content", event.seq))
            failed = True
        elif chained and event.prev != self._head:
            fail(Failure("the link to the previous event is broken", event.seq))
            failed = True
        actor = self._actor(stored, report=not failed)
        if actor is None:
            failed = True
        elif event.seq != 1:
            try:
                self.replay.apply(event, actor)
            except ReplayError as exc:
                if not failed:
                    # a rule of the procedure (NIR_NOT_AUTHORISED…), which the offline script
                    # does not re-apply, names who took the event: "event #41 by v.agent"
                    by = event.actor if exc.rule and exc.rule.isupper() else None
                    fail(Failure(str(exc), event.seq, actor=by, rule=exc.rule))
                    failed = True
        if actor is not None and not failed:
            self._queue_signature(stored, actor, signed)
        if self._check_implied:
            self._imply(event.seq, event.action)
        self._head = stored.hash
        self._expected = event.seq + 1
        self.result.events += 1
        if self._frontier.size == event.seq - 1:
            self._frontier.append(merkle.leaf_hash(signed))
            if self._frontier.size in self._roots_wanted:
                self.roots[self._frontier.size] = self._frontier.root()

    def _actor(self, stored: StoredEvent, *, report: bool) -> LogMember | None:
        rule: str | None = None
        event = stored.event
        if event.seq == 1:
            try:
                self.replay.genesis(event)
            except ReplayError as exc:
                by = event.actor if exc.rule and exc.rule.isupper() else None
                self.failures.append(Failure(str(exc), event.seq, actor=by, rule=exc.rule))
                if by is None:
                    return None  # not a genesis this log can be checked against
        actor = self.replay.members.get(event.actor)
        problem = None
        if actor is None:
            problem = f"the actor {event.actor!r} is not a member at this point"
        elif actor.revoked_at is not None:
            problem = f"the actor {event.actor!r} was revoked (event #{actor.revoked_seq})"
        elif actor.party != event.party or event.role not in actor.roles:
            problem = f"the actor {event.actor!r} does not hold {event.role} for {event.party}"
            rule = "role-not-held"
        if problem is not None:
            if report:
                self.failures.append(Failure(problem, event.seq, rule=rule))
            return None
        return actor

    def _queue_signature(self, stored: StoredEvent, actor: LogMember, signed: bytes) -> None:
        event = stored.event
        try:
            blob = sshsig.dearmor(stored.signature)
            prefix = self._prefix(actor.key)
            if len(blob) == len(prefix) + 64 and blob.startswith(prefix):
                raw_signature = blob[len(prefix) :]
                data = sshsig.signed_data(NAMESPACE_EVENT, signed)
            else:  # not the usual layout: parse it, to accept it or to say what is wrong
                parsed = sshsig.parse(blob)
                data = sshsig.check(parsed, actor.key, NAMESPACE_EVENT, signed)
                raw_signature = parsed.raw_signature
                if len(raw_signature) != 64:
                    raise SignatureInvalid("an Ed25519 signature is 64 bytes")
        except SignatureInvalid as exc:
            self.failures.append(Failure(f"bad signature: {exc.message}", event.seq))
            return
        self._batch.append((event.seq, actor.key.raw, raw_signature, data))
        if len(self._batch) >= BATCH:
            self._flush()

    def _prefix(self, key: PublicKey) -> bytes:
        prefix = self._prefixes.get(key.raw)
        if prefix is None:
            prefix = self._prefixes[key.raw] = sshsig.expected_prefix(key, NAMESPACE_EVENT)
        return prefix

    def _flush(self) -> None:
        batch, self._batch = self._batch, []
        if batch:
            self._checker.submit(batch)

    # -- the end ----------------------------------------------------------------------------
    def _imply(self, seq: int, action: str) -> None:
        if action in _CHECKPOINTED_AFTER:
            self._implied = (seq, f"the {action} event")
        elif action == Action.REGISTER_EXPORT and seq > 1:
            self._implied = (seq - 1, f"the events before the {action}")
        elif seq % CHECKPOINT_EVERY == 0:
            self._implied = (seq, f"every {CHECKPOINT_EVERY} events")

    def _missing_checkpoint(self) -> None:
        if not self._check_implied or self._implied is None:
            return
        seq, why = self._implied
        covered = max((source.checkpoint.size for source in self.sources), default=0)
        if covered < seq:
            self.failures.append(
                Failure(
                    f"no checkpoint covers it, though the tool signs one after {why}: "
                    "checkpoints were removed",
                    seq,
                    rule="checkpoint-missing",
                )
            )

    def finish(self) -> VerifyResult:
        self._flush()
        self._missing_checkpoint()
        self.failures.extend(Failure(_BAD_SIGNATURE, seq) for seq in self._checker.close())
        self._check_checkpoints()
        result = self.result
        result.head = self._head
        result.root = self._frontier.root().hex()
        result.members = {m.id: m.party for m in self.replay.members.values()}
        procedure = self.replay.procedure
        if procedure is not None:
            result.rules, result.simulated = procedure.rules, procedure.clock == "simulated"
        result.failures = sorted(self.failures, key=Failure.sort_key)
        return result

    def _check_checkpoints(self) -> None:
        events = self.result.events
        last_good = 0
        broken_after: int | None = None
        for source in sorted(self.sources, key=lambda s: s.checkpoint.size):
            cp = source.checkpoint
            signers = self._checkpoint_signers(source)
            if signers is None:
                continue
            who = " and ".join(signers)
            if cp.origin != origin_of(self.log_id):
                self.failures.append(
                    Failure(f"it is of another log ({cp.origin})", record=source.label)
                )
                continue
            if cp.size > events:
                self.failures.append(
                    Failure(
                        f"removed: {source.label}, signed by {who}, covers {cp.size} events and "
                        f"the log ends at #{events}",
                        events + 1,
                        last_seq=cp.size,
                    )
                )
                continue
            if self.roots.get(cp.size) != cp.root:
                if broken_after is None:
                    broken_after = cp.size
                    self.failures.append(
                        Failure(
                            f"changed after {source.label} was signed by {who}: the events up to "
                            f"#{cp.size} no longer have its root",
                            last_good + 1,
                            last_seq=cp.size,
                        )
                    )
                continue
            if broken_after is None:
                last_good = max(last_good, cp.size)
            self.result.checkpoints += 1
            if len({self.replay.members[s].party for s in signers}) > 1:
                self.result.cosigned += 1
            latest = self.result.latest_checkpoint or 0
            self.result.latest_checkpoint = max(latest, cp.size)

    def _checkpoint_signers(self, source: CheckpointSource) -> list[str] | None:
        """The members whose signatures on the checkpoint verify; None (and a failure) if one
        from a known member does not, or none verifies."""
        cp = source.checkpoint
        verified = []
        for signature in cp.signatures:
            member = self.replay.members.get(signature.name)
            if member is None or key_id(member.id, member.key.blob) != signature.key_id:
                continue  # an unknown key: signed notes ignore it
            if member.revoked_seq is not None and member.revoked_seq <= cp.size:
                self.failures.append(
                    Failure(
                        f"signed by {member.id}, revoked at event #{member.revoked_seq}",
                        record=source.label,
                    )
                )
                return None
            try:
                sshsig.verify_blob(
                    member.key, NAMESPACE_CHECKPOINT, cp.text.encode("utf-8"), signature.blob
                )
            except SignatureInvalid as exc:
                self.failures.append(
                    Failure(f"bad signature by {member.id}: {exc.message}", record=source.label)
                )
                return None
            verified.append(member.id)
        if not verified:
            self.failures.append(
                Failure("no signature by a member of this log", record=source.label)
            )
            return None
        return verified


_BAD_SIGNATURE = "bad signature: signature does not match the signed bytes"


def verify_log(
    events: Iterable[StoredEvent],
    log_id: str,
    checkpoints: Iterable[CheckpointSource | Failure] = (),
    *,
    workers: int = WORKERS,
    processes: bool = False,
) -> VerifyResult:
    verifier = LogVerifier(log_id, checkpoints, workers=workers, processes=processes)
    try:
        for stored in events:
            verifier.feed(stored)
    finally:
        result = verifier.finish()
    return result


def failures_json(result: VerifyResult) -> list[dict[str, Any]]:
    return [f.to_json() for f in result.failures]
