"""The outbox: messages queued in the transaction of the event they report on, delivered after.

:func:`enqueue` runs inside the transaction that appends a step's event (``perform``): the
messages commit with the step or not at all, so a crash or a mail server down loses none, and
an outage never fails the step. :func:`deliver` sends what is due after the commit (the command
that took the step, ``notify flush``, ``remind --send``, a hosted workspace's loop): each
message is first claimed for :data:`LEASE` (another sender leaves it alone meanwhile), then
marked sent, or kept with its attempts, the kind of its last failure (never a server's text),
and the time of its next attempt (:func:`backoff`). A member whose preference is the daily
digest gets theirs in ``remind --send``'s digest, not here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from ..audit.events import StoredEvent, utc_timestamp
from ..domain.actions import CONVENTION_ACTIONS, REQUEST_STEPS, Action
from ..domain.dates import parse_timestamp
from ..domain.states import Status
from ..errors import ExchangeError
from ..i18n import _
from ..store.base import Tx
from ..store.sql_notify import Contact, Queued
from . import settings as notify_settings
from .recipients import told

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from ..services.workspace import Workspace

LEASE = timedelta(minutes=5)
BATCH = 200


DROPPED = "dropped: "  # a message never to be sent: its ``last_error`` (a code, not a sentence)


def dropped(contact: Contact | None, today: str) -> str | None:
    """Why a message to ``contact`` is to be dropped on ``today``, or None: it may be sent."""
    if contact is None or not contact.active:
        return DROPPED + "member revoked"
    if not contact.on(today):
        return DROPPED + "member past its term"
    if contact.email is None:
        return DROPPED + "no address"
    if contact.notify == "none":
        return DROPPED + "notify none"
    return None


def backoff(attempts: int) -> timedelta:
    """The wait before the next attempt, after ``attempts`` failed: 1, 2, 4… minutes, at most
    an hour."""
    return timedelta(minutes=min(2 ** max(attempts - 1, 0), 60))


def _request_facts(
    tx: Tx, workspace: Workspace, stored: StoredEvent
) -> tuple[dict[str, Any], dict[str, Any]] | None:
    request = tx.get_request(stored.event.subject)
    if request is None:
        return None
    deadlines: dict[str, str] = {}
    if request.status is Status.AWAITING_DPO:
        policy = workspace.current_policy(tx).policy
        deadlines["opinion_due"] = request.opinion_due(policy.opinion_deadline_days).isoformat()
    if stored.event.action == Action.SEND.value:
        sent = tx.deliveries(request.id)
        if sent:
            deadlines["retention_until"] = sent[-1].retention_deadline.isoformat()
    facts = {
        "request": request.id,
        "status": request.status.value,
        "requester": request.from_party,
        "holder": request.to_party,
        "deadlines": deadlines,
    }
    parties = {
        "requester": request.from_party,
        "holder": request.to_party,
        "status": request.status,
    }
    return facts, parties


def enqueue(tx: Tx, workspace: Workspace, events: Sequence[StoredEvent], now: str) -> int:
    """Queue, in ``tx``, the messages ``events`` call for; how many were queued."""
    if not events:
        return 0
    settings = notify_settings.load(tx)
    if not settings.configured:
        return 0
    from ..domain.dates import day_of

    today = day_of(now)  # the step's day in France
    contacts = {c.id: c for c in tx.contacts()}
    # a member past its term (an auditor's --until) is told nothing, as a revoked one
    people = [c for c in contacts.values() if c.on(today)]
    queued = 0
    for stored in events:
        event = stored.event
        action = Action(event.action)
        facts: dict[str, Any] = {"seq": event.seq, "time": event.time, "action": event.action}
        parties: dict[str, Any] = {}
        if action in REQUEST_STEPS:
            found = _request_facts(tx, workspace, stored)
            if found is None:
                continue
            facts.update(found[0])
            parties = found[1]
        elif action not in CONVENTION_ACTIONS:
            continue
        for url in settings.webhooks:
            tx.queue_message(event.seq, "webhook", url, "immediate", facts, now)
            queued += 1
        actor = contacts.get(event.actor)
        if settings.smtp is None or actor is None:
            continue
        who = told(action, actor, people, **parties)
        if who is None:
            continue
        for member in who.members:
            contact = contacts[member]
            if contact.email is not None and contact.notify != "none":
                told_facts = {**facts, "why": who.why}
                tx.queue_message(event.seq, "email", member, contact.notify, told_facts, now)
                queued += 1
    return queued


@dataclass(frozen=True)
class Delivered:
    sent: int
    failed: int
    pending: int  # still queued (failed ones included), immediate and digest
    dropped: int = 0  # never to be sent: their member left or has no address any more


def deliver(workspace: Workspace, *, force: bool = False) -> Delivered:
    """Send the immediate messages due (all of them, ``force``: ``notify flush``)."""
    from . import mail, webhook

    now = utc_timestamp()
    key: Ed25519PrivateKey | str | None
    try:
        key = webhook.held_key(workspace)
    except ExchangeError as exc:  # the key file unreadable, or readable by others
        key = exc.message[:200]
    with workspace.store.transaction(write=True) as tx:
        settings = notify_settings.load(tx)
        due = [
            m for m in tx.queued(mode="immediate", due_by=None if force else now)
            if m.channel != "webhook" or key is not None  # else: for the machine that signs
        ][:BATCH]  # fmt: skip
        lease = utc_timestamp(parse_timestamp(now) + LEASE)
        for message in due:
            tx.postpone_message(message.id, lease)
        contacts = {c.id: c for c in tx.contacts()}
    today = workspace.clock().today().isoformat()
    results: dict[int, str | None] = {}
    emails = []
    for message in due:
        if message.channel == "email":
            contact = contacts.get(message.target)
            why = dropped(contact, today)  # revoked, past its term, no address since it was queued
            if why is not None or contact is None or contact.email is None:
                results[message.id] = why
            elif settings.smtp is None:
                results[message.id] = _("SMTP is not configured")
            else:
                address = contact.email
                try:
                    made = mail.notification(settings, workspace.id, address, message.facts)
                except (ValueError, TypeError) as exc:  # a row edited behind the tool's back
                    results[message.id] = type(exc).__name__
                    continue
                emails.append((message.id, made))
    if emails and settings.smtp is not None:
        results.update(mail.send_all(settings.smtp, emails))
    hooks = [m for m in due if m.channel == "webhook"]
    if hooks and key is not None:
        results.update(_post_all(workspace, hooks, key))
    return _record(workspace, due, results)


def _post_all(
    workspace: Workspace, hooks: Sequence[Queued], key: Ed25519PrivateKey | str
) -> dict[int, str | None]:
    """Post each webhook signed with ``key`` (or fail each with what ``key`` says went wrong);
    what failed, by message (never the receiver's text)."""
    from . import webhook

    if isinstance(key, str):
        return {message.id: key for message in hooks}
    results: dict[int, str | None] = {}
    for message in hooks:
        body = webhook.body_of(workspace.id, message.facts)
        try:
            results[message.id] = webhook.post(message.target, body, workspace.id, key)
        except Exception as exc:  # noqa: BLE001 - a URL edited behind the tool's back
            results[message.id] = type(exc).__name__
    return results


def _record(
    workspace: Workspace, due: Sequence[Queued], results: dict[int, str | None]
) -> Delivered:
    now = datetime.fromisoformat(utc_timestamp().replace("Z", "+00:00"))
    failed = gone = 0
    with workspace.store.transaction(write=True) as tx:
        for message in due:
            error = results.get(message.id, _("not sent"))
            if error is None:
                tx.message_sent(message.id, utc_timestamp(now))
            elif error.startswith(DROPPED):
                tx.message_dropped(message.id, utc_timestamp(now), error)
                gone += 1
            else:
                failed += 1
                retry = utc_timestamp(now + backoff(message.attempts + 1))
                tx.message_failed(message.id, error, retry)
        pending = len(tx.queued())
    return Delivered(len(due) - failed - gone, failed, pending, gone)


def deliver_quietly(workspace: Workspace) -> Delivered | None:
    """:func:`deliver`, after a step's commit: whatever fails stays queued, and the step that
    was taken is never reported as failed for it."""
    try:
        return deliver(workspace)
    except Exception:  # noqa: BLE001 - the step is committed; its messages wait in the outbox
        return None
