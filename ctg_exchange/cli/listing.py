"""Lists at the terminal and in a pipe, paged: what ``request list`` and ``audit log`` share.

A list shows the most recent rows (``--limit``, 50 by default; ``--all``) and says on stderr
how many more there are. To a pipe or a file it writes tab-separated lines of plain text, as
every table does (:class:`~.common.Listing`), without loading rich; on a terminal, rich draws
the table. ``--json`` gives the same rows, and with ``--all`` writes them one at a time.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Sequence
from json.encoder import encode_basestring as _text  # in C
from typing import TYPE_CHECKING, Any, TypeVar

import click

from ..i18n import _
from .tty import is_terminal

if TYPE_CHECKING:
    from .console import InertConsole

F = TypeVar("F", bound=Callable[..., Any])
DATE = click.DateTime(formats=["%Y-%m-%d"])


def paging_options(func: F) -> F:
    """``--limit N`` and ``--all``."""
    func = click.option("--all", "show_all", is_flag=True, help="Show every one (no --limit).")(
        func
    )
    return click.option(
        "--limit",
        type=click.IntRange(min=1),
        metavar="N",
        help="Show the N most recent (default 50).",
    )(func)


def page_size(limit: int | None, show_all: bool) -> int | None:
    """How many rows a list shows: None for all of them."""
    from ..errors import InvalidInput
    from ..services.reading import DEFAULT_LIMIT

    if show_all and limit is not None:
        raise InvalidInput(_("--limit and --all cannot go together: give one"))
    return None if show_all else (limit or DEFAULT_LIMIT)


def tell(message: str) -> None:
    """A message without markup for the person (stderr): through rich on a terminal only."""
    if is_terminal(sys.stderr):
        from .common import say

        say(message)
    else:
        click.echo(message, err=True)


def show_rows(
    title: str,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    plain: Callable[[Sequence[Any]], Sequence[str]],
    rich: Callable[[Sequence[Any]], Sequence[str]],
    wrap: str | None = None,
) -> None:
    """Rows as a rich table on a terminal (cells from ``rich``: markup), else as
    tab-separated lines (cells from ``plain``: text), headed by the columns."""
    if is_terminal(sys.stdout):
        from .common import table

        out = table(title, *columns, wrap=wrap)
        for row in rows:
            out.add_row(*rich(row))
        out.print()
        return
    lines = [columns, *(plain(row) for row in rows)]
    click.echo("\n".join("\t".join(tsv_text(cell) for cell in line) for line in lines))


def tsv_text(text: str) -> str:
    """A cell of a tab-separated row from plain text (see :func:`~.common.tsv_cell`)."""
    from ..textsafe import visible_controls

    return visible_controls(text).replace("\t", "\\t").replace("\n", "\\n")


def emit_json_items(items: Iterable[Any]) -> None:
    """A JSON list written one item at a time, the same text as ``emit_json(list(items))``."""
    from ..textsafe import json_inert

    first = True
    for item in items:
        out = ["[\n  " if first else ",\n  "]
        indented(item, "  ", out)
        click.echo(json_inert("".join(out)), nl=False)
        first = False
    click.echo("[]" if first else "\n]")


def indented(value: Any, indent: str, out: list[str]) -> None:
    """``value`` as ``json.dumps(value, ensure_ascii=False, indent=2, default=str)`` writes it
    at ``indent``, appended to ``out``: the same text (a test holds them to each other), about
    twice as fast, as the standard library's indenting encoder is pure Python while this one
    escapes each text in C."""
    kind = type(value)
    if kind is str:
        out.append(_text(value))
    elif kind is dict and value:
        inner = indent + "  "
        opening = "{\n"
        for key, item in value.items():
            out.append(f"{opening}{inner}{_text(key) if type(key) is str else _key(key)}: ")
            indented(item, inner, out)
            opening = ",\n"
        out.append(f"\n{indent}}}")
    elif kind is list and value:
        inner = indent + "  "
        opening = "[\n"
        for item in value:
            out.append(opening + inner)
            indented(item, inner, out)
            opening = ",\n"
        out.append(f"\n{indent}]")
    elif kind is dict:
        out.append("{}")
    elif kind is list:
        out.append("[]")
    elif value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif kind is int:
        out.append(int.__repr__(value))
    else:  # a tuple, a float, anything else: as json writes it
        text = json.dumps(value, ensure_ascii=False, indent=2, default=str)
        out.append(text.replace("\n", "\n" + indent))


def _key(key: Any) -> str:
    return json.dumps({key: 0}, ensure_ascii=False)[1:-4]


class Out:
    """Lines of markup to stdout: through rich on a terminal; as plain text elsewhere, where
    only a line with a tab, which rich expands, goes through rich."""

    def __init__(self) -> None:
        from . import tty

        self.plain = not tty.is_terminal(sys.stdout)
        self._console: InertConsole | None = None
        self._lines: list[str] = []

    @property
    def console(self) -> InertConsole:
        self.flush()
        if self._console is None:
            from .common import stdout

            self._console = stdout()
        return self._console

    def print(self, markup: str) -> None:
        from .markup import plain_text

        if self.plain and "\t" not in markup:
            self._lines.append(plain_text(markup))
            if len(self._lines) >= 1000:
                self.flush()
        else:
            self.console.print(markup)

    def flush(self) -> None:
        if self._lines:
            click.echo("\n".join(self._lines))
            self._lines = []
