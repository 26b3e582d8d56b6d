"""Reading, verifying, checkpointing and proving the audit log."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..audit import merkle
from ..audit.checkpoint import StoredCheckpoint, key_id, parse_note
from ..audit.events import StoredEvent
from ..audit.report import VerifyResult
from ..audit.verify import CheckpointSource
from ..crypto import sshsig
from ..crypto.publickey import PublicKey
from ..crypto.sshsig import NAMESPACE_CHECKPOINT
from ..domain.models import Member, Role
from ..domain.rules import cosigning_role
from ..errors import (
    AuditBroken,
    IntegrityError,
    InvalidInput,
    NotFound,
    SignatureInvalid,
    cut,
)
from ..i18n import _
from ..store.base import Tx
from .log_check import verify_tx
from .session import Recorder, Session, perform
from .verified import Memory
from .workspace import Workspace

ROLE_ORDER = (Role.ADMIN, Role.DPO, Role.CONTROLLER, Role.STAFF)


def audit_log(workspace: Workspace, request_id: str | None = None) -> list[StoredEvent]:
    with workspace.store.transaction() as tx:
        if request_id is not None and tx.get_request(request_id) is None:
            raise NotFound(_("no request {id!r}").format(id=cut(request_id)))
        return list(tx.events(subject=request_id))


def audit_event(workspace: Workspace, seq: int) -> StoredEvent:
    with workspace.store.transaction() as tx:
        stored = tx.get_event(seq)
    if stored is None:
        raise NotFound(_("no event #{seq}").format(seq=seq))
    return stored


def read_checkpoint_file(path: Path) -> CheckpointSource:
    """A checkpoint handed in from elsewhere (the other party's copy, an earlier export)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(
            _("{path}: cannot read the checkpoint: {error}").format(path=path, error=exc)
        ) from None
    try:
        return CheckpointSource(f"checkpoint file {path.name}", parse_note(text))
    except InvalidInput as exc:
        raise InvalidInput(f"{path}: {exc.message}") from None


def raise_if_broken(result: VerifyResult) -> VerifyResult:
    if result.failures:
        first = result.failures[0]
        raise AuditBroken(
            first.where,
            first.message,
            seq=first.seq,
            request=first.request,
            failures=[f.to_json() for f in result.failures],
        )
    return result


def audit_verify(
    workspace: Workspace,
    external: Sequence[CheckpointSource] = (),
    *,
    full: bool = False,
    remember: bool = True,
) -> VerifyResult:
    """Verify the log — the events after the last verification this verifier remembers, or
    all of them (``full``, or nothing remembered, or not ``remember``: a throwaway workspace's
    verification is not kept); raises ``AuditBroken`` (exit 3) naming the first failure."""
    memory = Memory(workspace.id, workspace.root) if remember else None
    with workspace.store.transaction() as tx:
        return raise_if_broken(
            verify_tx(tx, workspace.id, external, workspace, memory=memory, full=full)
        )


def acting_role(actor: Member) -> Role:
    return next(role for role in ROLE_ORDER if actor.has(role))


def make_checkpoint(session: Session) -> StoredCheckpoint:
    """Verify the log, then sign a checkpoint of it as it stands (or add a signature to one)."""

    def operation(tx: Tx, actor: Member, recorder: Recorder) -> StoredCheckpoint | None:
        if not recorder.dry_run:
            raise_if_broken(verify_tx(tx, session.workspace.id, (), session.workspace))
        return recorder.checkpoint(actor, acting_role(actor))

    checkpoint = perform(session, operation)
    assert checkpoint is not None
    return checkpoint


def cosign(session: Session) -> StoredCheckpoint:
    """The other party's admin or DPO verifies the log and countersigns its latest checkpoint."""

    def operation(tx: Tx, actor: Member, recorder: Recorder) -> StoredCheckpoint | None:
        role = cosigning_role(actor)
        latest = tx.latest_checkpoint()
        if latest is None:
            raise InvalidInput(
                _("there is no checkpoint to cosign"),
                hint=_("`ctg-exchange audit checkpoint` makes one"),
            )
        mine = [s.signer for s in latest.signers if s.party == actor.party]
        if mine:
            raise InvalidInput(
                _(
                    "checkpoint {id} is already signed for {party} ({signers}): the other party "
                    "cosigns it"
                ).format(id=latest.id, party=actor.party, signers=", ".join(mine))
            )
        if not recorder.dry_run:
            raise_if_broken(verify_tx(tx, session.workspace.id, (), session.workspace))
        return recorder.sign_checkpoint(latest.id, latest.text, actor, role, cosign=True)

    checkpoint = perform(session, operation)
    assert checkpoint is not None
    return checkpoint


