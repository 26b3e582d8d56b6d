"""Long texts on the command line: a note, a reason, a justification, a recommendation.

Each such option comes with a ``-file`` twin (``--note`` and ``--note-file FILE``, ``-`` reading
standard input), and given alone on a terminal (``--note`` with no value) opens ``$EDITOR``.
A lone ``-`` or an ``@path`` given as the text itself is refused with the hint to use the file
option: recorded as typed, it would be signed and permanent, and not what was meant.

Commands declare such an option with :func:`text_option`; the command receives the text itself,
whichever way it came, so the services (and a remote workspace's signed calls) take one string
as before. Every message about where a text comes from is in this module.
"""

from __future__ import annotations

import functools
import re
import sys
from collections.abc import Callable
from typing import Any, BinaryIO, TypeVar

import click

from ..errors import InvalidInput
from ..i18n import N_, _

F = TypeVar("F", bound=Callable[..., Any])

MAX_FILE_BYTES = 64 * 1024  # a note is text, not an attachment
_EDIT = "\x00edit"  # the value of an option given without one: write it in the editor
_SHIELD = "\x00text:"  # before a text starting with "-", which click would read as an option
_OPTION = re.compile(r"-[A-Za-z]|--[A-Za-z][\w-]*(=.*)?", re.DOTALL)
# the options declared with text_option(), so that shielded() knows them before any command
# module is imported
TEXT_FLAGS = frozenset(
    {"--note", "--reason", "--justification", "--information", "--l311-mention", "--recommend"}
)
_FILE_NAME = re.compile(r"@\S+")  # "@notes.txt", as curl and some shells read files
_STDIN_READ = "ctg_exchange.stdin_read"  # ctx.meta: standard input is read once
_EDITOR_HEAD = (
    N_("# Write the text of {flag} below, then save and close the editor."),
    N_("# These two lines are removed; an empty text records nothing."),
)


def text_option(
    flag: str,
    *,
    help: str,
    required: bool = False,
    multiple: bool = False,
    default: str | None = None,
) -> Callable[[F], F]:
    """``flag TEXT`` and ``flag-file FILE`` on a command, which receives the text (a tuple of
    texts when ``multiple``) under the flag's own name."""
    assert flag in TEXT_FLAGS, f"{flag}: add it to TEXT_FLAGS"
    name = flag.removeprefix("--").replace("-", "_")
    file_flag = f"{flag}-file"
    file_name = f"{name}_file"
    more = " Repeat for several; they follow the texts given inline." if multiple else ""

    def decorate(func: F) -> F:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            given = kwargs.pop(name)
            files = kwargs.pop(file_name)
            if multiple:
                kwargs[name] = tuple(
                    [_inline(flag, value) for value in given]
                    + [_from_file(file_flag, path) for path in files]
                )
            else:
                kwargs[name] = _one(flag, given, files, required=required, default=default)
            return func(*args, **kwargs)

        file_help = (
            f"Read the text of {flag} from FILE (UTF-8, at most 64 KiB; - reads standard input)."
            + more
        )
        with_file = click.option(
            file_flag, file_name, metavar="FILE", multiple=multiple, default=None, help=file_help
        )(wrapper)
        shown_default = f"  [default: {default}]" if default is not None else ""
        if required:
            shown_default = "  [required]"
        return click.option(  # type: ignore[return-value]
            flag,
            name,
            metavar="TEXT",
            is_flag=False,
            flag_value=_EDIT,
            multiple=multiple,
            default=None,
            help=f"{help} Given alone on a terminal, opens $EDITOR.{shown_default}",
        )(with_file)

    return decorate


def _one(
    flag: str, given: str | None, files: str | None, *, required: bool, default: str | None
) -> str | None:
    file_flag = f"{flag}-file"
    if given is not None and files is not None:
        raise InvalidInput(
            _("give {flag} or {file_flag}, not both").format(flag=flag, file_flag=file_flag)
        )
    if files is not None:
        return _from_file(file_flag, files)
    if given is not None:
        return _inline(flag, given)
    if required:
        raise click.UsageError(
            _(
                "Missing option '{flag}': give the text, {file_flag} FILE, "
                "or {flag} alone on a terminal to write it in $EDITOR."
            ).format(flag=flag, file_flag=file_flag)
        )
    return default


