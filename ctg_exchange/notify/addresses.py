"""E-mail addresses and webhook URLs, checked strictly before they are stored.

An address goes into the ``To`` or ``From`` header of a message: anything beyond a plain
``local@domain`` (a display name, a comment, a second address, a line break that would start
a header of its own, a control character) is refused, with one line that does not repeat the
address (it is personal data; the person typed it and sees it on their own screen).
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from ..errors import InvalidInput
from ..i18n import _

# RFC 5322's dot-atom for the local part, ASCII only; a domain of DNS labels with a letter TLD
_LOCAL = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
_DOMAIN = r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}"
_ADDRESS = re.compile(rf"{_LOCAL}@{_DOMAIN}")
MAX_ADDRESS = 254  # RFC 5321's path limit, less the angle brackets
_HOST = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252})|\[?[0-9A-Fa-f:.]+\]?")
LOCAL_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})


def check_address(value: str, option: str = "--email") -> str:
    """``value`` as stored (its domain in lower case), or a one-line refusal."""
    if len(value) > MAX_ADDRESS or not _ADDRESS.fullmatch(value):
        raise InvalidInput(
            _("{option}: not a plain e-mail address (name@domain, without spaces)").format(
                option=option
            ),
            hint=_("give the address alone, without a name or angle brackets"),
        )
    local, domain = value.rsplit("@", 1)
    if len(local) > 64:
        raise InvalidInput(
            _("{option}: the part before @ has more than 64 characters").format(option=option)
        )
    return f"{local}@{domain.lower()}"


def check_host(value: str) -> str:
    if not _HOST.fullmatch(value):
        raise InvalidInput(
            _("--host: not a host name or an IP address: {value!r}").format(value=value[:80])
        )
    return value.strip("[]")


def check_webhook_url(value: str) -> str:
    """An ``https://`` URL (``http://`` only to this machine), without credentials in it."""
    if any(ord(c) < 33 or ord(c) == 127 for c in value) or len(value) > 2000:
        raise InvalidInput(_("the URL must not hold spaces or control characters"))
    parts = urlsplit(value)
    local = parts.hostname in LOCAL_HOSTS
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise InvalidInput(
            _("a webhook URL is https://HOST[:PORT]/PATH, not {value!r}").format(value=value[:80])
        )
    if parts.scheme == "http" and not local:
        raise InvalidInput(
            _("a webhook is posted over https (http only to 127.0.0.1 or localhost)"),
        )
    if parts.username is not None or parts.password is not None or parts.fragment:
        raise InvalidInput(
            _("a webhook URL holds no user name, password or #fragment (the database keeps it)")
        )
    try:
        parts.port  # noqa: B018 - a bad port raises
    except ValueError:
        raise InvalidInput(_("the URL's port is not a number from 1 to 65535")) from None
    return value
