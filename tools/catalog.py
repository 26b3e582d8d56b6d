"""The French catalog: extract the messages, update ``fr.po``, compile the ``.mo`` shipped.

    python tools/catalog.py            # rewrite messages.pot, fr.po (new: untranslated), the .mo
    python tools/catalog.py --check    # exit 1 if one is stale or a message lacks French
    python tools/catalog.py --merge OTHER.po   # also take the French OTHER.po has (a branch's)

Messages come from two places: every ``_()``, ``ngettext()``, ``pgettext()`` and ``N_()`` call in
``ctg_exchange`` (Babel's Python extractor), and the help of every command and option, read from
the click command tree paragraph by paragraph as ``cli/localise.py`` translates it (and each
group's summary, as the root ``--help`` shows it). Locations carry no line numbers, so moving
code does not make the catalog stale.

Click's own messages (``Usage:``, ``No such option``…) have a catalog of their own,
``click.po``, extracted from the installed click: a click release with new messages leaves them
English (reported, not an error) until this script is run and they are translated; its ``.mo``
must be the compiled ``.po``. ``tests/test_i18n.py`` runs the check. Babel is needed
here only (the test extras); at run time the standard library's ``gettext`` reads the ``.mo``.
"""

from __future__ import annotations

import datetime as dt
import importlib
import inspect
import io
import sys
from pathlib import Path

import click
from babel.messages.catalog import Catalog, Message
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_file
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "ctg_exchange"
LOCALE = PACKAGE / "locale"
POT = LOCALE / "messages.pot"
PO = LOCALE / "fr" / "LC_MESSAGES" / "ctg_exchange.po"
MO = LOCALE / "fr" / "LC_MESSAGES" / "ctg_exchange.mo"
CLICK_PO = LOCALE / "fr" / "LC_MESSAGES" / "click.po"
CLICK_MO = LOCALE / "fr" / "LC_MESSAGES" / "click.mo"
FIXED = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)  # the files change only when messages do
sys.path.insert(0, str(ROOT))

from ctg_exchange.cli.app import COMMANDS, cli, summary  # noqa: E402
from ctg_exchange.cli.localise import command_texts, metavars  # noqa: E402
from ctg_exchange.labels import KINDS  # noqa: E402


def _new_catalog(locale: str | None = None, domain: str = "ctg_exchange") -> Catalog:
    return Catalog(
        locale=locale,
        domain=domain,
        project=domain.replace("_", "-"),
        version="",
        copyright_holder="",
        msgid_bugs_address="",
        creation_date=FIXED,
        revision_date=FIXED,
        fuzzy=False,
    )


def _commands(command: click.Command, path: str) -> list[tuple[click.Command, str]]:
    found = [(command, path)]
    if isinstance(command, click.Group):
        ctx = click.Context(command)
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            assert sub is not None
            found += _commands(sub, f"{path} {name}".strip())
    return found


def template() -> Catalog:
    """Every message of the tool, as ``messages.pot`` holds them."""
    catalog = _new_catalog()
    for path in sorted(PACKAGE.rglob("*.py")):
        where = path.relative_to(ROOT).as_posix()
        for _line, message, comments, context in extract_from_file(
            "python", path, keywords=DEFAULT_KEYWORDS
        ):
            catalog.add(message, locations=[(where, 0)], auto_comments=comments, context=context)
    for command, _name in _commands(cli, ""):
        # the command's own module (not click's wrapper's), wherever the environment is
        found = (
            inspect.getsourcefile(inspect.unwrap(command.callback)) if command.callback else None
        )
        source = Path(found).resolve() if found else None
        inside = source is not None and source.is_relative_to(PACKAGE)
        where = source.relative_to(ROOT).as_posix() if source and inside else "ctg_exchange/cli"
        for message in command_texts(command):
            catalog.add(message, locations=[(where, 0)])
        for placeholder in metavars(command):
            catalog.add(placeholder, locations=[(where, 0)], context="metavar")
    for module, attribute in COMMANDS.values():
        where = f"ctg_exchange/cli/{module}.py"
        catalog.add(summary(module, attribute), locations=[(where, 0)])
    for kind, (module, enum_name) in KINDS.items():
        where = module.replace(".", "/") + ".py"
        for member in getattr(importlib.import_module(module), enum_name):
            catalog.add(member.value, locations=[(where, 0)], context=kind)
    return catalog


