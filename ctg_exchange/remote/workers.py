"""What a served workspace runs its calls on: worker threads, each with the workspace open,
and the log's tail, which one prepared change holds at a time."""

from __future__ import annotations

import asyncio
import contextlib
import os
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..services.workspace import Workspace

WORKERS = 4  # threads doing the calls' work, each with its workspace open
LEASE = 3.0  # seconds a prepared change holds the log's tail, waiting for its commit
# a member whose prepared change held the tail and was never committed prepares without
# holding it for this long: it cannot keep the others waiting by preparing and walking away
PENALTY = 60.0


class Workers:
    """A few threads, each with its own open workspace (a SQLite connection stays in the
    thread that opened it), running the calls' work; closed by the threads themselves."""

    def __init__(self, root: Path, count: int) -> None:
        self._root, self._jobs = root, queue.SimpleQueue[Any]()
        self._local = threading.local()
        self._threads = [
            threading.Thread(target=self._work, name=f"ctg-serve-{n}", daemon=True)
            for n in range(count)
        ]
        for thread in self._threads:
            thread.start()

    def _work(self) -> None:
        from ..services.workspace import Workspace

        workspace: Workspace | None = None
        try:
            while (job := self._jobs.get()) is not None:
                future, function, args = job
                if not future.set_running_or_notify_cancel():
                    continue
                try:
                    if workspace is None:
                        workspace = Workspace.open(self._root)
                    self._local.workspace = workspace
                    future.set_result(function(*args))
                except BaseException as exc:
                    future.set_exception(exc)
        finally:
            if workspace is not None:
                workspace.close()

    def workspace(self) -> Workspace:
        """The calling worker's workspace."""
        opened: Workspace = self._local.workspace
        return opened

    def submit(self, function: Callable[..., Any], *args: Any) -> Future[Any]:
        future: Future[Any] = Future()
        self._jobs.put((future, function, args))
        return future

    def close(self) -> None:
        for _ in self._threads:
            self._jobs.put(None)
        for thread in self._threads:
            thread.join(10)


class Tail:
    """Who may prepare the log's next events: one change at a time, from its prepare to its
    commit (or :data:`LEASE`, if its member never commits; that member then prepares without
    holding the tail for :data:`PENALTY`, its commits finding the log moved if others were
    quicker)."""

    def __init__(self) -> None:
        self._held: tuple[str, float, str] | None = None  # token, until (monotonic), member
        self._changed = asyncio.Condition()
        self._unheld: dict[str, float] = {}  # member -> until when it prepares holding nothing

    async def acquire(self, member: str) -> str:
        """A token holding the tail (the empty token holds nothing)."""
        if self._unheld.get(member, 0.0) > time.monotonic():
            return ""
        token = os.urandom(12).hex()
        async with self._changed:
            while self._held is not None and self._held[1] > time.monotonic():
                wait = self._held[1] - time.monotonic()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), timeout=max(wait, 0.001))
            if self._held is not None:  # it ran out, never committed
                self._unheld[self._held[2]] = time.monotonic() + PENALTY
            self._held = (token, time.monotonic() + LEASE, member)
        return token

    def release(self, token: str) -> None:
        if token and self._held is not None and self._held[0] == token:
            self._held = None
            asyncio.get_running_loop().create_task(self._notify())

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()
