"""Reading and verifying the audit log."""

from __future__ import annotations

from ..audit.events import StoredEvent
from ..audit.verify import VerifyResult, verify_events
from ..errors import NotFound
from .workspace import Workspace


def audit_log(workspace: Workspace, request_id: str | None = None) -> list[StoredEvent]:
    with workspace.store.transaction() as tx:
        if request_id is not None and tx.get_request(request_id) is None:
            raise NotFound(f"no request {request_id!r}")
        return list(tx.events(subject=request_id))


def audit_event(workspace: Workspace, seq: int) -> StoredEvent:
    with workspace.store.transaction() as tx:
        stored = tx.get_event(seq)
    if stored is None:
        raise NotFound(f"no event #{seq}")
    return stored


def audit_verify(workspace: Workspace) -> VerifyResult:
    """Recompute the whole chain; raises ``AuditBroken`` (exit 3) at the first bad event."""
    with workspace.store.transaction() as tx:
        return verify_events(tx.events(), workspace.id)
