"""The workspace's notification settings: its SMTP server, its webhooks, its messages' language.

They are kept in the database (``meta``, key :data:`KEY`), so that every agent of a shared
PostgreSQL workspace and its server deliver the same way; they hold no secret. The SMTP
password comes from the environment (``CTG_SMTP_PASSWORD``) or from a file whose path only is
kept, readable by its owner alone, read when a message goes out; ``CTG_SMTP_USERNAME`` may
stand for the user name kept.

They are settings of the installation, as the database URL in ``workspace.json`` is: changing
them changes no right and no step of the procedure, so they are not audited events. What a
member is told, and where, is: ``member set`` is signed and logged.
"""

from __future__ import annotations

import json
import os
import stat
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from ..errors import CorruptRow, InvalidInput
from ..i18n import _
from ..store.base import Tx
from .addresses import LOCAL_HOSTS, check_address, check_host, check_webhook_url

KEY = "notify.settings"
SECURITY = ("starttls", "tls", "none")
LANGUAGES = ("fr", "en")
PASSWORD_ENV, USERNAME_ENV = "CTG_SMTP_PASSWORD", "CTG_SMTP_USERNAME"


@dataclass(frozen=True)
class Smtp:
    host: str
    port: int
    security: str  # starttls | tls | none (none: to this machine only)
    sender: str
    username: str | None = None
    password_file: str | None = None

    def credentials(self) -> tuple[str, str] | None:
        """The user name and password to log in with, or None (no login)."""
        username = os.environ.get(USERNAME_ENV) or self.username
        password = os.environ.get(PASSWORD_ENV)
        if password is None and self.password_file is not None:
            password = read_password(Path(self.password_file))
        if username is None and password is None:
            return None
        if username is None or password is None:
            raise InvalidInput(_("SMTP: a user name without a password, or the other way round"))
        return username, password


@dataclass(frozen=True)
class NotifySettings:
    smtp: Smtp | None = None
    webhooks: tuple[str, ...] = ()
    language: str = "fr"

    @property
    def configured(self) -> bool:
        return self.smtp is not None or bool(self.webhooks)

    def to_json(self) -> dict[str, Any]:
        return {
            "smtp": None if self.smtp is None else asdict(self.smtp),
            "webhooks": list(self.webhooks),
            "language": self.language,
        }


@dataclass
class SmtpChange:
    """What ``notify smtp`` sets; None keeps what was set."""

    host: str | None = None
    port: int | None = None
    security: str | None = None
    sender: str | None = None
    username: str | None = None
    password_file: Path | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def load(tx: Tx) -> NotifySettings:
    text = tx.get_meta(KEY)
    if text is None:
        return NotifySettings()
    try:
        data = json.loads(text)
        smtp = data.get("smtp")
        return NotifySettings(
            smtp=None if smtp is None else Smtp(**smtp),
            webhooks=tuple(str(url) for url in data.get("webhooks", ())),
            language=str(data.get("language", "fr")),
        )
    except (ValueError, TypeError, AttributeError):
        raise CorruptRow("meta", KEY) from None


def save(tx: Tx, settings: NotifySettings) -> None:
    tx.set_meta(KEY, json.dumps(settings.to_json(), sort_keys=True))


def changed_smtp(current: Smtp | None, change: SmtpChange) -> Smtp:
    """The SMTP settings ``change`` leads to, each value checked (a one-line refusal)."""
    host = change.host if change.host is not None else current and current.host
    sender = change.sender if change.sender is not None else current and current.sender
    if not host or not sender:
        raise InvalidInput(
            _("the SMTP settings need at least --host and --sender"),
            hint="ctg-exchange notify smtp --host smtp.example.org --sender ctg@example.org",
        )
    host = check_host(host)
    security = change.security or (current.security if current else "starttls")
    if security not in SECURITY:
        raise InvalidInput(
            _("--security takes {choices}").format(choices=", ".join(SECURITY))
        )  # pragma: no cover - click's choice refuses it first
    if security == "none" and host not in LOCAL_HOSTS:
        raise InvalidInput(
            _("--security none sends in clear: only to a server on this machine (127.0.0.1)"),
            hint=_("use starttls (port 587) or tls (port 465)"),
        )
    default_port = {"starttls": 587, "tls": 465, "none": 25}[security]
    port = change.port or (current.port if current and not change.security else default_port)
    if not 0 < port < 65536:
        raise InvalidInput(_("--port takes a number from 1 to 65535"))
    username = change.username if change.username is not None else current and current.username
    if username is not None and (not username or any(ord(c) < 32 for c in username)):
        raise InvalidInput(_("--username must not be empty or hold control characters"))
    password_file = current.password_file if current else None
    if change.password_file is not None:
        read_password(change.password_file)  # readable, by its owner only
        password_file = str(change.password_file.resolve())
    base = current or Smtp(host, port, security, sender)
    return replace(
        base,
        host=host,
        port=port,
        security=security,
        sender=check_address(sender, "--sender"),
        username=username or None,
        password_file=password_file,
    )


def read_password(path: Path) -> str:
    """The first line of ``path``; refused when others may read it (as a key file is)."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            raise InvalidInput(
                _("the password file {path} is accessible by others (mode {mode})").format(
                    path=path, mode=f"{mode:04o}"
                ),
                hint=f"chmod 600 {path}",
            )
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        raise InvalidInput(_("cannot read the password file {path}").format(path=path)) from None
    if not lines or not lines[0]:
        raise InvalidInput(_("the password file {path} is empty").format(path=path))
    return lines[0]


def with_webhook(settings: NotifySettings, url: str) -> NotifySettings:
    url = check_webhook_url(url)
    if url in settings.webhooks:
        raise InvalidInput(_("this webhook is already configured"))
    return replace(settings, webhooks=(*settings.webhooks, url))


def without_webhook(settings: NotifySettings, url: str) -> NotifySettings:
    if url not in settings.webhooks:
        raise InvalidInput(_("no such webhook"), hint=_("`ctg-exchange notify show` lists them"))
    return replace(settings, webhooks=tuple(u for u in settings.webhooks if u != url))
