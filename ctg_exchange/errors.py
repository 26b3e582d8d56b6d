"""Typed errors of the core.

The core raises; only ``cli`` prints. Each error carries the process exit code the command line
uses (DESIGN §9): 1 for a refused or invalid action (nothing changed), 3 for an integrity failure
(a broken audit chain, a bad signature, a tampered file), so scripts can tell tampering from a typo.
Messages are one line, lower case, no final period, and never carry personal data.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from .i18n import _, ngettext

Loc = tuple[str | int, ...]


def format_loc(loc: Iterable[str | int]) -> str:
    """``('parties', 0, 'name')`` -> ``parties[0].name``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


class ExchangeError(Exception):
    """Base of every error the toolkit raises on purpose.

    An error is whole when it is made: its message, its hint, the details printed indented
    under it, and its JSON form (:meth:`to_json`) are never set afterwards.
    """

    exit_code = 1
    code = "error"

    def __init__(
        self, message: str, *, hint: str | None = None, details: Sequence[str] = ()
    ) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.details = tuple(details)  # printed indented under the one error line

    def lines(self) -> list[str]:
        """The error line(s): one, unless the error is a list of problems."""
        return [self.message]

    def to_json(self) -> dict[str, Any]:
        """What ``--json`` prints under ``error``."""
        return {"code": self.code, "message": self.message, "exit_code": self.exit_code}


class InvalidInput(ExchangeError):
    """A value given by the user is malformed or refers to nothing."""

    code = "invalid_input"


class InvalidRequest(InvalidInput):
    """A request's values are wrong: ``problems`` holds every one, each a location and what
    is expected there, printed one ``field: message`` line each."""

    def __init__(self, problems: Sequence[tuple[Loc, str]]) -> None:
        self.problems = tuple(problems)
        super().__init__(self.lines()[0] if self.problems else _("invalid request"))

    def lines(self) -> list[str]:
        return [f"{format_loc(loc)}: {message}" for loc, message in self.problems] or [self.message]

    def to_json(self) -> dict[str, Any]:
        return {**super().to_json(), "problems": self.lines()}


class NotFound(ExchangeError):
    """A request, member or event does not exist."""

    code = "not_found"


class WorkspaceError(ExchangeError):
    """The workspace is missing, partial, or from a newer version."""

    code = "workspace"


class KeyFileError(ExchangeError):
    """A key file is missing, unreadable, too open, or the passphrase is wrong."""

    code = "key"


class NotAuthorised(ExchangeError):
    """The acting member may not take this action; ``rule`` names the rule that refuses it."""

    code = "not_authorised"

    def __init__(self, rule: str, message: str, *, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.rule = rule

    def to_json(self) -> dict[str, Any]:
        return {**super().to_json(), "rule": self.rule}


class ClockRefused(ExchangeError):
    """A clock override where the workspace's dates must be the real ones: a usage error."""

    exit_code = 2
    code = "clock"


class InvalidTransition(ExchangeError):
    """The request is not in a state where this step may be taken."""

    code = "invalid_transition"


class Refused(ExchangeError):
    """The procedure forbids this action for a reason named by ``rule`` (e.g. convention ended)."""

    code = "refused"

    def __init__(
        self, rule: str, message: str, *, hint: str | None = None, details: Sequence[str] = ()
    ) -> None:
        super().__init__(message, hint=hint, details=details)
        self.rule = rule

    def to_json(self) -> dict[str, Any]:
        return {**super().to_json(), "rule": self.rule}


class PolicyError(ExchangeError):
    """A policy or request file is invalid; ``problems`` holds one ``path:line: message`` each."""

    code = "policy"

    def __init__(self, problems: list[str]) -> None:
        first = problems[0] if problems else _("invalid file")
        super().__init__(first)
        self.problems = problems

    def lines(self) -> list[str]:
        return list(self.problems)

    def to_json(self) -> dict[str, Any]:
        return {**super().to_json(), "problems": self.problems}


class IntegrityError(ExchangeError):
    """Evidence does not verify: tampering or corruption. Exit code 3."""

    exit_code = 3
    code = "integrity"


class AuditBroken(IntegrityError):
    """The audit log fails to verify. ``where`` names the first failure (``event #12``,
    ``request DX-2026-0001``…); ``failures`` lists every one, as JSON objects."""

    code = "audit_broken"

    def __init__(
        self,
        where: str,
        message: str,
        *,
        seq: int | None = None,
        request: str | None = None,
        failures: list[dict[str, object]] | None = None,
    ) -> None:
        failures = failures or []
        line = _("{where}: {message}")
        shown = [line.format(where=f["where"], message=f["message"]) for f in failures[1:6]]
        more = len(failures) - 1 - len(shown)
        if more > 0:
            shown.append(
                ngettext(
                    "… and {count} more (--json lists them all)",
                    "… and {count} more (--json lists them all)",
                    more,
                ).format(count=more)
            )
        super().__init__(
            _("audit log broken at {where}: {message}").format(where=where, message=message),
            details=shown,
        )
        self.seq = seq
        self.request = request
        self.failures = failures

    def to_json(self) -> dict[str, Any]:
        extra = {"seq": self.seq, "request": self.request, "failures": self.failures}
        return {**super().to_json(), **{k: v for k, v in extra.items() if v}}


class SignatureInvalid(IntegrityError):
    """A signature does not verify against the expected key and namespace."""

    code = "signature_invalid"


class ReplayError(IntegrityError):
    """An audit event the procedure does not allow at its place in the log (reported at its
    sequence number by ``audit verify``)."""

    code = "replay"

    def __init__(self, message: str, *, rule: str | None = None) -> None:
        super().__init__(message)
        self.rule = rule  # set when a rule of the procedure refuses the event


def cut(value: object, limit: int = 80) -> str:
    """A value echoed in a message, cut to ``limit`` characters: a typed id may be huge."""
    text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


class CorruptRow(IntegrityError):
    """A stored row no longer parses as what the tool wrote: it was changed behind its back."""

    code = "corrupt_row"

    def __init__(self, table: str, key: object) -> None:
        super().__init__(
            _(
                "the {table} row {key} is not what the tool writes: it was changed behind the "
                "tool's back"
            ).format(table=table, key=cut(key)),
            hint=_("`audit verify` compares every stored record with the signed log"),
        )
        self.table = table
        self.key = cut(key)

    def to_json(self) -> dict[str, Any]:
        return {**super().to_json(), "table": self.table, "key": self.key}
