"""``ctg-exchange serve``: a workspace hosted for both parties over HTTP(S) (DESIGN §11).

An ASGI application on Starlette, run by uvicorn. It holds no member's private key. Every call
under ``/v1`` is signed by a member (:mod:`.httpsig`): the server checks the signature against
the key registered for that member, refuses a revoked member (403), an unknown one, a bad, an
expired, a future-dated or a replayed signature (401), and a body over the ceiling (413) —
each with one line the client prints, before anything is read from or written to the
workspace but the call's nonce. ``/healthz`` is open: it says the service runs and which
workspace it serves.

Each request is logged as one JSON line on standard error: time, method, route (its template,
never a request id or a query), status, member, milliseconds. No personal data.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .. import __version__
from ..audit.events import utc_timestamp
from ..crypto.publickey import PublicKey
from ..errors import ExchangeError, InvalidInput
from . import httpsig
from .workers import WORKERS, Tail, Workers

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response

    from ..domain.models import Member
    from ..services.workspace import Workspace

MAX_BODY = 1024 * 1024  # a call's JSON body; packages travel on their own routes
API = "/v1"


@dataclass(frozen=True)
class Settings:
    root: Path  # the workspace served
    public_url: str | None = None  # what clients address, behind a reverse proxy
    max_body: int = MAX_BODY


class Refusal(Exception):
    """A call refused before it reaches the procedure: status and one line."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def error(status: int, code: str, message: str) -> Response:
    from starlette.responses import JSONResponse

    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


def parse_listen(value: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:8443`` for IPv6)."""
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536 or not host:
        raise InvalidInput(f"--listen takes HOST:PORT, e.g. 127.0.0.1:8443, not {value[:80]!r}")
    return host.strip("[]"), int(port)


def check_public_url(value: str | None) -> str | None:
    if value is None:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query:
        raise InvalidInput(f"--public-url takes https://HOST[:PORT][/PATH], not {value[:80]!r}")
    return value.rstrip("/")


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

    @property
    def workspace(self) -> Workspace:
        return self.workers.workspace()

    async def run(self, function: Callable[..., Any], *args: Any) -> Any:
        """``function(*args)`` on a worker, which has the workspace open."""
        return await asyncio.wrap_future(self.workers.submit(function, *args))

    def close(self) -> None:
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
            raise Refusal(413, "too_large", f"the call's body is over {ceiling // 1024} KiB")
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > ceiling:
                raise Refusal(413, "too_large", f"the call's body is over {ceiling // 1024} KiB")
            chunks.append(chunk)
        return b"".join(chunks)

    def authenticate(self, request: Request, body: bytes) -> Member:
        """The member who signed the call, their nonce recorded; or a :class:`Refusal`."""
        names = [name.lower() for name, _ in request.headers.items()]
        for field in ("signature", "signature-input", "content-digest", "ctg-workspace"):
            if names.count(field) > 1:
                raise Refusal(401, "unauthenticated", f"the call carries {field} twice")
        message = httpsig.Message(request.method, self.url_of(request), dict(request.headers))
        try:
            verified = httpsig.verify(message, body, self.key_of)
        except httpsig.Unauthenticated as exc:
            raise Refusal(401, "unauthenticated", str(exc)) from None
        if request.headers.get(httpsig.WORKSPACE) != self.id:
            raise Refusal(401, "unauthenticated", "the call is meant for another workspace")
        member = self.member(verified.member)
        assert member is not None  # its key verified the signature
        if member.revoked_at is not None:
            raise Refusal(403, "revoked", f"{member.id} was revoked on {member.revoked_at[:10]}")
        # kept until no clock allowance lets the call through again (RFC 9421 §7.2.2)
        expires = utc_timestamp(verified.expires + httpsig.SKEW * 2)
        with self.workspace.store.transaction(write=True) as tx:
            fresh = tx.remember_nonce(verified.nonce, member.id, expires, utc_timestamp())
        if not fresh:
            raise Refusal(401, "replayed", "this signed call was already received (a replay)")
        return member


Handler = Callable[["Served", "Request", "Member", bytes], Awaitable[Any]]


def status_of(exc: ExchangeError) -> int:
    """The HTTP status of a refusal by the procedure (the client prints its one line)."""
    from ..errors import IntegrityError, NotAuthorised, NotFound
    from ..services.remoting import Moved

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
    """A route every call of which is signed by a member; its handler returns JSON data."""
    from starlette.responses import JSONResponse

    async def endpoint(request: Request) -> Response:
        served: Served = request.app.state.served
        try:
            body = await served.body(request)
            member = await served.run(served.authenticate, request, body)
            request.state.member = member.id
            return JSONResponse(await handler(served, request, member, body))
        except Refusal as refusal:
            return error(refusal.status, refusal.code, refusal.message)
        except ExchangeError as exc:
            return JSONResponse({"error": exc.to_json()}, status_code=status_of(exc))
        except Exception as exc:  # one line for the caller and the log, never a traceback
            access_log({"error": type(exc).__name__, "route": request.url.path[:80]})
            return error(500, "internal", f"internal error ({type(exc).__name__})")

    return endpoint


async def _whoami(served: Served, request: Request, member: Member, body: bytes) -> Any:
    return {
        "member": member.id,
        "party": member.party,
        "roles": list(member.roles),
        "workspace": served.id,
    }


async def _call(served: Served, request: Request, member: Member, body: bytes) -> Any:
    """A service of the procedure, run as the member (:mod:`..services.remoting`)."""
    from ..services.remoting import execute

    try:
        document = json.loads(body or b"{}")
        json.dumps(document, ensure_ascii=False).encode("utf-8")  # no lone surrogate in it
    except (ValueError, RecursionError):
        raise Refusal(422, "invalid_input", "the call's body is not JSON (UTF-8)") from None
    name = request.path_params["operation"]
    phase = document.get("phase") if isinstance(document, dict) else None
    if phase not in ("prepare", "commit"):
        return await served.run(
            lambda: execute(served.workspace, member, name, document, served.secret)
        )
    # a change holds the log's tail from its prepare to its commit, so that the others queue
    # behind it rather than prepare what its commit is about to invalidate
    lease = served.tail
    if phase == "prepare":
        token = await lease.acquire()
    else:
        token = str(document.get("lease", ""))
    try:
        answer = await served.run(
            lambda: execute(served.workspace, member, name, document, served.secret)
        )
    except BaseException:
        lease.release(token)
        raise
    if phase == "prepare" and isinstance(answer.get("prepare"), dict):
        answer["prepare"]["lease"] = token  # held until the commit, or LEASE at most
    else:
        lease.release(token)
    return answer


async def _checkpoint(served: Served, request: Request, member: Member, body: bytes) -> Any:
    """The latest checkpoint, its signed note as any signed-note reader takes it, and (with
    ``?from=SIZE``) the RFC 9162 proof that the tree of that size is a prefix of it: what the
    other party checks, as witness, before it cosigns."""
    since = request.query_params.get("from")
    if since is not None and not re.fullmatch(r"[0-9]{1,12}", since):
        raise Refusal(422, "invalid_input", "from= takes a tree size, a number")

    def read() -> Any:
        with served.workspace.store.transaction() as tx:
            latest = tx.latest_checkpoint()
            if latest is None:
                return {"checkpoint": None}
            answer: dict[str, Any] = {"size": latest.size, "note": latest.note}
            if since is not None:
                old = int(since)
                if old > latest.size:
                    raise Refusal(
                        422, "invalid_input", f"the latest checkpoint covers {latest.size} events"
                    )
                proof = tx.consistency_proof(old, latest.size)
                answer["consistency"] = [node.hex() for node in proof]
            return {"checkpoint": answer}

    return await served.run(read)


PAGE = 1000  # events per page of the log


async def _log(served: Served, request: Request, member: Member, body: bytes) -> Any:
    """The log's events after ``?after=SEQ`` (a page at a time, as `audit export` writes
    them: body, hash, signature), for the other party's witness to copy and verify itself."""
    after = request.query_params.get("after", "0")
    if not re.fullmatch(r"[0-9]{1,12}", after):
        raise Refusal(422, "invalid_input", "after= takes a sequence number")

    def read() -> Any:
        with served.workspace.store.transaction() as tx:
            first = int(after) + 1
            events = tx.events(first=first, last=first + PAGE - 1)
            page = [stored.to_json() for stored in events]
            return {"events": page, "size": tx.count_events()}

    return await served.run(read)


