"""Issue 16: the messages of the keys, packages, datasets and the hosted workspace are French
under a French locale (``CTG_LANG=fr``) and unchanged in English.

What travels or is signed does not change with the language: a server's error keeps its
``code``, a signed call its headers. A dataset's refusal names columns and rows, never a cell's
value, in either language.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import httpx
import pytest

from ctg_exchange.crypto.keys import KeyDir
from ctg_exchange.errors import ExchangeError, InvalidInput, KeyFileError
from ctg_exchange.exchange.dataset import count_rows
from ctg_exchange.exchange.dialect import Dialect, sniff
from ctg_exchange.remote import httpsig

from conftest import Ctg, State
from served import WORKSPACE_OF, Server, call, key

FRENCH = {"CTG_LANG": "fr"}
ENGLISH = {"CTG_LANG": "en"}
SECRET = "Dupont-Canary-1850799"  # a cell's value: never in a message


def _accepted(ctg: Ctg) -> None:
    """Both parties' decryption identities, and a QF request with accepted conditions."""
    ctg.ok("keys", "generate", "--party", "ville_sceaux", "--encryption", as_="v.admin")
    ctg.ok("keys", "generate", "--party", "caf92", "--encryption", as_="c.admin")
    rid = ctg.file_request()
    ctg.advance(rid, "awaiting_dpo")
    ctg.ok("dpo", "opinion", rid, "--verdict", "favourable", "--note", "Avis", as_="c.dpo")
    ctg.ok("decide", "approve", rid, as_="c.controller")
    ctg.accept_conditions(rid)


@pytest.fixture
def accepted(state: State) -> tuple[Ctg, str]:
    ctg = state("french-wire-accepted", _accepted)
    return ctg, ctg.json("request", "list")[0]["id"]


def _error(ctg: Ctg, *args: str, as_: str, env: dict[str, str], code: int) -> str:
    """The stderr of a refused command, checked for its exit code."""
    result = ctg(*args, as_=as_, env=env)
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    return result.stderr


def _message(error: pytest.ExceptionInfo[ExchangeError]) -> str:
    return error.value.message


