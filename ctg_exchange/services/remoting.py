"""The procedure's services, run by a member against a hosted workspace (DESIGN §11).

A service marked :func:`remotable` runs as before on a local workspace. Given a
:class:`RemoteSession` (a remote workspace, ``remote add``), it becomes a signed call: the
server runs the very same service on its workspace, as the member who signed the call, so every
rule is the server's to enforce. Arguments and results cross as JSON, typed by the service's
own annotations (pydantic).

A change takes two calls, and the server never signs an event:

1. *prepare*: the server runs the change's dry run and answers with every message the member is
   to sign — the exact bytes of each event (with its ``seq`` and ``prev``) and of each
   checkpoint — and the time they carry. Nothing is written.
2. The client checks each message before signing it: an event of this workspace's log, taken by
   this member, of an action the command takes, about the request the command names; a
   checkpoint of this log. It signs them with the member's key.
3. *commit*: the server runs the change again at that time, with those signatures (each one
   verified against the member's registered key). If the log's tail moved meanwhile, the bytes
   differ, no signature fits, nothing is written and the answer is 409: the client prepares
   again, a few times, then says so in one line.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import inspect
import random
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar, get_type_hints

from ..domain.actions import REQUEST_STEPS, Action
from ..errors import ExchangeError, InvalidInput, NotAuthorised, NotFound, WorkspaceError

if TYPE_CHECKING:
    from ..crypto.keys import Signer
    from ..crypto.publickey import PublicKey
    from ..domain.models import Member
    from ..remote.client import Client, RemoteConfig
    from .clock import Clock
    from .session import Recorder
    from .workspace import Workspace

F = TypeVar("F", bound=Callable[..., Any])
RETRIES = 12  # prepares when the log keeps moving under a change, each after a longer pause
PAUSE = 0.05  # seconds: the n-th retry waits up to n times this, at random
NOW_WINDOW = timedelta(minutes=2)  # a commit's time must be the server's own, this recent


@dataclass(frozen=True)
class Operation:
    name: str
    function: Callable[..., Any]  # the service itself
    changes: bool  # records events: prepared, signed, committed
    actions: frozenset[Action] = frozenset()  # the events it may record
    primary: Action | None = None  # the one event it records once (the others: ``also``)
    repeats: bool = False  # the primary may come several times (a lapse of each open request)
    max_also: int = 4  # the other events it may record (a change that lapses: every request)
    # what the primary event's payload must say, from the arguments: field -> value, or a test
    expect: Callable[[dict[str, Any]], dict[str, Any]] | None = None

    @functools.cached_property
    def hints(self) -> dict[str, Any]:
        return get_type_hints(self.function)

    @functools.cached_property
    def parameters(self) -> list[str]:
        return list(inspect.signature(self.function).parameters)[1:]

    @functools.cached_property
    def required(self) -> list[str]:
        parameters = inspect.signature(self.function).parameters
        return [n for n in self.parameters if parameters[n].default is inspect.Parameter.empty]

    def bound(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        """The arguments by name, defaults included (the first, session or workspace, out)."""
        bound = inspect.signature(self.function).bind(None, *args, **kwargs)
        bound.apply_defaults()
        return {k: v for k, v in bound.arguments.items() if k in self.parameters}

    @functools.cached_property
    def takes_session(self) -> bool:
        """Whether the service takes a session (who acts), rather than the workspace alone."""
        return next(iter(inspect.signature(self.function).parameters)) == "session"


OPERATIONS: dict[str, Operation] = {}
# the modules whose services are remotable: imported by the server before it looks one up
SERVICE_MODULES = ("requests", "review", "members", "convention")


def operation_named(name: str) -> Operation | None:
    import importlib

    for module in SERVICE_MODULES:
        importlib.import_module(f"{__package__}.{module}")
    return OPERATIONS.get(name)


def remotable(
    name: str | Action,
    *,
    also: Collection[Action] = (),
    expect: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    max_also: int = 4,
) -> Callable[[F], F]:
    """Mark a service as one a member may run on a hosted workspace. A change is named by the
    action it takes once (``also``: the other events it may record, such as register
    versions), and says with ``expect`` what its event's payload must hold given the
    arguments: the member's client signs nothing else. A reading service has a name of its
    own (``request.show``)."""

    def mark(function: F) -> F:
        primary = name if isinstance(name, Action) else None
        actions = frozenset({*([primary] if primary else []), *also})
        repeats = primary is not None and primary in set(also)
        operation = Operation(
            str(name),
            function,
            bool(actions),
            actions,
            primary,
            expect=expect,
            repeats=repeats,
            max_also=max_also,
        )
        OPERATIONS[operation.name] = operation

        @functools.wraps(function)
        def service(target: Any, *args: Any, **kwargs: Any) -> Any:
            if isinstance(target, RemoteSession):
                return target.call(operation, args, kwargs)
            return function(target, *args, **kwargs)

        return service  # type: ignore[return-value]

    return mark


# -- JSON both ways ----------------------------------------------------------------------------
def _adapter(kind: Any) -> Any:
    from pydantic import TypeAdapter

    return TypeAdapter(kind)


def encode_args(
    operation: Operation, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> dict[str, Any]:
    bound = inspect.signature(operation.function).bind(None, *args, **kwargs)
    names = operation.parameters
    return {
        name: _adapter(operation.hints[name]).dump_python(value, mode="json")
        for name, value in bound.arguments.items()
        if name in names
    }


def decode_args(operation: Operation, document: Any) -> dict[str, Any]:
    from pydantic import ValidationError

    takes = ", ".join(operation.parameters) or "no argument"
    if not isinstance(document, dict) or set(document) - set(operation.parameters):
        raise InvalidInput(f"{operation.name} takes {takes}")
    missing = [name for name in operation.required if name not in document]
    if missing:
        raise InvalidInput(f"{operation.name} needs {', '.join(missing)}")
    decoded = {}
    for name, value in document.items():
        try:
            decoded[name] = _adapter(operation.hints[name]).validate_python(value)
        except ValidationError as exc:
            first = exc.errors(include_url=False)[0]
            where = ".".join(str(part) for part in (name, *first["loc"]))
            raise InvalidInput(f"{operation.name}: {where}: {first['msg']}") from None
    return decoded


def encode_result(operation: Operation, value: Any) -> Any:
    return _adapter(operation.hints["return"]).dump_python(value, mode="json")


def decode_result(operation: Operation, document: Any) -> Any:
    return _adapter(operation.hints["return"]).validate_python(document)


def message_key(namespace: str, message: bytes) -> str:
    return hashlib.sha256(namespace.encode() + b"\0" + message).hexdigest()


# -- the server's side ---------------------------------------------------------------------------
class SignaturesNeeded(Exception):  # noqa: N818 (a signal, not a failure)
    """The prepare phase's answer: what the member is to sign, at which time."""

    def __init__(self, dry: Recorder) -> None:
        super().__init__("signatures needed")
        self.to_sign, self.proofs, self.now = dry.to_sign, dry.proofs, dry.now


