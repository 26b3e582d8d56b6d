"""The procedure's services, run by a member against a hosted workspace (DESIGN §11).

A service marked :func:`remotable` runs as before on a local workspace. Given a remote session
(:mod:`ctg_exchange.remote.session`: a remote workspace, ``remote add``), it becomes a signed
call: the
server runs the very same service on its workspace, as the member who signed the call, so every
rule is the server's to enforce. Arguments and results cross as JSON, typed by the service's
own annotations (pydantic).

A change takes two calls, and the server never signs an event:

1. *prepare*: the server runs the change's dry run and answers with every message the member is
   to sign — the exact bytes of each event (with its ``seq`` and ``prev``) and of each
   checkpoint — and the time they carry. Nothing is written.
2. The client checks each message before signing it (:mod:`ctg_exchange.remote.session`) and
   signs them with the member's key.
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
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, TypeVar, get_type_hints

from ..domain.actions import Action
from ..errors import ExchangeError, InvalidInput, NotAuthorised, NotFound
from ..i18n import _

if TYPE_CHECKING:
    from ..crypto.keys import Signer
    from ..crypto.publickey import PublicKey
    from ..domain.models import Member
    from .clock import Clock
    from .session import Recorder, Session
    from .workspace import Workspace

F = TypeVar("F", bound=Callable[..., Any])
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
    checkpoints: bool = False  # ends with a checkpoint of its last event (a send, a reception)
    # the member's client runs it too, on its own verified copy of the log, and signs only
    # what the server prepared if it is byte for byte what it foresaw
    foresee: bool = True

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


class RemoteTarget:
    """What a remotable service is given on a remote workspace instead of a local session
    or workspace (:class:`~ctg_exchange.remote.session.RemoteSession`): it makes the call."""

    def call(self, operation: Operation, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        raise NotImplementedError

    def upload_package(self, path: Path, request_id: str) -> str:
        """Stream the package of ``request_id`` at ``path`` up, encrypted as it is; the
        upload's token."""
        raise NotImplementedError

    def download_package(self, request_id: str, number: int, out: BinaryIO) -> int:
        """Stream a delivery's package down into ``out``; its size."""
        raise NotImplementedError

    def scratch(self) -> Path:
        """A private directory for files kept only while the command runs."""
        raise NotImplementedError

    def verified(self) -> Session:
        """A session over the member's own copy of the log, verified on their machine."""
        raise NotImplementedError


OPERATIONS: dict[str, Operation] = {}
# the modules whose services are remotable: imported by the server before it looks one up
SERVICE_MODULES = (
    "requests", "review", "members", "convention", "delivery", "receive", "party_keys",
    "register", "retention", "avenant", "termination", "successor", "conditions", "contacts",
    "handover", "key_rotation",
)  # fmt: skip


def operation_named(name: str) -> Operation | None:
    import importlib

    for module in SERVICE_MODULES:
        importlib.import_module(f"{__package__}.{module}")
    return OPERATIONS.get(name)


def remotable(
    name: str | Action,
    *,
    takes: Action | None = None,
    also: Collection[Action] = (),
    expect: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    max_also: int = 4,
    checkpoints: bool = False,
    foresee: bool = True,
) -> Callable[[F], F]:
    """Mark a service as one a member may run on a hosted workspace. A change is named by the
    action it takes once (``also``: the other events it may record, such as register
    versions), and says with ``expect`` what its event's payload must hold given the
    arguments: the member's client signs nothing else; ``checkpoints``: it ends with a
    checkpoint of its last event, which the client signs too. The client also runs the change
    itself on its verified copy of the log, at the time the server gave, and signs only what it
    foresaw byte for byte; ``foresee=False`` for a change it cannot run there (a delivery: the
    package is on the server), whose ``expect`` must then say every field. A reading service
    has a name of its own (``request.show``), as has a second change taking the same action
    (``takes``)."""

    def mark(function: F) -> F:
        primary = name if isinstance(name, Action) else takes
        if str(name) in OPERATIONS:
            raise AssertionError(f"two remotable services are named {name}")
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
            checkpoints=checkpoints,
            foresee=foresee,
        )
        OPERATIONS[operation.name] = operation

        @functools.wraps(function)
        def service(target: Any, *args: Any, **kwargs: Any) -> Any:
            if isinstance(target, RemoteTarget):
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

    takes = ", ".join(operation.parameters) or _("no argument")
    if not isinstance(document, dict) or set(document) - set(operation.parameters):
        raise InvalidInput(
            _("{operation} takes {parameters}").format(operation=operation.name, parameters=takes)
        )
    missing = [name for name in operation.required if name not in document]
    if missing:
        raise InvalidInput(
            _("{operation} needs {parameters}").format(
                operation=operation.name, parameters=", ".join(missing)
            )
        )
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
        if not dry.to_sign:  # the change records nothing (an import that changes nothing)
            signer: Any = PresignedSigner(member, {})
            return signer  # type: ignore[no-any-return]
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
            raise Moved(_("the log moved while the change was signed: prepare it again"))
        try:  # the whole signature, the curve included: only then is it theirs
            sshsig.verify(self.public_key, namespace, message, armored)
        except ExchangeError:
            raise NotAuthorised(
                "bad-event-signature",
                _("a signature sent is not {member}'s of what it signs").format(member=self.name),
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
        raise Moved(_("the change was prepared too long ago: prepare it again"))
    return replace(clock, fixed_now=str(now))


def execute(
    workspace: Workspace, member: Member, name: str, document: Any, secret: bytes
) -> dict[str, Any]:
    """Run the service ``name`` as ``member`` on ``workspace``; the answer's JSON."""
    from .session import Session

    operation = operation_named(name)
    if operation is None:
        raise NotFound(_("no operation {name!r}").format(name=name[:80]))
    if not isinstance(document, dict):
        raise InvalidInput(_("a call's body is a JSON object"))
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
            raise Moved(_("this commit is not the one prepared (or the server restarted)"))
        if not isinstance(signatures, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in signatures.items()
        ):
            raise InvalidInput(_("a commit carries the signatures, by message"))
        keyring, clock = PresignedKeyring(signatures), commit_clock(clock, now)
    else:
        raise InvalidInput(
            _("{operation} is a change: phase prepare, then commit").format(operation=name)
        )
    # the server's own loop sends the messages a change queued (ctg_exchange.remote.server)
    session = Session(workspace, keyring, clock, member.id, deliver=False)
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


def said(text: str | None) -> str | None:
    """The digest the log keeps of a typed text, as the services keep it (trimmed; none when
    blank): what the member's client expects in the event it signs."""
    from ..audit.canonical import text_digest

    return text_digest(text.strip()) if text is not None and text.strip() else None
