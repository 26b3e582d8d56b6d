"""A workspace: a directory with ``workspace.json`` and its database.

The database is a SQLite file in the workspace by default, or a PostgreSQL database shared by
every agent (``postgresql://…``). ``workspace.json`` is written last, atomically, when
everything else is in place: a directory without it is not a workspace, and a database without
it is a partial one that ``init`` refuses to overwrite (it may be evidence).
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..domain.actions import Action
from ..domain.catalogue import parse_payload
from ..domain.payloads import PayloadInvalid, Procedure, WorkspaceInit
from ..errors import CorruptRow, PolicyError, WorkspaceError
from ..fsutil import fsync_dir, write_atomic
from ..i18n import _
from ..policy import LoadedPolicy, Policy, parse_policy
from ..policy.convention import ConventionState
from ..store.base import PolicyRecord, Tx
from ..store.postgres import is_postgres_url, redacted
from ..store.sqlite import SqliteStore
from .clock import Clock
from .opening import CONFIG_NAME as CONFIG_NAME
from .opening import FORMAT as FORMAT
from .opening import copy_refusal, read_config, sqlite_path
from .opening import is_remote as is_remote
from .opening import open_store as open_store

if TYPE_CHECKING:
    from ..remote.client import RemoteConfig
    from ..store.postgres import PostgresStore

_PARSED: dict[str, LoadedPolicy] = {}  # policy texts parsed in this process, by their SHA-256
DEFAULT_DATABASE = "sqlite:ctg.sqlite3"


@dataclass(frozen=True)
class CurrentPolicy:
    """The policy version in force in the workspace, as read in a transaction."""

    record: PolicyRecord
    loaded: LoadedPolicy

    @property
    def policy(self) -> Policy:
        return self.loaded.policy

    @property
    def version(self) -> int:
        return self.record.version


@dataclass
class Workspace:
    root: Path
    id: str
    database: str
    store: SqliteStore | PostgresStore
    copy_of: str | None = None  # a party's read-only copy of the log served at this URL
    _procedure: Procedure | None = field(init=False, repr=False)

    @classmethod
    def open(cls, root: Path) -> Workspace:
        config = read_config(root)
        copy_of = config.get("copy_of")
        served = str(copy_of.get("url"))[:80] if isinstance(copy_of, dict) else None
        store = open_store(root, config["database"], copy_refusal(root, config))
        database = config["database"]
        return cls(root=root, id=config["id"], database=database, store=store, copy_of=served)

    def parsed(self, record: PolicyRecord) -> LoadedPolicy:
        """A stored policy version, parsed once per process (by its text's digest: the same
        text, in any workspace, is the same policy)."""
        actual = hashlib.sha256(record.text.encode("utf-8")).hexdigest()
        if actual != record.sha256:
            raise CorruptRow("policies", f"v{record.version}")
        if actual not in _PARSED:
            try:
                _PARSED[actual] = parse_policy(record.text, f"<policy v{record.version}>")
            except PolicyError:
                raise CorruptRow("policies", f"v{record.version}") from None
        return _PARSED[actual]

    def current_policy(self, tx: Tx) -> CurrentPolicy:
        """The policy version in effect (avenants add versions once countersigned; none is ever
        removed)."""
        record = tx.current_policy()
        if record is None:
            raise WorkspaceError(_("the workspace {path} has no policy").format(path=self.root))
        return CurrentPolicy(record, self.parsed(record))

    def convention(self, tx: Tx) -> ConventionState:
        """The convention as it stands: current policy plus recorded renewals and terminations."""
        current = self.current_policy(tx)
        changes = tuple(tx.convention_changes())
        return ConventionState(current.policy, current.version, changes, self._rules_in(tx))

    def _rules_in(self, tx: Tx) -> int:
        """:attr:`rules`, read in ``tx`` when not yet known (a transaction is open)."""
        if not hasattr(self, "_procedure"):
            self._read_procedure(tx)
        return self.rules

    def procedure(self) -> Procedure | None:
        """How the genesis says the log is verified and dated (None: a 0.1.0 workspace)."""
        if not hasattr(self, "_procedure"):
            with self.store.transaction() as tx:
                self._read_procedure(tx)
        return self._procedure

    def _read_procedure(self, tx: Tx) -> None:
        genesis = tx.get_event(1)
        if genesis is None:
            raise WorkspaceError(
                _("the workspace {path} has no genesis event").format(path=self.root)
            )
        try:
            payload = parse_payload(Action.INIT, genesis.event.payload)
        except PayloadInvalid:
            raise CorruptRow("audit_events", "#1") from None
        assert isinstance(payload, WorkspaceInit)
        self._procedure = payload.procedure

    @property
    def rules(self) -> int:
        """The rules its log is verified by: 1 for a workspace made by 0.1.0 (a renewal or
        avenant took effect as one admin recorded it), else its genesis's."""
        procedure = self.procedure()
        return 1 if procedure is None else procedure.rules

    @property
    def simulated(self) -> bool:
        """Created as a simulation (``init --simulated-clock``, the demo): its dates are a
        rehearsal's, which every output says."""
        procedure = self.procedure()
        return procedure is not None and procedure.clock == "simulated"

    def clock(self) -> Clock:
        """The clock this workspace allows: ``CTG_TODAY`` is refused unless it is simulated."""
        return Clock.for_workspace(self.simulated)

    def close(self) -> None:
        self.store.close()


