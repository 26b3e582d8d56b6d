"""Issue 16: the messages the services raise (refusals, errors, hints) are French under a French
locale (``CTG_LANG=fr``), and the same messages unchanged in English; what the services record
in the log stays the same text whatever the locale.

Each case runs the command a user runs, through the CLI, once in each language.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from test_french_law import AGGREGATES  # counts without what they count: COUNTS_UNDECLARED

from conftest import REQUEST, Ctg

LATER = {"CTG_TODAY": "2026-02-02"}  # the shipped convention ended on 2025-12-31

# (arguments, acting member, what the refusal says in French, and in English); TMP is replaced
# by the test's own directory
CASES = [
    pytest.param(
        ("request", "show", "DX-2099-0001"),
        None,
        ["pas de demande 'DX-2099-0001'", "`ctg-exchange request list` les affiche"],
        ["no request 'DX-2099-0001'", "`ctg-exchange request list` shows them"],
        id="unknown-request",
    ),
    pytest.param(
        ("convention", "lapse"),
        "v.agent",
        [
            "seul un administrateur enregistre la vie de la convention : v.agent est staff de "
            "ville_sceaux"
        ],
        ["only an admin records the convention's life: v.agent is staff of ville_sceaux"],
        id="member-not-allowed",
    ),
    pytest.param(
        ("request", "withdraw", "DX-2099-0001", "--reason", "Test"),
        "x.nobody",
        ["membre inconnu 'x.nobody'", "`ctg-exchange member list` les affiche"],
        ["unknown member 'x.nobody'", "`ctg-exchange member list` shows them"],
        id="unknown-member",
    ),
    pytest.param(
        AGGREGATES,
        "v.agent",
        ["dépôt refusé : COUNTS_UNDECLARED"],
        ["filing refused: COUNTS_UNDECLARED"],
        id="filing-refused",
    ),
    pytest.param(
        ("exchange", "send", "DX-2025-0001", "--dataset", "TMP/qf.csv", "--early"),
        "c.agent",
        ["--early demande --justification : pourquoi cette transmission ne peut attendre"],
        ["--early needs --justification: why this delivery cannot wait"],
        id="send-refused",
    ),
    pytest.param(
        ("exchange", "receive", "DX-2025-0001-1", "--out", "TMP/recu.csv"),
        "v.agent",
        ["pas de fichier de paquet 'DX-2025-0001-1'"],
        ["no package file 'DX-2025-0001-1'"],
        id="receive-refused",
    ),
    pytest.param(
        ("retention", "attest", "DX-2025-0001-1", "--note", "Supprimé à la main"),
        "v.agent",
        ["pas de transmission reçue 'DX-2025-0001-1'"],
        ["no received delivery 'DX-2025-0001-1'"],
        id="retention-not-received",
    ),
    pytest.param(
        ("retention", "attest", "DX2025", "--note", "Supprimé à la main"),
        "v.agent",
        ["'DX2025' n'est pas un identifiant de transmission comme DX-2026-0001-1"],
        ["'DX2025' is not a delivery id like DX-2026-0001-1"],
        id="retention-bad-id",
    ),
    pytest.param(
        ("audit", "export", "--to", "9999", "--out", "TMP/export.jsonl"),
        None,
        ["--to 9999 : le journal compte ", " événements"],
        ["--to 9999: the log has ", " events"],
        id="count",
    ),
]


def _refused(ctg: Ctg, monkeypatch: pytest.MonkeyPatch, lang: str, args: list[str],
             as_: str | None) -> str:  # fmt: skip
    """Run a command in ``lang`` that must be refused (exit 1); its stderr."""
    monkeypatch.setenv("CTG_LANG", lang)
    result = ctg(*args, as_=as_)
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    return result.stderr


@pytest.mark.parametrize(("args", "as_", "french", "english"), CASES)
def test_a_refusal_in_french_and_in_english(
    ctg: Ctg,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    args: tuple[str, ...],
    as_: str | None,
    french: list[str],
    english: list[str],
) -> None:
    """The refusal says each of ``french`` in French, each of ``english`` in English, and
    neither says the other's."""
    (tmp_path / "qf.csv").write_text("numero_allocataire,quotient_familial\n9000001,412\n")
    argv = [arg.replace("TMP", str(tmp_path)) for arg in args]
    said = _refused(ctg, monkeypatch, "fr", argv, as_)
    assert said.startswith("ctg-exchange : erreur : "), said
    assert all(text in said for text in french), said
    assert not any(text in said for text in english), said
    said = _refused(ctg, monkeypatch, "en", argv, as_)
    assert said.startswith("ctg-exchange: error: "), said
    assert all(text in said for text in english), said
    assert not any(text in said for text in french), said


def test_a_lapse_records_the_same_text_in_every_locale(
    ctg: Ctg, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reason a lapse records is hashed in its event: a member's client, foreseeing the
    event in its own language, must make the very bytes the server makes in its own."""
    rid = ctg.json(*REQUEST, as_="v.agent")["id"]
    monkeypatch.setenv("CTG_LANG", "fr")
    ctg.ok("convention", "lapse", as_="v.admin", env=LATER)
    (step,) = [s for s in ctg.show(rid)["history"] if s["action"] == "request.lapse"]
    assert step["text"] == (
        "lapsed: the convention ctg-sceaux-caf92 ended on 2025-12-31 and renews only by "
        "express decision (Article 10)"
    )
