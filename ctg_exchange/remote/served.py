"""The workspace a server hosts, and how each call reaches it: the member's signature checked
(:mod:`.httpsig`) before anything else, the nonce recorded, the body held to its ceiling, and
the procedure's refusals turned into an HTTP status and one line."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..audit.events import utc_timestamp
from ..crypto.publickey import PublicKey
from ..errors import ExchangeError
from ..i18n import _, date_text
from . import httpsig
from .notifier import Notifier
from .workers import WORKERS, Tail, Workers

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    from starlette.requests import Request
    from starlette.responses import Response

    from ..domain.models import Member
    from ..services.workspace import Workspace

MAX_BODY = 1024 * 1024  # a call's JSON body; packages travel on their own routes
MAX_PACKAGE = 8 << 30  # a package's upload (its payload may hold up to 8 GiB)
API = "/v1"


@dataclass(frozen=True)
class Settings:
    root: Path  # the workspace served
    public_url: str | None = None  # what clients address, behind a reverse proxy
    max_body: int = MAX_BODY
    max_package: int = MAX_PACKAGE
    reminders_at: int = 7  # the hour (Paris) from which the day's digests are sent


class Refusal(Exception):
    """A call refused before it reaches the procedure: status and one line."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _too_large(ceiling: int) -> Refusal:
    return Refusal(
        413, "too_large", _("the call's body is over {size} KiB").format(size=ceiling // 1024)
    )


def error(status: int, code: str, message: str) -> Response:
    from starlette.responses import JSONResponse

    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


class Served:
    """The workspace behind the application."""

    def __init__(self, settings: Settings) -> None:
        from ..services.workspace import Workspace

        self.settings = settings
        first = Workspace.open(settings.root)  # a workspace that does not open stops the start
        self.id, self.simulated = first.id, first.simulated
        first.close()
        self.secret = os.urandom(32)  # seals prepares to their commits, for this run only
        self.workers = Workers(settings.root, WORKERS)
        self.tail = Tail()
        self.uploading: dict[str, int] = {}  # member -> uploads of theirs coming in
        # the messages the steps queue, and the daily digests, sent by the server itself
        self.notifier = Notifier(settings.root, access_log, hour=settings.reminders_at)

    @property
    def workspace(self) -> Workspace:
        return self.workers.workspace()

    async def run(self, function: Callable[..., Any], *args: Any) -> Any:
        """``function(*args)`` on a worker, which has the workspace open."""
        import contextvars

        # in the caller's context: its language (Accept-Language) goes with the work
        context = contextvars.copy_context()
        return await asyncio.wrap_future(self.workers.submit(context.run, function, *args))

    def close(self) -> None:
        self.notifier.close()
        self.workers.close()

    def member(self, member_id: str) -> Member | None:
        with self.workspace.store.transaction() as tx:
            return tx.get_member(member_id)

    def key_of(self, member_id: str) -> Ed25519PublicKey | None:
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

        member = self.member(member_id)
        if member is None:
            return None
        return Ed25519PublicKey.from_public_bytes(PublicKey.parse(member.public_key).raw)

    def url_of(self, request: Request) -> str:
        """The URL the client signed: the public one behind a proxy, else as received."""
        public = self.settings.public_url
        if public is None:
            return str(request.url)
        query = f"?{request.url.query}" if request.url.query else ""
        return f"{public}{request.url.path}{query}"  # the proxy strips the public path

    async def body(self, request: Request) -> bytes:
        """The body, refused past the ceiling without reading it all."""
        declared = request.headers.get("content-length")
        ceiling = self.settings.max_body
        if declared is not None and declared.isdigit() and int(declared) > ceiling:
            raise _too_large(ceiling)
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > ceiling:
                raise _too_large(ceiling)
            chunks.append(chunk)
        return b"".join(chunks)

    def authenticate(self, request: Request, body: bytes) -> Member:
        """The member who signed the call, their nonce recorded; or a :class:`Refusal`."""
        return self._verified(request, body)[0]

    def authenticate_stream(self, request: Request) -> tuple[Member, bytes]:
        """The member who signed a call whose body is yet to come, and the SHA-256 they signed
        it with (the caller compares it with what arrives)."""
        member, digest = self._verified(request, None)
        assert digest is not None
        return member, digest

    def _verified(self, request: Request, body: bytes | None) -> tuple[Member, bytes | None]:
        names = [name.lower() for name, _ in request.headers.items()]
        for field in ("signature", "signature-input", "content-digest", "ctg-workspace"):
            if names.count(field) > 1:
                raise Refusal(
                    401, "unauthenticated", _("the call carries {field} twice").format(field=field)
                )
        message = httpsig.Message(request.method, self.url_of(request), dict(request.headers))
        try:
            verified = httpsig.verify(message, body, self.key_of)
        except httpsig.Unauthenticated as exc:
            raise Refusal(401, "unauthenticated", str(exc)) from None
        if request.headers.get(httpsig.WORKSPACE) != self.id:
            raise Refusal(401, "unauthenticated", _("the call is meant for another workspace"))
        member = self.member(verified.member)
        assert member is not None  # its key verified the signature
        if member.revoked_at is not None:
            revoked = _("{id} was revoked on {date}").format(
                id=member.id, date=date_text(member.revoked_at[:10])
            )
            raise Refusal(403, "revoked", revoked)
        self._in_term(member)
        # kept until no clock allowance lets the call through again (RFC 9421 §7.2.2)
        expires = utc_timestamp(verified.expires + httpsig.SKEW * 2)
        with self.workspace.store.transaction(write=True) as tx:
            fresh = tx.remember_nonce(verified.nonce, member.id, expires, utc_timestamp())
        if not fresh:
            raise Refusal(401, "replayed", _("this signed call was already received (a replay)"))
        return member, verified.digest

    def _in_term(self, member: Member) -> None:
        """A member added until a day (an auditor's ``--until``) is refused every call after
        it, reading included: the workspace's date (a rehearsal's simulated one)."""
        from ..domain.rules import ensure_in_term
        from ..errors import NotAuthorised

        if member.until is None:
            return
        try:
            ensure_in_term(member.id, member.until, self.workspace.clock().today())
        except NotAuthorised as exc:
            raise Refusal(403, "term_ended", exc.message) from None


Handler = Callable[["Served", "Request", "Member", bytes], Awaitable[Any]]


def status_of(exc: ExchangeError) -> int:
    """The HTTP status of a refusal by the procedure (the client prints its one line)."""
    from ..errors import IntegrityError, NotAuthorised, NotFound
    from ..exchange.manifest import PackageError
    from ..services.remoting import Moved

    if isinstance(exc, PackageError):  # a package a member sent, not the server's own state
        return 422
    if isinstance(exc, Moved):
        return 409
    if isinstance(exc, NotAuthorised):
        return 403
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, IntegrityError):
        return 500
    return 422


