"""A party's own copy of a hosted workspace (DESIGN §11): the log, and the records it binds.

``<remote workspace>/copy/`` is a workspace of its own, read-only, that the member's machine
fills from the server: every event (fetched a page at a time, each chained to the one before,
the Merkle tree rebuilt from them) and the rows the log binds (:mod:`ctg_exchange.store.mirror`),
read as of one moment. ``audit verify`` on a remote workspace verifies this copy, on this
machine, with this machine's code: the server is not trusted. Its party's DPO opens it with
``--workspace DIR/copy`` to verify, export the register or build a CNIL bundle with the server
down; ``witness pull`` also cosigns what it verified.

The copy is kept only verified: whatever a pull brings is verified whole, on this machine, as
``audit verify`` verifies a workspace (chain, signatures, roles, checkpoints, the law re-applied,
the records replayed), before it is committed; a pull that changes nothing is not verified
again. So what a reading command reads, and what a sender or a receiver checks a package
against, is a state of the log verified here.

Whatever shows that the server's log is not the one copied (a page that does not chain onto
the copy, an event the copy holds served otherwise, a log shorter than the copy, what does not
verify) stops the pull with nothing written to the copy, exit 3, and the evidence kept under
``copy/evidence/``: what the copy holds, and what the server served instead.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..audit import merkle
from ..audit.events import GENESIS_HASH, StoredEvent, utc_timestamp
from ..audit.export import event_from_line
from ..errors import IntegrityError, WorkspaceError
from ..fsutil import StagingDir, write_atomic
from ..i18n import _, ngettext
from ..store import mirror

if TYPE_CHECKING:
    from ..services.workspace import Workspace
    from ..store.sql import SqlTx
    from .client import Client, RemoteConfig

COPY, DATABASE, EVIDENCE = "copy", "ctg.sqlite3", "evidence"
RECHECK = 10_000  # events already copied that each witness pull reads again, in turn


class Diverged(IntegrityError):
    """The server's log is not the one copied (or cosigned): exit 3, the evidence kept."""

    code = "diverged"

    def __init__(self, message: str, evidence: Path) -> None:
        super().__init__(message, hint=_("the evidence is kept in {path}").format(path=evidence))
        self.evidence = evidence


def copy_root(config: RemoteConfig) -> Path:
    return config.root / COPY


def ensure_copy(config: RemoteConfig) -> Path:
    """The copy's directory, made (an empty, read-only workspace of the served log) if new."""
    from ..services.workspace import CONFIG_NAME, build_database, private_workspace_dir

    root = copy_root(config)
    path = root / CONFIG_NAME
    if path.exists():
        held = json.loads(path.read_text(encoding="utf-8"))
        if held.get("id") != config.workspace_id:
            raise WorkspaceError(_("{path} is the copy of another workspace").format(path=root))
        return root
    private_workspace_dir(root)
    (root / DATABASE).unlink(missing_ok=True)  # left by a copy that was never completed
    created = utc_timestamp()

    def fill(tx: SqlTx) -> None:
        tx.set_meta("workspace_id", config.workspace_id)
        tx.set_meta("created_at", created)

    build_database(root / DATABASE, fill)
    document = {
        "format": 1,
        "id": config.workspace_id,
        "database": f"sqlite:{DATABASE}",
        "created_at": created,
        "copy_of": {"url": config.url},
    }
    write_atomic(path, (json.dumps(document, indent=2) + "\n").encode("utf-8"), mode=0o644)
    return root


@dataclass
class Pulled:
    """What a pull did: the copy's size before and after, the latest checkpoint the server
    had then (its note, size and, if asked, its consistency proof), events read again,
    whether any row changed."""

    before: int
    size: int
    checkpoint: dict[str, Any] | None
    rechecked: int
    root: Path
    changed: bool = True


Check = Callable[["SqlTx", "Workspace", Pulled], None]


