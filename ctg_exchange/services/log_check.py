"""Verifying the log in the store: the events, the law re-applied, the stored state replayed.

A full verification reads every event; an incremental one (``audit verify`` without
``--full``) goes on from where this verifier's last one stopped (:mod:`.verified`), reading only
the events after it, checking that every newer checkpoint is consistent with the root it
verified then (RFC 9162), and comparing with the store the records the new events touched. In
both, the events and the records are read as streams, and the replay keeps its records in a
bounded cache over a file (:mod:`ctg_exchange.audit.spill`): memory does not grow with the log.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import replace

from ..audit.checkpoint import parse_note
from ..audit.position import Position
from ..audit.replay import Replay
from ..audit.report import Failure, VerifyResult
from ..audit.signers import member_key
from ..audit.spill import Spill
from ..audit.verify import (
    PROCESS_THRESHOLD,
    CheckpointSource,
    LogVerifier,
    stored_sources,
)
from ..crypto import sshsig
from ..crypto.sshsig import NAMESPACE_CHECKPOINT
from ..domain.models import RequestContent
from ..domain.recommendations import Recommendation
from ..errors import CorruptRow, ExchangeError, PolicyError
from ..i18n import _, in_language, language
from ..policy import Policy, parse_policy
from ..store.base import Tx
from .replay_check import compare, compare_steps
from .requests import content_digest
from .verified import Memory, Recalled, consistent_with, contradictions, memory_failure
from .workspace import Workspace

STEPS_EVERY = 4096  # events between two comparisons of their steps with the store's


class StoredLaw:
    """What the law needs in full and the log binds by digest, read from the store: the
    policy versions and every content a request was filed or amended with (a record that
    differs from the log, or is missing, is not used; the law refuses the event that binds it)."""

    def __init__(self, tx: Tx, workspace: Workspace | None) -> None:
        self._tx = tx
        self._workspace = workspace
        self._policies: dict[int, Policy | None] | None = None

    def policy(self, version: int) -> Policy | None:
        if self._policies is None:
            self._policies = {}
            for record in self._tx.policies():
                try:
                    loaded = (
                        self._workspace.parsed(record)
                        if self._workspace is not None
                        else parse_policy(record.text, f"<policy v{record.version}>")
                    )
                except (CorruptRow, PolicyError):
                    loaded = None
                ok = loaded is not None and loaded.sha256 == record.sha256
                self._policies[record.version] = loaded.policy if ok and loaded else None
        return self._policies.get(version)

    def content(self, request_id: str, digest: str) -> RequestContent | None:
        try:
            content = self._tx.filed_content(request_id, digest)
        except CorruptRow:
            return None
        if content is None or content_digest(content) != digest:
            return None
        return content

    def recommendations(self, request_id: str) -> tuple[Recommendation, ...] | None:
        try:
            request = self._tx.get_request(request_id)
        except CorruptRow:
            return None
        if request is None or request.opinion is None:
            return None
        return request.opinion.recommendations


def verify_tx(
    tx: Tx,
    log_id: str,
    external: Sequence[CheckpointSource] = (),
    workspace: Workspace | None = None,
    *,
    memory: Memory | None = None,
    full: bool = True,
) -> VerifyResult:
    """Everything: the chain, signatures, roles, checkpoints, the law re-applied to each event,
    and the stored state replayed — from what ``memory`` remembers unless ``full``; a
    verification that finds nothing wrong is remembered there."""
    sources = [*stored_sources(tx.checkpoints()), *external]
    law = StoredLaw(tx, workspace)
    recalled = None if memory is None else memory.recall(law)
    log_size = tx.count_events()
    failures: list[Failure] = []
    if recalled is not None:
        failures += contradictions(tx, recalled.position, log_size)
        if not full:  # a full verification rebuilds the tree: _forgotten() compares its root
            failures += _inconsistent(tx, recalled.position, sources)
        # the log contradicts the memory: a failure, named; the full verification names the rest
        full = full or bool(failures)
    if recalled is not None and full:
        recalled.spill.close()
    spill = recalled.spill if recalled is not None and not full else None
    if spill is None:
        spill = memory.fresh() if memory is not None else Spill()
    known_lines = frozenset() if recalled is None or full else recalled.position.lines
    verified_lines: set[str] = set()
    try:
        verifier = _verifier(tx, log_id, sources, law, spill, recalled, full, log_size)
        with in_language(language()):  # read once, not at each of a million messages' making
            result = _read(tx, verifier, failures, spill)
        replay = verifier.replay
        result.failures = sorted(
            [
                *result.failures,
                *failures,
                *signer_failures(tx, replay, known_lines, verified_lines),
                *_forgotten(verifier, recalled),
            ],
            key=Failure.sort_key,
        )
        if memory is not None and result.ok:
            position = replace(verifier.position(), lines=frozenset(verified_lines))
            memory.save(spill, position, replay)
    finally:
        spill.close()
    return result


def _verifier(
    tx: Tx,
    log_id: str,
    sources: list[CheckpointSource | Failure],
    law: StoredLaw,
    spill: Spill,
    recalled: Recalled | None,
    full: bool,
    log_size: int,
) -> LogVerifier:
    """A verifier going on from the memory (unless ``full``), or from the first event."""
    if recalled is None or full:
        return LogVerifier(
            log_id,
            sources,
            processes=log_size > PROCESS_THRESHOLD,
            law=law,
            implied_checkpoints=True,
            spill=spill,
            remembered=None if recalled is None else recalled.position.size,
        )
    position = recalled.position
    spill.touched = set()
    return LogVerifier(
        log_id,
        sources,
        processes=log_size - position.size > PROCESS_THRESHOLD,
        law=law,
        implied_checkpoints=True,
        spill=spill,
        resume=(position, recalled.replay),
        prefix_root=lambda size, root: consistent_with(tx, position, size, root),
    )


def _read(tx: Tx, verifier: LogVerifier, failures: list[Failure], spill: Spill) -> VerifyResult:
    """Feed the verifier the events after its position, comparing their steps as it goes;
    then compare the stored records with the replay's while the signature workers finish the
    last events' signatures (both cores busy to the end), and finish."""
    steps, compared = verifier.replay.book.steps, verifier.resumed
    try:
        for stored in tx.events(first=verifier.resumed + 1 if verifier.resumed else None):
            verifier.feed(stored)
            if stored.seq - compared >= STEPS_EVERY:
                failures += compare_steps(steps, tx, compared, stored.seq)
                compared = stored.seq
        verifier.flush()
        failures += compare_steps(steps, tx, compared, None)
        spill.release()  # the comparison reads each record once
        failures += compare(verifier.replay, tx, spill.touched)
    finally:
        result = verifier.finish()
    return result


