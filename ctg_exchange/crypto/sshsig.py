"""SSHSIG signatures (OpenSSH ``PROTOCOL.sshsig``), Ed25519 only.

What is signed is not the message itself but::

    byte[6] "SSHSIG" | string namespace | string reserved | string hash_algorithm
                     | string H(message)

and the signature is shipped armored as ``-----BEGIN SSH SIGNATURE-----``. The namespace keeps a
signature made for one kind of statement from being replayed as another. Because the format is
OpenSSH's, ``ssh-keygen -Y verify -n NAMESPACE`` with an ``allowed_signers`` file checks any
signature this module makes, without our code.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from typing import TYPE_CHECKING

from ..errors import SignatureInvalid
from . import sshwire

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from .keys import PublicKey

MAGIC = b"SSHSIG"
VERSION = 1
HASH_ALGORITHM = "sha512"  # what ssh-keygen uses by default
_HASHES = {"sha256": hashlib.sha256, "sha512": hashlib.sha512}
_BEGIN = "-----BEGIN SSH SIGNATURE-----"
_END = "-----END SSH SIGNATURE-----"

NAMESPACE_EVENT = "ctg-exchange/event@v1"
NAMESPACE_MANIFEST = "ctg-exchange/manifest@v1"
NAMESPACE_CHECKPOINT = "ctg-exchange/checkpoint@v1"
NAMESPACE_BUNDLE = "ctg-exchange/bundle@v1"
NAMESPACES = (NAMESPACE_EVENT, NAMESPACE_MANIFEST, NAMESPACE_CHECKPOINT, NAMESPACE_BUNDLE)


def signed_data(namespace: str, message: bytes, hash_algorithm: str = HASH_ALGORITHM) -> bytes:
    """The bytes the key actually signs for ``message`` under ``namespace``."""
    digest = _HASHES[hash_algorithm](message).digest()
    return (
        MAGIC
        + sshwire.string(namespace)
        + sshwire.string(b"")
        + sshwire.string(hash_algorithm)
        + sshwire.string(digest)
    )


def sign(
    private_key: Ed25519PrivateKey, public_key: PublicKey, namespace: str, message: bytes
) -> str:
    """An armored SSHSIG of ``message`` by ``private_key`` under ``namespace``."""
    raw_signature = private_key.sign(signed_data(namespace, message))
    blob = (
        MAGIC
        + sshwire.uint32(VERSION)
        + sshwire.string(public_key.blob)
        + sshwire.string(namespace)
        + sshwire.string(b"")
        + sshwire.string(HASH_ALGORITHM)
        + sshwire.string(sshwire.string("ssh-ed25519") + sshwire.string(raw_signature))
    )
    encoded = base64.b64encode(blob).decode("ascii")
    lines = [encoded[i : i + 70] for i in range(0, len(encoded), 70)]
    return "\n".join([_BEGIN, *lines, _END]) + "\n"


def verify(public_key: PublicKey, namespace: str, message: bytes, armored: str) -> None:
    """Check ``armored`` is ``public_key``'s SSHSIG of ``message`` under ``namespace``.

    Raises :class:`SignatureInvalid` with a one-line reason otherwise.
    """
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    blob = _dearmor(armored)
    try:
        reader = sshwire.Reader(blob)
        if reader.take(6) != MAGIC or reader.uint32() != VERSION:
            raise SignatureInvalid("not an SSHSIG version 1 signature")
        key_blob = reader.string()
        signed_namespace = reader.string().decode("utf-8", "replace")
        reader.string()  # reserved
        hash_algorithm = reader.string().decode("ascii", "replace")
        signature = sshwire.Reader(reader.string())
        sig_type = signature.string()
        raw_signature = signature.string()
        if not (reader.done() and signature.done()):
            raise SignatureInvalid("trailing bytes in signature")
    except ValueError:
        raise SignatureInvalid("truncated signature") from None
    if signed_namespace != namespace:
        raise SignatureInvalid(
            f"signature namespace is {signed_namespace!r}, expected {namespace!r}"
        )
    if key_blob != public_key.blob:
        raise SignatureInvalid(f"signature is by another key than {public_key.fingerprint}")
    if sig_type != b"ssh-ed25519" or hash_algorithm not in _HASHES:
        raise SignatureInvalid("unsupported signature algorithm")
    try:
        Ed25519PublicKey.from_public_bytes(public_key.raw).verify(
            raw_signature, signed_data(namespace, message, hash_algorithm)
        )
    except InvalidSignature:
        raise SignatureInvalid("signature does not match the signed bytes") from None


def _dearmor(armored: str) -> bytes:
    lines = [line.strip() for line in armored.strip().splitlines()]
    if len(lines) < 3 or lines[0] != _BEGIN or lines[-1] != _END:
        raise SignatureInvalid("not an armored SSH signature")
    try:
        return base64.b64decode("".join(lines[1:-1]), validate=True)
    except (binascii.Error, ValueError):
        raise SignatureInvalid("signature is not valid base64") from None
