"""The one kind of console the tool prints through: it never lets stored text drive the terminal.

Every text segment rich is about to write has its control characters written out (``\\x1b``),
whatever renderable it came from (a table cell, a panel, a line of markup), so an escape sequence
typed into a purpose or a member's name is shown, never obeyed. Rich's own styling is not text
and is unaffected. Markup in typed text is escaped where the text is put into markup
(:func:`shown`); this is the net under every other place.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rich.console import Console, ConsoleOptions, RenderableType
from rich.markup import escape
from rich.segment import Segment

from ..textsafe import has_controls, visible_controls


class InertConsole(Console):
    def render(
        self, renderable: RenderableType, options: ConsoleOptions | None = None
    ) -> Iterable[Segment]:
        for segment in super().render(renderable, options):
            if segment.control is None and has_controls(segment.text):
                yield Segment(visible_controls(segment.text), segment.style)
            else:
                yield segment


def console(**settings: Any) -> Console:
    return InertConsole(highlight=False, **settings)


def shown(text: str) -> str:
    """Typed text, ready to be put into rich markup: shown as typed, never interpreted."""
    return escape(visible_controls(text))
