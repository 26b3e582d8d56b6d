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

import contextlib
import hashlib
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from ..crypto import sshsig
from ..crypto.publickey import PublicKey
from ..crypto.sshsig import NAMESPACE_CHECKPOINT, NAMESPACE_EVENT
from ..domain.actions import Action
from ..domain.dates import procedure_date
from ..errors import InvalidInput, ReplayError, SignatureInvalid
from ..i18n import N_, _, ngettext
from . import merkle, sigcheck
from .canonical import parsed_json
from .checkpoint import (
    CHECKPOINT_EVERY,
    Checkpoint,
    StoredCheckpoint,
    origin_of,
    parse_note,
)
from .events import EVENT_PREFIX, GENESIS_HASH, StoredEvent
from .key_replay import KEY_RETIRED
from .law import Law, LawCheck
from .people import standing_problem
from .position import Position, spill_replay
from .replay import LogMember, Replay
from .report import Failure, VerifyResult
from .sigcheck import Item
from .signers import member_key, note_key, signer_problem
from .spill import Spill

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
        label = _("checkpoint {id}").format(id=cp.id)
        try:
            parsed = parse_note(cp.note)
        except InvalidInput as exc:
            sources.append(Failure(exc.message, record=label))
            continue
        if parsed.size != cp.size or parsed.root_hex != cp.root_hex:
            sources.append(
                Failure(_("its size or root differs from its signed text"), record=label)
            )
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
        spill: Spill | None = None,
        resume: tuple[Position, Replay] | None = None,
        remembered: int | None = None,
        prefix_root: Callable[[int, bytes], bool] | None = None,
    ) -> None:
        """``spill``: where the replay keeps its growing records (else in memory). ``resume``:
        go on from a verification's position and replay (:mod:`.position`), the events up to it
        verified then. ``remembered``: a size whose root and last hash to note (a full
        verification checks them against a verifier's memory). ``prefix_root(size, root)``:
        whether a checkpoint of a size up to the resumed position, whose root was not
        remembered, is consistent with it."""
        self.log_id = log_id
        self.replay = Replay(law=None if law is None else LawCheck(law))
        if spill is not None:
            spill_replay(self.replay, spill)
        # the last event a checkpoint must cover: the tool checkpoints after every send,
        # reception and deletion, before every export, and every CHECKPOINT_EVERY events
        # (its seq, why, as a message translated when shown, and the action that message names)
        self._implied: tuple[int, str, str | None] | None = None
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
        if remembered is not None:
            self._roots_wanted.add(remembered)
        self.remembered = remembered
        self.hash_at: str | None = None  # the hash of event #remembered
        self.roots: dict[int, bytes] = {}
        self._days: dict[int, date] = {}  # the procedure's day of each checkpoint's last event
        if 0 in self._roots_wanted:
            self.roots[0] = merkle.EMPTY_ROOT
        self._frontier = merkle.Frontier()
        self._expected = 1
        self._head = GENESIS_HASH
        self.genesis = GENESIS_HASH
        self.resumed = 0  # events verified before this run
        self._prefix_root = prefix_root
        self._known_notes: dict[str, tuple[str, ...]] = {}  # a note's key -> its signers
        self.verified_notes: dict[str, tuple[str, ...]] = {}
        if resume is not None:
            self._resume(*resume)
        self._prefixes: dict[bytes, bytes] = {}
        self._batch: list[Item] = []
        self._checker = sigcheck.checker(workers, processes)

    def _resume(self, position: Position, replay: Replay) -> None:
        self.replay, self.resumed = replay, position.size
        self._frontier, self._head, self.genesis = (
            position.frontier,
            position.head,
            position.genesis,
        )
        self._expected = position.size + 1
        self._implied = position.implied
        self.result.events = position.size
        self.roots.update(position.roots)
        self._known_notes = dict(position.notes)
        self._roots_wanted = {size for size in self._roots_wanted if size > position.size}

    def position(self) -> Position:
        """Where this verification stands (after :meth:`finish`)."""
        sizes = {s.checkpoint.size for s in self.sources} | {self._frontier.size}
        roots = {size: root for size, root in self.roots.items() if size in sizes}
        roots[self._frontier.size] = self._frontier.root()
        return Position(
            self._frontier.size,
            self._head,
            self._frontier,
            roots,
            self._implied,
            self.genesis,
            self.verified_notes,
        )

    # -- events -----------------------------------------------------------------------------
    def feed(self, stored: StoredEvent) -> None:
        event = stored.event
        fail = self.failures.append
        failed = False
        chained = event.seq == self._expected
        if event.seq > self._expected:
            last = event.seq - 1
            count = last - self._expected + 1
            what = ngettext("the event is missing", "the events are missing", count)
            fail(Failure(what, self._expected, last_seq=last))
        elif event.seq < self._expected:
            fail(Failure(_("sequence number out of order"), event.seq))
            return
        # the events are read from JSON (a store's rows, an export's lines): plain values
        signed = EVENT_PREFIX + parsed_json(event.body())
        if event.log != self.log_id:
            fail(Failure(_("the event belongs to another log"), event.seq))
            failed = True
        elif hashlib.sha256(signed).hexdigest() != stored.hash:
            fail(Failure(_("the stored hash does not match the event's content"), event.seq))
            failed = True
        elif chained and event.prev != self._head:
            fail(Failure(_("the link to the previous event is broken"), event.seq))
            failed = True
        actor = self._actor(stored, report=not failed)
        key = None if actor is None else actor.key  # the key valid when it was signed
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
        if actor is not None and key is not None and not failed:
            self._queue_signature(stored, actor, key, signed)
        if self._check_implied:
            self._imply(event.seq, event.action)
        self._head = stored.hash
        if event.seq == 1:
            self.genesis = stored.hash
        if event.seq == self.remembered:
            self.hash_at = stored.hash
        self._expected = event.seq + 1
        self.result.events += 1
        if self._frontier.size == event.seq - 1:
            self._frontier.append(merkle.leaf_hash(signed))
            if self._frontier.size in self._roots_wanted:
                self.roots[self._frontier.size] = self._frontier.root()
                with contextlib.suppress(ValueError):  # a bad time fails its event
                    self._days[event.seq] = procedure_date(event.time)

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
            problem = _("the actor {actor!r} is not a member at this point").format(
                actor=event.actor
            )
        elif actor.revoked_at is not None:
            problem = _("the actor {actor!r} was revoked (event #{seq})").format(
                actor=event.actor, seq=actor.revoked_seq
            )
        elif (standing := standing_problem(actor, event)) is not None:
            problem, rule = standing
            self.failures.append(Failure(problem, event.seq, actor=event.actor, rule=rule))
            return None
        elif actor.party != event.party or event.role not in actor.roles:
            problem = _("the actor {actor!r} does not hold {role} for {party}").format(
                actor=event.actor, role=event.role, party=event.party
            )
            rule = "role-not-held"
        if problem is not None:
            if report:
                self.failures.append(Failure(problem, event.seq, rule=rule))
            return None
        return actor

    def _queue_signature(
        self, stored: StoredEvent, actor: LogMember, key: PublicKey, signed: bytes
    ) -> None:
        event = stored.event
        try:
            blob = sshsig.dearmor(stored.signature)
            prefix = self._prefix(key)
            if len(blob) == len(prefix) + 64 and blob.startswith(prefix):
                raw_signature = blob[len(prefix) :]
                data = sshsig.signed_data(NAMESPACE_EVENT, signed)
            else:  # not the usual layout: parse it, to accept it or to say what is wrong
                parsed = sshsig.parse(blob)
                if self._retired_key(stored, actor, parsed.key_blob):
                    return
                data = sshsig.check(parsed, key, NAMESPACE_EVENT, signed)
                raw_signature = parsed.raw_signature
                if len(raw_signature) != 64:
                    raise SignatureInvalid(_("an Ed25519 signature is 64 bytes"))
        except SignatureInvalid as exc:
            reason = _("bad signature: {reason}").format(reason=exc.message)
            self.failures.append(Failure(reason, event.seq))
            return
        self._batch.append((event.seq, key.raw, raw_signature, data))
        if len(self._batch) >= BATCH:
            self._flush()

    def _retired_key(self, stored: StoredEvent, actor: LogMember, signer: bytes) -> bool:
        """Whether the event is signed with a key its actor no longer held (issue 19): a
        failure of its own, whether or not that signature verifies."""
        retired = next(((key, seq) for key, seq in actor.retired if key.blob == signer), None)
        if retired is None:
            return False
        event = stored.event
        self.failures.append(
            Failure(
                _(
                    "{rule}: signed with {member}'s key retired at event #{seq} ({fingerprint})"
                ).format(
                    rule=KEY_RETIRED,
                    member=actor.id,
                    seq=retired[1],
                    fingerprint=retired[0].fingerprint,
                ),
                event.seq,
                actor=event.actor,
                rule=KEY_RETIRED,
            )
        )
        return True

    def _prefix(self, key: PublicKey) -> bytes:
        prefix = self._prefixes.get(key.raw)
        if prefix is None:
            prefix = self._prefixes[key.raw] = sshsig.expected_prefix(key, NAMESPACE_EVENT)
        return prefix

    def _flush(self) -> None:
        batch, self._batch = self._batch, []
        if batch:
            self._checker.submit(batch)

    def flush(self) -> None:
        """Hand the signatures still queued to the workers (:meth:`finish` waits for them)."""
        self._flush()

    # -- the end ----------------------------------------------------------------------------
    def _imply(self, seq: int, action: str) -> None:
        # called for every event: the reason is put in words only if a checkpoint is missing
        if action in _CHECKPOINTED_AFTER:
            self._implied = (seq, _AFTER_EVENT, action)
        elif action == Action.REGISTER_EXPORT and seq > 1:
            self._implied = (seq - 1, _BEFORE_EVENT, action)
        elif seq % CHECKPOINT_EVERY == 0:
            self._implied = (seq, _EVERY, None)

    def _missing_checkpoint(self) -> None:
        if not self._check_implied or self._implied is None:
            return
        seq, why, action = self._implied
        covered = max((source.checkpoint.size for source in self.sources), default=0)
        if covered < seq:
            after = _(why).format(action=action, count=CHECKPOINT_EVERY)
            self.failures.append(
                Failure(
                    _(
                        "no checkpoint covers it, though the tool signs one after {why}: "
                        "checkpoints were removed"
                    ).format(why=after),
                    seq,
                    rule="checkpoint-missing",
                )
            )

    def finish(self) -> VerifyResult:
        self._flush()
        self._missing_checkpoint()
        bad = self._checker.close()
        if bad:
            self.failures.extend(Failure(_(_BAD_SIGNATURE), seq) for seq in bad)
        self._check_checkpoints()
        result = self.result
        result.head = self._head
        result.root = self._frontier.root().hex()
        result.members = {m.id: m.party for m in self.replay.members.values()}
        result.resumed = self.resumed
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
            who = names(signers)
            if cp.origin != origin_of(self.log_id):
                self.failures.append(
                    Failure(
                        _("it is of another log ({origin})").format(origin=cp.origin),
                        record=source.label,
                    )
                )
                continue
            if cp.size > events:
                self.failures.append(
                    Failure(
                        _(
                            "removed: {checkpoint}, signed by {who}, covers {size} events and "
                            "the log ends at #{end}"
                        ).format(checkpoint=source.label, who=who, size=cp.size, end=events),
                        events + 1,
                        last_seq=cp.size,
                    )
                )
                continue
            if self.roots.get(cp.size) != cp.root and not self._old_prefix(cp.size, cp.root):
                if broken_after is None:
                    broken_after = cp.size
                    self.failures.append(
                        Failure(
                            _(
                                "changed after {checkpoint} was signed by {who}: the events up to "
                                "#{size} no longer have its root"
                            ).format(checkpoint=source.label, who=who, size=cp.size),
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

    def _old_prefix(self, size: int, root: bytes) -> bool:
        """Whether a checkpoint before the resumed position, whose root was not remembered,
        is a prefix of the log verified then."""
        if size > self.resumed or size in self.roots or self._prefix_root is None:
            return False
        if not self._prefix_root(size, root):
            return False
        self.roots[size] = root
        return True

    def _checkpoint_signers(self, source: CheckpointSource) -> list[str] | None:
        """The members whose signatures on the checkpoint verify; None (and a failure) if one
        from a known member does not, or none verifies. A note verified by the verification
        this one goes on from is not verified again (its signers' keys and revocations up to
        its size are the same)."""
        key = note_key(source.checkpoint)
        known = self._known_notes.get(key)
        if known is None:
            fresh = self._verify_signers(source)
            if fresh is None:
                return None
            known = tuple(fresh)
        self.verified_notes[key] = known
        return list(known)

    def _verify_signers(self, source: CheckpointSource) -> list[str] | None:
        cp = source.checkpoint
        verified = []
        for signature in cp.signatures:
            member = self.replay.members.get(signature.name)
            held = None if member is None else member_key(member, signature.key_id)
            if member is None or held is None:
                continue  # an unknown key: signed notes ignore it
            key, retired_seq = held
            problem = signer_problem(member, retired_seq, cp.size, self._days.get(cp.size))
            if problem is not None:
                message, rule = problem
                self.failures.append(Failure(message, record=source.label, rule=rule))
                return None
            try:
                sshsig.verify_blob(
                    key, NAMESPACE_CHECKPOINT, cp.text.encode("utf-8"), signature.blob
                )
            except SignatureInvalid as exc:
                self.failures.append(
                    Failure(
                        _("bad signature by {member}: {reason}").format(
                            member=member.id, reason=exc.message
                        ),
                        record=source.label,
                    )
                )
                return None
            verified.append(member.id)
        if not verified:
            self.failures.append(
                Failure(_("no signature by a member of this log"), record=source.label)
            )
            return None
        return verified


_BAD_SIGNATURE = N_("bad signature: signature does not match the signed bytes")
# why a checkpoint was due (see LogVerifier._imply)
_AFTER_EVENT = N_("the {action} event")
_BEFORE_EVENT = N_("the events before the {action}")
_EVERY = N_("every {count} events")


def names(members: Sequence[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``: who signed, in a sentence."""
    if len(members) < 2:
        return "".join(members)
    return _("{names} and {last}").format(names=", ".join(members[:-1]), last=members[-1])


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
