"""The age v1 payload (c2sp.org/age): STREAM in 64 KiB chunks, and whole small files.

Streaming is chunk-level (:class:`PayloadSealer`, :class:`PayloadOpener`): callers decide
buffering, reuse output buffers (``encrypt_into``), and hash what they write in the same pass.
A missing or empty final chunk is an error, and no chunk is opened before the header's MAC has
been checked (:meth:`.age.Header.unwrap`).
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterable, Sequence
from concurrent.futures import Future

from ..i18n import _
from .age import (
    CHUNK,
    FILE_KEY_SIZE,
    NONCE_SIZE,
    TAG,
    AgeError,
    Identity,
    Recipient,
    build_header,
    hkdf,
    parse_header,
    scrypt_stanza,
    x25519_stanza,
)


def payload_key(file_key: bytes, nonce: bytes) -> bytes:
    return hkdf(file_key, nonce, b"payload")


class PayloadSealer:
    """Encrypts the payload chunk by chunk, into caller-owned buffers."""

    def __init__(self, key: bytes) -> None:
        from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

        self._aead = ChaCha20Poly1305(key)
        self._counter = 0
        self._done = False

    def seal_into(self, chunk: memoryview | bytes, out: memoryview, last: bool) -> int:
        """Encrypt one chunk (64 KiB, or shorter if ``last``) into ``out``; bytes written."""
        if self._done:
            raise AgeError(_("the final chunk was already sealed"))
        if len(chunk) > CHUNK or (len(chunk) < CHUNK and not last):
            raise ValueError("only the final chunk may be shorter than 64 KiB")
        nonce = self._counter.to_bytes(11, "big") + (b"\x01" if last else b"\x00")
        size = len(chunk) + TAG
        self._aead.encrypt_into(nonce, chunk, None, out[:size])
        self._counter += 1
        self._done = last
        return size


class PayloadOpener:
    """Decrypts runs of payload chunks; the caller says where a run starts and if it ends
    the payload."""

    def __init__(self, key: bytes) -> None:
        from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

        self._aead = ChaCha20Poly1305(key)

    def open_block(self, sealed: memoryview, out: memoryview, first: int, final: bool) -> int:
        """Decrypt consecutive chunks, the first being chunk number ``first``, into ``out``.

        With ``final``, the block's last chunk is the payload's last. Only the counter in the
        nonce ties a chunk to its place, so blocks may be opened in any order, on any thread.
        """
        size = pos = 0
        index = first
        while pos < len(sealed):
            chunk = sealed[pos : pos + CHUNK + TAG]
            pos += len(chunk)
            size += self._open(chunk, out[size:], index, final and pos == len(sealed))
            index += 1
        return size

    def _open(self, chunk: memoryview | bytes, out: memoryview, index: int, last: bool) -> int:
        from cryptography.exceptions import InvalidTag

        if len(chunk) < TAG or len(chunk) > CHUNK + TAG or (len(chunk) < CHUNK + TAG and not last):
            raise AgeError(_("truncated age payload"))
        if last and len(chunk) == TAG and index > 0:
            raise AgeError(_("the final chunk of the payload is empty"))
        nonce = index.to_bytes(11, "big") + (b"\x01" if last else b"\x00")
        size = len(chunk) - TAG
        try:
            self._aead.decrypt_into(nonce, chunk, None, out[:size])
        except InvalidTag:
            raise AgeError(
                _("payload chunk {index} does not authenticate").format(index=index)
            ) from None
        return size


def ciphertext_size(plaintext_size: int) -> int:
    """The payload's size after the 16-byte nonce, for a plaintext of this size."""
    chunks = max(1, -(-plaintext_size // CHUNK))
    return plaintext_size + chunks * TAG


# -- whole small files (identities, keys) ---------------------------------------------------


def encrypt_bytes(
    data: bytes,
    recipients: Sequence[Recipient] = (),
    passphrase: str | None = None,
    log_n: int = 15,
) -> bytes:
    """A whole age file for a small plaintext (to recipients, or to a passphrase)."""
    file_key = os.urandom(FILE_KEY_SIZE)
    if passphrase is not None:
        stanzas = [scrypt_stanza(file_key, passphrase, log_n)]
    else:
        stanzas = [x25519_stanza(file_key, r) for r in recipients]
    nonce = os.urandom(NONCE_SIZE)
    sealer = PayloadSealer(payload_key(file_key, nonce))
    out = bytearray(build_header(file_key, stanzas) + nonce)
    buffer = bytearray(CHUNK + TAG)
    view = memoryview(data)
    offsets = list(range(0, len(data), CHUNK)) or [0]
    for index, offset in enumerate(offsets):
        last = index == len(offsets) - 1
        size = sealer.seal_into(view[offset : offset + CHUNK], memoryview(buffer), last)
        out += buffer[:size]
    return bytes(out)


# passphrase-encrypted files being decrypted ahead of their use, by digest of file and passphrase
_AHEAD: dict[bytes, Future[bytes]] = {}


def _ahead_key(data: bytes, passphrase: str) -> bytes:
    secret = passphrase.encode("utf-8")
    return hashlib.sha256(len(secret).to_bytes(8, "big") + secret + data).digest()


def decrypt_ahead(data: bytes, passphrase: str) -> None:
    """Start decrypting a passphrase-encrypted file on a thread (scrypt releases the GIL); a
    later :func:`decrypt_bytes` of the same bytes and passphrase takes the result, or raises
    its error. A command that needs an identity once it has checked what it read can so
    derive its key while it imports and reads; the result is the same bytes either way."""
    key = _ahead_key(data, passphrase)
    if key in _AHEAD:
        return
    opening: Future[bytes] = Future()

    def run() -> None:
        try:
            opening.set_result(_decrypt(data, (), passphrase))
        except BaseException as exc:  # raised by decrypt_bytes, where it was before
            opening.set_exception(exc)

    _AHEAD[key] = opening
    # not a daemon: the interpreter waits for it at exit (ending it inside the KDF's Rust
    # code aborts the process)
    threading.Thread(target=run, name="ctg-decrypt-ahead").start()


def decrypt_bytes(
    data: bytes, identities: Iterable[Identity] = (), passphrase: str | None = None
) -> bytes:
    if passphrase is not None:
        ahead = _AHEAD.pop(_ahead_key(data, passphrase), None)
        if ahead is not None:
            return ahead.result()
    return _decrypt(data, identities, passphrase)


def _decrypt(data: bytes, identities: Iterable[Identity], passphrase: str | None) -> bytes:
    lines = iter(data.splitlines(keepends=True))
    header = parse_header(lambda: next(lines, b""))
    file_key = header.unwrap(identities, passphrase)
    rest = data[header.size :]
    if len(rest) < NONCE_SIZE + TAG:
        raise AgeError(_("truncated age payload"))
    opener = PayloadOpener(payload_key(file_key, rest[:NONCE_SIZE]))
    body = memoryview(rest)[NONCE_SIZE:]
    out = bytearray(len(body))
    size = opener.open_block(body, memoryview(out), 0, final=True)
    return bytes(out[:size])
