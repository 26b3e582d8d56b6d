"""The routes of a hosted workspace that answer JSON: who the caller is, the procedure's
services (:mod:`ctg_exchange.services.remoting`), and what the other party copies and checks as
witness (the log, page by page, and the latest checkpoint with its consistency proof)."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from .. import __version__
from ..i18n import N_, _, ngettext
from .served import Refusal, Served

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

    from ..domain.models import Member


NOT_JSON = N_("the call's body is not JSON (UTF-8)")


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
        raise Refusal(422, "invalid_input", _(NOT_JSON)) from None
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
        token = await lease.acquire(member.id)
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


def _number(request: Request, name: str, default: str | None = None) -> int | None:
    value = request.query_params.get(name, default)
    if value is None:
        return None
    if not re.fullmatch(r"[0-9]{1,12}", value):
        raise Refusal(422, "invalid_input", _("{name}= takes a number").format(name=name))
    return int(value)


def _latest(tx: Any, since: int | None) -> dict[str, Any] | None:
    """The latest checkpoint's note and, from a tree of size ``since``, the RFC 9162 proof
    that it is a prefix of it."""
    latest = tx.latest_checkpoint()
    if latest is None:
        return None
    answer: dict[str, Any] = {"size": latest.size, "note": latest.note}
    if since is not None:
        if since > latest.size:
            covers = ngettext(
                "the latest checkpoint covers {size} events",
                "the latest checkpoint covers {size} events",
                latest.size,
            )
            raise Refusal(422, "invalid_input", covers.format(size=latest.size))
        answer["consistency"] = [node.hex() for node in tx.consistency_proof(since, latest.size)]
    return answer


async def checkpoint(served: Served, request: Request, member: Member, body: bytes) -> Any:
    """The latest checkpoint, its signed note as any signed-note reader takes it, and (with
    ``?from=SIZE``) the RFC 9162 proof that the tree of that size is a prefix of it: what the
    other party checks, as witness, before it cosigns."""
    since = _number(request, "from")

    def read() -> Any:
        with served.workspace.store.transaction() as tx:
            return {"checkpoint": _latest(tx, since)}

    return await served.run(read)


async def state(served: Served, request: Request, member: Member, body: bytes) -> Any:
    """What a copy of ``?after=SIZE`` events needs besides the events themselves, as of one
    moment: the log's size then, the stated rows (:mod:`ctg_exchange.store.mirror`), and the
    latest checkpoint with its proof from ``?from=SIZE``. One read transaction: a snapshot."""
    from ..store.mirror import stated_rows

    after, since = _number(request, "after", "0"), _number(request, "from")
    assert after is not None

    def read() -> Any:
        with served.workspace.store.transaction() as tx:
            size = tx.count_events()
            if after > size:
                holds = ngettext(
                    "the log holds {size} events, not {after}",
                    "the log holds {size} events, not {after}",
                    size,
                )
                raise Refusal(409, "shorter", holds.format(size=size, after=after))
            return {
                "size": size,
                "checkpoint": _latest(tx, since),
                "rows": stated_rows(tx, after),
            }

    return await served.run(read)


PAGE = 1000  # events per page of the log


async def log(served: Served, request: Request, member: Member, body: bytes) -> Any:
    """The log's events after ``?after=SEQ`` (a page at a time, as `audit export` writes
    them: body, hash, signature), up to ``?upto=SEQ`` if given, with (``?rows=1``) the rows
    written with them: for the other party to copy and verify itself."""
    from ..store.mirror import logged_rows

    after, upto = _number(request, "after", "0"), _number(request, "upto")
    with_rows = request.query_params.get("rows") == "1"
    assert after is not None

    def read() -> Any:
        with served.workspace.store.transaction() as tx:
            first = after + 1
            last = first + PAGE - 1 if upto is None else min(upto, first + PAGE - 1)
            page = [stored.to_json() for stored in tx.events(first=first, last=last)]
            answer: dict[str, Any] = {"events": page, "size": tx.count_events()}
            if with_rows:
                answer["rows"] = logged_rows(tx, first, last)
            return answer

    return await served.run(read)


async def cosign(served: Served, request: Request, member: Member, body: bytes) -> Any:
    """A witness's cosignature of a checkpoint it checked: ``{"note": text, "line": "— …"}``
    (:func:`ctg_exchange.services.witnessing.add_cosignature` checks and keeps it)."""
    return await _signature(served, member, body, cosign=True)


async def sign(served: Served, request: Request, member: Member, body: bytes) -> Any:
    """A member's signature of a checkpoint of the log as it stands, made on their machine
    from their verified copy (``audit checkpoint`` on a remote workspace)."""
    return await _signature(served, member, body, cosign=False)


async def _signature(served: Served, member: Member, body: bytes, *, cosign: bool) -> Any:
    from ..services.witnessing import add_cosignature

    try:
        document = json.loads(body)
    except ValueError:
        raise Refusal(422, "invalid_input", _(NOT_JSON)) from None
    if not isinstance(document, dict) or not all(
        isinstance(document.get(k), str) for k in ("note", "line")
    ):
        raise Refusal(422, "invalid_input", _("a cosignature is {note, line}"))
    note, line = document["note"], document["line"]
    return await served.run(
        lambda: add_cosignature(served.workspace, member, note, line, cosign=cosign)
    )


async def healthz(request: Request) -> Response:
    from starlette.responses import JSONResponse

    served: Served = request.app.state.served
    return JSONResponse(
        {"ok": True, "workspace": served.id, "version": __version__, "simulated": served.simulated}
    )
