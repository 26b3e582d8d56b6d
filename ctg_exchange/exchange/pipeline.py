"""Streaming encryption and decryption of payloads, in constant memory.

Sending: the caller's thread produces plaintext blocks (reading, scanning or rewriting the CSV);
a worker thread seals them in 64 KiB chunks into a reused buffer, writes them and hashes what it
wrote. pyca/cryptography and hashlib release the GIL, so the two threads use both cores.

Receiving: the payload's hash is checked over the whole member first; only then is it decrypted,
chunk by chunk, into the caller's (unnamed) output file.
"""

from __future__ import annotations

import hashlib
import os
import queue
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import BinaryIO

from ..crypto.age import (
    CHUNK,
    FILE_KEY_SIZE,
    NONCE_SIZE,
    TAG,
    AgeError,
    Identity,
    PayloadOpener,
    PayloadSealer,
    Recipient,
    build_header,
    parse_header,
    payload_key,
    x25519_stanza,
)

READ_BLOCK = 1 << 20  # plaintext read per step (16 chunks)
Progress = Callable[[int], None]


def write_all(out: BinaryIO, data: memoryview | bytes) -> None:
    view = memoryview(data)
    while view:
        written = out.write(view)
        if written is None:  # a non-blocking stream; ours never are
            raise OSError("short write")
        view = view[written:]


@dataclass(frozen=True)
class Sealed:
    size: int
    sha256: str


class _Hasher(threading.Thread):
    """Hashes sealed buffers in order, then hands them back for reuse."""

    def __init__(self, hasher: hashlib._Hash, free: queue.Queue[bytearray]) -> None:
        super().__init__(name="ctg-hash", daemon=True)
        self.queue: queue.Queue[tuple[bytearray, int] | None] = queue.Queue()
        self._hasher, self._free = hasher, free

    def run(self) -> None:
        while (item := self.queue.get()) is not None:
            buffer, size = item
            with memoryview(buffer) as view:
                self._hasher.update(view[:size])
            self._free.put(buffer)


