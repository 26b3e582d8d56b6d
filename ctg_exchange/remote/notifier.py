"""A hosted workspace's own messenger (issue 18): a thread of the server that sends what the
outbox holds (the steps members take through the server queue their messages; the server sends
them, so that no call waits on a mail server), and each day, from :attr:`Notifier.hour` in
Paris, the members' digests (``remind --send``: once per member and day; those that failed are
tried again after the outbox's :func:`~ctg_exchange.notify.outbox.backoff`). It stops with the
server. Its log lines, on standard error like the access log's, hold counts and kinds of
failure only.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from time import monotonic
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..services.workspace import Workspace

EVERY_S = 2.0  # how often the outbox is looked at


class Notifier:
    def __init__(
        self,
        root: Path,
        log: Callable[[dict[str, Any]], None],
        *,
        hour: int = 7,
        every: float = EVERY_S,
    ) -> None:
        self.root, self.log, self.hour, self.every = root, log, hour, every
        self._stop = threading.Event()
        self._digests_day: str | None = None  # the day this server last sent the digests
        self._digests_failed = 0  # attempts in a row that left a digest unsent
        self._digests_next = 0.0  # not before this (monotonic), after such an attempt
        self._thread = threading.Thread(target=self._run, name="ctg-notify", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        from ..services.workspace import Workspace

        workspace: Workspace | None = None
        try:
            while not self._stop.wait(self.every):
                try:
                    if workspace is None:
                        workspace = Workspace.open(self.root)
                    self.tick(workspace)
                except Exception as exc:  # noqa: BLE001 - logged; the loop goes on
                    self.log({"notify": "error", "kind": type(exc).__name__})
        finally:
            if workspace is not None:
                workspace.close()

    def tick(self, workspace: Workspace) -> None:
        from ..audit.events import utc_timestamp
        from ..domain.dates import PARIS
        from ..notify import settings as notify_settings
        from ..notify.outbox import backoff, deliver
        from ..services.reminders import send_digests

        with workspace.store.transaction() as tx:
            settings = notify_settings.load(tx)
            due = tx.queued(mode="immediate", due_by=utc_timestamp())
        if due:
            done = deliver(workspace)
            self.log({"notify": "outbox", "sent": done.sent, "failed": done.failed})
        clock = workspace.clock()
        day = clock.today().isoformat()
        if settings.smtp is None or self._digests_day == day or monotonic() < self._digests_next:
            return
        if datetime.now(PARIS).hour >= self.hour or clock.fixed_today is not None:
            # counted as failed until it succeeds: an error waits as a failed digest does
            self._digests_failed += 1
            self._digests_next = monotonic() + backoff(self._digests_failed).total_seconds()
            sent = send_digests(workspace, clock)
            if not sent.failed:
                self._digests_day, self._digests_failed, self._digests_next = day, 0, 0.0
            self.log({"notify": "digests", "sent": len(sent.sent), "failed": len(sent.failed)})

    def close(self) -> None:
        self._stop.set()
        self._thread.join(30)
