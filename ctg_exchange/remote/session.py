"""The member's side of a hosted workspace: a remote session, and what it agrees to sign.

A :class:`RemoteSession` is what every remotable service (:mod:`ctg_exchange.services.remoting`)
is given on a remote workspace. A reading service is one signed call; a change is prepared by
the server, checked here message by message (:class:`Batch`), signed with the member's key and
committed, prepared again if the log moved meanwhile. The client's checks are its only defence
against a hostile server: this workspace's log, this member, the command's own action once with
the payload its arguments give, a chain of events, and a checkpoint only of the tree the
member's last event ends.
"""

from __future__ import annotations

import base64
import random
import re
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, NoReturn
from urllib.parse import quote

from ..domain.actions import REQUEST_STEPS, Action
from ..errors import ExchangeError, InvalidInput, WorkspaceError
from ..i18n import _
from ..services.remoting import (
    Operation,
    RemoteTarget,
    decode_result,
    encode_args,
    message_key,
)

if TYPE_CHECKING:
    from ..audit.events import Event
    from ..crypto.keys import Signer
    from ..services.session import Session
    from ..services.workspace import Workspace
    from .client import Client, RemoteConfig

RETRIES = 12  # prepares when the log keeps moving under a change, each after a longer pause
PAUSE = 0.05  # seconds: the n-th retry waits up to n times this, at random