def test_a_wrong_passphrase(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    keys = KeyDir(tmp_path / "keys")
    keys.generate("v.agent", "bonne phrase secrète", rounds=1)
    path = keys.private_path("v.agent")

    monkeypatch.setenv("CTG_LANG", "fr")
    with pytest.raises(KeyFileError) as french:
        keys.open_signer("v.agent", "mauvaise phrase")
    with pytest.raises(InvalidInput) as short:
        keys.generate("v.other", "court")
    monkeypatch.setenv("CTG_LANG", "en")
    with pytest.raises(KeyFileError) as english:
        keys.open_signer("v.agent", "mauvaise phrase")

    assert _message(french) == f"phrase secrète erronée pour la clé {path}"
    assert _message(short) == "la phrase secrète doit compter au moins 8 caractères"
    assert _message(english) == f"wrong passphrase for the key {path}"


@pytest.mark.parametrize(
    ("damage", "french", "english"),
    [
        (
            lambda p: p.write_bytes(b"not a tar file at all" * 40),
            "le paquet n'est pas une archive tar valide (tronqué ?)",
            "the package is not a valid tar archive (truncated?)",
        ),
        (
            lambda p: p.write_bytes(p.read_bytes() + b"unsigned extra"),
            "le paquet ne se termine pas comme le prévoit le format (des données suivent la fin)",
            "the package does not end as the format says (data after the end)",
        ),
    ],
    ids=["garbage", "data-after-the-end"],
)
def test_a_tampered_package(
    accepted: tuple[Ctg, str], tmp_path: Path, damage: object, french: str, english: str
) -> None:
    ctg, rid = accepted
    dataset = tmp_path / "qf.csv"
    dataset.write_text("numero_allocataire,quotient_familial\n9000001,512\n", encoding="utf-8")
    package = tmp_path / "p.ctgx"
    ctg.ok("exchange", "send", rid, "--dataset", str(dataset), "--out", str(package), as_="c.agent")
    damage(package)  # type: ignore[operator]
    receive = ("exchange", "receive", str(package), "--out", str(tmp_path / "in.csv"))

    in_french = _error(ctg, *receive, as_="v.agent", env=FRENCH, code=3)
    in_english = _error(ctg, *receive, as_="v.agent", env=ENGLISH, code=3)

    assert f"ctg-exchange : erreur : {french}" in in_french.splitlines()
    assert f"ctg-exchange: error: {english}" in in_english.splitlines()
    assert not (tmp_path / "in.csv").exists()


def test_an_unapproved_column_names_columns_never_values(
    accepted: tuple[Ctg, str], tmp_path: Path
) -> None:
    ctg, rid = accepted
    dataset = tmp_path / "bad.csv"
    dataset.write_text(
        f"numero_allocataire,quotient_familial,nom\n9000001,512,{SECRET}\n", encoding="utf-8"
    )
    send = ("exchange", "send", rid, "--dataset", str(dataset), "--out", str(tmp_path / "p"))

    in_french = _error(ctg, *send, as_="c.agent", env=FRENCH, code=1)
    in_english = _error(ctg, *send, as_="c.agent", env=ENGLISH, code=1)

    assert f"ctg-exchange : erreur : colonne non approuvée pour {rid} : nom (approuvées : " in (
        in_french
    )
    assert f"ctg-exchange: error: column(s) not approved for {rid}: nom (approved: " in in_english
    assert SECRET not in in_french + in_english


def test_row_and_dialect_refusals(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rows = tmp_path / "rows.csv"
    rows.write_text(f"a,b\n1,2\n3,{SECRET},4\n", encoding="utf-8")
    mixed = tmp_path / "mixed.csv"
    mixed.write_bytes(b"a,b\r\n1,2\n3,4\n")

    monkeypatch.setenv("CTG_LANG", "fr")
    with pytest.raises(InvalidInput) as row_fr:
        count_rows(rows, 2, Dialect())
    with pytest.raises(InvalidInput) as ends_fr:
        sniff(mixed)
    tab = Dialect(delimiter="\t", bom=True, line_ending="crlf").describe()
    monkeypatch.setenv("CTG_LANG", "en")
    with pytest.raises(InvalidInput) as row_en:
        count_rows(rows, 2, Dialect())

    assert _message(row_fr) == "la ligne 2 a 3 champs, l'en-tête 2 (séparateur ',')"
    assert _message(row_en) == "row 2 has 3 fields, the header 2 (delimiter ',')"
    assert SECRET not in _message(row_fr) + _message(row_en)
    assert _message(ends_fr) == (
        f"{mixed} : les fins de ligne sont mélangées : 1 CRLF et 2 LF "
        "(la ligne 1 se termine par CRLF, la ligne 2 non)"
    )
    assert ends_fr.value.hint is not None and ends_fr.value.hint.startswith("enregistrez-le")
    assert tab == "tabulation, UTF-8 avec BOM, CRLF"


def test_the_server_translates_its_message_never_its_code(
    ctg: Ctg, served: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctg.ok("member", "revoke", "v.agent", "--reason", "Départ (test)", as_="v.admin")
    signer = key(ctg, "v.agent")

    monkeypatch.setenv("CTG_LANG", "fr")
    french = call(served.url, signing_key=signer).json()["error"]
    unsigned = httpx.post(served.url + "/v1/whoami", timeout=10).json()["error"]
    monkeypatch.setenv("CTG_LANG", "en")
    english = call(served.url, signing_key=signer).json()["error"]

    assert french["code"] == english["code"] == "revoked"
    assert re.fullmatch(r"v\.agent a été révoqué le \d{1,2}(er)? [a-zéû]+ \d{4}", french["message"])
    assert re.fullmatch(r"v\.agent was revoked on \d{4}-\d{2}-\d{2}", english["message"])
    assert unsigned == {
        "code": "unauthenticated",
        "message": "l'appel n'est pas signé (Signature et Signature-Input de la RFC 9421)",
    }


def test_what_is_signed_does_not_depend_on_the_language(
    ctg: Ctg, monkeypatch: pytest.MonkeyPatch
) -> None:
    signer = key(ctg, "v.agent")
    now = dt.datetime(2026, 12, 7, 9, 30, tzinfo=dt.UTC)
    message = httpsig.Message("POST", "https://h.example/v1/call/x", {"Content-Type": "json"})

    def signed() -> dict[str, str]:
        return httpsig.sign(
            message, b"{}", "v.agent", signer, workspace="ws", now=now, nonce="n" * 24
        )

    monkeypatch.setenv("CTG_LANG", "fr")
    french = signed()
    monkeypatch.setenv("CTG_LANG", "en")
    assert signed() == french


@pytest.mark.parametrize(
    ("header", "chosen"),
    [
        ("fr-FR,fr;q=0.9,en;q=0.5", "fr"),
        ("en-GB,fr;q=0.8", "en"),
        ("de-DE,fr;q=0.3,en;q=0.2", "fr"),
        ("fr;q=0,en", "en"),
        ("de", None),
        ("", None),
        (None, None),
        ("fr;q=abc", None),
    ],
)
def test_a_callers_accept_language_names_one_of_ours(header: str | None, chosen: str) -> None:
    from ctg_exchange.i18n import accepted

    assert accepted(header) == chosen


def test_the_server_answers_in_its_callers_language(
    ctg: Ctg, served: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server runs in English; a French member's client says so in Accept-Language."""
    ctg.ok("member", "revoke", "v.agent", "--reason", "Départ (test)", as_="v.admin")
    monkeypatch.setenv("CTG_LANG", "en")
    signed = httpsig.sign(
        httpsig.Message("POST", served.url + "/v1/whoami", {}),
        b"",
        "v.agent",
        key(ctg, "v.agent"),
        workspace=WORKSPACE_OF[served.url],
    )

    def refused(language: str | None) -> dict[str, str]:
        headers = signed if language is None else {**signed, "Accept-Language": language}
        answer = httpx.post(served.url + "/v1/whoami", headers=headers, timeout=10)
        error: dict[str, str] = answer.json()["error"]
        return error

    french, english = refused("fr-FR,fr;q=0.9"), refused(None)
    assert french["code"] == english["code"] == "revoked"
    assert french["message"].startswith("v.agent a été révoqué le ")
    assert english["message"].startswith("v.agent was revoked on ")
