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

import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ..errors import InvalidInput
from ..i18n import _
from . import packages, routes
from .served import API, Served, Settings, access_log, signed

if TYPE_CHECKING:
    from starlette.applications import Starlette


def parse_listen(value: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:8443`` for IPv6)."""
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536 or not host:
        raise InvalidInput(
            _("--listen takes HOST:PORT, e.g. 127.0.0.1:8443, not {value!r}").format(
                value=value[:80]
            )
        )
    return host.strip("[]"), int(port)


def check_public_url(value: str | None) -> str | None:
    if value is None:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query:
        raise InvalidInput(
            _("--public-url takes https://HOST[:PORT][/PATH], not {value!r}").format(
                value=value[:80]
            )
        )
    return value.rstrip("/")


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
            Route("/healthz", routes.healthz, methods=["GET"]),
            Route(f"{API}/whoami", signed(routes.whoami), methods=["GET", "POST"]),
            Route(f"{API}/call/{{operation}}", signed(routes.call), methods=["POST"]),
            Route(f"{API}/checkpoint", signed(routes.checkpoint), methods=["GET", "POST"]),
            Route(f"{API}/log", signed(routes.log), methods=["GET", "POST"]),
            Route(f"{API}/state", signed(routes.state), methods=["GET"]),
            Route(f"{API}/cosign", signed(routes.cosign), methods=["POST"]),
            Route(f"{API}/checkpoints", signed(routes.sign), methods=["POST"]),
            Route(f"{API}/packages", packages.upload, methods=["POST"]),
            Route(
                f"{API}/packages/{{request_id}}/{{number:int}}",
                signed(packages.download),
                methods=["GET"],
            ),
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
        raise InvalidInput(_("--tls-cert and --tls-key go together"))
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