def shielded(args: list[str]) -> list[str]:
    """The command line with each text that starts with a dash (``--note "- point"``,
    ``--note=-5 %``) marked as a text: an option whose value may be left out (for the editor)
    would otherwise take it for the next option."""
    out: list[str] = []
    after_text_flag = False
    for number, arg in enumerate(args):
        if arg == "--":
            return out + args[number:]
        flag, equals, value = arg.partition("=")
        if after_text_flag and len(arg) > 1 and arg[0] == "-" and not _OPTION.fullmatch(arg):
            arg = _SHIELD + arg
        elif flag in TEXT_FLAGS and equals and len(value) > 1 and value[0] == "-":
            arg = f"{flag}={_SHIELD}{value}"
        after_text_flag = arg in TEXT_FLAGS
        out.append(arg)
    return out


def _inline(flag: str, value: str) -> str:
    if value == _EDIT:
        return _edit(flag)
    value = value.removeprefix(_SHIELD)
    typed = value.strip()
    if typed == "-":
        raise InvalidInput(
            _(
                "{flag} - would record a dash, not what standard input holds: nothing recorded"
            ).format(flag=flag),
            hint=_("to read the text from standard input, use {flag}-file -").format(flag=flag),
        )
    if _FILE_NAME.fullmatch(typed):
        raise InvalidInput(
            _("{flag} {typed} would record the file's name, not its text: nothing recorded").format(
                flag=flag, typed=typed
            ),
            hint=_("to read the text from the file, use {flag}-file {path}").format(
                flag=flag, path=typed[1:]
            ),
        )
    return _bounded(flag, value)


def _bounded(where: str, text: str) -> str:
    from ..domain.types import TEXT_MAX_CHARS

    if len(text.strip()) > TEXT_MAX_CHARS:
        raise InvalidInput(
            _("{where}: {count} characters, more than the {max} a recorded text may hold").format(
                where=where, count=len(text.strip()), max=TEXT_MAX_CHARS
            )
        )
    return text


def on_terminal() -> bool:
    """A person at a terminal, who can write in an editor."""
    return sys.stdin.isatty() and sys.stdout.isatty()


def _edit(flag: str) -> str:
    if not on_terminal():
        raise InvalidInput(
            _(
                "{flag} has no text: give it after {flag}, or use {flag}-file FILE "
                "(- for standard input); the editor opens only on a terminal"
            ).format(flag=flag)
        )
    head = [_(line).format(flag=flag) for line in _EDITOR_HEAD]
    try:
        written = click.edit("\n".join(head) + "\n\n", extension=".txt", require_save=True)
    except click.ClickException as exc:
        raise InvalidInput(
            _("the editor could not be run ({reason}): nothing recorded").format(
                reason=exc.message
            ),
            hint=_("set $EDITOR (or $VISUAL), or use {flag}-file FILE").format(flag=flag),
        ) from None
    kept = [line for line in (written or "").splitlines() if line not in head]
    text = "\n".join(kept).strip()
    if not text:
        raise InvalidInput(
            _("{flag}: no text was saved in the editor: nothing recorded").format(flag=flag)
        )
    return _bounded(flag, text)


def _stdin() -> BinaryIO:
    stream: BinaryIO = sys.stdin.buffer
    if sys.stdin.isatty():
        click.echo(_("Reading the text from the terminal; end it with Ctrl-D."), err=True)
    return stream


def _from_file(file_flag: str, path: str) -> str:
    where = f"{file_flag} {path}"
    if path == "-":
        ctx = click.get_current_context()
        if ctx.meta.get(_STDIN_READ):
            raise InvalidInput(
                _("{where}: standard input is read once, for one text only").format(where=where)
            )
        ctx.meta[_STDIN_READ] = True
        data = _stdin().read(MAX_FILE_BYTES + 1)
    else:
        try:
            with open(path, "rb") as handle:
                data = handle.read(MAX_FILE_BYTES + 1)
        except FileNotFoundError:
            raise InvalidInput(_("{where}: no such file").format(where=where)) from None
        except IsADirectoryError:
            raise InvalidInput(_("{where}: a directory, not a file").format(where=where)) from None
        except OSError as exc:
            raise InvalidInput(
                _("{where}: cannot be read ({reason})").format(where=where, reason=exc.strerror)
            ) from None
    if len(data) > MAX_FILE_BYTES:
        raise InvalidInput(
            _("{where}: larger than 64 KiB: a text, not an attachment").format(where=where)
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInput(
            _("{where}: not UTF-8 text (byte {byte} is not): save it as UTF-8").format(
                where=where, byte=exc.start + 1
            )
        ) from None
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise InvalidInput(_("{where}: empty: nothing to record").format(where=where))
    return _bounded(where, text)