class _Sealer(threading.Thread):
    """Seals plaintext blocks into 64 KiB chunks, writes them, passes them to the hasher.

    The last chunk of what has arrived is kept (copied into ``carry``) until more data comes,
    since only then is it known whether it is the final chunk.
    """

    RING = 4

    def __init__(
        self,
        out: BinaryIO,
        sealer: PayloadSealer,
        hasher: hashlib._Hash,
        release: Callable[[memoryview | bytes], None] | None,
        inspect: Callable[[memoryview | bytes], None] | None,
    ) -> None:
        super().__init__(name="ctg-seal", daemon=True)
        self.queue: queue.Queue[memoryview | bytes | None] = queue.Queue(maxsize=4)
        self._out, self._sealer, self._release = out, sealer, release
        self._inspect = inspect
        self._free: queue.Queue[bytearray] = queue.Queue()
        for _ in range(self.RING):
            self._free.put(bytearray(READ_BLOCK + 17 * TAG + CHUNK))
        self._hasher = _Hasher(hasher, self._free)
        self._carry = bytearray(CHUNK)
        self._carried = 0
        self.written = 0
        self.error: BaseException | None = None

    def _seal_block(self, data: memoryview, final: bool) -> None:
        """Seal the carry (when full and more follows) and the whole chunks of ``data``."""
        pos = 0
        size = 0
        buffer = self._free.get()
        needed = (len(data) // CHUNK + 2) * (CHUNK + TAG)
        if len(buffer) < needed:
            buffer = bytearray(needed)
        with memoryview(buffer) as sealed, memoryview(self._carry) as carry:
            if self._carried:
                fill = min(CHUNK - self._carried, len(data))
                carry[self._carried : self._carried + fill] = data[:fill]
                self._carried += fill
                pos = fill
                if self._carried == CHUNK and (pos < len(data) or final):
                    last = final and pos == len(data)
                    size += self._sealer.seal_into(carry, sealed[size:], last)
                    self._carried = 0
            remaining = len(data) - pos
            whole = remaining // CHUNK if final else max(remaining - 1, 0) // CHUNK
            for i in range(whole):
                start = pos + i * CHUNK
                last = final and start + CHUNK == len(data)
                size += self._sealer.seal_into(data[start : start + CHUNK], sealed[size:], last)
            tail = data[pos + whole * CHUNK :]
            if final and (tail or (self._carried == 0 and size == 0)):
                size += self._sealer.seal_into(tail, sealed[size:], True)
            elif tail:
                carry[: len(tail)] = tail
                self._carried = len(tail)
            if final and self._carried:
                size += self._sealer.seal_into(carry[: self._carried], sealed[size:], True)
            write_all(self._out, sealed[:size])
        self._hasher.queue.put((buffer, size))
        self.written += size

    def run(self) -> None:
        self._hasher.start()
        try:
            while (block := self.queue.get()) is not None:
                if self._inspect is not None:
                    self._inspect(block)
                with memoryview(block) as view:
                    self._seal_block(view, final=False)
                if self._release is not None:
                    self._release(block)
            self._seal_block(memoryview(b""), final=True)
        except BaseException as exc:  # surfaced by the producer
            self.error = exc
            while self.queue.get() is not None:  # drain so the producer never blocks
                pass
        finally:
            self._hasher.queue.put(None)
            self._hasher.join()


def seal(
    blocks: Iterable[memoryview | bytes],
    out: BinaryIO,
    recipients: Sequence[Recipient],
    release: Callable[[memoryview | bytes], None] | None = None,
    inspect: Callable[[memoryview | bytes], None] | None = None,
) -> Sealed:
    """Write an age file of ``blocks`` to ``out`` for ``recipients``; its size and SHA-256.

    ``inspect(block)`` runs on the sealing thread before each block is sealed (an exception
    aborts the whole file); ``release(block)`` once it is sealed, so its buffer can be reused.
    Checks that hold the GIL run best there: the reading thread then only waits on I/O.
    """
    file_key = os.urandom(FILE_KEY_SIZE)
    nonce = os.urandom(NONCE_SIZE)
    head = build_header(file_key, [x25519_stanza(file_key, r) for r in recipients]) + nonce
    hasher = hashlib.sha256(head)
    write_all(out, head)
    sealer = _Sealer(out, PayloadSealer(payload_key(file_key, nonce)), hasher, release, inspect)
    sealer.start()
    try:
        for block in blocks:
            if sealer.error is not None:
                break
            if len(block):
                sealer.queue.put(block)
            elif release is not None:
                release(block)
    finally:
        sealer.queue.put(None)
        sealer.join()
    if sealer.error is not None:
        raise sealer.error
    return Sealed(size=len(head) + sealer.written, sha256=hasher.hexdigest())


class RingReader:
    """Reads a file in blocks through a few reused buffers (no allocation per block).

    Iterate to get memoryviews; :meth:`release` gives a block's buffer back for reuse.
    """

    def __init__(self, file: BinaryIO, size: int = READ_BLOCK, count: int = 6) -> None:
        self._file = file
        self._free: queue.Queue[bytearray] = queue.Queue()
        for _ in range(count):
            self._free.put(bytearray(size))
        self._owner: dict[int, bytearray] = {}

    def __iter__(self) -> Iterator[memoryview]:
        while True:
            buffer = self._free.get()
            got = self._file.readinto(buffer)  # type: ignore[attr-defined]
            if not got:
                self._free.put(buffer)
                return
            view = memoryview(buffer)[:got]
            self._owner[id(view)] = buffer
            yield view

    def release(self, block: memoryview | bytes) -> None:
        buffer = self._owner.pop(id(block), None)
        if buffer is not None and isinstance(block, memoryview):
            block.release()
            self._free.put(buffer)


def hash_region(file: BinaryIO, offset: int, size: int, progress: Progress | None = None) -> str:
    """SHA-256 of ``size`` bytes at ``offset``."""
    hasher = hashlib.sha256()
    buffer = bytearray(READ_BLOCK)
    file.seek(offset)
    left = size
    with memoryview(buffer) as view:
        while left:
            got = file.readinto(view[: min(left, len(buffer))])  # type: ignore[attr-defined]
            if not got:
                raise AgeError("truncated payload")
            hasher.update(view[:got])
            left -= got
            if progress is not None:
                progress(got)
    return hasher.hexdigest()


def unseal(
    file: BinaryIO,
    offset: int,
    size: int,
    identities: Sequence[Identity],
    out: BinaryIO,
    progress: Progress | None = None,
) -> int:
    """Decrypt the age file at ``offset`` (``size`` bytes) into ``out``; plaintext bytes."""
    file.seek(offset)
    consumed = 0

    def line() -> bytes:
        nonlocal consumed
        value = file.readline(min(4096, size - consumed))
        consumed += len(value)
        return value

    header = parse_header(line)
    file_key = header.unwrap(identities)  # verifies the header MAC
    nonce = file.read(NONCE_SIZE)
    body = size - header.size - NONCE_SIZE
    if len(nonce) != NONCE_SIZE or body < TAG:
        raise AgeError("truncated age payload")
    opener = PayloadOpener(payload_key(file_key, nonce))
    writer = _Writer(out)
    writer.start()
    step = 16 * (CHUNK + TAG)
    inbuf = bytearray(step)
    done = written = 0
    try:
        with memoryview(inbuf) as cipher:
            while done < body:
                want = min(step, body - done)
                got = file.readinto(cipher[:want])  # type: ignore[attr-defined]
                if got != want:
                    raise AgeError("truncated age payload")
                buffer = writer.free.get()
                size_out = 0
                with memoryview(buffer) as plain:
                    for start in range(0, got, CHUNK + TAG):
                        chunk = cipher[start : min(start + CHUNK + TAG, got)]
                        last = done + start + len(chunk) == body
                        size_out += opener.open_into(chunk, plain[size_out:], last)
                writer.queue.put((buffer, size_out))
                written += size_out
                done += got
                if progress is not None:
                    progress(got)
                if writer.error is not None:
                    break
    finally:
        writer.queue.put(None)
        writer.join()
    if writer.error is not None:
        raise writer.error
    return written


class _Writer(threading.Thread):
    """Writes decrypted blocks while the next ones are decrypted."""

    def __init__(self, out: BinaryIO) -> None:
        super().__init__(name="ctg-write", daemon=True)
        self.queue: queue.Queue[tuple[bytearray, int] | None] = queue.Queue()
        self.free: queue.Queue[bytearray] = queue.Queue()
        for _ in range(3):
            self.free.put(bytearray(16 * CHUNK))
        self._out = out
        self.error: BaseException | None = None

    def run(self) -> None:
        while (item := self.queue.get()) is not None:
            buffer, size = item
            if self.error is None:
                try:
                    with memoryview(buffer) as view:
                        write_all(self._out, view[:size])
                except BaseException as exc:  # surfaced by the decrypting thread
                    self.error = exc
            self.free.put(buffer)