@dataclass
class RemoteSession(RemoteTarget):
    """A member's session on a remote workspace: what a service is given instead of a local
    session or workspace."""

    config: RemoteConfig
    actor_id: str | None
    signer_of: Callable[[str], Signer]
    clock: Any = None
    keyring: Any = None  # the member's keys and their party's decryption identities
    _client: Client | None = field(default=None, repr=False)
    _scratch: Path | None = field(default=None, repr=False)
    _copy: Workspace | None = field(default=None, repr=False)

    @property
    def simulated(self) -> bool:
        return self.config.simulated

    def __getattr__(self, name: str) -> Any:
        """Whatever a local session or workspace has and this has not (its store, its
        keys…): a command that needs it does not run on a remote workspace yet."""
        if name.startswith("__"):
            raise AttributeError(name)
        raise WorkspaceError(
            _(
                "{path} is a remote workspace (served at {url}): this "
                "command does not run remotely yet"
            ).format(path=self.config.root, url=self.config.url),
            hint=_("run it on the server's workspace, or see `ctg-exchange remote status`"),
        )

    def require_actor(self) -> str:
        if not self.actor_id:
            raise InvalidInput(_("who is acting? pass --as MEMBER or set CTG_MEMBER"))
        return self.actor_id

    def client(self) -> Client:
        if self._client is None:
            from .client import Client

            self._client = Client(self.config, self.signer_of(self.require_actor()))
        return self._client

    def upload_package(self, path: Path, request_id: str) -> str:
        from .client import ServerError

        answer = self.client().upload("/v1/packages", path, request_id)
        token = answer.get("upload")
        if not isinstance(token, str) or not re.fullmatch(r"[0-9a-f]{32}", token):
            raise ServerError(_("the server's answer to an upload is not one"))
        return token

    def download_package(self, request_id: str, number: int, out: BinaryIO) -> int:
        return self.client().download(f"/v1/packages/{quote(request_id)}/{number}", out)

    def verified(self) -> Session:
        """A session over this member's copy of the log (``copy/``), brought up to date and
        verified on this machine: what a sender or a receiver checks the server against."""
        from ..services.session import Session
        from ..services.workspace import Workspace
        from .copy import pull

        if self._copy is None:
            self._copy = Workspace.open(pull(self.config, self.client()).root)
            weakref.finalize(self, self._copy.close)
        return Session(self._copy, self.keyring, self._copy.clock(), self.actor_id)

    def scratch(self) -> Path:
        if self._scratch is None:
            import shutil
            import tempfile

            self._scratch = Path(tempfile.mkdtemp(prefix="ctg-remote-"))  # 0700
            weakref.finalize(self, shutil.rmtree, self._scratch, True)
        return self._scratch

    def call(self, operation: Operation, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        from .client import ServerError

        document: dict[str, Any] = {"args": encode_args(operation, args, kwargs)}
        path = f"/v1/call/{operation.name}"
        if not operation.changes:
            return self._result(operation, self.client().call("POST", path, document))
        intent = operation.bound(args, kwargs)
        for attempt in range(RETRIES):
            if attempt:  # others committed meanwhile: let them pass, not all at once
                time.sleep(random.uniform(0, PAUSE * attempt))  # noqa: S311 (jitter)
            answer = self.client().call("POST", path, {**document, "phase": "prepare"})
            if "result" in answer and "prepare" not in answer:  # it records nothing
                if operation.foresee and self._foreseen(operation, args, kwargs, None):
                    raise_refusal(
                        _(
                            "the server records nothing, where this machine's copy of the log "
                            "records {operation}"
                        ).format(operation=operation.name)
                    )
                return self._result(operation, answer)
            prepared = answer.get("prepare")
            if not isinstance(prepared, dict) or not isinstance(prepared.get("now"), str):
                raise_refusal(_("the server's answer to a prepare is not a prepared change"))
            if operation.foresee:
                items = prepared.get("sign")
                served = [_message(item) for item in items] if isinstance(items, list) else []
                foreseen = self._foreseen(operation, args, kwargs, prepared["now"])
                if foreseen != served:
                    if attempt + 1 < RETRIES and _position(foreseen) != _position(served):
                        continue  # the log moved between the copy and the prepare
                    raise_refusal(_difference(foreseen, served))
            signatures = self._signed(operation, intent, prepared)
            commit = {
                **document,
                "phase": "commit",
                "now": prepared["now"],
                "ticket": str(prepared.get("ticket")),
                "lease": str(prepared.get("lease", "")),
                "signatures": signatures,
            }
            try:
                return self._result(operation, self.client().call("POST", path, commit))
            except ServerError as exc:
                if exc.status == 409:
                    continue
                raise
        raise ServerError(
            _(
                "the log kept moving: {operation} was prepared {count} times, never "
                "committed (others are busy): try again"
            ).format(operation=operation.name, count=RETRIES)
        )

    def _foreseen(
        self, operation: Operation, args: tuple[Any, ...], kwargs: dict[str, Any], now: str | None
    ) -> list[tuple[str, bytes]]:
        """What this machine's copy of the tool records for the command, run on the member's
        own copy of the log, brought up to date and verified, at the time the server gave: the
        messages the member is to sign, byte for byte (none: the change records nothing). A
        dry run: nothing of it is kept."""
        from ..services.clock import Clock
        from ..services.remoting import SignaturesNeeded
        from ..services.session import Session
        from ..services.workspace import Workspace
        from ..store.sqlite import SqliteStore
        from .copy import DATABASE, pull

        root = pull(self.config, self.client()).root
        store = SqliteStore(root / DATABASE)
        try:
            workspace = Workspace(root, self.config.workspace_id, f"sqlite:{DATABASE}", store)
            clock = Clock(fixed_now=now) if now else Clock.for_workspace(self.config.simulated)
            keyring: Any = _Foreseeing()
            session = Session(workspace, keyring, clock, self.actor_id)
            try:
                operation.function(session, *args, **kwargs)
            except SignaturesNeeded as needed:
                return list(needed.to_sign)
            return []
        finally:
            store.close()

    @staticmethod
    def _result(operation: Operation, answer: dict[str, Any]) -> Any:
        from pydantic import ValidationError

        from .client import ServerError

        try:
            return decode_result(operation, answer["result"])
        except (KeyError, ValidationError, RecursionError):
            raise ServerError(
                _("the server's answer to {operation} is not one").format(operation=operation.name)
            ) from None

    def _signed(
        self, operation: Operation, intent: dict[str, Any], prepared: dict[str, Any]
    ) -> dict[str, str]:
        """Check each message the server asks the member to sign, then sign it all, or
        nothing."""
        from ..crypto.sshsig import NAMESPACE_CHECKPOINT, NAMESPACE_EVENT

        items = prepared.get("sign")
        if not isinstance(items, list) or not items or len(items) > MAX_MESSAGES:
            raise_refusal(_("the server's prepared change is not one"))
        signer = self.client().signer
        checked = Batch(self.config.workspace_id, signer.name, operation, intent)
        messages = []
        for item in items:
            namespace, message = _message(item)
            if namespace == NAMESPACE_EVENT:
                checked.event(message, simulated=self.config.simulated)
            elif namespace == NAMESPACE_CHECKPOINT:
                checked.checkpoint(message, item.get("proof"))
            else:
                raise_refusal(
                    _("the server asks to sign in the namespace {namespace!r}").format(
                        namespace=namespace[:40]
                    )
                )
            messages.append((namespace, message))
        checked.complete()
        return {message_key(ns, message): signer.sign(ns, message) for ns, message in messages}


MAX_MESSAGES = 1024  # a change records one event, its consequences (lapses…), a checkpoint


class _Foreseeing:
    """The keyring of a change run on the member's own copy: it collects what the change
    would have signed, and never lets it commit (a dry run, always rolled back)."""

    collects = True

    def signer_for(self, member: Any, dry: Any) -> Any:
        from ..services.remoting import SignaturesNeeded

        raise SignaturesNeeded(dry)


def _position(messages: list[tuple[str, bytes]]) -> int | None:
    """Where the first event to sign goes in the log (its ``seq``), if it is an event."""
    from ..audit.events import EVENT_PREFIX, loads_canonical

    if not messages:
        return None
    try:
        body = loads_canonical(messages[0][1].removeprefix(EVENT_PREFIX).decode("utf-8"))
        seq = body.get("seq")
    except (ValueError, AttributeError, UnicodeDecodeError):
        return None
    return seq if isinstance(seq, int) else None


def _difference(foreseen: list[tuple[str, bytes]], served: list[tuple[str, bytes]]) -> str:
    """The first place where what the server asks to sign differs from what was foreseen."""
    if len(foreseen) != len(served):
        return _(
            "the server asks to sign {served} messages where this machine's copy of the "
            "log records {foreseen} (same ctg-exchange version on both sides?)"
        ).format(served=len(served), foreseen=len(foreseen))
    index = next(i for i, (a, b) in enumerate(zip(foreseen, served, strict=True)) if a != b)
    if served[index][0].endswith("checkpoint@v1"):
        other = _(
            "the server asks to sign a checkpoint (message {number}) other than this machine's "
            "copy of the log records (same ctg-exchange version on both sides?)"
        )
    else:
        other = _(
            "the server asks to sign an event (message {number}) other than this machine's "
            "copy of the log records (same ctg-exchange version on both sides?)"
        )
    return other.format(number=index + 1)


def raise_refusal(why: str) -> NoReturn:
    from .client import ServerError

    raise ServerError(_("refused to sign: {why}").format(why=why))


def _message(item: Any) -> tuple[str, bytes]:
    if not isinstance(item, dict) or not isinstance(item.get("namespace"), str):
        raise_refusal(_("a message to sign is malformed"))
    try:
        return item["namespace"], base64.b64decode(str(item.get("message")), validate=True)
    except ValueError:
        raise_refusal(_("a message to sign is not base64"))


@dataclass
class Batch:
    """The messages of one change, checked one by one, then as a whole: this log's events, in
    a chain, taken by this member, of the command's actions (its own exactly once, saying what
    was asked), about the request it names; a checkpoint only of the tree those events end."""

    log: str
    member: str
    operation: Operation
    intent: dict[str, Any]
    events: list[Any] = field(default_factory=list)
    checkpoints: list[Any] = field(default_factory=list)

    def event(self, message: bytes, *, simulated: bool = False) -> None:
        event = check_event(
            message, self.log, self.member, self.operation, self.intent, simulated=simulated
        )
        if self.events:
            previous = self.events[-1]
            if event.seq != previous.seq + 1 or event.prev != previous.digest():
                raise_refusal(_("the events to sign do not follow one another"))
        if self.checkpoints:
            raise_refusal(_("an event to sign comes after a checkpoint"))
        self.events.append(event)

    def checkpoint(self, message: bytes, proof: Any) -> None:
        from ..audit import merkle
        from ..audit.checkpoint import CHECKPOINT_EVERY, origin_of, parse_text

        try:
            checkpoint = parse_text(message.decode("utf-8"))
        except (ValueError, UnicodeDecodeError, ExchangeError):
            raise_refusal(_("a checkpoint to sign is not one"))
        if checkpoint.origin != origin_of(self.log):
            raise_refusal(_("a checkpoint to sign is of another log"))
        last = self.events[-1] if self.events else None
        if last is None or checkpoint.size != last.seq or self.checkpoints:
            raise_refusal(_("a checkpoint to sign is not the one this change makes"))
        if not self.operation.checkpoints and last.seq % CHECKPOINT_EVERY:
            raise_refusal(_("a checkpoint to sign is not the one this change makes"))
        try:
            nodes = [bytes.fromhex(node) for node in proof]
            root = merkle.root_from_inclusion(
                last.seq - 1, last.seq, merkle.leaf_hash(last.signed_bytes()), nodes
            )
        except (TypeError, ValueError):
            raise_refusal(_("a checkpoint to sign comes without the proof of its last event"))
        if root != checkpoint.root:
            raise_refusal(_("a checkpoint to sign is not of a tree your event ends"))
        self.checkpoints.append(checkpoint)

    def complete(self) -> None:
        primary = [e for e in self.events if e.action == self.operation.primary]
        if len(primary) != 1 and not (self.operation.repeats and primary):
            raise_refusal(
                _("{operation} records one {action} event").format(
                    operation=self.operation.name, action=self.operation.primary
                )
            )
        if len(self.events) - len(primary) > self.operation.max_also:
            raise_refusal(_("the change records more events than the command takes"))
        expected = self.operation.expect(self.intent) if self.operation.expect else {}
        payload = primary[0].payload
        for key, wanted in expected.items():
            found = payload.get(key)
            if not (wanted(found) if callable(wanted) else found == wanted):
                raise_refusal(_("the event's {key} is not what you asked").format(key=key))


def check_event(
    message: bytes,
    log: str,
    member: str,
    operation: Operation,
    args: dict[str, Any],
    *,
    simulated: bool = False,
) -> Event:
    """The event in ``message``, if it is one the member means to sign: this log, this member,
    an action of the command, about the request the command names, dated now (give or take
    the clocks' difference; a rehearsal's server sets its own day)."""
    from ..audit.events import EVENT_PREFIX, Event, loads_canonical
    from ..domain.dates import parse_timestamp

    try:
        body = loads_canonical(message.removeprefix(EVENT_PREFIX).decode("utf-8"))
        event = Event(**{k: v for k, v in body.items() if k != "v"})
        exact = message.startswith(EVENT_PREFIX) and event.signed_bytes() == message
        moment = parse_timestamp(event.time)
    except (ValueError, TypeError, AttributeError):
        raise_refusal(_("a message to sign is not an event"))
    if not exact or event.log != log:
        raise_refusal(_("an event to sign is not of this workspace's log"))
    if event.actor != member:
        raise_refusal(_("an event to sign is {actor!r}'s, not yours").format(actor=event.actor))
    if event.action not in operation.actions:
        raise_refusal(
            _("{operation} does not take {action!r}").format(
                operation=operation.name, action=event.action[:40]
            )
        )
    request = args.get("request_id")
    if request is not None and Action(event.action) in REQUEST_STEPS and event.subject != request:
        raise_refusal(
            _("an event to sign is about {subject!r}, not {request}").format(
                subject=event.subject[:40], request=request
            )
        )
    if not simulated and abs(datetime.now(UTC) - moment) > timedelta(minutes=10):
        raise_refusal(_("an event to sign is dated {time}Z, not now").format(time=event.time[:19]))
    return event
