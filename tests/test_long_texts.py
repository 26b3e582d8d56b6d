"""Long texts from a file, standard input or an editor (issue 16, case 5).

``dpo annotate --note -`` and ``--note @file`` were stored literally, signed and permanent. Every
option that takes a note, a reason, a justification or a recommendation has a ``-file`` twin
(``-`` reads standard input) and, given alone on a terminal, opens ``$EDITOR``; a lone ``-`` or
an ``@path`` as the text is refused with the hint.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from ctg_exchange.cli import texts
from ctg_exchange.cli.app import cli

from conftest import Ctg
from served import Server
from test_remote_exchange import Parties

LONG_NOTE = (
    "Avis du DPO (synthétique)\n\n"
    "1. Finalité : tarifer les crèches au barème national ; nécessité établie.\n"
    "2. Minimisation : deux colonnes, aucune donnée de santé.\n\n"
    "« Informer les familles » — CRPA L114-8.\n"
)
TEXT_FLAGS = ("--note", "--reason", "--justification", "--information", "--l311-mention",
              "--recommend")  # fmt: skip


def _opinion_args(ctg: Ctg) -> tuple[str, ...]:
    rid = ctg.file_request()
    ctg.advance(rid, "awaiting_dpo")
    return ("dpo", "opinion", rid, "--verdict", "favourable_with_recommendations")


@pytest.mark.parametrize(
    ("given", "error", "hint"),
    [
        ("-", "--note - would record a dash, not what standard input holds: nothing recorded",
         "use --note-file -"),
        ("@avis.txt", "--note @avis.txt would record the file's name, not its text: nothing "
         "recorded", "use --note-file avis.txt"),
        (" @/tmp/avis.md ", "--note @/tmp/avis.md would record the file's name",
         "use --note-file /tmp/avis.md"),
    ],
)  # fmt: skip
def test_a_dash_or_a_file_name_as_the_text_is_refused(
    ctg: Ctg, given: str, error: str, hint: str
) -> None:
    rid = ctg.file_request()
    refused = ctg.refused("dpo", "annotate", rid, "--note", given, as_="v.dpo", contains=error)
    assert "ctg-exchange: hint: to read the text from " in refused.stderr
    assert hint in refused.stderr


def test_a_text_may_start_with_a_dash(ctg: Ctg) -> None:
    """``--note`` alone opens the editor, yet ``--note "- point"`` is still a text."""
    args = _opinion_args(ctg)
    ctg.ok(*args, "--note", "- premier point ; - second point", "--recommend=-5 % au plus",
           "--recommend", "-- voir l'annexe", as_="c.dpo")  # fmt: skip
    opinion = ctg.show(args[2])["opinion"]
    assert opinion["note"] == "- premier point ; - second point"
    texts_stored = [r["text"] for r in opinion["recommendations"]]
    assert texts_stored == ["-5 % au plus", "-- voir l'annexe"]


def test_a_recommendation_given_as_a_dash_is_refused(ctg: Ctg) -> None:
    ctg.refused(*_opinion_args(ctg), "--note", "Avis", "--recommend", "-", as_="c.dpo",
                contains="--recommend - would record a dash")  # fmt: skip


def test_an_opinion_from_files(ctg: Ctg, tmp_path: Path) -> None:
    """Windows' Notepad saves with a BOM and CRLF: the text recorded is the text written."""
    note, r2 = tmp_path / "avis.txt", tmp_path / "r2.txt"
    note.write_bytes(b"\xef\xbb\xbf" + LONG_NOTE.replace("\n", "\r\n").encode())
    r2.write_text("Informer les familles :\n- par courrier ;\n- sur la facture.\n")
    args = _opinion_args(ctg)
    ctg.ok(*args, "--note-file", str(note), "--recommend", "max_retention_days:180",
           "--recommend-file", str(r2), as_="c.dpo")  # fmt: skip

    opinion = ctg.show(args[2])["opinion"]
    assert opinion["note"] == LONG_NOTE.strip()
    assert [(r["kind"], r["text"]) for r in opinion["recommendations"]] == [
        ("max_retention_days", "max_retention_days:180"),
        ("free", "Informer les familles :\n- par courrier ;\n- sur la facture."),
    ]
    assert ctg("audit", "verify").exit_code == 0


def test_a_recommendation_from_a_file_is_read_as_one_typed(ctg: Ctg, tmp_path: Path) -> None:
    typo = tmp_path / "r1.txt"
    typo.write_text("max_retention:180\n")
    ctg.refused(*_opinion_args(ctg), "--note", "Avis", "--recommend-file", str(typo),
                as_="c.dpo", contains='R1: "max_retention:" is not a checkable kind')  # fmt: skip


def test_a_note_from_standard_input(ctg: Ctg) -> None:
    rid = ctg.file_request()
    annotated = ctg("dpo", "annotate", rid, "--note-file", "-", as_="v.dpo", input=LONG_NOTE)
    assert annotated.exit_code == 0, annotated.output
    assert ctg.show(rid)["annotations"][-1]["note"] == LONG_NOTE.strip()