def pull(
    config: RemoteConfig,
    client: Client,
    *,
    since: int | None = None,
    recheck: tuple[int, int] | None = None,
    check: Check | None = None,
) -> Pulled:
    """Bring the copy up to the server's log, in one transaction: all of it or nothing.

    ``since``: the size of a checkpoint the caller holds, for the proof that the latest is its
    extension. ``recheck``: events already copied to read again and compare. ``check``: what
    must hold of the copy so brought up to date before it is kept (it raises otherwise)."""
    from ..services.workspace import Workspace
    from ..store.sqlite import SqliteStore

    root = ensure_copy(config)
    store = SqliteStore(root / DATABASE)
    try:
        with store.transaction(write=True) as tx:
            tx.execute("PRAGMA defer_foreign_keys = ON")  # rows and events arrive in pages
            changes = _changes(tx)
            pulled = _pull(root, config, client, tx, since, recheck)
            pulled.changed = pulled.size > pulled.before or _changes(tx) > changes
            workspace = Workspace(root, config.workspace_id, f"sqlite:{DATABASE}", store)
            if check is not None:
                check(tx, workspace, pulled)
            elif pulled.changed:
                verify_copy(root, tx, workspace)
            return pulled
    except sqlite3.IntegrityError as exc:
        raise Malformed(
            _("the rows served do not hold together with the log ({error})").format(error=exc)
        ) from None
    except (ValueError, TypeError, KeyError, OverflowError, RecursionError) as exc:
        raise Malformed(
            _("the server's answer does not hold ({kind})").format(kind=type(exc).__name__)
        ) from None
    finally:
        store.close()


def _changes(tx: SqlTx) -> int:
    return int(tx.execute("SELECT total_changes()").fetchone()[0])


def verify_copy(root: Path, tx: SqlTx, workspace: Workspace) -> int:
    """Verify the whole copy here; a failure is kept as evidence, and exits 3."""
    from ..errors import AuditBroken
    from ..services.log_check import verify_tx

    result = verify_tx(tx, workspace.id, (), workspace)
    if result.failures:
        first = result.failures[0]
        report = json.dumps([f.to_json() for f in result.failures], ensure_ascii=False, indent=2)
        kept = evidence(root, "unverified", {"verification.json": report + "\n"})
        raise AuditBroken(
            first.where,
            _(
                "{message} (in the copy of the served log: nothing was copied; the evidence "
                "is kept in {path})"
            ).format(message=first.message, path=kept),
            seq=first.seq,
            request=first.request,
            failures=[f.to_json() for f in result.failures],
        )
    return result.events


def _pull(
    root: Path,
    config: RemoteConfig,
    client: Client,
    tx: SqlTx,
    since: int | None,
    recheck: tuple[int, int] | None,
) -> Pulled:
    from .client import Refusal

    before, previous = tx.count_events(), tx.last_event()
    query = f"/v1/state?after={before}" + ("" if since is None else f"&from={since}")
    try:
        state = client.call("GET", query)
    except Refusal as exc:
        if exc.code != "shorter":
            raise
        raise Diverged(
            ngettext(
                "the server's log is shorter than the copy of it ({count} events): it was cut",
                "the server's log is shorter than the copy of it ({count} events): it was cut",
                before,
            ).format(count=before),
            evidence(root, "shorter", {"held-last-event.json": _line(previous)}),
        ) from None
    size = state.get("size")
    if not isinstance(size, int) or size < before:
        raise _malformed(_("the server's answer is not a well-formed state"))
    rechecked = 0 if recheck is None else _recheck(root, client, tx, *recheck)
    named: set[str] = set()
    for stored, page_rows in _pages(client, config.workspace_id, before, size):
        named.add(stored.event.subject)
        if not _follows(stored, previous):
            raise Diverged(
                _(
                    "the server's event #{seq} does not follow the copy's #{previous}:"
                    " the log was rewritten or forked"
                ).format(seq=stored.seq, previous=stored.seq - 1),
                evidence(root, "fork", {
                    "held-event.json": _line(previous),
                    "served-event.json": _line(stored),
                }),
            )  # fmt: skip
        tx.append_event(stored)
        tx.tree_append(stored.seq - 1, merkle.leaf_hash(stored.event.signed_bytes()))
        mirror.write_rows(tx, page_rows)
        previous = stored
    mirror.write_rows(tx, _rows(state.get("rows"), mirror.STATED, named=named))
    latest = state.get("checkpoint")
    return Pulled(before, size, latest if isinstance(latest, dict) else None, rechecked, root)


