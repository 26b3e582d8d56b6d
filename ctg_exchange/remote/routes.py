"""The routes of a hosted workspace that answer JSON: who the caller is, the procedure's
services (:mod:`ctg_exchange.services.remoting`), and what the other party copies and checks as
witness (the log, page by page, and the latest checkpoint with its consistency proof)."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from .. import __version__
from .served import Refusal, Served

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

    from ..domain.models import Member


async def whoami(served: Served, request: Request, member: Member, body: bytes) -> Any:
    return {
        "member": member.id,
        "party": member.party,
        "roles": list(member.roles),
        "workspace": served.id,
    }


async def call(served: Served, request: Request, member: Member, body: bytes) -> Any:
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


async def checkpoint(served: Served, request: Request, member: Member, body: bytes) -> Any:
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


async def log(served: Served, request: Request, member: Member, body: bytes) -> Any:
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


async def healthz(request: Request) -> Response:
    from starlette.responses import JSONResponse

    served: Served = request.app.state.served
    return JSONResponse(
        {"ok": True, "workspace": served.id, "version": __version__, "simulated": served.simulated}
    )