def signed(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """A route every call of which is signed by a member; its handler returns JSON data (or
    a response of its own)."""

    async def endpoint(request: Request) -> Response:
        from starlette.responses import JSONResponse, Response

        served: Served = request.app.state.served

        async def answer() -> Response:
            body = await served.body(request)
            member = await served.run(served.authenticate, request, body)
            request.state.member = member.id
            result = await handler(served, request, member, body)
            return result if isinstance(result, Response) else JSONResponse(result)

        return await refusals(request, answer)

    return endpoint


async def refusals(request: Request, answer: Callable[[], Awaitable[Response]]) -> Response:
    """``answer()``, or the status and one line of what refused it (never a traceback)."""
    from starlette.responses import JSONResponse

    from ..i18n import accepted, in_language, language

    try:
        with in_language(accepted(request.headers.get("accept-language")) or language()):
            return await answer()
    except Refusal as refusal:
        return error(refusal.status, refusal.code, refusal.message)
    except ExchangeError as exc:
        return JSONResponse({"error": exc.to_json()}, status_code=status_of(exc))
    except Exception as exc:
        access_log({"error": type(exc).__name__, "route": request.url.path[:80]})
        return error(500, "internal", _("internal error ({kind})").format(kind=type(exc).__name__))


def access_log(line: dict[str, Any]) -> None:
    sys.stderr.write(json.dumps(line, ensure_ascii=False) + "\n")
    sys.stderr.flush()