def _inconsistent(
    tx: Tx, position: Position, sources: Sequence[CheckpointSource | Failure]
) -> list[Failure]:
    """Each checkpoint from the remembered position on is consistent with the root verified
    there (an RFC 9162 proof from the store's tree): a log rewritten before it, tree and all,
    fails here though its events chain."""
    failures = []
    for source in sources:
        if isinstance(source, Failure) or source.checkpoint.size < position.size:
            continue
        cp = source.checkpoint
        if not consistent_with(tx, position, cp.size, cp.root):
            failures.append(
                memory_failure(
                    _(
                        "{checkpoint} is not consistent with the log verified up to #{size} "
                        "(RFC 9162 consistency proof): the events before were changed"
                    ).format(checkpoint=source.label, size=position.size)
                )
            )
    return failures


def _forgotten(verifier: LogVerifier, recalled: Recalled | None) -> list[Failure]:
    """A full verification with a memory: the log still has, at the remembered size, the root
    and the last hash verified then."""
    if recalled is None or verifier.remembered is None:
        return []
    position = recalled.position
    size = position.size
    if verifier.result.events < size:
        return []  # contradictions() has it: the log is shorter
    root, head = verifier.roots.get(size), verifier.hash_at
    if root == position.frontier.root() and (size == 0 or head == position.head):
        return []
    return [
        memory_failure(
            _(
                "the events up to #{size} no longer have the root and last hash verified then"
            ).format(size=size)
        )
    ]


def signer_failures(
    tx: Tx, replay: Replay, known: frozenset[str] = frozenset(), verified: set[str] | None = None
) -> list[Failure]:
    """Each signature kept beside a checkpoint is its signer's, as recorded (member, party),
    with the key the log declares for them: a signed note ignores a line it cannot check, but
    a listing of who signed must not lie. A line ``known`` verified (by its key) is not
    verified again; each that verifies is added to ``verified``."""
    failures = []
    for checkpoint in tx.checkpoints():
        for signer in checkpoint.signers:
            member = replay.members.get(signer.signer)
            key = hashlib.sha256(
                "\n".join((checkpoint.text, signer.line, signer.signer, signer.party)).encode()
            ).hexdigest()
            if key in known:
                if verified is not None:
                    verified.add(key)
                continue
            try:
                (line,) = parse_note(checkpoint.text + "\n" + signer.line).signatures
                held = None if member is None else member_key(member, line.key_id)
                ok = (
                    member is not None
                    and held is not None
                    and (line.name, member.party) == (signer.signer, signer.party)
                )
                if ok and held is not None:
                    text = checkpoint.text.encode("utf-8")
                    sshsig.verify_blob(held[0], NAMESPACE_CHECKPOINT, text, line.blob)
            except (ValueError, ExchangeError):
                ok = False
            if ok and verified is not None:
                verified.add(key)
            if not ok:
                failures.append(
                    Failure(
                        _("the signature kept for {member} ({party}) is not theirs").format(
                            member=signer.signer, party=signer.party
                        ),
                        record=f"checkpoint {checkpoint.id}",
                    )
                )
    return failures
