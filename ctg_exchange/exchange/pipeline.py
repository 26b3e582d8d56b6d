"""Streaming encryption and decryption of payloads, in constant memory.

Sending: the caller's thread produces plaintext blocks (reading, rewriting the CSV) and has
each checked (``inspect``: the line scan); a thread seals them in 64 KiB chunks into reused
buffers, and another writes them and hashes what it wrote. pyca/cryptography, hashlib, the
line scan in C and the writes release the GIL, so the three share both cores (with the write
on the sealing thread, sealing, scanning and writing a GiB took one core's 1.3-2.9 s).

Receiving: one pass over the payload. A thread reads ahead and hashes what it read; blocks of 16
chunks are decrypted on two threads and written in order, each checked by the caller's
``inspect`` first, into the caller's unnamed output file, which the caller releases only once
the hash, the last chunk and every row have checked (DESIGN §8).
"""

from __future__ import annotations

import hashlib
import os
import queue
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import BinaryIO

from ..crypto.age import (
    CHUNK,
    FILE_KEY_SIZE,
    NONCE_SIZE,
    TAG,
    AgeError,
    Identity,
    Recipient,
    build_header,
    parse_header,
    x25519_stanza,
)
from ..crypto.agestream import PayloadOpener, PayloadSealer, payload_key
from ..i18n import _

READ_BLOCK = 1 << 20  # plaintext read per step (16 chunks)
BLOCK_CHUNKS = 16  # chunks decrypted per task
WORKERS = 2  # decrypting threads
DEPTH = 2  # blocks decrypting or waiting to be written
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


class _Writer(threading.Thread):
    """Writes sealed buffers in order and hashes them, then hands them back for reuse.

    A write that fails (a full disk) is kept in ``error``; what follows is only handed back."""

    def __init__(self, out: BinaryIO, hasher: hashlib._Hash, free: queue.Queue[bytearray]) -> None:
        super().__init__(name="ctg-write", daemon=True)
        self.queue: queue.Queue[tuple[bytearray, int] | None] = queue.Queue()
        self._out, self._hasher, self._free = out, hasher, free
        self.error: BaseException | None = None

    def run(self) -> None:
        while (item := self.queue.get()) is not None:
            buffer, size = item
            if self.error is None:
                try:
                    with memoryview(buffer) as view:
                        write_all(self._out, view[:size])
                        self._hasher.update(view[:size])
                except BaseException as exc:  # surfaced by the sealer
                    self.error = exc
            self._free.put(buffer)


class _Sealer(threading.Thread):
    """Seals plaintext blocks into 64 KiB chunks and passes them to the writing thread.

    The last chunk of what has arrived is kept (copied into ``carry``) until more data comes,
    since only then is it known whether it is the final chunk.
    """

    RING = 2

    def __init__(
        self,
        out: BinaryIO,
        sealer: PayloadSealer,
        hasher: hashlib._Hash,
        release: Callable[[memoryview | bytes], None] | None,
    ) -> None:
        super().__init__(name="ctg-seal", daemon=True)
        self.queue: queue.Queue[memoryview | bytes | None] = queue.Queue(maxsize=4)
        self._sealer, self._release = sealer, release
        self._free: queue.Queue[bytearray] = queue.Queue()
        for _buffer in range(self.RING):
            self._free.put(bytearray(READ_BLOCK + 17 * TAG + CHUNK))
        self._writer = _Writer(out, hasher, self._free)
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
        if self._writer.error is not None:
            self._free.put(buffer)
            raise self._writer.error
        self._writer.queue.put((buffer, size))
        self.written += size

    def run(self) -> None:
        self._writer.start()
        try:
            while (block := self.queue.get()) is not None:
                try:
                    with memoryview(block) as view:
                        self._seal_block(view, final=False)
                finally:  # given back even when sealing fails: the producer may wait for it
                    self._give_back(block)
            self._seal_block(memoryview(b""), final=True)
        except BaseException as exc:  # surfaced by the producer
            self.error = exc
            while (block := self.queue.get()) is not None:  # drain: the producer never blocks
                self._give_back(block)
        finally:
            self._writer.queue.put(None)
            self._writer.join()
            if self.error is None:
                self.error = self._writer.error

    def _give_back(self, block: memoryview | bytes) -> None:
        if self._release is not None:
            self._release(block)


