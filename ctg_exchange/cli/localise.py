"""``--help`` in the user's language: command and option help translated where click shows it.

Click reads help from docstrings and ``help=`` when a module is imported; the texts stay English
in the source (the catalog's keys). Before each run, :func:`localise` walks the commands about
to be used and sets each help to its translation in the language of the moment (the English
kept aside), so one process can show both. A docstring is translated paragraph by paragraph
(:func:`paragraphs`); a ``\\b`` block of example commands keeps its commands and translates only
its heading. ``tools/catalog.py`` extracts the same paragraphs by the same functions, so every
text shown has its entry.

What click writes itself (``Usage:``, section headings, ``No such option``, prompts) goes
through the ``_`` and ``ngettext`` its modules import from :mod:`gettext`;
:func:`translate_click` points them at click's catalog in the current language
(``locale/fr/LC_MESSAGES/click.po``, extracted from click's sources by ``tools/catalog.py``).
"""

from __future__ import annotations

import importlib
import inspect
import os
import re
import sys
from collections.abc import Iterator

import click

from ..i18n import _, click_gettext, click_ngettext, language, pgettext

# click's modules that call ``_`` or ``ngettext`` (each imported them from gettext); those
# ``import click`` loads (shell_completion's few words are left to completion scripts)
CLICK_MODULES = (
    "core", "decorators", "exceptions", "formatting", "parser", "termui", "types", "utils",
)  # fmt: skip


def translate_click() -> None:
    """Have click write its own messages through click's catalog, in the current language."""
    for name in CLICK_MODULES:
        module = importlib.import_module(f"click.{name}")
        if hasattr(module, "_"):
            module._ = click_gettext  # type: ignore[attr-defined]
        if hasattr(module, "ngettext"):
            module.ngettext = click_ngettext  # type: ignore[attr-defined]


_ORIGINAL = "_ctg_english"  # the English texts of a command, kept on it
_EXAMPLE = re.compile(r"\A\x08\n([^\n]+:)\n((?:  .*(?:\n|\Z))+)\Z")


def paragraphs(text: str) -> list[str]:
    """A help text's paragraphs, as click separates them."""
    return inspect.cleandoc(text).split("\n\n")


def messages(text: str) -> Iterator[str]:
    """The catalog entries of a help text: each paragraph, or an example block's heading."""
    for paragraph in paragraphs(text):
        example = _EXAMPLE.match(paragraph)
        yield example.group(1) if example else paragraph


def translated(text: str) -> str:
    """``text`` in the current language, paragraph by paragraph."""
    if language() == "en":
        return inspect.cleandoc(text)
    out = []
    for paragraph in paragraphs(text):
        example = _EXAMPLE.match(paragraph)
        if example:
            out.append(f"\b\n{_(example.group(1))}\n{example.group(2)}")
        else:
            out.append(_(paragraph))
    return "\n\n".join(out)


def command_texts(command: click.Command) -> Iterator[str]:
    """Every catalog entry of one command's own help (not its subcommands')."""
    for text in (command.help, command.short_help):
        if text:
            yield from messages(text)
    for param in command.params:
        help_text = getattr(param, "help", None)
        if help_text:
            yield from messages(help_text)


def localise(command: click.Command) -> None:
    """Set the help of ``command`` and of its subcommands to the current language."""
    english = getattr(command, _ORIGINAL, None)
    if english is None:
        english = {
            "help": command.help,
            "short_help": command.short_help,
            "params": [getattr(param, "help", None) for param in command.params],
        }
        setattr(command, _ORIGINAL, english)
        command.context_class = LocalContext
    for attribute in ("help", "short_help"):
        text = english[attribute]
        setattr(command, attribute, translated(text) if text else text)
    for param, text in zip(command.params, english["params"], strict=True):
        if text:
            param.help = translated(text)
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            localise(sub)


def error_prefix() -> str:
    """What begins every error line on stderr."""
    return _("ctg-exchange: error:")


def hint_prefix() -> str:
    """What begins the line of advice after an error."""
    return _("ctg-exchange: hint:")


# option helps click makes once, in the language of that moment: shown in the current one
_FROZEN = ("Show this message and exit.", "Show the version and exit.")


def metavars(command: click.Command) -> Iterator[str]:
    """The placeholders one command's help shows (``MEMBER``, ``FILE``…), choices aside:
    each is a catalog entry under the context ``metavar``."""
    ctx = click.Context(command)
    for param in command.params:
        if getattr(param, "is_flag", False) or getattr(param, "count", False):
            continue
        try:
            shown = param.make_metavar(ctx)
        except TypeError:  # click < 8.2
            shown = param.make_metavar()  # type: ignore[call-arg]
        if not shown.startswith("["):
            yield shown
    if isinstance(command, click.Group):
        yield from (command.subcommand_metavar or "").split()
    yield from (command.options_metavar or "").split()


def _metavar(text: str) -> str:
    return pgettext("metavar", text) if language() != "en" else text


def _placeholders(term: str) -> str:
    """``--as MEMBER`` -> ``--as MEMBRE``: an option's placeholder in the current language."""
    option, space, placeholder = term.partition(" ")
    return f"{option}{space}{_metavar(placeholder)}" if placeholder else term


def terminal_columns() -> int:
    """What ``shutil.get_terminal_size().columns`` gives: ``COLUMNS``, the terminal, or 80."""
    try:
        columns = int(os.environ.get("COLUMNS", "0"))
    except ValueError:
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns or 80


class LocalFormatter(click.HelpFormatter):
    """Click's help formatter, with French typography for section headings (``Options :``),
    placeholders (``MEMBER``) and the help of ``--help`` and ``--version`` in the current
    language."""

    def __init__(
        self, indent_increment: int = 2, width: int | None = None, max_width: int | None = None
    ) -> None:
        if width is None and click.formatting.FORCED_WIDTH is None:
            # click's own formula, with the terminal's width read as shutil reads it (importing
            # shutil, for this alone, costs --help more than the rest of the formatting)
            width = max(min(terminal_columns(), max_width or 80) - 2, 50)
        super().__init__(indent_increment, width, max_width)

    def write_usage(self, prog: str, args: str = "", prefix: str | None = None) -> None:
        args = " ".join(_metavar(piece) for piece in args.split(" "))
        super().write_usage(prog, args, prefix)

    def write_dl(self, rows: object, col_max: int = 30, col_spacing: int = 2) -> None:
        from ..i18n import catalog, loaded

        # click made these texts once, in the language of that moment: French ones are known
        # by the French catalog, read only if this process ever spoke French
        frozen = {text: text for text in _FROZEN}
        if language() != "en" or loaded("fr", "click"):
            frozen.update({catalog("fr", "click").gettext(text): text for text in _FROZEN})
        rows = [
            (_placeholders(term), click_gettext(frozen[text]) if text in frozen else text)
            for term, text in rows  # type: ignore[attr-defined]
        ]
        super().write_dl(rows, col_max, col_spacing)

    def write_heading(self, heading: str) -> None:
        if language() != "fr":
            super().write_heading(heading)
            return
        self.write(f"{'':>{self.current_indent}}{heading} :\n")


class LocalContext(click.Context):
    formatter_class = LocalFormatter
