"""Bring a store's schema forward to :data:`~.migrations.LATEST` when it is opened."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from ..audit.events import utc_timestamp
from ..errors import WorkspaceError
from ..i18n import _
from .migrations import LATEST, MIGRATIONS

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    from .plumbing import SqlPlumbing
    from .sql import SqlTx


class _Migratable(Protocol):
    dialect: str

    def transaction(self, *, write: bool = False) -> AbstractContextManager[SqlTx]: ...
    def reading(self) -> AbstractContextManager[SqlPlumbing]: ...
    def table_exists(self, tx: SqlPlumbing, name: str) -> bool: ...


def _applied(store: _Migratable, tx: SqlPlumbing) -> set[int]:
    if not store.table_exists(tx, "schema_migrations"):
        return set()
    return {int(row[0]) for row in tx.execute("SELECT version FROM schema_migrations").fetchall()}


def apply_pending(store: Any, tx: SqlTx) -> None:
    """Apply, inside ``tx`` (a write transaction), every migration not yet recorded."""
    target: _Migratable = store
    applied = _applied(target, tx)
    if not applied:
        tx.execute(
            "CREATE TABLE schema_migrations ("
            "version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
        )
    for migration in MIGRATIONS:
        if migration.version in applied:
            continue
        for statement in migration.statements(target.dialect):
            tx.execute(statement)
        if migration.after is not None:
            migration.after(tx)
        tx.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
            (migration.version, migration.name, utc_timestamp()),
        )


def migrate(store: Any) -> None:
    """Apply pending migrations in one write transaction; refuse a schema from the future."""
    target: _Migratable = store
    with target.reading() as tx:  # the models are loaded only when a migration is due
        applied = _applied(target, tx)
    newest = max(applied, default=0)
    if newest > LATEST:
        raise WorkspaceError(
            _(
                "the workspace has schema version {version}, this ctg-exchange knows up to {latest}"
            ).format(version=newest, latest=LATEST),
            hint=_("upgrade ctg-exchange"),
        )
    if all(m.version in applied for m in MIGRATIONS):
        return
    with target.transaction(write=True) as tx:  # the write lock: one process migrates
        apply_pending(target, tx)