def click_template() -> Catalog:
    """Click's own messages, from the installed click's sources."""
    catalog = _new_catalog(domain="click")
    package = Path(click.__file__).parent
    for path in sorted(package.glob("*.py")):
        for _line, message, _comments, context in extract_from_file(
            "python", path, keywords={"_": None, "ngettext": (1, 2)}
        ):
            catalog.add(message, locations=[(f"click/{path.name}", 0)], context=context)
    catalog.add("required", locations=[("click/core.py", 0)])  # _(extra["required"])
    return catalog


def click_build() -> tuple[bytes, bytes, list[str]]:
    """click.po brought up to the installed click, its .mo, and what lacks French."""
    french = (
        read_po(CLICK_PO.open("rb"), locale="fr", domain="click")
        if CLICK_PO.exists()
        else _new_catalog("fr", "click")
    )
    french.update(click_template(), no_fuzzy_matching=True)
    french.creation_date = french.revision_date = FIXED
    missing = [str(m.id) for m in french if m.id and _untranslated(m)]
    return _text(french), _mo(french), missing


def _text(catalog: Catalog) -> bytes:
    out = io.BytesIO()
    write_po(out, catalog, width=100, sort_output=True, include_lineno=False, ignore_obsolete=True)
    return out.getvalue()


def _mo(catalog: Catalog) -> bytes:
    out = io.BytesIO()
    write_mo(out, catalog)
    return out.getvalue()


def _untranslated(message: Message) -> bool:
    """No French, or only some of a plural's forms, or a guess (fuzzy)."""
    forms = message.string if isinstance(message.string, tuple) else (message.string,)
    return message.fuzzy or not all(forms)


def _read(path: Path) -> Catalog:
    with path.open("rb") as handle:
        return read_po(handle, locale="fr", domain="ctg_exchange")


def build(others: tuple[Path, ...] = ()) -> tuple[bytes, bytes, bytes, list[str]]:
    """The .pot, the updated .po and the .mo, and what lacks a French translation.

    ``others`` are other catalogs (another branch's ``.po``): a message this one has no French
    for takes theirs."""
    pot = template()
    french = _read(PO) if PO.exists() else _new_catalog("fr")
    for other in others:
        for message in _read(other):
            if not message.id or _untranslated(message):
                continue
            ours = french.get(message.id, context=message.context)
            if ours is None:
                french.add(message.id, message.string, context=message.context)
            elif _untranslated(ours):
                ours.string, ours.flags = message.string, set()
    french.update(pot, no_fuzzy_matching=True)
    french.creation_date = french.revision_date = FIXED
    missing = [str(message.id) for message in french if message.id and _untranslated(message)]
    return _text(pot), _text(french), _mo(french), missing


def main() -> int:
    args = sys.argv[1:]
    others = tuple(Path(args[i + 1]) for i, arg in enumerate(args[:-1]) if arg == "--merge")
    pot, po, mo, missing = build(others)
    click_po, click_mo, click_missing = click_build()
    files = ((POT, pot), (PO, po), (MO, mo))
    if "--check" in sys.argv[1:]:
        stale = [path for path, data in files if not path.exists() or path.read_bytes() != data]
        if CLICK_PO.exists():  # its .mo compiled from it as it is, whatever click is installed
            compiled = _mo(read_po(CLICK_PO.open("rb"), locale="fr", domain="click"))
            if not CLICK_MO.exists() or CLICK_MO.read_bytes() != compiled:
                stale.append(CLICK_MO)
        for path in stale:
            print(
                f"{path.relative_to(ROOT)} is stale: run python tools/catalog.py", file=sys.stderr
            )
        for message in missing:
            print(f"no French translation: {message!r}", file=sys.stderr)
        if click_missing:
            print(
                f"note: {len(click_missing)} click message(s) without French in "
                f"{CLICK_PO.relative_to(ROOT)} (they show in English)",
                file=sys.stderr,
            )
        return 1 if stale or missing else 0
    for path, data in (*files, (CLICK_PO, click_po), (CLICK_MO, click_mo)):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    for name, count in ((PO, len(missing)), (CLICK_PO, len(click_missing))):
        if count:
            print(f"{count} message(s) without French in {name.relative_to(ROOT)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
