"""What the shell completes: the ids a workspace knows, read quickly and never loudly.

A completion runs at every press of Tab, so it reads the local workspace only (for a remote
workspace, this party's copy of the served log, never the network), waits at most a couple of
seconds for a PostgreSQL server, and answers nothing rather than an error: a shell prints
whatever a completion writes, in the middle of the command being typed.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..store.base import Tx
    from .workspace import Workspace

CONNECT_TIMEOUT = "2"  # seconds a PostgreSQL server is waited for (libpq's PGCONNECT_TIMEOUT)


def _members(workspace: Workspace, tx: Tx) -> list[str]:
    return [m.id for m in tx.list_members() if m.active]


def _requests(workspace: Workspace, tx: Tx) -> list[str]:
    return [r.id for r in tx.list_requests()]


def _deliveries(workspace: Workspace, tx: Tx) -> list[str]:
    return [d.id for d in tx.deliveries()]


def _fiches(workspace: Workspace, tx: Tx) -> list[str]:
    return [v.entry.ref for v in tx.current_entries()]


def _parties(workspace: Workspace, tx: Tx) -> list[str]:
    return list(workspace.current_policy(tx).policy.party_ids)


KINDS: dict[str, Callable[[Workspace, Tx], list[str]]] = {
    "member": _members,
    "request": _requests,
    "delivery": _deliveries,
    "fiche": _fiches,
    "party": _parties,
}


def known_ids(root: Path, kind: str, prefix: str = "") -> list[str]:
    """The ids of ``kind`` in the workspace at ``root`` that start with ``prefix``, sorted; an
    empty list when there is no workspace there or anything goes wrong."""
    try:
        return sorted(i for i in _read(root, KINDS[kind]) if i.startswith(prefix))
    except Exception:  # a completion answers nothing rather than an error
        return []


def _read(root: Path, read: Callable[[Workspace, Tx], list[str]]) -> list[str]:
    from .workspace import CONFIG_NAME, Workspace, is_remote

    if is_remote(root):
        from ..remote.copy import COPY

        root = root / COPY  # this party's copy, as the reading commands read it
    if not (root / CONFIG_NAME).is_file():
        return []
    os.environ.setdefault("PGCONNECT_TIMEOUT", CONNECT_TIMEOUT)
    workspace = Workspace.open(root)
    try:
        with workspace.store.transaction() as tx:
            return read(workspace, tx)
    finally:
        workspace.close()
