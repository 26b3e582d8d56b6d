"""The one kind of console the tool prints through: it never lets stored text drive the terminal,
and it never shapes what goes to a pipe or a file.

Every text segment rich is about to write has its control characters written out (``\\x1b``),
whatever renderable it came from (a table cell, a panel, a line of markup), so an escape sequence
typed into a purpose or a member's name is shown, never obeyed. Rich's own styling is not text
and is unaffected. Markup in typed text is escaped where the text is put into markup
(:func:`shown`); this is the net under every other place.

On a terminal, rich styles and fits the text to the window. Anywhere else (a pipe, a file) the
console is *plain*: no colour, no wrapping, no emoji codes, so a line read by ``grep`` or
copied from a file is the whole line; tables are then written as tab-separated rows
(:mod:`.common`).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Any

from rich.console import Console, ConsoleOptions, RenderableType
from rich.segment import Segment

from ..textsafe import has_controls, visible_controls
from .markup import plain_text as plain_text
from .markup import shown as shown
from .tty import is_terminal as is_terminal


class InertConsole(Console):
    plain: bool = False  # writing to a pipe or a file: no colour, no wrapping, no padding

    def render(
        self, renderable: RenderableType, options: ConsoleOptions | None = None
    ) -> Iterable[Segment]:
        for segment in super().render(renderable, options):
            if segment.control is None and has_controls(segment.text):
                yield Segment(visible_controls(segment.text), segment.style)
            else:
                yield segment


def console(*, stderr: bool = False, **settings: Any) -> InertConsole:
    """A console on stdout (or stderr): rich on a terminal, plain anywhere else."""
    plain = not is_terminal(sys.stderr if stderr else sys.stdout)
    if plain:
        settings = {**settings, "soft_wrap": True, "color_system": None, "force_terminal": False}
    made = InertConsole(stderr=stderr, highlight=False, emoji=False, **settings)
    made.plain = plain
    return made
