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
import functools
import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import SignatureInvalid
from ..i18n import _
from . import sshwire
from .publickey import PublicKey

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

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
# issue 19: a new signing key's proof of possession, carried by its rotation's event (not in
# ``NAMESPACES``: allowed_signers files list the namespaces a member signs statements in)
NAMESPACE_KEY_ROTATION = "ctg-exchange/key-rotation@v1"


@functools.cache
def _signed_head(namespace: str, hash_algorithm: str) -> bytes:
    size = _HASHES[hash_algorithm]().digest_size
    return (
        MAGIC
        + sshwire.string(namespace)
        + sshwire.string(b"")
        + sshwire.string(hash_algorithm)
        + sshwire.uint32(size)
    )


def signed_data(namespace: str, message: bytes, hash_algorithm: str = HASH_ALGORITHM) -> bytes:
    """The bytes the key actually signs for ``message`` under ``namespace``."""
    return _signed_head(namespace, hash_algorithm) + _HASHES[hash_algorithm](message).digest()


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
    return armor(blob)


def armor(blob: bytes) -> str:
    """The ``-----BEGIN SSH SIGNATURE-----`` form of a binary SSHSIG, as ssh-keygen writes it."""
    encoded = base64.b64encode(blob).decode("ascii")
    lines = [encoded[i : i + 70] for i in range(0, len(encoded), 70)]
    return "\n".join([_BEGIN, *lines, _END]) + "\n"


@dataclass(frozen=True)
class Parsed:
    """A well-formed SSHSIG blob, not yet checked against a key."""

    key_blob: bytes
    namespace: str
    hash_algorithm: str
    raw_signature: bytes


def parse(blob: bytes) -> Parsed:
    strings: list[bytes] = []
    if blob[:6] != MAGIC or blob[6:10] != b"\x00\x00\x00\x01":
        raise SignatureInvalid(_("not an SSHSIG version 1 signature"))
    position, end = 10, len(blob)
    while position < end and len(strings) < 5:
        size = int.from_bytes(blob[position : position + 4], "big")
        position += 4
        if position + size > end:
            raise SignatureInvalid(_("truncated signature"))
        strings.append(blob[position : position + size])
        position += size
    if len(strings) != 5:
        raise SignatureInvalid(_("truncated signature"))
    if position != end:
        raise SignatureInvalid(_("trailing bytes in signature"))
    key_blob, namespace, _reserved, hash_algorithm, wrapped = strings
    try:
        signature = sshwire.Reader(wrapped)
        sig_type = signature.string()
        raw_signature = signature.string()
        if not signature.done():
            raise SignatureInvalid(_("trailing bytes in signature"))
    except ValueError:
        raise SignatureInvalid(_("truncated signature")) from None
    algorithm = hash_algorithm.decode("ascii", "replace")
    if sig_type != b"ssh-ed25519" or algorithm not in _HASHES:
        raise SignatureInvalid(_("unsupported signature algorithm"))
    return Parsed(key_blob, namespace.decode("utf-8", "replace"), algorithm, raw_signature)


def check(parsed: Parsed, public_key: PublicKey, namespace: str, message: bytes) -> bytes:
    """Check what can be checked without the curve; return the bytes the key must have signed."""
    if parsed.namespace != namespace:
        raise SignatureInvalid(
            _("signature namespace is {found!r}, expected {expected!r}").format(
                found=parsed.namespace, expected=namespace
            )
        )
    if parsed.key_blob != public_key.blob:
        raise SignatureInvalid(
            _("signature is by another key than {fingerprint}").format(
                fingerprint=public_key.fingerprint
            )
        )
    return signed_data(namespace, message, parsed.hash_algorithm)


def verify(public_key: PublicKey, namespace: str, message: bytes, armored: str) -> None:
    """Check ``armored`` is ``public_key``'s SSHSIG of ``message`` under ``namespace``.

    Raises :class:`SignatureInvalid` with a one-line reason otherwise.
    """
    verify_blob(public_key, namespace, message, dearmor(armored))


def verify_blob(public_key: PublicKey, namespace: str, message: bytes, blob: bytes) -> None:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    parsed = parse(blob)
    data = check(parsed, public_key, namespace, message)
    try:
        Ed25519PublicKey.from_public_bytes(public_key.raw).verify(parsed.raw_signature, data)
    except InvalidSignature:
        raise SignatureInvalid(_("signature does not match the signed bytes")) from None


def expected_prefix(public_key: PublicKey, namespace: str) -> bytes:
    """The bytes every ``sha512`` Ed25519 SSHSIG by ``public_key`` under ``namespace`` starts
    with: all but the 64-byte signature. A verifier of many signatures compares this prefix
    instead of parsing each blob (and parses only a blob that differs, to say why)."""
    return (
        MAGIC
        + sshwire.uint32(VERSION)
        + sshwire.string(public_key.blob)
        + sshwire.string(namespace)
        + sshwire.string(b"")
        + sshwire.string(HASH_ALGORITHM)
        + sshwire.uint32(4 + 11 + 4 + 64)
        + sshwire.string("ssh-ed25519")
        + sshwire.uint32(64)
    )


def dearmor(armored: str) -> bytes:
    if armored.startswith(_BEGIN + "\n") and armored.endswith(_END + "\n"):
        try:  # the usual layout, as written by sign() and ssh-keygen
            body = armored[len(_BEGIN) + 1 : -len(_END) - 1].replace("\n", "")
            return binascii.a2b_base64(body, strict_mode=True)
        except (binascii.Error, ValueError):
            pass
    lines = [line.strip() for line in armored.strip().splitlines()]
    if len(lines) < 3 or lines[0] != _BEGIN or lines[-1] != _END:
        raise SignatureInvalid(_("not an armored SSH signature"))
    try:
        return base64.b64decode("".join(lines[1:-1]), validate=True)
    except (binascii.Error, ValueError):
        raise SignatureInvalid(_("signature is not valid base64")) from None