async def _healthz(request: Request) -> Response:
    from starlette.responses import JSONResponse

    served: Served = request.app.state.served
    return JSONResponse(
        {"ok": True, "workspace": served.id, "version": __version__, "simulated": served.simulated}
    )


def access_log(line: dict[str, Any]) -> None:
    sys.stderr.write(json.dumps(line, ensure_ascii=False) + "\n")
    sys.stderr.flush()


class AccessLog:
    """One JSON line per request, without personal data (ASGI middleware)."""

    def __init__(self, app: Starlette, log: Callable[[dict[str, Any]], None]) -> None:
        self.app, self.log = app, log

    @property
    def served(self) -> Served:
        served: Served = self.app.state.served
        return served

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started, status = time.perf_counter(), 0

        async def sending(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route = scope.get("route")
            self.log(
                {
                    "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
                    "method": scope["method"],
                    "route": getattr(route, "path", None),
                    "status": status,
                    "member": scope.get("state", {}).get("member"),
                    "ms": round((time.perf_counter() - started) * 1000, 1),
                }
            )


def create_app(settings: Settings, log: Callable[[dict[str, Any]], None] = access_log) -> AccessLog:
    from starlette.applications import Starlette
    from starlette.routing import Route

    app = Starlette(
        routes=[
            Route("/healthz", _healthz, methods=["GET"]),
            Route(f"{API}/whoami", signed(_whoami), methods=["GET", "POST"]),
            Route(f"{API}/call/{{operation}}", signed(_call), methods=["POST"]),
            Route(f"{API}/checkpoint", signed(_checkpoint), methods=["GET", "POST"]),
            Route(f"{API}/log", signed(_log), methods=["GET", "POST"]),
        ]
    )
    app.state.served = Served(settings)
    return AccessLog(app, log)


def run(
    settings: Settings,
    listen: str,
    tls_cert: Path | None = None,
    tls_key: Path | None = None,
) -> None:
    """Serve until interrupted."""
    import uvicorn

    if (tls_cert is None) != (tls_key is None):
        raise InvalidInput("--tls-cert and --tls-key go together")
    host, port = parse_listen(listen)
    app = create_app(settings)
    try:
        _serve(uvicorn, app, host, port, tls_cert, tls_key)
    finally:
        app.served.close()


def _serve(
    uvicorn: Any, app: AccessLog, host: str, port: int, tls_cert: Path | None, tls_key: Path | None
) -> None:
    uvicorn.run(
        app,
        host=host,
        port=port,
        ssl_certfile=None if tls_cert is None else str(tls_cert),
        ssl_keyfile=None if tls_key is None else str(tls_key),
        log_config=None,
        access_log=False,
        server_header=False,
        proxy_headers=False,
    )
