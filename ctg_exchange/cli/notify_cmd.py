"""``ctg-exchange notify``: the workspace's SMTP server and webhooks, and its outbox."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ..errors import ExchangeError, InvalidInput
from ..i18n import N_, _, ngettext
from .common import common_options, emit_json, options, say, table

if TYPE_CHECKING:
    from ..notify.settings import NotifySettings
    from ..services.workspace import Workspace


class Undelivered(ExchangeError):
    """Messages the outbox could not deliver (they stay queued)."""

    code = "undelivered"


def local_workspace() -> Workspace:
    """The workspace on this machine: notifications are sent from where it is hosted."""
    from ..services.opening import is_remote

    opts = options()
    if is_remote(opts.workspace_dir):
        raise InvalidInput(
            _("notifications are set and sent where the workspace is hosted, not from a remote"),
            hint=_("run it on the server's machine, in the served workspace"),
        )
    return opts.open_workspace()


@click.group()
def notify() -> None:
    """E-mails and webhooks: the SMTP server, the webhooks, the messages waiting."""


def _print_settings(settings: NotifySettings) -> None:
    if options().json:
        emit_json(settings.to_json())
        return
    smtp = settings.smtp
    if smtp is None:
        say(_("SMTP: not configured (no e-mail is sent)"))
    else:
        login = smtp.username or _("from CTG_SMTP_USERNAME, if set")
        say(
            _("SMTP: {host}:{port} ({security}), from {sender}, user {user}").format(
                host=smtp.host, port=smtp.port, security=smtp.security, sender=smtp.sender,
                user=login,
            )
        )  # fmt: skip
        if smtp.password_file:
            say(_("password read from {path}").format(path=smtp.password_file))
    say(_("messages in: {language}").format(language=settings.language))
    for url in settings.webhooks:
        say(_("webhook: {url}").format(url=url))


@notify.command()
@click.option("--host", help="The SMTP server.")
@click.option("--port", type=int, help="Its port (default: 587 starttls, 465 tls, 25 none).")
@click.option(
    "--security",
    type=click.Choice(["starttls", "tls", "none"]),
    help="STARTTLS, implicit TLS, or none (to 127.0.0.1 only). Default: starttls.",
)
@click.option("--sender", metavar="ADDRESS", help="The From address of every message.")
@click.option("--username", help="The user name to log in with (else CTG_SMTP_USERNAME).")
@click.option(
    "--password-file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="A file (mode 0600) whose first line is the password (else CTG_SMTP_PASSWORD).",
)
@click.option("--language", type=click.Choice(["fr", "en"]), help="The messages' language.")
@click.option("--remove", is_flag=True, help="Stop sending e-mails: forget the SMTP settings.")
@common_options
def smtp(
    host: str | None,
    port: int | None,
    security: str | None,
    sender: str | None,
    username: str | None,
    password_file: Path | None,
    language: str | None,
    remove: bool,
) -> None:
    """Set the SMTP server e-mails are sent through (never its password: that stays in the
    environment or in a file).

    \b
    Example:
      ctg-exchange notify smtp --host smtp.ville.example --sender ctg@ville.example \\
          --username ctg --password-file /etc/ctg/smtp-password
    """
    from ..notify.settings import SmtpChange
    from ..services import notifying

    workspace = local_workspace()
    if remove:
        _print_settings(notifying.remove_smtp(workspace))
        return
    change = SmtpChange(host, port, security, sender, username, password_file)
    _print_settings(notifying.set_smtp(workspace, change, language))


@notify.command()
@common_options
def show() -> None:
    """Show the notification settings (no secret is ever kept).

    \b
    Example:
      ctg-exchange notify show
    """
    from ..services import notifying

    _print_settings(notifying.show(local_workspace()))


@notify.command()
@click.argument("url")
@click.option("--remove", is_flag=True, help="Stop posting to URL.")
@common_options
def webhook(url: str, remove: bool) -> None:
    """Post each step of the procedure to URL (https; http only to 127.0.0.1), signed by the
    workspace's own key (`ctg-exchange notify key` prints it for the receiver).

    \b
    Example:
      ctg-exchange notify webhook https://hooks.caf.example/ctg
    """
    from ..services import notifying

    workspace = local_workspace()
    if remove:
        _print_settings(notifying.remove_webhook(workspace, url))
        return
    _print_settings(notifying.add_webhook(workspace, url))


@notify.command()
@common_options
def key() -> None:
    """Print the public key webhooks are signed with (made at first use), for receivers.

    A receiver verifies each post's RFC 9421 signature (ed25519, keyid as printed) with it.

    \b
    Example:
      ctg-exchange notify key --json
    """
    from ..services import notifying

    found = notifying.webhook_key(local_workspace())
    if options().json:
        emit_json(
            {
                "keyid": found.key_id,
                "public_key": found.public_key.openssh,
                "fingerprint": found.public_key.fingerprint,
            }
        )
        return
    click.echo(f"{found.public_key.openssh} {found.key_id}")


def _queued_json(message: Any) -> dict[str, Any]:
    return {
        "id": message.id,
        "event": message.seq,
        "channel": message.channel,
        "to": message.target,
        "mode": message.mode,
        "request": message.facts.get("request"),
        "attempts": message.attempts,
        "last_error": message.last_error,
        "next_attempt": message.due_at,
        "sent_at": message.sent_at,
        "dropped": _dropped(message),
    }


DROP_REASONS = {  # the codes of :func:`ctg_exchange.notify.outbox.dropped`, as users read them
    "dropped: member revoked": N_("the member was revoked"),
    "dropped: member past its term": N_("the member's term ended"),
    "dropped: no address": N_("the member has no address any more"),
    "dropped: notify none": N_("the member asked for no message"),
}


def _dropped(message: Any) -> bool:
    """Taken out of the queue unsent: its member left, or has no address any more."""
    from ..notify.outbox import DROPPED

    return message.sent_at is not None and (message.last_error or "").startswith(DROPPED)


@notify.command()
@common_options
def status() -> None:
    """List the messages waiting (failed ones with their error) and the latest sent.

    \b
    Example:
      ctg-exchange notify status
    """
    from ..services import notifying

    state = notifying.status(local_workspace())
    if options().json:
        emit_json(
            {
                "pending": [_queued_json(m) for m in state.pending],
                "sent": [_queued_json(m) for m in state.sent],
            }
        )
        return
    out = table(
        _("Messages waiting"), _("event"), _("channel"), _("to"), _("mode"), _("attempts"),
        _("last error"), wrap=_("last error"),
    )  # fmt: skip
    for m in state.pending:
        out.add_row(f"#{m.seq}", m.channel, m.target, m.mode, str(m.attempts), m.last_error or "")
    out.print()
    if not state.pending:
        say(_("Nothing waits in the outbox."))
    for m in (m for m in state.sent if _dropped(m)):
        code = m.last_error or ""
        why = _(DROP_REASONS[code]) if code in DROP_REASONS else code
        say(_("#{seq} to {to}: not sent, {why}").format(seq=m.seq, to=m.target, why=why))


@notify.command()
@common_options
def flush() -> None:
    """Send every message waiting now (a failed one too); exit 1 if some still fail.

    \b
    Example:
      ctg-exchange notify flush
    """
    from ..services import notifying

    done = notifying.flush(local_workspace())
    if options().json:
        emit_json({"sent": done.sent, "failed": done.failed, "pending": done.pending})
    else:
        say(
            ngettext("{count} message sent", "{count} messages sent", done.sent).format(
                count=done.sent
            )
        )
    if done.failed:
        raise Undelivered(
            ngettext(
                "{count} message could not be sent: it stays queued",
                "{count} messages could not be sent: they stay queued",
                done.failed,
            ).format(count=done.failed),
            hint=_("`ctg-exchange notify status` says what failed"),
        )
