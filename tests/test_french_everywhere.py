"""Issue 16's acceptance: under a French locale the whole demo, ``--help``, ``request show``,
``dpo inbox``, the errors and every export are French; under ``LANG=C``, English.

The English words looked for are the tool's own: every word of the catalog's English messages
that none of its French translations uses (``request``, ``opinion``, ``approved``…), less codes,
options and the words French shares with English. A French screen that still shows one of them
shows a message the catalog does not translate, or a text built beside it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from click.testing import CliRunner, Result
from openpyxl import load_workbook

from ctg_exchange.cli.app import cli

PO = Path(__file__).resolve().parents[1] / "ctg_exchange/locale/fr/LC_MESSAGES/ctg_exchange.po"
FRENCH = {"LANG": "fr_FR.UTF-8", "CTG_LANG": ""}
ENGLISH = {"LANG": "C", "CTG_LANG": ""}
# words French shares with English or that name things (a file, a format, a law), and words
# of texts a member typed or the policy holds (French, shown as written)
SHARED = frozenset(
    """
    active admin annotations article articles audit bundle conditions convention date dates
    decision direct fiche fiches final france identifier machines
    format formats information minimum normal options option page pages points pricing public
    recommendations recommendation section sections simulation statut stdout support total
    transfer transmission version versions volume zone
    """.split()
)


def _plain(text: str) -> str:
    """A message without placeholders, markup, commands (quoted), options, codes or paths."""
    return re.sub(r"\{[^}]*\}|\[[^\]]*\]|`[^`]*`|'[^'\n]*'|--?[\w-]+|\S*[_./@]\S*", " ", text)


def _words(text: str) -> set[str]:
    """The plain words of a message, in lower case."""
    return {w.lower() for w in re.findall(r"\b[A-Za-z][a-z]{3,}\b", _plain(text))}


def english_words() -> frozenset[str]:
    with PO.open("rb") as handle:
        catalog = read_po(handle, locale="fr")
    english: set[str] = set()
    french: set[str] = set()
    for message in catalog:
        if not message.id:
            continue
        ids: tuple[str, ...] = message.id if isinstance(message.id, tuple) else (str(message.id),)
        strings: tuple[str, ...] = (
            message.string if isinstance(message.string, tuple) else (str(message.string),)
        )
        if message.context in ("status", "verdict", "frequency", "triage", "severity", "review",
                               "sensitive", "role", "action"):  # fmt: skip
            continue  # codes: they stay in --json and files
        for text in ids:
            english |= _words(text)
        for text in strings:
            french |= {w.lower() for w in re.findall(r"\b[A-Za-zÀ-ÿ]+\b", _plain(text))}
    return frozenset(english - french - SHARED)


def codes() -> frozenset[str]:
    """The codes a person types (verdicts, statuses, purpose kinds…): shown as accepted values."""
    import importlib

    from ctg_exchange.labels import KINDS
    from ctg_exchange.policy import shipped_dir
    from ctg_exchange.policy.loader import load_policy

    found = {
        member.value
        for module, name in KINDS.values()
        for member in getattr(importlib.import_module(module), name)
    }
    policy = load_policy(shipped_dir("policies") / "ctg-sceaux-caf92.yaml").policy
    found |= {kind.id for kind in policy.purpose_kinds}
    found |= {"breach", "pseudonymise"}  # a termination case, a recommendation kind
    return frozenset(word for code in found for word in code.split("_"))


ENGLISH_WORDS = english_words() - codes()


def english_in(text: str) -> list[str]:
    """The catalog's English words ``text`` shows, leaving out codes, options, paths and the
    usage line (a command is a command)."""
    text = re.sub(r"^(Utilisation|Usage) ?:.*$", " ", text, flags=re.M)
    return sorted(_words(text) & ENGLISH_WORDS)


def test_the_word_list_is_the_tools_english() -> None:
    """The list holds the words a French screen must not show, and none French shares."""
    assert {"request", "refused", "signed", "deliveries", "holder", "checkpoint"} <= ENGLISH_WORDS
    assert not {"convention", "demande", "avis", "article"} & ENGLISH_WORDS
    assert english_in("the request was refused") == ["refused", "request"]
    assert english_in("la demande DX-2026-0001 est refusée (`request show`, --verdict)") == []


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Result, dict[str, str]]]:
    """The demo, run in French; and the environment that explores the workspace it leaves."""
    target = tmp_path_factory.mktemp("french") / "demo"
    with pytest.MonkeyPatch.context() as patch:
        for name in ("CTG_WORKSPACE", "CTG_KEY_DIR", "CTG_PASSPHRASE", "CTG_MEMBER", "CTG_TODAY"):
            patch.delenv(name, raising=False)
        result = CliRunner(env=FRENCH).invoke(cli, ["demo", "--dir", str(target)])
        assert result.exit_code == 0, result.output
        export = next(line for line in result.stdout.splitlines() if "export " in line)
        env = dict(item.split("=", 1) for item in export.strip().removeprefix("export ").split())
        # what a read caches and a verification remembers stay in the test's own directories
        env.update(XDG_CACHE_HOME=str(target.parent / "cache"),
                   XDG_STATE_HOME=str(target.parent / "state"))  # fmt: skip
        yield result, env


def _run(env: dict[str, str], *args: str, code: int = 0) -> Result:
    result = CliRunner(env=env).invoke(cli, list(args), prog_name="ctg-exchange")
    assert result.exit_code == code, (args, result.output)
    assert "Traceback" not in result.output
    return result


# what a person reads of the workspace the demo left, and the errors they meet in it
READS: tuple[tuple[str, ...], ...] = (
    ("request", "show", "DX-2026-0001"),
    ("request", "list"),
    ("--as", "c.dpo", "dpo", "inbox"),
    ("audit", "log"),
    ("audit", "verify"),
    ("audit", "checkpoints"),
    ("audit", "prove", "--request", "DX-2026-0001"),
    ("convention", "show"),
    ("member", "list"),
    ("keys", "list"),
    ("exchange", "list"),
    ("retention", "list"),
    ("review", "due"),
    ("register", "list"),
    ("register", "show", "CAF92-PARTENAIRES"),
    ("register", "history", "CAF92-PARTENAIRES"),
    ("policy", "show", "categories"),
    ("policy", "show", "purposes"),
)
ERRORS: tuple[tuple[tuple[str, ...], int], ...] = (
    (("request", "show", "DX-2026-9999"), 1),
    (("--as", "c.controller", "decide", "approve", "DX-2026-0001"), 1),
    (("--as", "x.inconnu", "request", "withdraw", "DX-2026-0001", "--reason", "x"), 1),
    (("--as", "c.dpo", "dpo", "opinion", "DX-2026-0001", "--verdict", "nope"), 2),
    (("request", "list", "--nope"), 2),
    (("register", "export", "--format", "csv"), 1),
    (("audit", "show", "9999"), 1),
)


def test_the_demo_and_what_it_leaves_read_french(demo: tuple[Result, dict[str, str]]) -> None:
    result, env = demo
    french = {**env, **FRENCH}
    seen = {"demo": english_in(result.stderr)}
    for args in READS:
        shown = _run(french, *args)
        seen[" ".join(args)] = english_in(shown.stdout + shown.stderr)
    for args, code in ERRORS:
        shown = _run(french, *args, code=code)
        assert shown.stderr.startswith(("ctg-exchange : erreur", "Utilisation :")), shown.stderr
        seen[" ".join(args)] = english_in(shown.stderr)
    left = {where: words for where, words in seen.items() if words}
    assert not left, "\n".join(f"{k}: {v}" for k, v in left.items())


def test_every_export_reads_french(demo: tuple[Result, dict[str, str]], tmp_path: Path) -> None:
    _result, env = demo
    french = {**env, **FRENCH}
    found = {}
    for fmt in ("csv", "html", "md", "xlsx"):
        out = tmp_path / f"registre.{fmt}"
        _run(french, "register", "export", "--controller", "caf92", "--format", fmt,
             "--out", str(out))  # fmt: skip
        if fmt == "xlsx":
            book = load_workbook(out, read_only=True)
            text = "\n".join(
                str(cell) for sheet in book for row in sheet.iter_rows(values_only=True)
                for cell in row if cell is not None
            )  # fmt: skip
        else:
            page = re.sub(
                r"<style.*?</style>", " ", out.read_text(encoding="utf-8-sig"), flags=re.S
            )
            text = re.sub(r"<[^>]+>", " ", page)
        found[fmt] = english_in(text)
    bundle = tmp_path / "controle"
    _run(french, "--as", "c.dpo", "register", "export", "--audit-bundle", str(bundle),
         "--controller", "caf92")  # fmt: skip
    for document in sorted(bundle.rglob("*.md")) + sorted(bundle.rglob("*.txt")):
        found[str(document.relative_to(bundle))] = english_in(document.read_text())
    left = {where: words for where, words in found.items() if words}
    assert not left, "\n".join(f"{k}: {v}" for k, v in left.items())


def test_under_lang_c_the_same_screens_are_english(demo: tuple[Result, dict[str, str]]) -> None:
    _result, env = demo
    english = {**env, **ENGLISH}
    shown = _run(english, "request", "show", "DX-2026-0001").stdout
    assert "status: exchanged" in shown and "History" in shown and "Pre-screening" in shown
    assert "statut" not in shown and "Historique" not in shown
    error = _run(english, "request", "show", "DX-2026-9999", code=1).stderr
    assert error.startswith("ctg-exchange: error:"), error
    usage = _run(english, "request", "list", "--nope", code=2).stderr
    assert "No such option" in usage
    assert _run(english, "--help").stdout.startswith("Usage: ctg-exchange")


def test_every_help_page_shows_none_of_the_catalogs_english() -> None:
    from test_i18n import _help, _paths

    found = {}
    for path in _paths():
        text = _help(path, {**FRENCH, "LC_ALL": None})
        text = re.sub(r"-\n\s*", "-", text)  # a name cut at its hyphen by the wrapping
        text = re.sub(r"^.*ctg-exchange .*$", " ", text, flags=re.M)  # usage, examples
        text = re.sub(r"^  [a-z-]+(?=  )", " ", text, flags=re.M)  # the commands listed
        text = re.sub(r"\[[^\]]*\]|\{[^}]*\}|\b[a-z]+(-[a-z]+)+\b", " ", text)  # choices
        words = english_in(text)
        if words:
            found[" ".join(path)] = words
    assert not found, "\n".join(f"{k}: {v}" for k, v in found.items())


def test_clicks_own_words_are_french(demo: tuple[Result, dict[str, str]]) -> None:
    """Usage errors, placeholders and prompts written by click itself."""
    _result, env = demo
    french = {**env, **FRENCH}
    unknown = _run(french, "request", "list", "--nope", code=2).stderr
    assert "Essayez 'ctg-exchange request list --help' pour l'aide." in unknown
    assert "Erreur : Option inconnue : '--nope'." in unknown
    date = _run(french, "convention", "renew", "--until", "31/12/2031", "--reference", "x",
                code=2).stderr  # fmt: skip
    assert "'31/12/2031' n'est pas une date de la forme AAAA-MM-JJ" in date
    choice = _run(french, "--as", "c.dpo", "dpo", "opinion", "DX-2026-0001", "--verdict", "x",
                  "--note", "n", code=2).stderr  # fmt: skip
    assert "Valeur invalide pour '--verdict'" in choice
    assert "favorable_avec_recommandations" in choice  # the French spellings accepted
    shown = _run(french, "member", "add", "--help").stdout
    assert "--as MEMBRE" in shown and "Utilisation : ctg-exchange member add [OPTIONS]" in shown
    assert "--as MEMBER" in _run({**env, **ENGLISH}, "member", "add", "--help").stdout
