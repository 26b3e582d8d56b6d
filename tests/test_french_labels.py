"""Issue 16, finding 4: French labels in the documents that are French by design, and French
spellings accepted on input.

The register's exports and the audit bundle's documents follow the CNIL's French model: they
show the French labels of verdicts, statuses, frequencies and sensitive data, whatever the
locale, while their JSON keeps the codes. ``--verdict``, ``--frequency``, ``--status`` and
``--outcome`` take the code or its French spelling and store the code.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import REQUEST, Ctg

ENGLISH = {"CTG_LANG": "en"}
REGISTRY = Path(__file__).resolve().parents[1] / "registry"


def _opinion(ctg: Ctg, rid: str, verdict: str, *extra: str) -> None:
    ctg.ok("study", "accept", rid, "--note", "Étude engagée", as_="c.analyst")
    ctg.ok("study", "submit", rid, as_="c.analyst")
    ctg.ok("dpo", "opinion", rid, "--verdict", verdict, "--note", "Avis", *extra, as_="c.dpo")


def test_french_spellings_map_to_the_codes() -> None:
    from ctg_exchange.labels import code_of, french

    codes = ["favourable", "favourable_with_recommendations", "unfavourable", "out_of_scope"]
    assert code_of("verdict", "favorable", codes) == "favourable"
    assert code_of("verdict", "favorable_avec_recommandations", codes) == codes[1]
    assert code_of("verdict", "Défavorable", codes) == "unfavourable"
    assert code_of("verdict", "hors_champ", codes) == "out_of_scope"
    assert code_of("verdict", "avis défavorable", codes) == "unfavourable"  # the label itself
    assert code_of("verdict", "favourable", codes) == "favourable"
    assert code_of("verdict", "bof", codes) is None
    assert code_of("frequency", "mensuelle", ["once", "monthly"]) == "monthly"
    assert code_of("status", "à l'étude", ["filed", "under_study"]) == "under_study"
    assert french("sensitive", "sante") == "Données de santé"


def test_the_french_verdict_is_stored_as_its_code(ctg: Ctg) -> None:
    rid = ctg.file_request()
    _opinion(ctg, rid, "favorable_avec_recommandations", "--recommend", "max_retention_days:180")
    shown = ctg.show(rid)
    assert shown["opinion"]["verdict"] == "favourable_with_recommendations"
    assert "favorable_avec" not in json.dumps(shown)
    audit = ctg("--json", "audit", "log", as_="c.dpo")
    assert audit.exit_code == 0, audit.output
    assert "favourable_with_recommendations" in audit.stdout
    assert "favorable_avec" not in audit.stdout
    ctg.ok("decide", "approve", rid, "--adopt", "R1", as_="c.controller")


def test_the_french_frequency_and_status_are_taken(ctg: Ctg) -> None:
    base = [arg for arg in REQUEST if arg not in ("--frequency", "monthly")]
    filed = ctg.json(*base, "--frequency", "trimestrielle", as_="v.agent")
    assert ctg.show(filed["id"])["frequency"] == "quarterly"
    listed = ctg.json("request", "list", "--status", "déposée", as_="v.agent")
    assert [r["id"] for r in listed] == [filed["id"]]


def test_a_wrong_value_is_a_usage_error_listing_the_accepted_ones(ctg: Ctg) -> None:
    rid = ctg.file_request()
    ctg.ok("study", "accept", rid, "--note", "Étude engagée", as_="c.analyst")
    ctg.ok("study", "submit", rid, as_="c.analyst")
    before = ctg.snapshot()
    result = ctg("dpo", "opinion", rid, "--verdict", "bof", "--note", "Avis", as_="c.dpo")
    assert result.exit_code == 2, result.output
    errors = [line for line in result.stderr.splitlines() if "bof" in line]
    assert len(errors) == 1
    assert (
        "'bof' is not one of: favourable, favourable_with_recommendations, unfavourable, "
        "out_of_scope (in French: favorable, favorable_avec_recommandations, defavorable, "
        "hors_champ)"
    ) in errors[0]
    assert "Traceback" not in result.output
    assert ctg.snapshot() == before
    french_error = ctg("dpo", "opinion", rid, "--verdict", "bof", "--note", "x", as_="c.dpo",
                       env={"CTG_LANG": "fr"})  # fmt: skip
    assert "'bof' n'est pas une valeur acceptée" in french_error.stderr
    assert ctg.snapshot() == before


def test_help_shows_the_codes(ctg: Ctg) -> None:
    shown = ctg("dpo", "opinion", "--help", env=ENGLISH)
    assert "favourable_with_recommendations" in shown.stdout
    assert "favorable_avec" not in shown.stdout


@pytest.fixture
def approved(ctg: Ctg) -> tuple[Ctg, str]:
    for dpo in ("v.dpo", "c.dpo"):
        ctg.ok("register", "import", str(REGISTRY), as_=dpo)
    rid = ctg.file_request()
    _opinion(ctg, rid, "favourable_with_recommendations", "--recommend", "Informer les familles")
    ctg.ok("decide", "approve", rid, "--adopt", "R1", as_="c.controller")
    ctg.ok(
        "conditions", "accept", rid, "--dpia-ref", "AIPD-VS-TEST", "--information",
        "Lettre aux familles (test)", "--l311-mention", "Mention (test)", as_="v.controller",
    )  # fmt: skip
    return ctg, rid


def test_the_register_exports_read_french_whatever_the_locale(
    approved: tuple[Ctg, str], tmp_path: Path
) -> None:
    ctg, rid = approved
    for fmt in ("md", "csv", "html"):
        out = tmp_path / f"registre.{fmt}"
        ctg.ok("register", "export", "--format", fmt, "--out", str(out), as_="c.dpo", env=ENGLISH)
        text = out.read_text(encoding="utf-8-sig")
        assert rid in text
        assert "avis favorable assorti de recommandations du " in text, fmt
        assert "demande approuvée" in text, fmt
        assert "favourable_with_recommendations" not in text and "approved" not in text, fmt
        assert "Données de santé : " in text, fmt  # CAF92-PARTENAIRES
        assert "sante :" not in text, fmt
    as_json = tmp_path / "registre.json"
    ctg.ok("register", "export", "--format", "json", "--out", str(as_json), as_="c.dpo")
    document = json.loads(as_json.read_text())
    kinds = {s["kind"] for fiche in document["fiches"] for s in fiche["sensitive"]}
    assert "sante" in kinds


def test_the_bundles_request_document_reads_french(
    approved: tuple[Ctg, str], tmp_path: Path
) -> None:
    ctg, rid = approved
    bundle = tmp_path / "controle"
    ctg.ok("register", "export", "--audit-bundle", str(bundle), as_="c.dpo", env=ENGLISH)
    text = (bundle / "echanges" / rid / "demande.md").read_text()
    assert "- Statut : conditions acceptées" in text
    assert "fréquence : mensuelle" in text
    assert "## Avis du DPO" in text and ": avis favorable assorti de recommandations" in text
    assert ": demande approuvée" in text
    assert "données personnelles ; AIPD requise" in text
    assert "→ à l'étude" in text
    for code in ("monthly", "approved", "favourable", "under_study", "awaiting_dpo"):
        assert code not in text, code
    document = json.loads((bundle / "echanges" / rid / "demande.json").read_text())
    assert document["status"] == "conditions_accepted" and document["frequency"] == "monthly"
    assert document["opinion"]["verdict"] == "favourable_with_recommendations"


@pytest.mark.parametrize(
    ("typed", "code"),
    [
        ("dénonciation", "denunciation"),
        ("Manquement à la loi", "breach_of_law"),
        ("manquement", "breach"),
        ("modification_sans_avenant", "modification_without_avenant"),
        ("breach", "breach"),
    ],
)
def test_a_termination_case_is_typed_in_french_or_by_its_code(typed: str, code: str) -> None:
    from ctg_exchange.cli.choices import Coded

    cases = ["breach", "breach_of_law", "modification_without_avenant", "denunciation"]
    assert Coded("termination", cases).convert(typed, None, None) == code