def list_checkpoints(workspace: Workspace) -> list[StoredCheckpoint]:
    with workspace.store.transaction() as tx:
        return tx.checkpoints()


def get_checkpoint(workspace: Workspace, checkpoint_id: int | None) -> StoredCheckpoint:
    with workspace.store.transaction() as tx:
        found = (
            tx.latest_checkpoint() if checkpoint_id is None else tx.get_checkpoint(checkpoint_id)
        )
    if found is None:
        raise NotFound(
            _("there is no checkpoint yet")
            if checkpoint_id is None
            else _("no checkpoint {id}").format(id=checkpoint_id),
            hint=_("`ctg-exchange audit checkpoints` lists them"),
        )
    return found


def check_checkpoint_signatures(tx: Tx, checkpoint: StoredCheckpoint) -> None:
    """Each signature on a stored checkpoint verifies with the signer's registered key."""
    parsed = parse_note(checkpoint.note)
    keys: dict[str, list[PublicKey]] = {}
    for m in tx.list_members():
        keys[m.id] = [PublicKey.parse(m.public_key)]
    for change in tx.key_changes():  # a key it held then (issue 19)
        keys.setdefault(change.member, []).append(PublicKey.parse(change.previous_key))
    for signature in parsed.signatures:
        held = keys.get(signature.name, [])
        key = next((k for k in held if key_id(signature.name, k.blob) == signature.key_id), None)
        label = f"checkpoint {checkpoint.id}"
        try:
            if key is None:
                raise SignatureInvalid(
                    _("{member} is not a member with this key").format(member=signature.name)
                )
            sshsig.verify_blob(key, NAMESPACE_CHECKPOINT, parsed.text.encode(), signature.blob)
        except SignatureInvalid as exc:
            raise AuditBroken(
                label,
                _("bad signature by {member}: {error}").format(
                    member=signature.name, error=exc.message
                ),
            ) from None


@dataclass(frozen=True)
class Proof:
    seq: int
    action: str
    leaf: str  # hex
    path: list[str]  # hex, leaf first


@dataclass(frozen=True)
class Proofs:
    request_id: str
    checkpoint: StoredCheckpoint
    proofs: list[Proof]
    uncovered: list[int]  # the request's events after the checkpoint


def prove_request(workspace: Workspace, request_id: str) -> Proofs:
    """Inclusion proofs of a request's events in the latest checkpoint, each checked first."""
    with workspace.store.transaction() as tx:
        if tx.get_request(request_id) is None:
            raise NotFound(_("no request {id!r}").format(id=cut(request_id)))
        checkpoint = tx.latest_checkpoint()
        if checkpoint is None:
            raise InvalidInput(
                _("there is no checkpoint to prove against"),
                hint=_("`ctg-exchange audit checkpoint` makes one"),
            )
        check_checkpoint_signatures(tx, checkpoint)
        root = bytes.fromhex(checkpoint.root_hex)
        proofs, uncovered = [], []
        for stored in tx.events(subject=request_id):
            if stored.seq > checkpoint.size:
                uncovered.append(stored.seq)
                continue
            leaf = merkle.leaf_hash(stored.event.signed_bytes())
            try:
                path = tx.inclusion_proof(stored.seq - 1, checkpoint.size)
                ok = merkle.root_from_inclusion(stored.seq - 1, checkpoint.size, leaf, path) == root
            except (ValueError, IntegrityError):
                ok = False
            if not ok:
                raise AuditBroken(
                    f"event #{stored.seq}",
                    _("it is not in checkpoint {id} as stored: run `audit verify`").format(
                        id=checkpoint.id
                    ),
                    seq=stored.seq,
                )
            proofs.append(
                Proof(stored.seq, stored.event.action, leaf.hex(), [p.hex() for p in path])
            )
    return Proofs(request_id, checkpoint, proofs, uncovered)
