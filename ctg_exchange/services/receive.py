"""Receiving a package (DESIGN §8; docs/spec/package.md §4, §6).

The manifest's signature and the manifest against the workspace are checked before anything is
decrypted; the payload is then hashed, decrypted and checked row by row in one pass into an
unnamed file (DESIGN §8), which appears at its path only when the hash, the last chunk and the
rows have all checked, together with the reception's signed event. It is written in the
sender's dialect, or converted to the one the receiver asks for.
"""

from __future__ import annotations

import base64
import contextlib
import csv
import hashlib
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from ..audit.canonical import text_digest
from ..crypto.age import AgeError, Identity
from ..crypto.publickey import PublicKey
from ..crypto.sshsig import NAMESPACE_MANIFEST, verify
from ..domain.actions import Action
from ..domain.exchange import Delivery, Reception
from ..domain.models import ExchangeRequest, Member, Role, Status
from ..domain.rules import authorise
from ..domain.step_payloads import Receive
from ..errors import InvalidInput, SignatureInvalid, cut
from ..exchange.container import MANIFEST, SIGNATURE, PackageReader
from ..exchange.container import Member as PackageMember
from ..exchange.dialect import LEGACY, Dialect, NotAsNamed, convert
from ..exchange.manifest import (
    Manifest,
    PackageError,
)
from ..exchange.pipeline import hash_region, unseal, write_all
from ..exchange.scanner import PayloadCheck
from ..fsutil import NewFile
from ..i18n import _, date_text
from ..labels import label
from ..store.base import Tx
from .party_keys import identities_future
from .remoting import RemoteTarget, remotable
from .requests import load_request, record_step
from .session import Recorder, Session, load_actor, perform


@dataclass(frozen=True)
class Receipt:
    """What a package's manifest is checked against before anything is decrypted: the
    workspace's records of its request, sender, delivery and any reception."""

    log: str
    actor: Member
    request: ExchangeRequest | None
    sender: Member | None
    delivery: Delivery | None
    reception: Reception | None
    # the sender's keys by fingerprint: its key, and one it replaced since it sent (issue 19)
    sender_keys: dict[str, str] = field(default_factory=dict)


def _receipt(session: Session, tx: Tx, manifest: Manifest) -> Receipt:
    request = tx.get_request(manifest.request)
    sender = tx.get_member(manifest.sender.member)
    delivery = None if request is None else tx.get_delivery(request.id, manifest.delivery)
    keys = {} if sender is None else {sender.fingerprint: sender.public_key}
    if sender is not None and delivery is not None:
        for change in tx.key_changes(sender.id):
            if change.at >= delivery.sent_at:
                keys[change.previous_fingerprint] = change.previous_key
    return Receipt(
        log=session.workspace.id,
        actor=load_actor(tx, session.require_actor()),
        request=request,
        sender=sender,
        delivery=delivery,
        reception=None if request is None else tx.get_reception(request.id, manifest.delivery),
        sender_keys=keys,
    )


def _decoded(manifest: str) -> bytes:
    try:
        return base64.b64decode(manifest, validate=True)
    except ValueError:
        raise InvalidInput(_("a manifest is sent in base64")) from None


def _check_manifest(
    receipt: Receipt,
    manifest: Manifest,
    manifest_bytes: bytes,
    signature: str,
    payload_size: int,
) -> tuple[Member, ExchangeRequest]:
    actor, request, sender = receipt.actor, receipt.request, receipt.sender
    if manifest.log != receipt.log:
        raise PackageError(_("the package was made in another workspace"))
    if manifest.recipient.party != actor.party:
        raise PackageError(
            _("the package is addressed to {party}, not to {own}").format(
                party=manifest.recipient.party, own=actor.party
            )
        )
    if request is None:
        raise PackageError(
            _("the package is for an unknown request {id!r}").format(id=cut(manifest.request))
        )
    authorise(Action.RECEIVE, actor, request)
    sender_key = receipt.sender_keys.get(manifest.sender.fingerprint)
    if sender is None or sender.party != request.to_party or sender_key is None:
        raise PackageError(
            _("the package's sender is not a member of {party}").format(party=request.to_party)
        )
    try:
        verify(PublicKey.parse(sender_key), NAMESPACE_MANIFEST, manifest_bytes, signature)
    except SignatureInvalid as exc:
        raise PackageError(
            _("the manifest's signature does not verify: {error}").format(error=exc.message)
        ) from None
    if request.status is not Status.EXCHANGED:
        raise PackageError(
            _("{id} is {status}: nothing is received for it").format(
                id=request.id, status=label("status", request.status.value)
            )
        )
    delivery = receipt.delivery
    if (
        delivery is None
        or delivery.manifest_sha256 != hashlib.sha256(manifest_bytes).hexdigest()
        or delivery.payload_sha256 != manifest.payload.sha256
    ):
        raise PackageError(
            _("{delivery} does not match a delivery recorded here").format(
                delivery=manifest.delivery_id
            )
        )
    received = receipt.reception
    if received is not None:
        raise PackageError(
            _("{delivery} was already received on {date} by {member}").format(
                delivery=manifest.delivery_id,
                date=date_text(received.received_on),
                member=received.received_by,
            )
        )
    if payload_size != manifest.payload.size:
        raise PackageError(_("the payload's size differs from the manifest's"))
    return actor, request