class Moved(ExchangeError):
    """The commit re-made other bytes than the member signed: the log moved. Prepare again."""

    code = "moved"


class PreparingKeyring:
    """A remote member's keyring on the server, preparing: it collects, never signs."""

    collects = True

    def signer_for(self, member: Member, dry: Recorder) -> Signer:
        raise SignaturesNeeded(dry)


class PresignedSigner:
    """Gives back, for each message the commit signs, the member's own signature of it."""

    def __init__(self, member: Member, signatures: dict[str, str]) -> None:
        from ..crypto.publickey import PublicKey

        self.name = member.id
        self.public_key: PublicKey = PublicKey.parse(member.public_key)
        self._signatures = signatures

    def sign(self, namespace: str, message: bytes) -> str:
        from ..crypto import sshsig

        armored = self._signatures.get(message_key(namespace, message))
        if armored is None:
            raise Moved("the log moved while the change was signed: prepare it again")
        try:  # the whole signature, the curve included: only then is it theirs
            sshsig.verify(self.public_key, namespace, message, armored)
        except ExchangeError:
            raise NotAuthorised(
                "bad-event-signature", f"a signature sent is not {self.name}'s of what it signs"
            ) from None
        return armored


class PresignedKeyring:
    collects = False

    def __init__(self, signatures: dict[str, str]) -> None:
        self._signatures = signatures

    def signer_for(self, member: Member, dry: Recorder) -> Any:
        return PresignedSigner(member, self._signatures)


