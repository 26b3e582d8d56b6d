"""The e-mails, as people read them, and their sending over SMTP (the standard library's
:mod:`smtplib`, with a verifying TLS context).

A message carries request ids, statuses, parties' codes and deadlines: never a dataset value,
never the free text of a purpose or a note, never a member's name. What goes into a header
comes from the tool (a request id, a translated text); it is made plain printable text first
all the same, and :mod:`email`'s SMTP policy refuses a line break in a header.
"""

from __future__ import annotations

import re
import smtplib
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, make_msgid
from typing import Any

from ..errors import ExchangeError
from ..i18n import N_, _, date_text, in_language, ngettext
from ..labels import label
from .settings import NotifySettings, Smtp

TIMEOUT_S = 10.0
PREFIX = "[CTG]"
_UNSAFE = re.compile(r"[^\x20-\x7e]")

# why -> (the subject's words, what the reader is to do)
_WHY = {
    "study": (N_("request to study"), N_("Study it: accept it for study, or return it.")),
    "opinion": (N_("opinion awaited"), N_("Give your opinion as the DPO.")),
    "decide": (N_("decision awaited"), N_("The DPO gave their opinion: decide on the request.")),
    "amend": (N_("returned"), N_("The request was returned: amend it, or withdraw it.")),
    "accept_conditions": (
        N_("conditions to accept"),
        N_("The request was approved: accept its conditions before any transfer."),
    ),
    "rejected": (N_("rejected"), N_("The request was rejected.")),
    "withdrawn": (N_("withdrawn"), N_("The request was withdrawn: nothing more to do.")),
    "send": (N_("dataset to send"), N_("The conditions were accepted: the data may be sent.")),
    "receive": (N_("delivery to receive"), N_("A delivery was sent: receive it.")),
    "suspended": (N_("suspended"), N_("The exchange is suspended: nothing is sent meanwhile.")),
    "resumed": (N_("resumed"), N_("The exchange resumed.")),
    "lapsed": (N_("lapsed"), N_("The convention ended: the request closed without transfer.")),
    "closed": (N_("closed"), N_("The yearly review closed the exchange.")),
    "countersign": (
        N_("convention change to countersign"),
        N_("The other party proposed a change of the convention: countersign or discuss it."),
    ),
    "terminated": (N_("convention terminated"), N_("The other party terminated the convention.")),
    "countersigned": (
        N_("convention change countersigned"),
        N_("The other party countersigned the change: it is in effect."),
    ),
    "proposal_withdrawn": (
        N_("convention change withdrawn"),
        N_("The other party withdrew its proposal."),
    ),
}


def plain(text: object) -> str:
    """Text for a header: printable ASCII only (an id read from the database may be anything)."""
    return _UNSAFE.sub("?", str(text))[:120]


def _subject_of(facts: dict[str, Any]) -> str:
    words = _(_WHY.get(str(facts.get("why")), ("?", "?"))[0])
    what = plain(facts.get("request") or _("convention"))
    due = facts.get("deadlines", {}).get("opinion_due")
    if due:
        return _("{prefix} {what}: {words} (by {date})").format(
            prefix=PREFIX, what=what, words=words, date=plain(due)
        )
    return _("{prefix} {what}: {words}").format(prefix=PREFIX, what=what, words=words)


def _lines_of(facts: dict[str, Any]) -> list[str]:
    lines = [_(_WHY.get(str(facts.get("why")), ("", ""))[1])]
    if facts.get("request"):
        lines.append(
            _("Request {request}, from {requester} to {holder}: {status}.").format(
                request=facts["request"],
                requester=facts.get("requester", "?"),
                holder=facts.get("holder", "?"),
                status=label("status", facts["status"]) if facts.get("status") else "?",
            )
        )
    for name, day in sorted(facts.get("deadlines", {}).items()):
        lines.append(_("{name}: {date}").format(name=_deadline_label(name), date=date_text(day)))
    if facts.get("request"):
        command = f"ctg-exchange request show {facts['request']}"
        lines.append(_("See it with: {command}").format(command=command))
    return lines


_DEADLINES = {
    "opinion_due": N_("Opinion due by"),
    "retention_until": N_("Kept until"),
}


def _deadline_label(name: str) -> str:
    return _(_DEADLINES.get(name, name))