def _decrypt(
    handle: BinaryIO,
    region: PackageMember,
    identities: Sequence[Identity],
    plain: NewFile,
    scratch_dir: Path,
    progress: Callable[[int], None] | None,
    manifest: Manifest,
    wanted: Dialect | None,
) -> None:
    """Hash, decrypt and check the payload in one pass into ``plain`` (unnamed until the caller
    commits it): as sent, or through an unnamed scratch file (in the output's directory, never
    linked) and then converted to ``wanted``, row block by row block. Raises unless the hash,
    the last chunk and every row of the CSV the signed manifest names have all checked."""
    import tempfile

    sent = manifest.dialect or LEGACY
    # what is released is the CSV the signed manifest names, every row of it (a modified
    # sender could sign three columns and send five)
    check = PayloadCheck(sent, manifest.columns, manifest.rows)
    hasher = hashlib.sha256()
    convert_to = None if wanted is None or wanted == sent else wanted
    with contextlib.ExitStack() as stack:
        target: BinaryIO = plain.file
        if convert_to is not None:  # O_TMPFILE: never named
            target = stack.enter_context(tempfile.TemporaryFile(dir=scratch_dir))
        try:
            unseal(
                handle, region.offset, region.size, identities, target, progress, hasher,
                check.feed,
            )  # fmt: skip
        except (AgeError, InvalidInput) as exc:
            if hash_region(handle, region.offset, region.size) != manifest.payload.sha256:
                raise _tampered() from None  # as the hash says, whatever failed first
            if isinstance(exc, AgeError):
                raise PackageError(
                    _("the payload does not decrypt: {error}").format(error=exc)
                ) from None
            raise _not_as_named(exc) from None
        if hasher.hexdigest() != manifest.payload.sha256:
            raise _tampered()
        try:
            if not check.quoted:
                check.finish()
            elif convert_to is not None:
                target.seek(0)
                check.finish(target)
            else:
                with plain.reopen() as written:
                    check.finish(written)
        except InvalidInput as exc:
            raise _not_as_named(exc) from None
        if convert_to is None:
            return
        target.seek(0)
        try:
            for block in convert(target, sent, convert_to, manifest.columns):
                write_all(plain.file, block)
        except (UnicodeDecodeError, csv.Error, NotAsNamed):
            raise PackageError(
                _("the payload is not CSV in the dialect its manifest names ({dialect})").format(
                    dialect=sent.describe()
                )
            ) from None


def _tampered() -> PackageError:
    return PackageError(_("the payload's hash differs from the signed manifest: tampered"))


def _not_as_named(exc: InvalidInput) -> PackageError:
    return PackageError(
        _("the payload is not the CSV its signed manifest names: {error}").format(error=exc.message)
    )


def receive(
    session: Session,
    package: Path,
    out: Path,
    progress: Callable[[int], None] | None = None,
    dialect: Dialect | None = None,
) -> Reception:
    """Receive ``package`` into ``out``, in the sender's dialect or in ``dialect``."""
    try:
        handle = open(package, "rb")  # noqa: SIM115
    except OSError as exc:
        raise InvalidInput(
            _("cannot read {path}: {error}").format(path=package, error=exc.strerror)
        ) from None
    with handle:
        reader = PackageReader(handle, package.stat().st_size)
        manifest_bytes = reader.read(MANIFEST)
        manifest = Manifest.from_bytes(manifest_bytes)
        try:
            signature = reader.read(SIGNATURE).decode("ascii")
        except UnicodeDecodeError:
            raise PackageError(_("the package's signature is not an armored SSHSIG")) from None
        encoded = base64.b64encode(manifest_bytes).decode("ascii")
        remote = session if isinstance(session, RemoteTarget) else None
        # checked against the log: on a hosted workspace, the member's own verified copy of it
        here = session if remote is None else remote.verified()
        with here.workspace.store.transaction() as tx:
            checked = _receipt(here, tx, manifest)
        size = reader.payload.size
        actor, _request = _check_manifest(checked, manifest, manifest_bytes, signature, size)
        # the passphrases are asked now; the signing key unlocks while the payload is hashed
        unlocking = identities_future(session.keyring, actor.party, manifest.recipient.recipients)
        if remote is None:
            session.keyring.signer_future(actor)
        region = reader.payload
        seen = _identity(handle)
        try:
            plain = NewFile(out)
        except FileExistsError:
            raise InvalidInput(
                _("{path} already exists: choose another --out").format(path=out)
            ) from None
        try:
            # scrypt's 16 MiB come and go before the buffers below are made (peak memory)
            identities = unlocking.result()
            # space for the plaintext (a little less than the payload) is found meanwhile
            plain.reserve(region.size)
            _decrypt(handle, region, identities, plain, out.parent, progress, manifest, dialect)
            if _identity(handle) != seen:  # the hash and the decryption read the file apart
                raise PackageError(_("the package changed while it was being received"))
            path = str(out.resolve())
            if remote is None:
                operation = _reception(
                    session, manifest_bytes, signature, region.size, path, plain.commit
                )
                return perform(session, operation)
            reception = record_reception(
                remote, manifest.request, encoded, signature, region.size, path
            )
            plain.commit()  # the server has recorded it: it appears now
            return reception
        except BaseException:
            plain.discard()
            raise


