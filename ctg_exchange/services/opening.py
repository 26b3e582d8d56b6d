"""Where a workspace's database is and how to open it: light enough for the read commands,
which open a workspace without loading the procedure's models (:mod:`.reading`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import WorkspaceError, cut
from ..i18n import _

if TYPE_CHECKING:
    from ..store.postgres import PostgresStore
    from ..store.sqlite import SqliteStore

CONFIG_NAME = "workspace.json"
FORMAT = 1


def is_postgres_url(url: str) -> bool:
    return url.startswith(("postgresql://", "postgres://"))


def sqlite_path(root: Path, url: str) -> Path:
    """``sqlite:NAME`` (relative to the workspace) or ``sqlite:///ABSOLUTE/PATH``."""
    if url.startswith("sqlite:///"):
        return Path("/" + url[len("sqlite:///") :])
    if url.startswith("sqlite:") and not url.startswith("sqlite://"):
        return root / url[len("sqlite:") :]
    raise WorkspaceError(
        _("unsupported database URL {url!r}").format(url=cut(url)),
        hint=_(
            "use sqlite:FILE (in the workspace), sqlite:///ABSOLUTE/PATH or "
            "postgresql://USER@HOST:PORT/DATABASE"
        ),
    )


def open_store(root: Path, url: str, read_only: str | None = None) -> SqliteStore | PostgresStore:
    """The store a workspace's database URL names (migrated to the current schema);
    ``read_only``: what a change is refused with (a party's copy of a served log)."""
    if is_postgres_url(url):
        from ..store.postgres import PostgresStore

        return PostgresStore(url)
    from ..store.sqlite import SqliteStore

    path = sqlite_path(root, url)
    if not path.exists():
        raise WorkspaceError(_("the workspace database {path} is missing").format(path=path))
    return SqliteStore(path, read_only=read_only)


def copy_refusal(root: Path, config: dict[str, Any]) -> str | None:
    """What a change is refused with in a party's copy of a served log (None elsewhere)."""
    copy_of = config.get("copy_of")
    if not isinstance(copy_of, dict):
        return None
    return _(
        "{path} is this party's copy of the log served at {url}: it is read-only "
        "(changes are made on the server, with the remote workspace)"
    ).format(path=root, url=str(copy_of.get("url"))[:80])


def is_remote(root: Path) -> bool:
    """Whether ``root`` holds a remote workspace (``remote add``); False if it holds none."""
    try:
        config = json.loads((root / CONFIG_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(config, dict) and "remote" in config


def read_config(root: Path, *, remote: bool = False) -> dict[str, Any]:
    path = root / CONFIG_NAME
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise WorkspaceError(
            _("no workspace at {path}").format(path=root),
            hint=_(
                "create one with `ctg-exchange init`, or point --workspace / CTG_WORKSPACE at it"
            ),
        ) from None
    except (OSError, ValueError):
        raise WorkspaceError(_("{path} is unreadable or not JSON").format(path=path)) from None
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise WorkspaceError(
            _("{path} is not a workspace file this version understands").format(path=path)
        )
    if remote and "remote" in config:
        return config
    if "remote" in config:
        server = config["remote"].get("url") if isinstance(config["remote"], dict) else None
        raise WorkspaceError(
            _(
                "{path} is a remote workspace (served at {url}): this command runs on the "
                "server's own workspace"
            ).format(path=root, url=str(server)[:80]),
            hint=_("`ctg-exchange remote status` checks the server and who you are"),
        )
    if not isinstance(config.get("id"), str) or not isinstance(config.get("database"), str):
        raise WorkspaceError(_("{path} lacks the workspace id or database").format(path=path))
    return config
