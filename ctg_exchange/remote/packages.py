"""Packages on a hosted workspace: they come and go encrypted (DESIGN §11).

``POST /v1/packages`` takes a package its sender's client encrypted and signed on their own
machine. The call is signed like any other, its ``Content-Digest`` the SHA-256 of the whole
package computed beforehand: the signature is checked before a byte of the body is read, the
body is written to ``packages/.incoming/`` as it arrives, in pieces, hashed as it goes (and the
payload's own hash, the one the manifest names, in the same pass), so the server's memory stays
flat whatever the package's size. A body over ``--max-package`` is refused (413) before it is
read; one that does not match its signed digest, or is not a package, is removed. The answer is
an upload token, which the sender's ``exchange.send`` names: only its commit makes the package a
delivery (:mod:`ctg_exchange.exchange.kept`, :func:`ctg_exchange.services.delivery.deliver`).

``GET /v1/packages/{request}/{n}`` streams a delivery's package to the requesting party's staff,
and records who took it.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..audit.events import utc_timestamp
from ..domain.models import Role
from ..exchange.container import BLOCK, PAYLOAD, read_header
from ..exchange.kept import Kept
from ..exchange.manifest import Manifest, PackageError
from ..i18n import N_, _, ngettext
from ..services.delivery import may_upload
from .served import Refusal, Served, refusals

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

    from ..domain.models import Member

PIECE = 256 * 1024  # what is written (and hashed) at a time
WAITING = 2  # uploads a member may have waiting for their delivery's commit (or coming)
FOR = "ctg-request"  # the request an upload is for, said before its body comes


class Sink:
    """The upload's file, written piece by piece: the whole body's SHA-256 (its signed
    ``Content-Digest``) and, from the first tar header on, the payload member's."""

    def __init__(self, path: Path) -> None:
        self.fd = os.open(path, os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        self.whole, self.payload = hashlib.sha256(), hashlib.sha256()
        self.written = 0
        self._header = b""
        self._payload_end = -1  # unknown until the first header block has come

    def write(self, data: bytes) -> None:
        self.whole.update(data)
        start = self.written
        if self._payload_end < 0 and len(self._header) < BLOCK:
            self._header += data[: BLOCK - len(self._header)]
            if len(self._header) == BLOCK:
                self._payload_end = BLOCK + _payload_size(self._header)
        low, high = max(BLOCK, start), min(self._payload_end, start + len(data))
        if high > low:
            self.payload.update(memoryview(data)[low - start : high - start])
        view = memoryview(data)
        while view:
            view = view[os.write(self.fd, view) :]
        self.written += len(data)

    def finish(self) -> None:
        os.fsync(self.fd)
        self.close()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self.fd)


def _payload_size(header: bytes) -> int:
    """The size of the package's first member, if it is its payload (else nothing is hashed:
    the package's layout is refused after)."""
    try:
        found = read_header(header)
    except PackageError:
        return 0
    return found[1] if found is not None and found[0] == PAYLOAD else 0


async def upload(request: Request) -> Response:
    served: Served = request.app.state.served

    async def answer() -> Response:
        from starlette.responses import JSONResponse

        ceiling = served.settings.max_package
        declared = request.headers.get("content-length", "")
        if not declared.isdigit():
            raise Refusal(411, "length_required", _("a package is sent with its Content-Length"))
        if int(declared) > ceiling:
            raise Refusal(
                413, "too_large", _("a package is at most {size} here").format(size=_size(ceiling))
            )
        member, digest = await served.run(served.authenticate_stream, request)
        request.state.member = member.id
        if not member.has(Role.STAFF):
            raise Refusal(
                403, "forbidden", _("{id} is not staff: staff send packages").format(id=member.id)
            )
        request_id = request.headers.get(FOR, "")
        await served.run(lambda: may_upload(served.workspace, member, request_id))
        busy = served.uploading.get(member.id, 0)
        if busy + Kept(served.settings.root).waiting(member.id) >= WAITING:
            waiting = ngettext(
                "{count} uploads of {id} already wait for their delivery",
                "{count} uploads of {id} already wait for their delivery",
                WAITING,
            )
            raise Refusal(429, "too_many", waiting.format(count=WAITING, id=member.id))
        served.uploading[member.id] = busy + 1
        try:
            token, size, payload = await _receive(
                served, request, member, digest, int(declared), request_id
            )
        finally:
            served.uploading[member.id] -= 1
        return JSONResponse({"upload": token, "size": size, "payload_sha256": payload})

    return await refusals(request, answer)


async def _receive(
    served: Served, request: Request, member: Member, digest: bytes, declared: int, for_: str
) -> tuple[str, int, str]:
    """Write the body to a new upload; its token, size and payload hash once staged."""
    kept = Kept(served.settings.root)
    token, part = await asyncio.to_thread(kept.new_part)
    sink = Sink(part)
    try:
        pending: list[bytes] = []
        held = 0
        async for chunk in request.stream():
            if sink.written + held + len(chunk) > declared:
                raise Refusal(400, "invalid_input", _("the body is longer than its Content-Length"))
            pending.append(chunk)
            held += len(chunk)
            if held >= PIECE:
                await asyncio.to_thread(sink.write, b"".join(pending))
                pending, held = [], 0
        if pending:
            await asyncio.to_thread(sink.write, b"".join(pending))
        if sink.written != declared:
            raise Refusal(400, "invalid_input", _("the body is shorter than its Content-Length"))
        await asyncio.to_thread(sink.finish)
        if not hmac.compare_digest(sink.whole.digest(), digest):
            raise Refusal(
                401, "unauthenticated", _("the body is not the one signed (Content-Digest)")
            )
        payload = sink.payload.hexdigest()
        package = await asyncio.to_thread(kept.stage, token, member.id, payload)
        if Manifest.from_bytes(package.manifest).request != for_:
            raise PackageError(
                _("the package's manifest is not for {id}, as the upload said").format(id=for_)
            )
    except BaseException:
        sink.close()
        await asyncio.to_thread(kept.forget, token)
        raise
    await asyncio.to_thread(kept.sweep)  # uploads left waiting too long
    return token, sink.written, payload


async def download(served: Served, request: Request, member: Member, body: bytes) -> Any:
    """A delivery's package, to the requesting party's staff (the download recorded)."""
    from starlette.responses import FileResponse

    from ..services.delivery import download as authorised

    request_id, number = request.path_params["request_id"], request.path_params["number"]
    path = await served.run(
        lambda: authorised(served.workspace, member, request_id, number, utc_timestamp())
    )
    return FileResponse(path, media_type="application/octet-stream")


def _size(count: int) -> str:
    for unit, shift in ((N_("{size} GiB"), 30), (N_("{size} MiB"), 20), (N_("{size} KiB"), 10)):
        if count >= 1 << shift:
            return _(unit).format(size=f"{count / (1 << shift):g}")
    return ngettext("{size} bytes", "{size} bytes", count).format(size=count)
