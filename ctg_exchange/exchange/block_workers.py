"""Blocks of whole lines rewritten in order, here or by forked worker processes (issue 17).

A file is cut into blocks of whole lines (:func:`cuts`: only a few KiB around each cut are
read here). A worker reads its block itself (``pread`` on the file descriptor it inherited)
and writes the rewritten lines into its slot of memory shared with this process: nothing is
pickled either way but the block's place and the result's size, where the pipes of a process
pool used to carry every byte in and the three times larger pseudonymised output back. A
result larger than a slot (values much shorter than their 64-character pseudonyms) comes back
through the worker's pipe instead.

A few blocks per worker are queued ahead, each with its own slot (bounded memory); results
are taken in order. A worker that dies (killed, out of memory) fails the whole rewrite with a
one-line error.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import signal
from collections import deque
from collections.abc import Callable, Generator, Iterator
from typing import TYPE_CHECKING

from ..errors import ExchangeError
from ..i18n import _
from . import accel

if TYPE_CHECKING:  # multiprocessing is imported by a send that rewrites a large file, only
    from multiprocessing.connection import Connection

# The Python rewrite makes Python objects of a block's fields, many times its size: smaller is
# faster there. The C one (ctg_exchange._native) makes none, and a larger block costs fewer
# messages and page faults (measured: 256 KiB beat 64 KiB by 10-20% on a 256 MiB file).
BLOCK = 1 << 18 if accel.rewrite is not None else 1 << 16
SLOT = 5 * BLOCK  # room for a block's rewritten lines (a 7-digit number's pseudonym: ×3.7)
TAIL = 1 << 12  # read before a block's nominal end to find its last line end
AHEAD = 2  # blocks queued for each worker beyond the one it is rewriting (bounded memory)

Result = tuple[int, bytes] | None  # (lines, rewritten), or None: not for the fast path
Rewrite = Callable[[bytes], Result]


def cuts(fd: int, start: int, end: int) -> Iterator[tuple[int, int]]:
    """``(offset, size)`` of consecutive blocks of whole lines from ``start`` to ``end``; a
    last line without its line end comes last, alone."""
    pos = start
    while pos < end:
        stop = min(pos + BLOCK, end)
        cut = _last_line_end(fd, pos, stop)
        while cut is None and stop < end:  # a line longer than a block
            cut = _last_line_end(fd, stop, min(stop + BLOCK, end))
            stop = min(stop + BLOCK, end)
        cut = end if cut is None else cut
        yield pos, cut - pos
        pos = cut


def _last_line_end(fd: int, start: int, stop: int) -> int | None:
    """The offset just after the last line feed in ``[start, stop)``; None if there is none."""
    while stop > start:
        window = max(start, stop - TAIL)
        found = os.pread(fd, stop - window, window).rfind(b"\n")
        if found >= 0:
            return window + found + 1
        stop = window
    return None


def read_block(fd: int, offset: int, size: int) -> bytes | None:
    """``size`` bytes at ``offset``, ending with a line feed; None otherwise (a last line
    without its line end, or a file cut short since)."""
    data = os.pread(fd, size, offset)
    while len(data) < size:
        more = os.pread(fd, size - len(data), offset + len(data))
        if not more:
            return None
        data += more
    return data if data.endswith(b"\n") else None


def in_order(
    rewrite: Rewrite, fd: int, start: int, end: int, workers: int
) -> Generator[tuple[int, Result], None, None]:
    """Each block's size with ``rewrite``'s result (None for a block the fast path leaves to
    the csv module), in order: here if ``workers`` is 1, else on as many processes."""
    if workers == 1:
        for offset, size in cuts(fd, start, end):
            whole = read_block(fd, offset, size)
            yield size, None if whole is None else rewrite(whole)
        return
    yield from _in_workers(rewrite, fd, start, end, workers)


Reply = tuple[int, int, bytes | None] | str | None  # see _rewrite_into


def _rewrite_into(
    rewrite: Rewrite, fd: int, shared: mmap.mmap, offset: int, size: int, slot: int
) -> tuple[int, int, bytes | None] | None:
    """In a worker: the block's lines, the rewritten size, and the rewritten bytes only if
    they did not fit in the slot."""
    whole = read_block(fd, offset, size)
    result = None if whole is None else rewrite(whole)
    if result is None:
        return None
    lines, rewritten = result
    if len(rewritten) > SLOT:
        return lines, len(rewritten), rewritten
    shared[slot * SLOT : slot * SLOT + len(rewritten)] = rewritten
    return lines, len(rewritten), None


def _serve(conn: Connection, rewrite: Rewrite, fd: int, shared: mmap.mmap) -> None:
    """A worker's life: ``(offset, size, slot)`` in, :func:`_rewrite_into`'s reply out (or
    the text of an unexpected error), until ``None``."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # ^C is the parent's to handle
    try:
        while (task := conn.recv()) is not None:
            reply: Reply
            try:
                reply = _rewrite_into(rewrite, fd, shared, *task)
            except Exception as exc:  # noqa: BLE001 - a bug: the parent raises it
                reply = f"{type(exc).__name__}: {exc}"
            conn.send(reply)
    finally:  # no exit handlers, no flushing of the parent's buffers
        os._exit(0)