def seal(
    blocks: Iterable[memoryview | bytes],
    out: BinaryIO,
    recipients: Sequence[Recipient],
    release: Callable[[memoryview | bytes], None] | None = None,
    inspect: Callable[[memoryview | bytes], None] | None = None,
) -> Sealed:
    """Write an age file of ``blocks`` to ``out`` for ``recipients``; its size and SHA-256.

    ``inspect(block)`` runs on the caller's thread before each block is handed to the sealing
    thread (an exception aborts the whole file); ``release(block)`` once it is sealed, so its
    buffer can be reused.
    """
    file_key = os.urandom(FILE_KEY_SIZE)
    nonce = os.urandom(NONCE_SIZE)
    head = build_header(file_key, [x25519_stanza(file_key, r) for r in recipients]) + nonce
    hasher = hashlib.sha256(head)
    write_all(out, head)
    sealer = _Sealer(out, PayloadSealer(payload_key(file_key, nonce)), hasher, release)
    sealer.start()
    try:
        for block in blocks:
            if sealer.error is not None:
                break
            if len(block):
                if inspect is not None:
                    inspect(block)
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

    def __init__(self, file: BinaryIO, size: int = READ_BLOCK, count: int = 3) -> None:
        self._file = file
        self._free: queue.Queue[bytearray] = queue.Queue()
        for _buffer in range(count):
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