def _footer(workspace_id: str) -> list[str]:
    return [
        "",
        "-- ",
        _(
            "Sent by ctg-exchange (workspace {id}). It holds no personal data of the request."
        ).format(id=workspace_id),
        _(
            "Your preference (immediate, daily digest, none) is changed by an admin: {command}."
        ).format(command="ctg-exchange member set"),
    ]


def _message(settings: NotifySettings, to: str, subject: str, body: list[str]) -> EmailMessage:
    assert settings.smtp is not None
    message = EmailMessage(policy=SMTP)
    message["From"] = settings.smtp.sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = format_datetime(_now())
    message["Message-ID"] = make_msgid(domain=settings.smtp.sender.rsplit("@", 1)[1])
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-reply to it
    message.set_content("\n".join(body) + "\n")
    return message


def _now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)


def notification(
    settings: NotifySettings, workspace_id: str, to: str, facts: dict[str, Any]
) -> EmailMessage:
    """The e-mail telling one member of one step."""
    with in_language(settings.language):
        return _message(
            settings, to, _subject_of(facts), [*_lines_of(facts), *_footer(workspace_id)]
        )


@dataclass(frozen=True)
class DigestLine:
    what: str  # a request id, or "convention"
    text: str  # what waits, translated
    due: str | None = None
    overdue: bool = False


def digest(
    settings: NotifySettings,
    workspace_id: str,
    to: str,
    day: str,
    lines: Sequence[DigestLine],
    steps: Sequence[dict[str, Any]],
) -> EmailMessage:
    """The daily digest: what waits on the member, then the day's steps they were to be told of."""
    with in_language(settings.language):
        count = len(lines)
        subject = ngettext(
            "{prefix} {count} item awaits you ({date})",
            "{prefix} {count} items await you ({date})",
            count,
        ).format(prefix=PREFIX, count=count, date=date_text(day))
        body = [_("What awaits you on {date}:").format(date=date_text(day)), ""]
        for line in lines:
            when = ""
            if line.due:
                when = (_(" — overdue since {date}") if line.overdue else _(" — by {date}")).format(
                    date=date_text(line.due)
                )
            body.append(_("- {what}: {text}").format(what=plain(line.what), text=line.text) + when)
        if not lines:
            body.append(_("Nothing waits on you."))
        if steps:
            body += ["", _("Steps since the last digest:")]
            for facts in steps:
                words = _(_WHY.get(str(facts.get("why")), ("?", "?"))[0])
                what = plain(facts.get("request") or _("convention"))
                body.append(_("- {what}: {text}").format(what=what, text=words))
        return _message(settings, to, subject, [*body, *_footer(workspace_id)])


def error_code(exc: BaseException) -> str:
    """What failed, for the outbox and ``notify status``: a kind and a code, never the server's
    text (it may quote an address)."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return "SMTP recipient refused"
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"SMTP {exc.smtp_code}"
    if isinstance(exc, ssl.SSLError):
        return f"TLS {exc.reason or type(exc).__name__}"[:80]
    if isinstance(exc, OSError) and exc.errno is not None:
        return f"{type(exc).__name__} (errno {exc.errno})"
    if isinstance(exc, ExchangeError):
        return exc.message[:200]
    return type(exc).__name__


def send_all(smtp: Smtp, messages: Sequence[tuple[int, EmailMessage]]) -> dict[int, str | None]:
    """Send each message on one connection: by id, None once the server took it, else what
    failed. A connection that fails fails every message not yet taken."""
    results: dict[int, str | None] = {}
    context = ssl.create_default_context()
    try:
        client: smtplib.SMTP
        if smtp.security == "tls":
            client = smtplib.SMTP_SSL(smtp.host, smtp.port, timeout=TIMEOUT_S, context=context)
        else:
            client = smtplib.SMTP(smtp.host, smtp.port, timeout=TIMEOUT_S)
        with client:
            if smtp.security == "starttls":
                client.starttls(context=context)
            credentials = smtp.credentials()
            if credentials is not None:
                client.login(*credentials)
            for message_id, message in messages:
                try:
                    client.send_message(message)
                    results[message_id] = None
                except (smtplib.SMTPRecipientsRefused, smtplib.SMTPDataError) as exc:
                    results[message_id] = error_code(exc)
    except (OSError, smtplib.SMTPException, ExchangeError) as exc:
        failed = error_code(exc)
        for message_id, _sent in messages:
            results.setdefault(message_id, failed)
    return results
