"""One request as ``request show`` prints it, read light: its document, history and deliveries
as stored, and its findings in the reader's language.

The request is read from its stored JSON (:mod:`.stored`), its history and deliveries as rows,
the policy in force for its time zone and purpose labels (:func:`.reading.policy_facts`): no
model is built and pydantic, the cryptography and rich stay unloaded. The findings are what
:func:`ctg_exchange.services.requests.findings_as_read` gives, screened again under the policy
version the request names, or read from this machine's cache of such screenings
(:mod:`.cache`); only a screening not yet cached loads the policy model.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from ..domain.states import Status
from ..errors import CorruptRow, ExchangeError, NotFound, cut
from ..i18n import _, language
from .cache import cached, keep
from .reading import Reader, policy_facts
from .stored import stored_request

_STATUSES = frozenset(s.value for s in Status)
_SEVERITIES = frozenset(("blocking", "warning"))


@dataclass(frozen=True)
class RequestScreen:
    """What ``request show`` prints of a request, as stored."""

    request: dict[str, Any]  # :func:`.stored.stored_request`, findings as read
    steps: list[dict[str, Any]]
    deliveries: list[dict[str, Any]]
    time_zone: str  # the policy in force's
    purposes: dict[str, str]  # the policy in force's purpose kinds' labels


def request_screen(reader: Reader, request_id: str) -> RequestScreen:
    """The request ``request_id`` as ``request show`` prints it."""
    with reader.store.reading() as tx:
        doc = tx.request_doc(request_id)
        if doc is None:
            raise NotFound(
                _("no request {id!r}").format(id=cut(request_id)),
                hint=_("`ctg-exchange request list` shows them"),
            )
        request = stored_request(request_id, doc)
        policy = tx.policy_version(request["policy_version"])
        request["findings"] = findings_as_read(request, policy)
        steps = [_step(row) for row in tx.request_steps(request_id)]
        deliveries = [_delivery(request_id, row) for row in tx.request_deliveries(request_id)]
        facts = policy_facts(tx, reader.root)
    return RequestScreen(request, steps, deliveries, facts.time_zone, facts.purposes)


def findings_as_read(
    request: dict[str, Any], policy: tuple[str, str] | None
) -> list[dict[str, Any]]:
    """``request``'s findings with their messages in the reader's language, as
    :func:`ctg_exchange.services.requests.findings_as_read` gives them: screened again under
    the policy version it names (``policy``: its digest and text), when that gives the very
    codes and severities stored; else as stored."""
    stored: list[dict[str, Any]] = request["findings"]
    if not stored or policy is None:
        return stored
    from ..audit.canonical import document_digest

    digest, text = policy
    key = [digest, document_digest(request["content"]), language()]
    again = cached("findings", key)
    if not _findings(again):
        again = screened_again(request, digest, text)
        if again is None:
            return stored
        keep("findings", key, again)
    if sorted((f["code"], f["severity"]) for f in again) != sorted(
        (f["code"], f["severity"]) for f in stored
    ):
        return stored
    shown: list[dict[str, Any]] = again
    return shown


def _findings(value: Any) -> bool:
    """Whether ``value`` is a list of findings as a screening gives them."""
    return isinstance(value, list) and all(
        isinstance(f, dict)
        and list(f) == ["code", "severity", "message", "channel"]
        and isinstance(f["code"], str)
        and f["severity"] in _SEVERITIES
        and isinstance(f["message"], str)
        and (f["channel"] is None or isinstance(f["channel"], str))
        for f in value
    )


def screened_again(request: dict[str, Any], digest: str, text: str) -> list[dict[str, Any]] | None:
    """The findings of screening ``request`` again under the policy of ``text``, or None when
    it cannot be (a text that is not its digest's, a policy that no longer parses)."""
    from ..domain.models import RequestContent
    from ..policy.loader import parse_policy
    from ..policy.screening import screen
    from ..store.rows import parsed_row

    if hashlib.sha256(text.encode("utf-8")).hexdigest() != digest:
        return None
    content = parsed_row(
        "requests", request["id"], RequestContent.model_validate, request["content"]
    )
    try:
        policy = parse_policy(text, f"<policy v{request['policy_version']}>").policy
        findings = screen(policy, content, None).findings
    except ExchangeError:
        return None
    return [finding.model_dump(mode="json") for finding in findings]


def _step(row: tuple[Any, ...]) -> dict[str, Any]:
    seq, at, actor, role, action, from_status, to_status, text = row
    if not isinstance(seq, int) or not {from_status, to_status} <= _STATUSES | {None}:
        raise CorruptRow("request_steps", seq)
    return {
        "seq": seq,
        "at": str(at),
        "actor": str(actor),
        "role": str(role),
        "action": str(action),
        "from_status": from_status,
        "to_status": to_status,
        "text": text,
    }


def _delivery(request_id: str, row: tuple[Any, ...]) -> dict[str, Any]:
    number, sent_by, sent_on, rows, deadline, justification, received_on, received_by = row
    if not isinstance(number, int) or not isinstance(rows, int):
        raise CorruptRow("deliveries", f"{request_id}-{number}")
    return {
        "id": f"{request_id}-{number}",
        "sent_by": str(sent_by),
        "sent_on": str(sent_on),
        "rows": rows,
        "retention_deadline": str(deadline),
        "early": justification is not None,
        "justification": justification,
        "received_on": None if received_on is None else str(received_on),
        "received_by": None if received_by is None else str(received_by),
    }