def test_texts_from_files_at_each_step(ctg: Ctg, tmp_path: Path) -> None:
    """Study, decision against the opinion, conditions, withdrawal: each text from a file."""
    files = {}
    for name in ("study", "return", "justification", "information", "mention", "withdraw"):
        files[name] = tmp_path / f"{name}.txt"
        files[name].write_text(f"Texte « {name} » (fictif)\n\nsur deux paragraphes\n")
    rid = ctg.file_request()
    ctg.ok("study", "accept", rid, "--note-file", str(files["study"]), as_="c.analyst")
    ctg.ok("study", "return", rid, "--reason-file", str(files["return"]), as_="c.analyst")
    ctg.ok("request", "withdraw", rid, "--reason-file", str(files["withdraw"]), as_="v.agent")
    rid = ctg.file_request()
    ctg.advance(rid, "awaiting_dpo")
    ctg.ok("dpo", "opinion", rid, "--verdict", "unfavourable", "--note", "Avis", as_="c.dpo")
    ctg.ok("decide", "approve", rid, "--justification-file", str(files["justification"]),
           as_="c.controller")  # fmt: skip
    ctg.ok("conditions", "accept", rid, "--dpia-ref", "AIPD-1", "--information-file",
           str(files["information"]), "--l311-mention-file", str(files["mention"]),
           as_="v.controller")  # fmt: skip

    shown = ctg.show(rid)
    assert shown["decision"]["text"] == "Texte « justification » (fictif)\n\nsur deux paragraphes"
    assert shown["acceptance"]["information"].startswith("Texte « information »")
    assert shown["acceptance"]["l311_mention"].startswith("Texte « mention »")
    assert ctg("audit", "verify").exit_code == 0


def _refused_file(ctg: Ctg, rid: str, *args: str, contains: str) -> None:
    ctg.refused("dpo", "annotate", rid, *args, as_="v.dpo", contains=contains)


def test_files_that_cannot_be_a_text_are_refused(ctg: Ctg, tmp_path: Path) -> None:
    rid = ctg.file_request()
    big, latin1, empty = tmp_path / "big.txt", tmp_path / "latin1.txt", tmp_path / "empty.txt"
    big.write_text("a" * (64 * 1024 + 1))
    latin1.write_bytes("Avis défavorable".encode("cp1252"))
    empty.write_text(" \n\n")
    _refused_file(
        ctg,
        rid,
        "--note-file",
        str(tmp_path / "absent.txt"),
        contains=f"--note-file {tmp_path / 'absent.txt'}: no such file",
    )
    _refused_file(
        ctg,
        rid,
        "--note-file",
        str(tmp_path),
        contains=f"--note-file {tmp_path}: a directory, not a file",
    )
    _refused_file(
        ctg,
        rid,
        "--note-file",
        str(big),
        contains=f"--note-file {big}: larger than 64 KiB: a text, not an attachment",
    )
    _refused_file(
        ctg,
        rid,
        "--note-file",
        str(latin1),
        contains=f"--note-file {latin1}: not UTF-8 text (byte 7 is not): save it as UTF-8",
    )
    _refused_file(
        ctg,
        rid,
        "--note-file",
        str(empty),
        contains=f"--note-file {empty}: empty: nothing to record",
    )
    _refused_file(ctg, rid, "--note", "Avis", "--note-file", str(empty),
                  contains="give --note or --note-file, not both")  # fmt: skip


def test_a_text_longer_than_a_record_holds_is_refused(ctg: Ctg, tmp_path: Path) -> None:
    long = tmp_path / "long.txt"
    long.write_text("é" * 20001)
    _refused_file(ctg, ctg.file_request(), "--note-file", str(long),
                  contains=f"--note-file {long}: 20001 characters, more than the 20000 a "
                  "recorded text may hold")  # fmt: skip


def test_standard_input_is_read_for_one_text_only(ctg: Ctg) -> None:
    args = _opinion_args(ctg)
    before = ctg.snapshot()
    result = ctg(*args, "--note-file", "-", "--recommend-file", "-", as_="c.dpo", input="Avis")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0] == (
        "ctg-exchange: error: --recommend-file -: standard input is read once, for one text only"
    )
    assert ctg.snapshot() == before


def test_a_missing_text_is_a_usage_error(ctg: Ctg) -> None:
    result = ctg("dpo", "annotate", ctg.file_request(), as_="v.dpo")
    assert result.exit_code == 2
    assert (
        "Missing option '--note': give the text, --note-file FILE, or --note alone on a "
        "terminal to write it in $EDITOR." in result.stderr
    )


