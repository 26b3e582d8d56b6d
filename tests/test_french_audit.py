"""Issue 16: what the audit log's verification, the store and the YAML reader say is French under
a French locale (``CTG_LANG=fr``), and unchanged in English; the codes, rules and ids inside the
sentences, and what is stored or signed, are not translated.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest

from ctg_exchange.audit.checkpoint import parse_note
from ctg_exchange.audit.export import read_export
from ctg_exchange.audit.law import CONDITIONS_NOT_APPLIED, LawCheck, RequestLaw
from ctg_exchange.audit.replay import _not_allowed
from ctg_exchange.domain import step_payloads as s
from ctg_exchange.errors import (
    AuditBroken,
    CorruptRow,
    InvalidInput,
    PolicyError,
    ReplayError,
    WorkspaceError,
)
from ctg_exchange.store.sqlite import SqliteStore
from ctg_exchange.yamlsrc import parse_yaml

from conftest import Ctg

FRENCH = {"CTG_LANG": "fr"}
ENGLISH = {"CTG_LANG": "en"}


def _tamper_a_member_add(ctg: Ctg) -> int:
    """Change a ``member.add`` event's time behind the tool's back; its sequence number."""
    events: list[dict[str, Any]] = ctg.json("audit", "log")
    seq = int(next(e["seq"] for e in events if e["action"] == "member.add"))
    later = f"UPDATE audit_events SET time = replace(time, 'T', 'T0') WHERE seq = {seq}"
    ctg.sql(later, guards=False)
    return seq


def test_a_tampered_log_is_reported_in_french_and_its_json_codes_stay(ctg: Ctg) -> None:
    seq = _tamper_a_member_add(ctg)
    last = int(ctg.json("audit", "log")[-1]["seq"])
    ctg.sql(f"DELETE FROM audit_events WHERE seq = {last - 1}", guards=False)

    french = ctg("audit", "verify", env=FRENCH)
    assert french.exit_code == 3, french.output
    assert (
        f"journal d'audit rompu, événement n° {seq} : l'empreinte conservée ne correspond pas "
        "au contenu de l'événement"
    ) in french.stderr
    assert f"\n  événement n° {last - 1} : l'événement manque\n" in french.stderr
    assert "audit log broken" not in french.stderr

    english = ctg("audit", "verify", env=ENGLISH)
    assert english.exit_code == 3
    assert (
        f"audit log broken at event #{seq}: the stored hash does not match the event's content"
    ) in english.stderr
    assert f"\n  event #{last - 1}: the event is missing\n" in english.stderr

    # --json: the message is the reader's, the code and the location fields are not
    as_json = ctg("audit", "verify", "--json", env=FRENCH)
    error = json.loads(as_json.stdout)["error"]
    assert error["code"] == "audit_broken" and error["exit_code"] == 3
    assert error["failures"][0]["seq"] == seq
    assert error["failures"][0]["where"] == f"événement n° {seq}"


def test_the_failures_beyond_the_first_five_are_counted_in_french(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    failures: list[dict[str, object]] = [
        {"where": f"event #{n}", "message": "x"} for n in range(1, 9)
    ]
    monkeypatch.setenv("CTG_LANG", "fr")
    broken = AuditBroken("événement n° 1", "x", failures=failures)
    assert broken.message == "journal d'audit rompu, événement n° 1 : x"
    assert broken.details[-1] == "… et 2 autres (--json les liste toutes)"
    monkeypatch.setenv("CTG_LANG", "en")
    broken = AuditBroken("event #1", "x", failures=failures)
    assert broken.details[-1] == "… and 2 more (--json lists them all)"


def test_a_yaml_syntax_error_and_a_duplicate_key_in_french(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CTG_LANG", "fr")
    with pytest.raises(PolicyError) as syntax:
        parse_yaml("parties:\n  - id: [ville\n", "politique.yaml")
    assert syntax.value.lines()[0].startswith("politique.yaml:")
    assert ": YAML invalide : " in syntax.value.lines()[0]
    with pytest.raises(PolicyError) as twice:
        parse_yaml("id: a\nid: b\n", "politique.yaml")
    assert twice.value.lines() == ["politique.yaml:2: id: clé en double"]
    with pytest.raises(PolicyError) as alias:
        parse_yaml("a: &x 1\nb: *x\n", "p.yaml")
    assert alias.value.lines() == ["p.yaml:1: les ancres et les alias (& et *) sont refusés"]

    monkeypatch.setenv("CTG_LANG", "en")
    with pytest.raises(PolicyError) as english:
        parse_yaml("id: a\nid: b\n", "policy.yaml")
    assert english.value.lines() == ["policy.yaml:2: id: duplicate key"]


def test_a_store_that_cannot_be_opened_says_so_in_french(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    garbage = tmp_path / "ctg.sqlite3"
    garbage.write_bytes(b"not a database, whatever its name says" * 100)
    monkeypatch.setenv("CTG_LANG", "fr")
    with pytest.raises(WorkspaceError) as french:
        SqliteStore(garbage)
    assert french.value.message.startswith(f"impossible d'ouvrir la base de données {garbage} : ")
    monkeypatch.setenv("CTG_LANG", "en")
    with pytest.raises(WorkspaceError) as english:
        SqliteStore(garbage)
    assert english.value.message.startswith(f"cannot open the database {garbage}: ")


def test_a_corrupt_row_keeps_the_table_and_key_and_translates_the_rest(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CTG_LANG", "fr")
    error = CorruptRow("requests", "DX-2026-0001")
    assert error.message == (
        "la ligne DX-2026-0001 de la table requests n'est pas ce que l'outil écrit : elle a été "
        "modifiée à son insu"
    )
    assert error.hint == (
        "`audit verify` compare chaque enregistrement conservé avec le journal signé"
    )
    assert error.to_json()["table"] == "requests" and error.to_json()["code"] == "corrupt_row"


def test_a_checkpoint_note_and_an_export_that_are_not_one_in_french(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CTG_LANG", "fr")
    with pytest.raises(InvalidInput) as note:
        parse_note("origine\n12\nracine\n")
    assert note.value.message == (
        "ce n'est pas une note signée : aucune ligne vide avant les signatures"
    )
    with pytest.raises(InvalidInput) as export:
        read_export(['{"type": "header", "format": "autre"}\n'])
    assert export.value.message == (
        "ce n'est pas un export d'audit : le format de l'en-tête n'est pas "
        "ctg-exchange/audit-export@v1"
    )
    monkeypatch.setenv("CTG_LANG", "en")
    with pytest.raises(InvalidInput) as english:
        parse_note("origin\n12\nroot\n")
    assert english.value.message == "not a signed note: no blank line before the signatures"


def test_a_rule_the_replay_re_applies_keeps_its_code_in_a_french_sentence(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The law's refusal names its rule first (``RULE : …`` in French), once, and the
    verification does not name it a second time."""

    class NoLaw:
        def policy(self, version: int) -> None:
            return None

        def content(self, request_id: str, digest: str) -> None:
            return None

        def recommendations(self, request_id: str) -> None:
            return None

    check = LawCheck(NoLaw(), rules=3)
    check.requests["DX-2026-0001"] = RequestLaw(adopted=())
    # what _sent reads of a delivery's payload
    send = cast(
        s.Send, SimpleNamespace(request="DX-2026-0001", delivery=1, conditions=("R1 pseudonymise",))
    )
    monkeypatch.setenv("CTG_LANG", "fr")
    with pytest.raises(ReplayError) as french:
        check._sent(send, date(2026, 12, 7))
    message = str(french.value)
    assert message == (
        f"{CONDITIONS_NOT_APPLIED} : la transmission 1 applique R1 pseudonymise des conditions "
        "adoptées aucune"
    )
    assert _not_allowed(message, CONDITIONS_NOT_APPLIED) == message
    assert _not_allowed("x", "SOME_RULE") == "non autorisé (SOME_RULE) : x"

    monkeypatch.setenv("CTG_LANG", "en")
    with pytest.raises(ReplayError) as english:
        check._sent(send, date(2026, 12, 7))
    assert str(english.value) == (
        f"{CONDITIONS_NOT_APPLIED}: delivery 1 applies R1 pseudonymise of the adopted "
        "conditions none"
    )