def ticket(secret: bytes, member: str, name: str, now: str, args: Any) -> str:
    """What binds a commit to its prepare: the time the server gave, for this member, this
    operation and these arguments (an HMAC under the server's own secret)."""
    from ..audit.canonical import canonical_json

    bound = canonical_json({"member": member, "operation": name, "now": now, "args": args})
    return hmac.new(secret, bound, hashlib.sha256).hexdigest()


def commit_clock(clock: Clock, now: Any) -> Clock:
    """The server's clock fixed at the time its prepare gave, if that is recent still."""
    from dataclasses import replace

    from ..domain.dates import parse_timestamp

    moment, own = parse_timestamp(str(now)), parse_timestamp(clock.now())
    if abs(own - moment) > NOW_WINDOW:
        raise Moved("the change was prepared too long ago: prepare it again")
    return replace(clock, fixed_now=str(now))


def execute(
    workspace: Workspace, member: Member, name: str, document: Any, secret: bytes
) -> dict[str, Any]:
    """Run the service ``name`` as ``member`` on ``workspace``; the answer's JSON."""
    from .session import Session

    operation = operation_named(name)
    if operation is None:
        raise NotFound(f"no operation {name[:80]!r}")
    if not isinstance(document, dict):
        raise InvalidInput("a call's body is a JSON object")
    raw_args = document.get("args", {})
    args = decode_args(operation, raw_args)
    if not operation.changes:
        target: Any = workspace
        if operation.takes_session:
            keys: Any = PreparingKeyring()  # a reading service signs nothing
            target = Session(workspace, keys, workspace.clock(), member.id)
        return {"result": encode_result(operation, operation.function(target, **args))}
    phase, clock = document.get("phase"), workspace.clock()
    if phase == "prepare":
        keyring: Any = PreparingKeyring()
    elif phase == "commit":
        now, signatures = document.get("now"), document.get("signatures")
        sealed = document.get("ticket")
        if (
            not isinstance(now, str)
            or not isinstance(sealed, str)
            or not hmac.compare_digest(sealed, ticket(secret, member.id, name, now, raw_args))
        ):
            raise Moved("this commit is not the one prepared (or the server restarted)")
        if not isinstance(signatures, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in signatures.items()
        ):
            raise InvalidInput("a commit carries the signatures, by message")
        keyring, clock = PresignedKeyring(signatures), commit_clock(clock, now)
    else:
        raise InvalidInput(f"{name} is a change: phase prepare, then commit")
    session = Session(workspace, keyring, clock, member.id)
    try:
        result = operation.function(session, **args)
    except SignaturesNeeded as needed:
        items = []
        for index, (namespace, message) in enumerate(needed.to_sign):
            item: dict[str, Any] = {
                "namespace": namespace,
                "message": base64.b64encode(message).decode(),
            }
            if index in needed.proofs:
                item["proof"] = [node.hex() for node in needed.proofs[index]]
            items.append(item)
        seal = ticket(secret, member.id, name, needed.now, raw_args)
        return {"prepare": {"now": needed.now, "ticket": seal, "sign": items}}
    return {"result": encode_result(operation, result)}


