"""Ed25519 checks off the main thread: worker threads, or worker processes for large logs.

The curve arithmetic releases the GIL, but the loop around it does not; with a main thread busy
hashing and replaying, threads lose about a third of the throughput. Above a size, the checks go
to worker processes instead: plain ``python -c`` children that need only ``cryptography`` (not
this package, not the parent's ``__main__``), fed length-prefixed batches on stdin, answering
with the sequence numbers that failed on stdout. A reader thread per child drains its answers,
so neither side can block the other; a writer thread per child feeds it from a short queue, so
the main thread never waits while a child works through a batch (a batch is several times a
pipe's buffer): it hands the batch to the child with the least work queued and goes on.
"""

from __future__ import annotations

import contextlib
import queue
import struct
import subprocess
import sys
import threading
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import IO, TYPE_CHECKING

from ..errors import ExchangeError
from ..i18n import _
from ..procenv import child_environment

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

# (seq, raw 32-byte key, 64-byte signature, signed data)
Item = tuple[int, bytes, bytes, bytes]

_ITEM = struct.Struct(">Q32s64sI")
_COUNT = struct.Struct(">I")
_SEQ = struct.Struct(">Q")
# the children run at a lower priority: on two cores the main thread (hashing, chaining,
# replaying: the longest part) keeps a core of its own rather than a third of two, and the
# children take the rest
NICE = 10
# batches waiting for a child's writer thread, at most (each ~0.4 MB): what the children still
# have to check when the events are all read, while the stored records are compared
QUEUED = 8

WORKER = """
import os, struct, sys
if hasattr(os, "nice"):
    os.nice(int(sys.argv[1]))
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
item, count, seq = struct.Struct(">Q32s64sI"), struct.Struct(">I"), struct.Struct(">Q")
read, write, keys = sys.stdin.buffer.read, sys.stdout.buffer, {}
while True:
    head = read(4)
    if len(head) < 4:
        break
    bad = []
    for _ in range(count.unpack(head)[0]):
        number, raw, signature, size = item.unpack(read(item.size))
        data = read(size)
        key = keys.get(raw)
        if key is None:
            key = keys[raw] = Ed25519PublicKey.from_public_bytes(raw)
        try:
            key.verify(signature, data)
        except InvalidSignature:
            bad.append(number)
    write.write(count.pack(len(bad)) + b"".join(seq.pack(n) for n in bad))
    write.flush()
"""

_loaded: dict[bytes, Ed25519PublicKey] = {}


def check(batch: Sequence[Item]) -> list[int]:
    """The sequence numbers whose signature does not verify, checked here."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    bad = []
    for seq, raw, signature, data in batch:
        key = _loaded.get(raw)
        if key is None:
            key = _loaded[raw] = Ed25519PublicKey.from_public_bytes(raw)
        try:
            key.verify(signature, data)
        except InvalidSignature:
            bad.append(seq)
    return bad


class Checker:
    """Checks batches as they come; :meth:`close` returns every failed sequence number."""

    def submit(self, batch: list[Item]) -> None:
        raise NotImplementedError

    def close(self) -> list[int]:
        raise NotImplementedError


class InlineChecker(Checker):
    def __init__(self) -> None:
        self._bad: list[int] = []

    def submit(self, batch: list[Item]) -> None:
        self._bad.extend(check(batch))

    def close(self) -> list[int]:
        return self._bad


class ThreadChecker(Checker):
    def __init__(self, workers: int) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ctg-verify")
        self._pending: list[Future[list[int]]] = []

    def submit(self, batch: list[Item]) -> None:
        self._pending.append(self._pool.submit(check, batch))

    def close(self) -> list[int]:
        try:
            return [seq for future in self._pending for seq in future.result()]
        finally:
            self._pool.shutdown()


class ProcessChecker(Checker):
    def __init__(self, workers: int) -> None:
        env = child_environment(PYTHONDONTWRITEBYTECODE="1")
        self._children = [
            subprocess.Popen(
                [sys.executable, "-c", WORKER, str(NICE)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                env=env,
            )
            for _ in range(workers)
        ]
        self._bad: list[list[int]] = [[] for _ in self._children]
        # batches handed to each child and not yet answered: the next goes to the least busy
        self._busy = [0] * len(self._children)
        self._lock = threading.Lock()
        self._readers = [
            threading.Thread(target=self._drain, args=(index, child.stdout), daemon=True)
            for index, child in enumerate(self._children)
        ]
        for reader in self._readers:
            reader.start()
        self._queues: list[queue.Queue[bytes | None]] = [
            queue.Queue(maxsize=QUEUED) for _ in self._children
        ]
        self._broken = threading.Event()
        self._writers = [
            threading.Thread(target=self._feed, args=(child, waiting), daemon=True)
            for child, waiting in zip(self._children, self._queues, strict=True)
        ]
        for writer in self._writers:
            writer.start()

    def _feed(self, child: subprocess.Popen[bytes], waiting: queue.Queue[bytes | None]) -> None:
        """Write the child's batches as they come; close its input at the end (``None``)."""
        stream = child.stdin
        assert stream is not None
        broken = False
        while (data := waiting.get()) is not None:
            if broken:
                continue  # drain, so submit() never waits on a dead child
            try:
                stream.write(data)
                stream.flush()
            except (BrokenPipeError, OSError, ValueError):
                broken = True
                self._broken.set()
        try:
            stream.close()
        except (BrokenPipeError, OSError):
            self._broken.set()

    def _drain(self, index: int, stream: IO[bytes] | None) -> None:
        assert stream is not None
        found = self._bad[index]
        while head := stream.read(4):
            (count,) = _COUNT.unpack(head)
            data = stream.read(count * _SEQ.size)
            found.extend(n for (n,) in _SEQ.iter_unpack(data))
            with self._lock:
                self._busy[index] -= 1

    def submit(self, batch: list[Item]) -> None:
        parts = [_COUNT.pack(len(batch))]
        for seq, raw, signature, data in batch:
            parts.append(_ITEM.pack(seq, raw, signature, len(data)))
            parts.append(data)
        if self._broken.is_set():
            self._fail()
        with self._lock:
            index = min(range(len(self._busy)), key=self._busy.__getitem__)
            self._busy[index] += 1
        self._queues[index].put(b"".join(parts))

    def close(self) -> list[int]:
        for waiting in self._queues:
            waiting.put(None)
        for writer in self._writers:
            writer.join()
        for reader in self._readers:
            reader.join()
        failed = [child.wait() != 0 for child in self._children]
        self._release()
        if any(failed) or self._broken.is_set():
            self._fail()
        return [seq for found in self._bad for seq in found]

    def _release(self) -> None:
        for child in self._children:
            for stream in (child.stdin, child.stdout):
                if stream is not None and not stream.closed:
                    try:
                        stream.close()
                    except OSError:
                        pass

    def _fail(self) -> None:
        for child in self._children:
            child.kill()
            child.wait()
        for waiting in self._queues:  # a writer writing to a killed child stops there
            with contextlib.suppress(queue.Full):
                waiting.put(None, timeout=5)
        for thread in (*self._writers, *self._readers):
            thread.join(timeout=5)
        self._release()
        raise ExchangeError(
            _("a signature-checking process failed: nothing was concluded about the log"),
            hint=_(
                "rerun `audit verify`; if it fails again, check that python and cryptography "
                "are installed in this environment"
            ),
        )


def checker(workers: int, processes: bool) -> Checker:
    if workers <= 0:
        return InlineChecker()
    if processes:
        return ProcessChecker(workers)
    return ThreadChecker(workers)
