"""The workspace's notification settings, its outbox's state, and its webhook key: what
``ctg-exchange notify`` reads and changes (on the workspace's own machine: the server's, for a
hosted workspace)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from ..crypto.publickey import PublicKey
from ..errors import InvalidInput
from ..i18n import _
from ..notify import settings as notify_settings
from ..notify import webhook
from ..notify.outbox import Delivered, deliver
from ..notify.settings import LANGUAGES, NotifySettings, SmtpChange
from ..store.sql_notify import Queued
from .workspace import Workspace


def show(workspace: Workspace) -> NotifySettings:
    with workspace.store.transaction() as tx:
        return notify_settings.load(tx)


def _change(
    workspace: Workspace, change: Callable[[NotifySettings], NotifySettings]
) -> NotifySettings:
    """Apply ``change`` (which checks its values first) in one write transaction."""
    with workspace.store.transaction(write=True) as tx:
        changed = change(notify_settings.load(tx))
        notify_settings.save(tx, changed)
    return changed


def set_smtp(workspace: Workspace, change: SmtpChange, language: str | None) -> NotifySettings:
    if language is not None and language not in LANGUAGES:
        raise InvalidInput(_("--language takes {choices}").format(choices=", ".join(LANGUAGES)))

    def apply(current: NotifySettings) -> NotifySettings:
        smtp = notify_settings.changed_smtp(current.smtp, change)
        return replace(current, smtp=smtp, language=language or current.language)

    return _change(workspace, apply)


def remove_smtp(workspace: Workspace) -> NotifySettings:
    return _change(workspace, lambda current: replace(current, smtp=None))


def add_webhook(workspace: Workspace, url: str) -> NotifySettings:
    changed = _change(workspace, lambda current: notify_settings.with_webhook(current, url))
    webhook.held_key(workspace, make=True)  # made now: its public key can be published at once
    return changed


def remove_webhook(workspace: Workspace, url: str) -> NotifySettings:
    return _change(workspace, lambda current: notify_settings.without_webhook(current, url))


@dataclass(frozen=True)
class WebhookKey:
    key_id: str
    public_key: PublicKey


def webhook_key(workspace: Workspace) -> WebhookKey:
    """The workspace's webhook signing key (made now, on this machine, if none was), to
    publish: the one the database keeps, whichever machine holds it."""
    webhook.held_key(workspace, make=True)
    registered = webhook.registered_key(workspace)
    assert registered is not None
    return WebhookKey(webhook.key_id(workspace.id), PublicKey.parse(registered))


@dataclass(frozen=True)
class OutboxState:
    pending: list[Queued]  # not yet sent, oldest first (failed ones with their error)
    sent: list[Queued]  # the latest sent


def status(workspace: Workspace, sent: int = 10) -> OutboxState:
    with workspace.store.transaction() as tx:
        return OutboxState(tx.queued(), tx.sent_messages(sent))


def flush(workspace: Workspace) -> Delivered:
    """Send every immediate message waiting, without waiting for its next attempt's time."""
    return deliver(workspace, force=True)