# -- the member's side --------------------------------------------------------------------------
@dataclass
class RemoteSession:
    """A member's session on a remote workspace: what a service is given instead of a local
    session or workspace."""

    config: RemoteConfig
    actor_id: str | None
    signer_of: Callable[[str], Signer]
    clock: Any = None
    _client: Client | None = field(default=None, repr=False)

    @property
    def simulated(self) -> bool:
        return self.config.simulated

    def __getattr__(self, name: str) -> Any:
        """Whatever a local session or workspace has and this has not (its store, its
        keys…): a command that needs it does not run on a remote workspace yet."""
        if name.startswith("__"):
            raise AttributeError(name)
        raise WorkspaceError(
            f"{self.config.root} is a remote workspace (served at {self.config.url}): this "
            "command does not run remotely yet",
            hint="run it on the server's workspace, or see `ctg-exchange remote status`",
        )

    def require_actor(self) -> str:
        if not self.actor_id:
            raise InvalidInput("who is acting? pass --as MEMBER or set CTG_MEMBER")
        return self.actor_id

    def client(self) -> Client:
        if self._client is None:
            from ..remote.client import Client

            self._client = Client(self.config, self.signer_of(self.require_actor()))
        return self._client

    def call(self, operation: Operation, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        from ..remote.client import ServerError

        document: dict[str, Any] = {"args": encode_args(operation, args, kwargs)}
        path = f"/v1/call/{operation.name}"
        if not operation.changes:
            return self._result(operation, self.client().call("POST", path, document))
        intent = operation.bound(args, kwargs)
        for attempt in range(RETRIES):
            if attempt:  # others committed meanwhile: let them pass, not all at once
                time.sleep(random.uniform(0, PAUSE * attempt))  # noqa: S311 (jitter)
            answer = self.client().call("POST", path, {**document, "phase": "prepare"})
            prepared = answer.get("prepare")
            if not isinstance(prepared, dict) or not isinstance(prepared.get("now"), str):
                raise_refusal("the server's answer to a prepare is not a prepared change")
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
            f"the log kept moving: {operation.name} was prepared {RETRIES} times, never "
            "committed (others are busy): try again"
        )

    @staticmethod
    def _result(operation: Operation, answer: dict[str, Any]) -> Any:
        from pydantic import ValidationError

        from ..remote.client import ServerError

        try:
            return decode_result(operation, answer["result"])
        except (KeyError, ValidationError, RecursionError):
            raise ServerError(f"the server's answer to {operation.name} is not one") from None

    def _signed(
        self, operation: Operation, intent: dict[str, Any], prepared: dict[str, Any]
    ) -> dict[str, str]:
        """Check each message the server asks the member to sign, then sign it all, or
        nothing."""
        from ..crypto.sshsig import NAMESPACE_CHECKPOINT, NAMESPACE_EVENT

        items = prepared.get("sign")
        if not isinstance(items, list) or not items or len(items) > MAX_MESSAGES:
            raise_refusal("the server's prepared change is not one")
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
                raise_refusal(f"the server asks to sign in the namespace {namespace[:40]!r}")
            messages.append((namespace, message))
        checked.complete()
        return {message_key(ns, message): signer.sign(ns, message) for ns, message in messages}


MAX_MESSAGES = 1024  # a change records one event, its consequences (lapses…), a checkpoint


def raise_refusal(why: str) -> NoReturn:
    from ..remote.client import ServerError

    raise ServerError(f"refused to sign: {why}")


def _message(item: Any) -> tuple[str, bytes]:
    if not isinstance(item, dict) or not isinstance(item.get("namespace"), str):
        raise_refusal("a message to sign is malformed")
    try:
        return item["namespace"], base64.b64decode(str(item.get("message")), validate=True)
    except ValueError:
        raise_refusal("a message to sign is not base64")


