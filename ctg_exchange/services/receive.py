"""Receiving a package (DESIGN §8; docs/spec/package.md §4).

The manifest's signature, the manifest against the workspace and the payload hash are all
checked before anything is decrypted; the plaintext appears at its path only when the last
chunk has authenticated, together with the reception's signed event.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from ..audit.canonical import text_digest
from ..crypto.age import AgeError
from ..crypto.publickey import PublicKey
from ..crypto.sshsig import NAMESPACE_MANIFEST, verify
from ..domain.actions import Action
from ..domain.exchange import Delivery, Reception
from ..domain.models import ExchangeRequest, Member, Role, Status
from ..domain.rules import authorise
from ..domain.step_payloads import Receive
from ..errors import InvalidInput, SignatureInvalid, cut
from ..exchange.container import MANIFEST, SIGNATURE, PackageReader
from ..exchange.manifest import (
    Manifest,
    PackageError,
)
from ..exchange.pipeline import hash_region, unseal
from ..fsutil import NewFile
from ..store.base import Tx
from .party_keys import identities_future
from .requests import load_request, record_step
from .session import Recorder, Session, load_actor


def _check_manifest(
    session: Session,
    tx: Tx,
    manifest: Manifest,
    manifest_bytes: bytes,
    signature: str,
    payload_size: int,
) -> tuple[Member, ExchangeRequest]:
    actor = load_actor(tx, session.require_actor())
    if manifest.log != session.workspace.id:
        raise PackageError("the package was made in another workspace")
    if manifest.recipient.party != actor.party:
        raise PackageError(
            f"the package is addressed to {manifest.recipient.party}, not to {actor.party}"
        )
    request = tx.get_request(manifest.request)
    if request is None:
        raise PackageError(f"the package is for an unknown request {cut(manifest.request)!r}")
    authorise(Action.RECEIVE, actor, request)
    sender = tx.get_member(manifest.sender.member)
    if (
        sender is None
        or sender.party != request.to_party
        or sender.fingerprint != manifest.sender.fingerprint
    ):
        raise PackageError(f"the package's sender is not a member of {request.to_party}")
    try:
        verify(PublicKey.parse(sender.public_key), NAMESPACE_MANIFEST, manifest_bytes, signature)
    except SignatureInvalid as exc:
        raise PackageError(f"the manifest's signature does not verify: {exc.message}") from None
    if request.status is not Status.EXCHANGED:
        raise PackageError(f"{request.id} is {request.status.value}: nothing is received for it")
    delivery = tx.get_delivery(request.id, manifest.delivery)
    if (
        delivery is None
        or delivery.manifest_sha256 != hashlib.sha256(manifest_bytes).hexdigest()
        or delivery.payload_sha256 != manifest.payload.sha256
    ):
        raise PackageError(f"{manifest.delivery_id} does not match a delivery recorded here")
    received = tx.get_reception(request.id, manifest.delivery)
    if received is not None:
        raise PackageError(
            f"{manifest.delivery_id} was already received on "
            f"{received.received_on} by {received.received_by}"
        )
    if payload_size != manifest.payload.size:
        raise PackageError("the payload's size differs from the manifest's")
    return actor, request


def receive(
    session: Session, package: Path, out: Path, progress: Callable[[int], None] | None = None
) -> Reception:
    try:
        handle = open(package, "rb")  # noqa: SIM115
    except OSError as exc:
        raise InvalidInput(f"cannot read {package}: {exc.strerror}") from None
    with handle:
        reader = PackageReader(handle, package.stat().st_size)
        manifest_bytes = reader.read(MANIFEST)
        manifest = Manifest.from_bytes(manifest_bytes)
        try:
            signature = reader.read(SIGNATURE).decode("ascii")
        except UnicodeDecodeError:
            raise PackageError("the package's signature is not an armored SSHSIG") from None
        with session.workspace.store.transaction() as tx:
            actor, _ = _check_manifest(
                session, tx, manifest, manifest_bytes, signature, reader.payload.size
            )
        # the passphrases are asked now; the signing key unlocks while the payload is hashed
        unlocking = identities_future(session.keyring, actor.party, manifest.recipient.recipients)
        signing = session.keyring.signer_future(actor)
        region = reader.payload
        seen = _identity(handle)
        try:
            plain = NewFile(out)
        except FileExistsError:
            raise InvalidInput(f"{out} already exists: choose another --out") from None
        try:
            # scrypt's 16 MiB come and go before the buffers below are made (peak memory)
            identities = unlocking.result()
            # space for the plaintext (a little less than the payload) is found meanwhile
            plain.reserve(region.size)
            if hash_region(handle, region.offset, region.size) != manifest.payload.sha256:
                raise PackageError("the payload's hash differs from the signed manifest: tampered")
            try:
                unseal(handle, region.offset, region.size, identities, plain.file, progress)
            except AgeError as exc:
                raise PackageError(f"the payload does not decrypt: {exc}") from None
            if _identity(handle) != seen:  # the hash and the decryption read the file apart
                raise PackageError("the package changed while it was being received")
            return _record_receive(
                session,
                manifest,
                manifest_bytes,
                signature,
                out,
                signing.result(),
                plain,
                reader.payload.size,
            )
        except BaseException:
            plain.discard()
            raise


def _identity(handle: BinaryIO) -> tuple[int, ...]:
    """What changes when a file is written to (ctime cannot be set back without root)."""
    st = os.fstat(handle.fileno())
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def _record_receive(
    session: Session,
    manifest: Manifest,
    manifest_bytes: bytes,
    signature: str,
    out: Path,
    signer: object,
    plain: NewFile,
    payload_size: int,
) -> Reception:
    from ..crypto.keys import Signer

    assert isinstance(signer, Signer)
    with session.workspace.store.transaction(write=True) as tx:
        actor, request = _check_manifest(
            session, tx, manifest, manifest_bytes, signature, payload_size
        )
        recorder = Recorder(tx, session.workspace.id, session.clock, signer)
        path = str(out.resolve())
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
        plain.commit()  # the plaintext appears just before the reception commits
        return reception


def list_deliveries(
    session: Session, request_id: str | None = None
) -> list[tuple[Delivery, Reception | None]]:
    with session.workspace.store.transaction() as tx:
        if request_id is not None:
            load_request(tx, request_id)
        return [(d, tx.get_reception(d.request_id, d.number)) for d in tx.deliveries(request_id)]
