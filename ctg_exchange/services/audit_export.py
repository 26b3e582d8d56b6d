"""``audit export``: the log (or one request's events, or a range) for an auditor's own check."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ..audit.checkpoint import StoredCheckpoint
from ..audit.events import StoredEvent, utc_timestamp
from ..audit.export import dump, event_line, header, signer_line, verify_export
from ..audit.report import VerifyResult
from ..domain.actions import MEMBERSHIP, Action
from ..errors import InvalidInput, NotFound, cut
from ..fsutil import NewFile
from ..i18n import _, ngettext
from ..store.base import Tx
from .auditing import make_checkpoint
from .session import Session
from .workspace import Workspace


@dataclass(frozen=True)
class ExportSummary:
    path: Path
    events: int
    complete: bool
    checkpoints: int
    checkpoint: StoredCheckpoint | None  # the latest, which the proofs lead to


def _member_seqs(tx: Tx) -> dict[str, tuple[int, int | None]]:
    """Each member's adding and revoking event."""
    seqs: dict[str, tuple[int, int | None]] = {}
    for stored in tx.events(actions=sorted(action.value for action in MEMBERSHIP)):
        event = stored.event
        if event.action == Action.INIT:
            seqs[event.actor] = (event.seq, None)
        elif event.action == Action.MEMBER_ADD:
            seqs[event.subject] = (event.seq, None)
        elif event.subject in seqs:
            seqs[event.subject] = (seqs[event.subject][0], event.seq)
    return seqs


def export_audit(
    session: Session,
    out: Path,
    *,
    request_id: str | None = None,
    first: int | None = None,
    last: int | None = None,
    sign: bool = True,
) -> ExportSummary:
    """Write the export; with an acting member (and ``sign``), first verify the log and sign a
    checkpoint of it, so that every exported event is covered by a fresh signed checkpoint."""
    if request_id is not None and (first is not None or last is not None):
        raise InvalidInput(_("--request and --from/--to select differently: give one of them"))
    if first is not None and last is not None and first > last:
        raise InvalidInput(_("--from {first} is after --to {last}").format(first=first, last=last))
    if out.exists() or out.is_symlink():
        raise InvalidInput(_("{path} already exists: choose another file").format(path=out))
    selection: dict[str, object] | None = None
    if request_id is not None:
        selection = {"request": request_id}
    elif first is not None or last is not None:
        selection = {"from": first or 1, "to": last}
    workspace = session.workspace
    with workspace.store.transaction() as tx:
        if request_id is not None and tx.get_request(request_id) is None:
            raise NotFound(_("no request {id!r}").format(id=cut(request_id)))
        if last is not None and last > tx.count_events():
            count = tx.count_events()
            raise InvalidInput(
                ngettext(
                    "--to {last}: the log has {count} event",
                    "--to {last}: the log has {count} events",
                    count,
                ).format(last=last, count=count)
            )
    if session.actor_id and sign:
        make_checkpoint(session)
    with workspace.store.transaction() as tx:
        return _write(tx, workspace, out, selection, request_id, first, last, session.actor_id)


def _write(
    tx: Tx,
    workspace: Workspace,
    out: Path,
    selection: dict[str, object] | None,
    request_id: str | None,
    first: int | None,
    last: int | None,
    by: str | None,
) -> ExportSummary:
    if selection is None:
        return write_export(tx, workspace.id, out, None, tx.events(), tx.count_events(), by)
    selected = list(tx.events(subject=request_id, first=first, last=last))
    if not selected:
        raise InvalidInput(_("no event matches this selection"))
    return write_export(tx, workspace.id, out, selection, iter(selected), len(selected), by)


def write_export(
    tx: Tx,
    log_id: str,
    out: Path,
    selection: dict[str, object] | None,
    events: Iterator[StoredEvent],
    count: int,
    by: str | None,
    signed: StoredCheckpoint | None = None,
) -> ExportSummary:
    """Write an export of ``events``: all of them (``selection`` None), or a selection whose
    events each carry an inclusion proof in the latest checkpoint (``signed``: one signed for
    this export and kept only in it, a party's copy of a served log being read-only)."""
    checkpoints = [*tx.checkpoints(), *([signed] if signed is not None else [])]
    latest = checkpoints[-1] if checkpoints else None
    if selection is not None:
        checkpoints = [latest] if latest else []
        selected = list(events)
        uncovered = [s.seq for s in selected if latest is None or s.seq > latest.size]
        if uncovered:
            raise InvalidInput(
                _("event #{seq} is not covered by a checkpoint yet, so it cannot be proven").format(
                    seq=uncovered[0]
                ),
                hint=_("export as a member (--as ID): the export then signs a checkpoint first"),
            )
        events = iter(selected)
    seqs = _member_seqs(tx)
    new = NewFile(out, mode=0o644)
    try:
        buffer: list[str] = [dump(header(log_id, selection, utc_timestamp(), by, count))]
        retired: dict[str, list[tuple[str, int]]] = {}
        for change in tx.key_changes():
            retired.setdefault(change.member, []).append((change.previous_key, change.seq))
        for member in tx.list_members():
            added, revoked = seqs.get(member.id, (0, None))
            line = signer_line(
                member.id,
                member.party,
                member.roles,
                member.public_key,
                added,
                revoked,
                retired.get(member.id, ()),
            )
            buffer.append(dump(line))
        buffer.extend(dump({"type": "checkpoint", "note": cp.note}) for cp in checkpoints)
        for stored in events:
            proof = None
            if selection is not None and latest is not None:
                proof = tx.inclusion_proof(stored.seq - 1, latest.size)
            buffer.append(dump(event_line(stored, proof)))
            if len(buffer) >= 2000:
                new.file.write("".join(buffer).encode("utf-8"))
                buffer.clear()
        new.file.write("".join(buffer).encode("utf-8"))
        new.commit()
    except BaseException:
        new.discard()
        raise
    return ExportSummary(out, count, selection is None, len(checkpoints), latest)


def offline_verifier() -> Path:
    """The independent verifier script shipped with the tool (docs/verify_audit_export.py)."""
    from ..policy.loader import shipped_dir

    return shipped_dir("docs") / "verify_audit_export.py"


def verify_export_file(path: Path) -> VerifyResult:
    try:
        with path.open(encoding="utf-8") as handle:
            return verify_export(handle)
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(_("{path}: cannot read: {error}").format(path=path, error=exc)) from None
