"""Retention of received files, to their deletion (DESIGN §4): list, purge, attest.

At the deadline the recipient deletes what it received; each deletion is recorded as a signed
attestation (path, hash of what was deleted, time, member). ``purge`` deletes the files past
their deadline that it finds at their recorded path, hashing each just before; ``attest``
records a copy deleted by hand. The file is removed inside the transaction that records its
attestation, so one never stands without the other.

On a hosted workspace the files are on the member's machine, the records on the server: a purge
hashes and deletes each file here, then records the deletions (a file deleted whose record then
fails is found missing by the next purge, and attested); an attestation checks here that the
file is gone.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from ..audit.canonical import text_digest
from ..audit.law import ARCHIVES_APPROVAL_REQUIRED
from ..domain.actions import Action
from ..domain.exchange import Destruction, Reception
from ..domain.models import Member, Role
from ..domain.step_payloads import Destroy
from ..errors import ExchangeError, InvalidInput, NotFound, Refused, cut
from ..exchange.kept import Kept
from ..i18n import _
from ..store.base import Tx
from .delivery import archived
from .remoting import RemoteTarget, remotable, said
from .requests import load_request, record_step, required_text
from .session import Recorder, Session, load_actor, perform

MANY = 1000  # deletions one purge records


@dataclass(frozen=True)
class RetentionItem:
    reception: Reception
    destruction: Destruction | None
    overdue: bool

    @property
    def status(self) -> str:
        if self.destruction is not None:
            return "deleted"
        return "overdue" if self.overdue else "kept"


def retention_list(session: Session) -> list[RetentionItem]:
    """Received files by deadline, overdue first (deleted ones last)."""
    with session.workspace.store.transaction() as tx:
        return retention_items(tx, session.clock.today())


def retention_items(tx: Tx, today: date) -> list[RetentionItem]:
    """:func:`retention_list`, read in ``tx`` (the reminders read it too)."""
    destroyed = {(d.request_id, d.number): d for d in tx.destructions()}
    items = [
        RetentionItem(r, destroyed.get((r.request_id, r.number)), r.retention_deadline < today)
        for r in tx.receptions()
    ]
    return sorted(
        items,
        key=lambda i: (i.destruction is not None, not i.overdue, i.reception.retention_deadline),
    )


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def _destroy(
    tx: Tx,
    recorder: Recorder,
    actor: Member,
    reception: Reception,
    method: str,
    note: str | None,
    today: date,
    hashed: str | None = None,
    kept: Kept | None = None,
    approval: str | None = None,
) -> Destruction:
    """Record the attestation; for a purge, hash and delete the file (real pass only), unless
    it was ``hashed`` and deleted already (on the member's machine)."""
    request = load_request(tx, reception.request_id)
    _ensure_approval(archived(request), approval, reception)
    path = Path(reception.path)
    delete = method == "purge" and hashed is None
    file_sha256 = hashed
    if delete and not recorder.dry_run:
        file_sha256 = _file_sha256(path)
    record_step(
        tx,
        recorder,
        actor,
        request,
        Action.DESTROY,
        text=note,
        payload=lambda head: Destroy(
            **head,
            delivery=reception.number,
            method=method,
            path_sha256=text_digest(reception.path),
            file_sha256=file_sha256,
            archives_approval_sha256=None if approval is None else text_digest(approval),
        ),
    )
    destruction = Destruction(
        request_id=reception.request_id,
        number=reception.number,
        destroyed_by=actor.id,
        destroyed_at=recorder.now,
        destroyed_on=today,
        method=method,
        path=reception.path,
        file_sha256=file_sha256,
        note=note,
        archives_approval=approval,
    )
    tx.insert_destruction(destruction, recorder.last_seq)
    if delete and not recorder.dry_run:
        path.unlink()  # inside the transaction: if this fails, nothing is attested
    if kept is not None and not recorder.dry_run:  # a hosted workspace's encrypted copy goes too
        kept.discard(reception.request_id, reception.number)
    return destruction


class Unrecorded(ExchangeError):
    """Files deleted on this machine whose deletions the server did not record."""

    code = "purge_unrecorded"

    def __init__(self, cause: ExchangeError, deliveries: list[str]) -> None:
        super().__init__(
            _("{error} (deleted here, not recorded: {deliveries})").format(
                error=cause.message, deliveries=", ".join(deliveries)
            ),
            hint=_("attest each deletion: `ctg-exchange retention attest DELIVERY --note …`"),
        )
        self.exit_code = cause.exit_code


@dataclass(frozen=True)
class PurgeResult:
    due: list[Reception]  # past their deadline and present at their path
    destroyed: list[Destruction]  # empty for a dry run
    missing: list[Reception]  # past their deadline, not at their path here: attest them


def overdue(session: Session) -> list[Reception]:
    """The acting member's party's received files past their deadline, not yet deleted."""
    with session.workspace.store.transaction() as tx:
        party = load_actor(tx, session.require_actor(), reading=True).party
        mine = {r.id for r in tx.list_requests() if r.from_party == party}
    return [
        i.reception
        for i in retention_list(session)
        if i.status == "overdue" and i.reception.request_id in mine
    ]


def purge(
    session: Session, dry_run: bool = False, archives_approval: str | None = None
) -> PurgeResult:
    """Delete the acting member's party's received files that are past their deadline; those
    of a request with intermediate archiving are public archives, eliminated only with the
    archives service's approval (``archives_approval``, its reference)."""
    remote = session if isinstance(session, RemoteTarget) else None
    # which files, and where: on a hosted workspace, from the member's own verified copy of the
    # log (each path as the receiving member signed it), never from the server's word
    reading = session if remote is None else remote.verified()
    late = overdue(reading)
    due = [r for r in late if Path(r.path).is_file()]
    missing = [r for r in late if not Path(r.path).is_file()]
    approval = (
        None
        if archives_approval is None
        else required_text(archives_approval, "--archives-approval")
    )
    kept_archived = _archived(reading, due)
    if approval is None and kept_archived:
        raise _approval_required(kept_archived)
    if not kept_archived:
        approval = None  # nothing kept in archiving: no elimination of archives to approve
    if dry_run or not due:
        return PurgeResult(due, [], missing)
    if remote is not None:  # the files are here, the records on the server
        deleted = []
        for reception in due:
            hashed = _file_sha256(Path(reception.path))
            Path(reception.path).unlink()
            deleted.append((reception.request_id, reception.number, hashed))
        try:
            return PurgeResult(due, record_purge(remote, deleted, approval), missing)
        except ExchangeError as exc:
            raise Unrecorded(exc, [f"{r}-{n}" for r, n, _ in deleted]) from None
    today = session.clock.today()

    def operation(tx: Tx, actor: Member, recorder: Recorder) -> list[Destruction]:
        destroyed = [
            _destroy(
                tx, recorder, actor, r, "purge", None, today,
                approval=approval if f"{r.request_id}-{r.number}" in kept_archived else None,
            )
            for r in due
        ]  # fmt: skip
        recorder.checkpoint(actor, Role.STAFF)
        return destroyed

    return PurgeResult(due, perform(session, operation), missing)


def _archived(session: Session, receptions: list[Reception]) -> list[str]:
    """The deliveries among ``receptions`` whose request asked for intermediate archiving."""
    with session.workspace.store.transaction() as tx:
        return [
            f"{r.request_id}-{r.number}"
            for r in receptions
            if archived(load_request(tx, r.request_id))
        ]


def _ensure_approval(kept_archived: bool, approval: str | None, reception: Reception) -> None:
    if approval is None and kept_archived:
        raise _approval_required([f"{reception.request_id}-{reception.number}"])


def _approval_required(deliveries: list[str]) -> Refused:
    return Refused(
        ARCHIVES_APPROVAL_REQUIRED,
        _(
            "{rule}: {deliveries} were kept in intermediate archiving: they are public archives, "
            "eliminated only with the visa of the State's archives control (Code du patrimoine "
            "L212-3; R212-14, R212-51)"
        ).format(rule=ARCHIVES_APPROVAL_REQUIRED, deliveries=", ".join(deliveries)),
        hint=_(
            "ask your archives service for the visa d'élimination, then give its reference with "
            "--archives-approval"
        ),
    )


def _purged(args: dict[str, Any]) -> dict[str, Any]:
    hashes = {hashed for _, _, hashed in args["deleted"]}
    approval = said(args.get("approval"))  # on the archived deliveries only
    return {
        "method": "purge",
        "file_sha256": lambda found: found in hashes,
        "archives_approval_sha256": lambda found: found in (approval, None),
    }


@remotable(
    "retention.purge",
    takes=Action.DESTROY,
    also=(Action.DESTROY,),
    max_also=MANY,
    expect=_purged,
    checkpoints=True,
)
def record_purge(
    session: Session, deleted: list[tuple[str, int, str]], approval: str | None = None
) -> list[Destruction]:
    """Record the deletion of received files, each (request, delivery, SHA-256 of what was
    deleted), hashed and deleted on the member's machine (a hosted workspace)."""
    today, kept = session.clock.today(), Kept(session.workspace.root)

    def operation(tx: Tx, actor: Member, recorder: Recorder) -> list[Destruction]:
        destroyed = []
        for request_id, number, hashed in deleted:
            reception = _held(tx, f"{request_id}-{number}", request_id, number)
            in_archives = archived(load_request(tx, request_id))
            destroyed.append(
                _destroy(
                    tx,
                    recorder,
                    actor,
                    reception,
                    "purge",
                    None,
                    today,
                    hashed,
                    kept,
                    approval if in_archives else None,
                )  # fmt: skip
            )
        recorder.checkpoint(actor, Role.STAFF)
        return destroyed

    return perform(session, operation)


def _held(tx: Tx, delivery_id: str, request_id: str, number: int) -> Reception:
    """A reception whose deletion is not yet attested."""
    reception = tx.get_reception(request_id, number)
    if reception is None:
        raise NotFound(_("no received delivery {id!r}").format(id=cut(delivery_id)))
    if any(d.request_id == request_id and d.number == number for d in tx.destructions()):
        raise InvalidInput(_("the deletion of {id} is already attested").format(id=delivery_id))
    return reception


def attest(
    session: Session, delivery_id: str, note: str, archives_approval: str | None = None
) -> Destruction:
    """Record that a received copy was deleted by hand (with the archives service's approval,
    for a request with intermediate archiving)."""
    if isinstance(session, RemoteTarget):
        here = session.verified()
        with here.workspace.store.transaction() as tx:
            reception = tx.get_reception(*_delivery(delivery_id))
        if reception is not None:
            _gone(reception)  # the file was on this machine
        return record_attestation(session, delivery_id, note, archives_approval)
    return perform(session, _attestation(session, delivery_id, note, archives_approval, here=True))


@remotable(
    Action.DESTROY,
    expect=lambda a: {
        "method": "attest",
        "text_sha256": said(a["note"]),
        "archives_approval_sha256": said(a.get("archives_approval")),
    },
    checkpoints=True,
)
def record_attestation(
    session: Session, delivery_id: str, note: str, archives_approval: str | None = None
) -> Destruction:
    """Record that a received copy was deleted by hand, which the member's machine checked (a
    hosted workspace: the file was on it)."""
    return perform(session, _attestation(session, delivery_id, note, archives_approval, here=False))


def _delivery(delivery_id: str) -> tuple[str, int]:
    request_id, _dash, number = delivery_id.rpartition("-")
    if not request_id or not number.isdigit():
        raise InvalidInput(
            _("{id!r} is not a delivery id like DX-2026-0001-1").format(id=cut(delivery_id))
        )
    return request_id, int(number)


def _gone(reception: Reception) -> None:
    if Path(reception.path).exists():
        raise InvalidInput(
            _("{path} still exists").format(path=reception.path),
            hint=_("delete it, or run `retention purge`"),
        )


def _attestation(
    session: Session, delivery_id: str, note: str, approval: str | None, *, here: bool
) -> Callable[[Tx, Member, Recorder], Destruction]:
    note = required_text(note, "--note")
    if approval is not None:
        approval = required_text(approval, "--archives-approval")
    request_id, number = _delivery(delivery_id)
    today, kept = session.clock.today(), Kept(session.workspace.root)

    def operation(tx: Tx, actor: Member, recorder: Recorder) -> Destruction:
        reception = _held(tx, delivery_id, request_id, number)
        if here:
            _gone(reception)
        destroyed = _destroy(
            tx, recorder, actor, reception, "attest", note, today, None, kept, approval
        )
        recorder.checkpoint(actor, Role.STAFF)
        return destroyed

    return operation