class _Stopped(ExchangeError):
    def __init__(self) -> None:
        super().__init__(_("a process rewriting the dataset stopped unexpectedly (out of memory?)"))


def _in_workers(
    rewrite: Rewrite, fd: int, start: int, end: int, workers: int
) -> Generator[tuple[int, Result], None, None]:
    """:func:`in_order` on ``workers`` processes, each given every ``workers``-th block and
    ``AHEAD`` more queued; the replies are read back in the blocks' order.

    The workers are forked: they inherit the key (never written anywhere or pickled), the
    file descriptor and the shared slots, and need nothing imported again. ``spawn`` would
    not do: ``python -m ctg_exchange`` runs the command line on import, and a worker would
    start it again. Each has its own pipe (no pool, no manager thread, no futures: a block
    costs two small messages), whose end of file says that it died.
    """
    import multiprocessing

    context = multiprocessing.get_context("fork")
    depth = workers * (1 + AHEAD)
    shared = mmap.mmap(-1, SLOT * (depth + 1))  # anonymous, shared with the forked workers
    free = list(range(depth + 1))
    pending: deque[tuple[Connection, int, int]] = deque()
    pipes: list[Connection] = []
    processes = []
    try:
        for _worker in range(workers):
            ours, theirs = context.Pipe()
            pipes.append(ours)
            process = context.Process(
                target=_serve, args=(theirs, rewrite, fd, shared), name="ctg-rewrite", daemon=True
            )
            process.start()
            processes.append(process)
            theirs.close()  # the worker holds the only other end: its death is our end of file
        for index, (offset, size) in enumerate(cuts(fd, start, end)):
            slot = free.pop()
            pipe = pipes[index % workers]
            try:
                pipe.send((offset, size, slot))
            except OSError:
                raise _Stopped() from None
            pending.append((pipe, size, slot))
            if len(pending) > depth:
                yield _take(pending, free, shared)
        while pending:
            yield _take(pending, free, shared)
    finally:
        for pipe in pipes:
            with contextlib.suppress(OSError):
                pipe.send(None)
        for process in processes:
            if pending:  # given up early: what is still queued is not wanted
                process.terminate()
            process.join()
        for pipe in pipes:
            pipe.close()
        shared.close()


def _take(
    pending: deque[tuple[Connection, int, int]], free: list[int], shared: mmap.mmap
) -> tuple[int, Result]:
    """The oldest block's size and result, its slot copied out and freed."""
    pipe, size, slot = pending.popleft()
    try:
        reply: Reply = pipe.recv()
    except (EOFError, OSError):
        raise _Stopped() from None
    if isinstance(reply, str):
        raise RuntimeError(reply)
    free.append(slot)
    if reply is None:
        return size, None
    lines, length, data = reply
    return size, (lines, shared[slot * SLOT : slot * SLOT + length] if data is None else data)