def _pages(
    client: Client, log: str, after: int, size: int
) -> Iterator[tuple[StoredEvent, mirror.Rows]]:
    """Each event after ``after`` up to ``size``, with its page's rows on its page's first."""
    while after < size:
        page = client.call("GET", f"/v1/log?after={after}&upto={size}&rows=1")
        events = [_event(line, log) for line in _list(page.get("events"))]
        if not events or events[0].seq != after + 1 or events[-1].seq > size:
            raise _malformed(_("the server's answer is not a well-formed log page"))
        rows = _rows(page.get("rows"), mirror.LOGGED, seqs=range(after + 1, events[-1].seq + 1))
        for index, stored in enumerate(events):
            yield stored, (rows if index == 0 else {})
        after = events[-1].seq


def _recheck(root: Path, client: Client, tx: SqlTx, first: int, last: int) -> int:
    """Read events ``first`` to ``last`` again from the server: each must be the one held."""
    count, after = 0, first - 1
    while after < last:
        page = client.call("GET", f"/v1/log?after={after}&upto={last}")
        served = _list(page.get("events"))
        if not served:
            held = tx.get_event(after + 1)
            raise Diverged(
                _("the server no longer serves event #{seq}, which the copy holds").format(
                    seq=after + 1
                ),
                evidence(root, "missing", {"held-event.json": _line(held)}),
            )
        for line in served:
            held = tx.get_event(after + 1)
            if held is None or not isinstance(line, dict) or line != held.to_json():
                raise Diverged(
                    _("the server's event #{seq} is not the one copied: it was changed").format(
                        seq=after + 1
                    ),
                    evidence(root, "rewritten", {
                        "held-event.json": _line(held),
                        "served-event.json": json.dumps(line, ensure_ascii=False, indent=2),
                    }),
                )  # fmt: skip
            after += 1
            count += 1
    return count


def _follows(stored: StoredEvent, previous: StoredEvent | None) -> bool:
    event = stored.event
    if stored.hash != event.digest():
        return False
    if previous is None:
        return event.seq == 1 and event.prev == GENESIS_HASH
    return event.seq == previous.seq + 1 and event.prev == previous.hash


def _event(line: Any, log: str) -> StoredEvent:
    try:
        stored, _proof = event_from_line(line)
    except (KeyError, TypeError, ValueError, AttributeError):
        raise _malformed(_("the server's answer is not a well-formed event")) from None
    if stored.event.log != log:
        raise _malformed(_("the server's answer is not a well-formed event (of another log)"))
    return stored


def _rows(rows: Any, tables: Any, **only: Any) -> mirror.Rows:
    try:
        return mirror.checked(rows, tables, **only)
    except ValueError as exc:
        raise _malformed(
            _("the server's answer is not a well-formed rows ({error})").format(error=exc)
        ) from None


def _list(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise _malformed(_("the server's answer is not a well-formed page"))
    return value


class Malformed(IntegrityError):
    """What the server served is not what an honest server serves: exit 3, nothing copied."""

    code = "malformed"

    def __init__(self, message: str) -> None:
        super().__init__(_("{message}: nothing was copied").format(message=message))


def _malformed(message: str) -> Exception:
    """What the server served is not well formed (``message`` says what)."""
    return Malformed(message)


def _line(stored: StoredEvent | None) -> str:
    return "null\n" if stored is None else json.dumps(stored.to_json(), ensure_ascii=False) + "\n"


def evidence(root: Path, reason: str, files: dict[str, str]) -> Path:
    """Keep ``files`` in a new directory under ``copy/evidence/``, whole or not at all."""
    parent = root / EVIDENCE
    parent.mkdir(mode=0o700, exist_ok=True)
    stamp = utc_timestamp().replace(":", "").replace(".", "-")
    target = parent / f"{stamp}-{reason}"
    with StagingDir(target, ".staging-") as staging:
        for name, text in files.items():
            (staging.path / name).write_text(text, encoding="utf-8")
        staging.publish()
    return target