def open_remote(root: Path) -> RemoteConfig:
    """The remote workspace at ``root`` (``remote add``), or a one-line error."""
    from ..remote.client import RemoteConfig

    config = read_config(root, remote=True)
    if "remote" not in config:
        raise WorkspaceError(_("{path} is a local workspace, not a remote one").format(path=root))
    return RemoteConfig.read(root, config)


def prepare_new(root: Path, database: str) -> Path | str:
    """Check ``root`` can hold a new workspace; return the database path (or server URL)."""
    if (root / CONFIG_NAME).exists():
        raise WorkspaceError(_("a workspace already exists at {path}").format(path=root))
    if is_postgres_url(database):
        if redacted(database) != database:
            raise WorkspaceError(
                _("the database URL carries a password, which workspace.json would keep in clear"),
                hint=_("put the password in ~/.pgpass (or PGPASSWORD) and drop it from the URL"),
            )
        from ..store.postgres import PostgresStore

        PostgresStore(database, create=True).close()  # reachable and empty, before any key
        return database
    db_path = sqlite_path(root, database)
    if db_path.exists():
        raise WorkspaceError(
            _("{database} exists but {config} does not: a partial workspace").format(
                database=db_path, config=root / CONFIG_NAME
            ),
            hint=_("move the database away (it may hold evidence) and run init again"),
        )
    private_workspace_dir(root)
    private_workspace_dir(db_path.parent)
    return db_path


def new_workspace_id() -> str:
    return str(uuid.uuid4())


def build_database(db_path: Path | str, fill: Any) -> None:
    """Create the database and let ``fill(tx)`` write its first data, all or nothing.

    SQLite: built under a temporary name and renamed into place. PostgreSQL: the (empty)
    database gets its schema and first data in one transaction.
    """
    if isinstance(db_path, str):
        from ..store.postgres import PostgresStore

        server = PostgresStore(db_path, create=True)
        try:
            server.initialise(fill)
        finally:
            server.close()
        return
    tmp = db_path.with_name(f".{db_path.name}.init-{secrets.token_hex(6)}")
    # 0600 from its first byte: SQLite gives its -wal and -shm files the database's mode
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600))
    store = SqliteStore(tmp, create=True)
    try:
        store.initialise(fill)
    except BaseException:
        store.close()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{tmp}{suffix}").unlink(missing_ok=True)
        raise
    store.close()
    os.replace(tmp, db_path)
    fsync_dir(db_path.parent)


def private_workspace_dir(directory: Path) -> None:
    """The workspace's directory, made ``0700`` whatever the umask: it holds the evidence. An
    existing empty directory is made so too; one that already holds other files keeps its mode
    (the database in it is ``0600`` regardless)."""
    if directory.is_dir() and any(directory.iterdir()):
        return
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(directory, 0o700)


def write_config(root: Path, workspace_id: str, database: str, created_at: str) -> None:
    config = {"format": FORMAT, "id": workspace_id, "database": database, "created_at": created_at}
    private_workspace_dir(root)
    data = (json.dumps(config, indent=2) + "\n").encode()
    write_atomic(root / CONFIG_NAME, data, mode=0o644)
