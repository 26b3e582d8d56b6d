"""Text a person typed is data, never markup (DESIGN §10).

A purpose, a note or a member's name is shown to other people: on a terminal, where an escape
sequence could clear the screen, rewrite what the reader sees or plant a link; in a spreadsheet,
where a cell starting with ``=`` is a formula that can call out to the network; in HTML (escaped
where it is written). These functions make such text inert for each place, and are idempotent.
"""

from __future__ import annotations

import re

# C0 controls but newline and tab, DEL, C1 controls; the bidirectional marks, overrides and
# isolates that make text read differently from what it is ("Trojan source"); the invisible
# ones (zero-width spaces and joiners, word joiner, invisible operators, byte-order mark) that
# hide what is there; and the line and paragraph separators some terminals break lines on.
_CONTROL = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028\u2029\u202a-\u202e"
    "\u2060-\u2064\u2066-\u2069\ufeff]"
)
# Spreadsheet programs read a cell starting with one of these as a formula (OWASP, "CSV
# injection"): = + - @, and tab or carriage return, which some strip before reading.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible_controls(text: str) -> str:
    """``text`` with every control character written out (``\\x1b``), newlines and tabs kept."""
    return _CONTROL.sub(_visible, text)


def has_controls(text: str) -> bool:
    return _CONTROL.search(text) is not None


def for_spreadsheet(text: str) -> str:
    """A cell's text that no spreadsheet reads as a formula, nor chokes on.

    A cell that would start a formula is prefixed with an apostrophe, as OWASP recommends for
    CSV (spreadsheets show the rest as text). Control characters, which XLSX cannot hold, are
    written out.
    """
    text = visible_controls(text)
    return "'" + text if starts_formula(text) else text


def starts_formula(text: str) -> bool:
    """Whether a spreadsheet could read ``text`` as a formula: it starts with one of
    :data:`FORMULA_START`, once the spaces and line breaks some programs trim are gone."""
    return text.startswith(FORMULA_START) or text.lstrip(" \n\r\t").startswith(FORMULA_START)


def json_inert(document: str) -> str:
    """A JSON document with the control characters JSON leaves raw (DEL, C1, bidirectional
    overrides) written as ``\\u`` escapes: the same values once parsed, inert on a terminal.
    (They can only occur inside strings, where such an escape is valid.)"""
    return _CONTROL.sub(lambda match: f"\\u{ord(match.group()):04x}", document)


_MARKDOWN = re.compile(r"([\\`*_\[\]<>|#!&~])")
_LIST_NUMBER = re.compile(r"^(\d+)([.)])")  # "1. " or "1) " starts an ordered list
_BLOCK_MARK = re.compile(r"^([-+=])")  # a rule, a list item, a setext underline


def for_markdown(text: str) -> str:
    """Typed text inside a Markdown line: no markup, no HTML, no link, one line.

    Every character Markdown or its embedded HTML gives a meaning is backslash-escaped
    (CommonMark shows it as itself), control characters are written out, and line breaks become
    spaces so the text stays inside its list item or table cell.
    """
    one_line = " ".join(visible_controls(text).split("\n")).strip()
    escaped = _MARKDOWN.sub(r"\\\1", one_line)
    # at the start of a line, a rule (---), a list item (+ , - , 1. ) or a setext underline
    # (===): escaped too, for text that stands on a line of its own
    escaped = _LIST_NUMBER.sub(r"\1\\\2", escaped, count=1)
    return _BLOCK_MARK.sub(r"\\\1", escaped, count=1)