def test_the_option_alone_needs_a_terminal(ctg: Ctg) -> None:
    ctg.refused("dpo", "annotate", ctg.file_request(), "--note", as_="v.dpo",
                contains="--note has no text: give it after --note, or use --note-file FILE "
                "(- for standard input); the editor opens only on a terminal")  # fmt: skip


def _editor(tmp_path: Path, text: str | None) -> str:
    """An editor that writes ``text`` under the lines it was given (or saves nothing)."""
    script = tmp_path / "editor.py"
    script.write_text(
        "import sys\n"
        f"text = {text!r}\n"
        "if text is not None:\n"
        "    with open(sys.argv[1], 'a', encoding='utf-8') as f:\n"
        "        f.write(text)\n"
    )
    return f"{sys.executable} {script}"


def test_the_option_alone_on_a_terminal_opens_the_editor(
    ctg: Ctg, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(texts, "on_terminal", lambda: True)
    args = _opinion_args(ctg)
    env = {"EDITOR": _editor(tmp_path, LONG_NOTE), "VISUAL": ""}
    ctg.ok(*args, "--note", "--recommend", "free:Attention : informer", as_="c.dpo", env=env)
    assert ctg.show(args[2])["opinion"]["note"] == LONG_NOTE.strip()

    rid = ctg.file_request()
    unsaved = {"EDITOR": _editor(tmp_path, None), "VISUAL": ""}
    ctg.refused("dpo", "annotate", rid, "--note", as_="v.dpo", env=unsaved,
                contains="--note: no text was saved in the editor: nothing recorded")  # fmt: skip
    broken = {"EDITOR": str(tmp_path / "no-such-editor"), "VISUAL": ""}
    refused = ctg.refused("dpo", "annotate", rid, "--note", as_="v.dpo", env=broken,
                          contains="the editor could not be run (")  # fmt: skip
    assert "ctg-exchange: hint: set $EDITOR (or $VISUAL), or use --note-file FILE" in (
        refused.stderr
    )


def _commands() -> list[tuple[str, click.Command]]:
    ctx = click.Context(cli)
    found = []
    for name in cli.list_commands(ctx):
        group = cli.get_command(ctx, name)
        if isinstance(group, click.Group):
            found += [(f"{name} {sub}", group.commands[sub]) for sub in group.commands]
    return found


def test_every_text_option_has_its_file_twin() -> None:
    """Exhaustive: any command taking a note, reason, justification or recommendation."""
    seen = set()
    for path, command in _commands():
        flags = {flag for param in command.params for flag in getattr(param, "opts", ())}
        for flag in TEXT_FLAGS:
            if flag in flags:
                seen.add(path)
                assert f"{flag}-file" in flags, f"{path}: {flag} without {flag}-file"
    assert {"study accept", "study return", "study submit", "dpo opinion", "dpo annotate",
            "dpo advise", "decide approve", "decide reject", "conditions accept",
            "request withdraw", "retention attest", "exchange suspend", "exchange resume",
            "review record", "member revoke", "register add", "register edit",
            "convention withdraw", "convention terminate"} <= seen  # fmt: skip


def test_the_help_says_how() -> None:
    shown = CliRunner().invoke(cli, ["dpo", "annotate", "--help"], terminal_width=200).stdout
    assert "Given alone on a terminal, opens $EDITOR.  [required]" in shown
    assert (
        "--note-file FILE  Read the text of --note from FILE (UTF-8, at most 64 KiB; - reads"
        in (shown)
    )


def test_texts_from_files_travel_to_a_served_workspace(
    ctg: Ctg, served: Server, tmp_path: Path
) -> None:
    """Read on the member's machine: the signed call carries the text, as if typed."""
    at = Parties(ctg, served.url, tmp_path)
    note, r1 = tmp_path / "avis.txt", tmp_path / "r1.txt"
    note.write_text(LONG_NOTE)
    r1.write_text("free:Attention : informer les familles\n")
    rid = str(at("ville", *("request", "new"), *_request_tail(), as_="v.agent")["id"])
    at("caf", "study", "accept", rid, "--note", "Étude", as_="c.analyst")
    at("caf", "study", "submit", rid, as_="c.analyst")
    opinion = ("dpo", "opinion", rid, "--verdict", "favourable_with_recommendations")
    refused = at.run("caf", *opinion, "--note-file", str(note), "--recommend", "max_retention:90",
                     as_="c.dpo")  # fmt: skip
    assert refused.exit_code == 1
    assert 'R1: "max_retention:" is not a checkable kind' in refused.stderr
    given = at("caf", *opinion, "--note-file", str(note), "--recommend-file", str(r1),
               as_="c.dpo")  # fmt: skip

    assert given["opinion"]["note"] == LONG_NOTE.strip()
    assert given["opinion"]["recommendations"][0]["text"] == "Attention : informer les familles"
    assert ctg("audit", "verify").exit_code == 0


def _request_tail() -> tuple[str, ...]:
    from conftest import REQUEST

    return REQUEST[2:]
