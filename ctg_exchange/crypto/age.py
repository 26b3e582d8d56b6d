"""The age v1 file format (c2sp.org/age), written on pyca/cryptography.

Only what ctg-exchange needs: X25519 recipients (exchange payloads, so the standard ``age`` tool
can decrypt them with a party's identity), the scrypt passphrase stanza (identities at rest, so
``age -d`` can recover them) and the header with its MAC. The STREAM payload that follows the
header, and whole small files, are in :mod:`.agestream`.

Decoders follow the spec's MUSTs: canonical unpadded base64, 32-byte stanza bodies checked before
decrypting, all-zero shared secrets refused, scrypt alone in its header with a bounded work
factor, the header MAC checked before any payload is opened, and a missing final chunk an error.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import os
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from hashlib import sha256

from ..errors import IntegrityError, InvalidInput
from ..i18n import _
from . import bech32

VERSION_LINE = b"age-encryption.org/v1\n"
CHUNK = 64 * 1024
TAG = 16
NONCE_SIZE = 16
FILE_KEY_SIZE = 16
MAX_HEADER = 64 * 1024
MAX_SCRYPT_LOG_N = 22
X25519_INFO = b"age-encryption.org/v1/X25519"
SCRYPT_SALT_LABEL = b"age-encryption.org/v1/scrypt"
_ZERO_NONCE = bytes(12)
_ARG = re.compile(rb"^[\x21-\x7e]+$")


class AgeError(IntegrityError):
    """A malformed, tampered or undecryptable age file (exit 3, as any integrity failure)."""

    code = "age"


class NoIdentityMatched(AgeError):
    """None of the identities given can unwrap the file key."""


# -- primitives ----------------------------------------------------------------------------


def b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii").rstrip("=")


def b64decode(text: str | bytes, size: int | None = None) -> bytes:
    """Canonical unpadded base64 only (the spec requires rejecting anything else)."""
    raw = text.encode("ascii") if isinstance(text, str) else text
    if b"=" in raw or not re.fullmatch(rb"[A-Za-z0-9+/]*", raw):
        raise AgeError(_("invalid base64 in the age header"))
    try:
        data = base64.b64decode(raw + b"=" * (-len(raw) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise AgeError(_("invalid base64 in the age header")) from None
    if b64encode(data).encode() != raw:
        raise AgeError(_("non-canonical base64 in the age header"))
    if size is not None and len(data) != size:
        raise AgeError(_("a value in the age header has the wrong length"))
    return data


def hkdf(ikm: bytes, salt: bytes, info: bytes) -> bytes:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=info).derive(ikm)


def _seal(key: bytes, plaintext: bytes) -> bytes:
    from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

    return ChaCha20Poly1305(key).encrypt(_ZERO_NONCE, plaintext, None)


def _open(key: bytes, ciphertext: bytes) -> bytes | None:
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

    try:
        return ChaCha20Poly1305(key).decrypt(_ZERO_NONCE, ciphertext, None)
    except InvalidTag:
        return None


# -- keys ----------------------------------------------------------------------------------


def _not_recipient(text: str) -> str:
    return _("not an age X25519 recipient: {start}…").format(start=text.strip()[:20])


@dataclass(frozen=True)
class Recipient:
    """An X25519 recipient, ``age1…``."""

    public: bytes

    @classmethod
    def parse(cls, text: str) -> Recipient:
        try:
            hrp, data = bech32.decode(text.strip())
        except ValueError:
            raise InvalidInput(_not_recipient(text)) from None
        if hrp != "age" or len(data) != 32:
            raise InvalidInput(_not_recipient(text))
        return cls(data)

    def __str__(self) -> str:
        return bech32.encode("age", self.public)


@dataclass(frozen=True)
class Identity:
    """An X25519 identity, ``AGE-SECRET-KEY-1…``."""

    secret: bytes

    @classmethod
    def generate(cls) -> Identity:
        return cls(os.urandom(32))

    @classmethod
    def parse(cls, text: str) -> Identity:
        try:
            hrp, data = bech32.decode(text.strip())
        except ValueError:
            raise InvalidInput(_("not an age X25519 identity")) from None
        if hrp != "age-secret-key-" or len(data) != 32 or text.strip().upper() != text.strip():
            raise InvalidInput(_("not an age X25519 identity"))
        return cls(data)

    @property
    def recipient(self) -> Recipient:
        from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

        key = X25519PrivateKey.from_private_bytes(self.secret)
        return Recipient(key.public_key().public_bytes_raw())

    def __str__(self) -> str:
        return bech32.encode("age-secret-key-", self.secret).upper()

    def __repr__(self) -> str:  # never print a secret by accident
        return f"Identity({self.recipient})"


# -- header --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Stanza:
    args: tuple[str, ...]
    body: bytes

    def encode(self) -> bytes:
        text = b64encode(self.body)
        lines = [text[i : i + 64] for i in range(0, len(text), 64)]
        if not lines or len(lines[-1]) == 64:
            lines.append("")  # the body always ends with a line shorter than 64 columns
        return ("-> " + " ".join(self.args) + "\n" + "\n".join(lines) + "\n").encode("ascii")


def x25519_stanza(file_key: bytes, recipient: Recipient) -> Stanza:
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

    ephemeral = X25519PrivateKey.generate()
    share = ephemeral.public_key().public_bytes_raw()
    shared = ephemeral.exchange(X25519PublicKey.from_public_bytes(recipient.public))
    wrap_key = hkdf(shared, share + recipient.public, X25519_INFO)
    return Stanza(("X25519", b64encode(share)), _seal(wrap_key, file_key))


def scrypt_stanza(file_key: bytes, passphrase: str, log_n: int) -> Stanza:
    from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

    salt = os.urandom(16)
    kdf = Scrypt(salt=SCRYPT_SALT_LABEL + salt, length=32, n=1 << log_n, r=8, p=1)
    wrap_key = kdf.derive(passphrase.encode("utf-8"))
    return Stanza(("scrypt", b64encode(salt), str(log_n)), _seal(wrap_key, file_key))


def _unwrap_x25519(stanza: Stanza, identity: Identity) -> bytes | None:
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

    if len(stanza.args) != 2:
        raise AgeError(_("malformed X25519 stanza"))
    share = b64decode(stanza.args[1], 32)
    if len(stanza.body) != 32:
        raise AgeError(_("malformed X25519 stanza body"))
    key = X25519PrivateKey.from_private_bytes(identity.secret)
    try:
        shared = key.exchange(X25519PublicKey.from_public_bytes(share))
    except ValueError:  # pyca refuses an all-zero shared secret
        raise AgeError(_("invalid X25519 share")) from None
    if shared == bytes(32):
        raise AgeError(_("invalid X25519 share"))
    wrap_key = hkdf(shared, share + identity.recipient.public, X25519_INFO)
    return _open(wrap_key, stanza.body)


def _unwrap_scrypt(stanza: Stanza, passphrase: str) -> bytes | None:
    from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

    if len(stanza.args) != 3 or not re.fullmatch(r"[1-9][0-9]*", stanza.args[2]):
        raise AgeError(_("malformed scrypt stanza"))
    salt = b64decode(stanza.args[1], 16)
    log_n = int(stanza.args[2])
    if log_n > MAX_SCRYPT_LOG_N:
        raise AgeError(
            _("scrypt work factor 2^{log_n} is above the limit 2^{limit}").format(
                log_n=log_n, limit=MAX_SCRYPT_LOG_N
            )
        )
    if len(stanza.body) != 32:
        raise AgeError(_("malformed scrypt stanza body"))
    kdf = Scrypt(salt=SCRYPT_SALT_LABEL + salt, length=32, n=1 << log_n, r=8, p=1)
    return _open(kdf.derive(passphrase.encode("utf-8")), stanza.body)


def _mac(file_key: bytes, mac_input: bytes) -> bytes:
    return hmac.new(hkdf(file_key, b"", b"header"), mac_input, sha256).digest()


def build_header(file_key: bytes, stanzas: Sequence[Stanza]) -> bytes:
    mac_input = VERSION_LINE + b"".join(s.encode() for s in stanzas) + b"---"
    return mac_input + b" " + b64encode(_mac(file_key, mac_input)).encode("ascii") + b"\n"


@dataclass(frozen=True)
class Header:
    stanzas: tuple[Stanza, ...]
    mac_input: bytes
    mac: bytes
    size: int  # bytes the header occupies in the file

    def unwrap(self, identities: Iterable[Identity] = (), passphrase: str | None = None) -> bytes:
        """The file key, from the first stanza an identity (or the passphrase) opens; the header
        MAC is verified before the key is returned."""
        kinds = {s.args[0] for s in self.stanzas}
        if "scrypt" in kinds and len(self.stanzas) != 1:
            raise AgeError(_("an scrypt stanza must be alone in the header"))
        file_key = None
        for stanza in self.stanzas:
            if stanza.args[0] == "scrypt" and passphrase is not None:
                file_key = _unwrap_scrypt(stanza, passphrase)
            elif stanza.args[0] == "X25519":
                for identity in identities:
                    file_key = _unwrap_x25519(stanza, identity)
                    if file_key is not None:
                        break
            if file_key is not None:
                break
        if file_key is None:
            raise NoIdentityMatched(_("no identity matched any of the file's recipients"))
        if len(file_key) != FILE_KEY_SIZE:
            raise AgeError(_("invalid file key"))
        if not hmac.compare_digest(_mac(file_key, self.mac_input), self.mac):
            raise AgeError(_("the age header MAC does not match: the header was tampered with"))
        return file_key


def parse_header(read_line: Callable[[], bytes]) -> Header:
    """Parse a header from ``read_line`` (which returns one line with its LF, or b"" at EOF)."""
    consumed = bytearray()

    def line() -> bytes:
        value = read_line()
        consumed.extend(value)
        if len(consumed) > MAX_HEADER:
            raise AgeError(_("the age header is too large"))
        if not value.endswith(b"\n"):
            raise AgeError(_("truncated age header"))
        return value[:-1]

    if line() + b"\n" != VERSION_LINE:
        raise AgeError(_("not an age v1 file"))
    stanzas: list[Stanza] = []
    current = line()
    while current.startswith(b"-> "):
        args = current[3:].split(b" ")
        if not args or not all(_ARG.match(a) for a in args):
            raise AgeError(_("malformed stanza arguments"))
        body = b""
        while True:
            body_line = line()
            if len(body_line) > 64:
                raise AgeError(_("stanza body line longer than 64 columns"))
            body += body_line
            if len(body_line) < 64:
                break
        stanzas.append(Stanza(tuple(a.decode("ascii") for a in args), b64decode(body)))
        current = line()
    if not stanzas:
        raise AgeError(_("the age header has no recipient stanza"))
    if not current.startswith(b"--- "):
        raise AgeError(_("malformed age header"))
    mac = b64decode(current[4:], 32)
    mac_input = bytes(consumed[: len(consumed) - len(current) - 1]) + b"---"
    return Header(tuple(stanzas), mac_input, mac, len(consumed))