class Prefetch:
    """Reads ``size`` bytes at ``offset`` of a file on a thread, ahead of their consumer.

    Iterating gives ``(buffer, length)`` pairs in order from a ring of reused buffers; each
    must be given back with :meth:`release`. ``pread`` leaves the file's position alone and,
    like hashing and the AEAD, runs without the GIL, so reading overlaps with the work.
    A file shorter than announced raises :class:`AgeError` ("truncated") at that point. With a
    ``hasher``, each block is hashed on the reading thread as soon as it is read.
    """

    def __init__(
        self,
        file: BinaryIO,
        offset: int,
        size: int,
        block: int = READ_BLOCK,
        count: int = 3,
        hasher: hashlib._Hash | None = None,
    ) -> None:
        self._fd, self._offset, self._size, self._block = file.fileno(), offset, size, block
        self._hasher = hasher
        self._free: queue.Queue[bytearray] = queue.Queue()
        for _buffer in range(count):
            self._free.put(bytearray(block))
        self._ready: queue.Queue[tuple[bytearray, int] | BaseException | None] = queue.Queue()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ctg-read", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        done = 0
        try:
            while done < self._size:
                buffer = self._free.get()
                if self._stop.is_set():
                    return
                want = min(self._block, self._size - done)
                with memoryview(buffer) as view:
                    got = 0
                    while got < want:
                        n = os.preadv(self._fd, [view[got:want]], self._offset + done + got)
                        if n == 0:
                            raise AgeError(_("truncated payload"))
                        got += n
                    if self._hasher is not None:  # hashed where it was read, in order
                        self._hasher.update(view[:want])
                self._ready.put((buffer, want))
                done += want
            self._ready.put(None)
        except BaseException as exc:  # handed to the consumer
            self._ready.put(exc)

    def __iter__(self) -> Iterator[tuple[bytearray, int]]:
        while (item := self._ready.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item

    def release(self, buffer: bytearray) -> None:
        self._free.put(buffer)

    def close(self) -> None:
        """Stop reading (early, on an error) and wait for the thread."""
        self._stop.set()
        while self._thread.is_alive():
            self._free.put(bytearray(0))  # unblock a reader waiting for a buffer
            self._thread.join(0.05)


def hash_region(file: BinaryIO, offset: int, size: int, progress: Progress | None = None) -> str:
    """SHA-256 of ``size`` bytes at ``offset`` (read on another thread while hashing)."""
    hasher = hashlib.sha256()
    reader = Prefetch(file, offset, size)
    try:
        for buffer, got in reader:
            with memoryview(buffer) as view:
                hasher.update(view[:got])
            reader.release(buffer)
            if progress is not None:
                progress(got)
    finally:
        reader.close()
    return hasher.hexdigest()


def unseal(
    file: BinaryIO,
    offset: int,
    size: int,
    identities: Sequence[Identity],
    out: BinaryIO,
    progress: Progress | None = None,
    hasher: hashlib._Hash | None = None,
    inspect: Callable[[memoryview], None] | None = None,
) -> int:
    """Decrypt the age file at ``offset`` (``size`` bytes) into ``out``; plaintext bytes.

    Blocks of 16 chunks are read ahead (and hashed into ``hasher``, the whole file from its
    header on) on one thread, decrypted on two (each chunk's nonce depends only on its index),
    passed to ``inspect`` and written in order by the caller's thread. Nothing in ``out`` is
    to be trusted before this returns and the caller has compared the hash.
    """
    file.seek(offset)
    consumed = 0

    def line() -> bytes:
        nonlocal consumed
        value = file.readline(min(4096, size - consumed))
        consumed += len(value)
        if hasher is not None:  # hashed as parsed
            hasher.update(value)
        return value

    header = parse_header(line)
    file_key = header.unwrap(identities)  # verifies the header MAC
    nonce = file.read(NONCE_SIZE)
    if hasher is not None:
        hasher.update(nonce)
    body = size - header.size - NONCE_SIZE
    if len(nonce) != NONCE_SIZE or body < TAG:
        raise AgeError(_("truncated age payload"))
    key = payload_key(file_key, nonce)
    sealed_chunk = CHUNK + TAG
    step = BLOCK_CHUNKS * sealed_chunk
    reader = Prefetch(
        file, offset + header.size + NONCE_SIZE, body, step, count=DEPTH + 2, hasher=hasher
    )
    free: queue.Queue[bytearray] = queue.Queue()
    for _buffer in range(DEPTH + 1):
        free.put(bytearray(BLOCK_CHUNKS * CHUNK))
    openers = queue.Queue[PayloadOpener]()
    for _worker in range(WORKERS):
        openers.put(PayloadOpener(key))

    def open_block(cipher: bytearray, got: int, plain: bytearray, first: int, final: bool) -> int:
        opener = openers.get()
        try:
            with memoryview(cipher) as source, memoryview(plain) as target:
                return opener.open_block(source[:got], target, first, final)
        finally:
            openers.put(opener)

    pending: deque[tuple[Future[int], bytearray, bytearray, int]] = deque()
    written = done = index = 0

    def flush_one() -> None:
        nonlocal written
        future, cipher, plain, got = pending.popleft()
        size_out = future.result()
        reader.release(cipher)
        with memoryview(plain) as view:
            if inspect is not None:
                inspect(view[:size_out])
            write_all(out, view[:size_out])
        free.put(plain)
        written += size_out
        if progress is not None:
            progress(got)

    pool = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="ctg-open")
    try:
        for cipher, got in reader:
            done += got
            plain = free.get_nowait()  # DEPTH + 1 buffers, at most DEPTH pending
            future = pool.submit(open_block, cipher, got, plain, index, done == body)
            pending.append((future, cipher, plain, got))
            index += BLOCK_CHUNKS
            if len(pending) > DEPTH:
                flush_one()
        while pending:
            flush_one()
    finally:
        reader.close()
        pool.shutdown(wait=True, cancel_futures=True)
    return written
