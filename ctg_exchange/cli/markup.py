"""Rich's console markup without rich: escaping typed text, and reading markup as plain text.

A pipe or a file gets plain text (:mod:`.console`), so a read command writing to one need not
load rich only to drop the styles of its own messages. These follow rich's markup syntax
(``rich.markup``: a tag is ``[`` then a letter, ``#``, ``/`` or ``@``, up to ``]``; a backslash
before it makes it text); a test holds them to rich's own on tricky text.
"""

from __future__ import annotations

import re

from ..textsafe import visible_controls

_TAG = re.compile(r"(\\*)\[([a-z#/@][^[]*?)]")


def _escaped(match: re.Match[str]) -> str:
    backslashes, tag = match.group(1), match.group(0)[len(match.group(1)) :]
    return f"{backslashes}{backslashes}\\{tag}"


def escape(text: str) -> str:
    """``text`` made inert in markup (what ``rich.markup.escape`` does)."""
    text = _TAG.sub(_escaped, text)
    if text.endswith("\\") and not text.endswith("\\\\"):
        return text + "\\"
    return text


def plain_text(markup: str) -> str:
    """What a piece of markup reads as, without its styles (rich's ``Text.from_markup(…).plain``
    with emoji codes off)."""
    if "[" not in markup:
        return markup
    out: list[str] = []
    position = 0
    for match in _TAG.finditer(markup):
        start, end = match.span()
        if start > position:
            out.append(markup[position:start].replace("\\[", "["))
        backslashes, escaped = divmod(len(match.group(1)), 2)
        out.append("\\" * backslashes)
        if escaped:  # an escaped tag is text
            out.append(match.group(0)[len(match.group(1)) :].replace("\\[", "["))
        position = end
    out.append(markup[position:].replace("\\[", "["))
    return "".join(out)


def shown(text: str) -> str:
    """Typed text, ready to be put into markup: shown as typed, never interpreted."""
    return escape(visible_controls(text))