def said(text: str | None) -> str | None:
    """The digest the log keeps of a typed text, as the services keep it (trimmed; none when
    blank): what the member's client expects in the event it signs."""
    from ..audit.canonical import text_digest

    return text_digest(text.strip()) if text is not None and text.strip() else None


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
        check_event(
            message, self.log, self.member, self.operation, self.intent, simulated=simulated
        )
        from ..audit.events import EVENT_PREFIX, Event, loads_canonical

        body = loads_canonical(message.removeprefix(EVENT_PREFIX).decode("utf-8"))
        event = Event(**{k: v for k, v in body.items() if k != "v"})
        if self.events:
            previous = self.events[-1]
            if event.seq != previous.seq + 1 or event.prev != previous.digest():
                raise_refusal("the events to sign do not follow one another")
        if self.checkpoints:
            raise_refusal("an event to sign comes after a checkpoint")
        self.events.append(event)

    def checkpoint(self, message: bytes, proof: Any) -> None:
        from ..audit import merkle
        from ..audit.checkpoint import CHECKPOINT_EVERY, origin_of, parse_text

        try:
            checkpoint = parse_text(message.decode("utf-8"))
        except (ValueError, UnicodeDecodeError, ExchangeError):
            raise_refusal("a checkpoint to sign is not one")
        if checkpoint.origin != origin_of(self.log):
            raise_refusal("a checkpoint to sign is of another log")
        last = self.events[-1] if self.events else None
        if last is None or checkpoint.size != last.seq or last.seq % CHECKPOINT_EVERY:
            raise_refusal("a checkpoint to sign is not the one this change makes")
        try:
            nodes = [bytes.fromhex(node) for node in proof]
            root = merkle.root_from_inclusion(
                last.seq - 1, last.seq, merkle.leaf_hash(last.signed_bytes()), nodes
            )
        except (TypeError, ValueError):
            raise_refusal("a checkpoint to sign comes without the proof of its last event")
        if root != checkpoint.root:
            raise_refusal("a checkpoint to sign is not of a tree your event ends")
        self.checkpoints.append(checkpoint)

    def complete(self) -> None:
        primary = [e for e in self.events if e.action == self.operation.primary]
        if len(primary) != 1 and not (self.operation.repeats and primary):
            raise_refusal(f"{self.operation.name} records one {self.operation.primary} event")
        if len(self.events) - len(primary) > self.operation.max_also:
            raise_refusal("the change records more events than the command takes")
        expected = self.operation.expect(self.intent) if self.operation.expect else {}
        payload = primary[0].payload
        for key, wanted in expected.items():
            found = payload.get(key)
            if not (wanted(found) if callable(wanted) else found == wanted):
                raise_refusal(f"the event's {key} is not what you asked")


def check_event(
    message: bytes,
    log: str,
    member: str,
    operation: Operation,
    args: dict[str, Any],
    *,
    simulated: bool = False,
) -> None:
    """An event the member means to sign: this log, this member, an action of the command,
    about the request the command names, dated now (give or take the clocks' difference; a
    rehearsal's server sets its own day)."""
    from ..audit.events import EVENT_PREFIX, Event, loads_canonical
    from ..domain.dates import parse_timestamp

    try:
        body = loads_canonical(message.removeprefix(EVENT_PREFIX).decode("utf-8"))
        event = Event(**{k: v for k, v in body.items() if k != "v"})
        exact = message.startswith(EVENT_PREFIX) and event.signed_bytes() == message
        moment = parse_timestamp(event.time)
    except (ValueError, TypeError, AttributeError):
        raise_refusal("a message to sign is not an event")
    if not exact or event.log != log:
        raise_refusal("an event to sign is not of this workspace's log")
    if event.actor != member:
        raise_refusal(f"an event to sign is {event.actor!r}'s, not yours")
    if event.action not in operation.actions:
        raise_refusal(f"{operation.name} does not take {event.action[:40]!r}")
    request = args.get("request_id")
    if request is not None and Action(event.action) in REQUEST_STEPS and event.subject != request:
        raise_refusal(f"an event to sign is about {event.subject[:40]!r}, not {request}")
    if not simulated and abs(datetime.now(UTC) - moment) > timedelta(minutes=10):
        raise_refusal(f"an event to sign is dated {event.time[:19]}Z, not now")