def _identity(handle: BinaryIO) -> tuple[int, ...]:
    """What changes when a file is written to (ctime cannot be set back without root)."""
    st = os.fstat(handle.fileno())
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def _reception(
    session: Session,
    manifest_bytes: bytes,
    signature: str,
    payload_size: int,
    path: str,
    publish: Callable[[], None] | None,
) -> Callable[[Tx, Member, Recorder], Reception]:
    """The reception's state change, its manifest checked again in the write transaction;
    ``publish`` makes the plaintext appear just before it commits."""
    manifest = Manifest.from_bytes(manifest_bytes)

    def operation(tx: Tx, actor: Member, recorder: Recorder) -> Reception:
        checked = _receipt(session, tx, manifest)
        _actor, request = _check_manifest(
            checked, manifest, manifest_bytes, signature, payload_size
        )
        record_step(
            tx,
            recorder,
            actor,
            request,
            Action.RECEIVE,
            payload=lambda head: Receive(
                **head,
                delivery=manifest.delivery,
                payload_sha256=manifest.payload.sha256,
                retention_deadline=manifest.retention_deadline,
                path_sha256=text_digest(path),
            ),
        )
        reception = Reception(
            request_id=request.id,
            number=manifest.delivery,
            received_by=actor.id,
            received_at=recorder.now,
            received_on=session.clock.today(),
            path=path,
            retention_deadline=manifest.retention_deadline,
        )
        tx.insert_reception(reception, recorder.last_seq)
        recorder.checkpoint(actor, Role.STAFF)
        if publish is not None and not recorder.dry_run:
            publish()  # the plaintext appears just before the reception commits
        return reception

    return operation


def _expect_receive(args: dict[str, Any]) -> dict[str, Any]:
    manifest = Manifest.from_bytes(_decoded(str(args["manifest"])))
    return {
        "delivery": manifest.delivery,
        "payload_sha256": manifest.payload.sha256,
        "retention_deadline": manifest.retention_deadline.isoformat(),
        "path_sha256": text_digest(str(args["path"])),
    }


@remotable(Action.RECEIVE, expect=_expect_receive, checkpoints=True)
def record_reception(
    session: Session, request_id: str, manifest: str, signature: str, payload_size: int, path: str
) -> Reception:
    """Record that the acting member received the delivery whose manifest (base64, as shipped)
    and signature are given, its payload checked and decrypted on their machine into ``path``
    (a hosted workspace: the server checks the manifest again)."""
    manifest_bytes = _decoded(manifest)
    if Manifest.from_bytes(manifest_bytes).request != request_id:
        raise InvalidInput(_("the manifest is not of {id!r}").format(id=cut(request_id)))
    operation = _reception(session, manifest_bytes, signature, payload_size, path, None)
    return perform(session, operation)


def receive_delivery(
    session: Session,
    delivery_id: str,
    out: Path,
    progress: Callable[[int], None] | None = None,
    dialect: Dialect | None = None,
) -> Reception:
    """Download a delivery's package from a hosted workspace, then :func:`receive` it."""
    if not isinstance(session, RemoteTarget):
        raise InvalidInput(_("no package file {name!r}").format(name=cut(delivery_id)))
    request_id, _dash, number = delivery_id.rpartition("-")
    if not request_id or not number.isdigit():
        raise InvalidInput(
            _("{name!r} is neither a package file nor a delivery id").format(name=cut(delivery_id))
        )
    if out.exists() or out.is_symlink():
        raise InvalidInput(_("{path} already exists: choose another --out").format(path=out))
    package = session.scratch() / f"{delivery_id}.ctgx"
    with open(package, "xb") as handle:
        session.download_package(request_id, int(number), handle)
    try:
        return receive(session, package, out, progress, dialect)
    finally:
        package.unlink(missing_ok=True)


def list_deliveries(
    session: Session, request_id: str | None = None
) -> list[tuple[Delivery, Reception | None]]:
    with session.workspace.store.transaction() as tx:
        if request_id is not None:
            load_request(tx, request_id)
        return [(d, tx.get_reception(d.request_id, d.number)) for d in tx.deliveries(request_id)]
