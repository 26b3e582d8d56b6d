"""Pre-screening of realistic (synthetic) requests between the town hall and the Caf.

Each case states the request as an agent would write it and the exact set of finding codes and
the triage the shipped policy must return.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from ctg_exchange.domain.models import RequestContent
from ctg_exchange.policy import load_policy, shipped_policy_path
from ctg_exchange.policy.screening import screen

from conftest import Ctg

POLICY = load_policy(shipped_policy_path()).policy
ENDED = "the convention ctg-sceaux-caf92 ended on 2025-12-31 (Article 10)"


def request(**fields: Any) -> RequestContent:
    base: dict[str, Any] = {
        "to": "caf92", "field": "petite_enfance", "purpose": "Finalité décrite (synthétique)",
        "purpose_kind": "pricing", "categories": ["quotient_familial"],
        "subjects": "Familles fictives", "legal_basis": "art6_1_e",
        "legal_text": "Texte de référence fictif", "retention_days": 180, "frequency": "monthly",
    }  # fmt: skip
    return RequestContent.model_validate({**base, **fields})


CASES: dict[str, tuple[RequestContent, set[str], str]] = {
    "crèche pricing by quotient familial": (
        request(categories=["numero_allocataire", "quotient_familial"], retention_days=365),
        {"PERCEIVED_SENSITIVE", "MINORS", "MATCHING_DATASETS", "DPIA_REQUIRED"},
        "personal",
    ),
    "territorial diagnosis from commune-level counts": (
        request(field="parentalite", purpose_kind="diagnostic",
                categories=["statistiques_agregees"], legal_basis=None, legal_text=None,
                retention_days=1825, frequency="yearly"),
        set(), "non_personal",
    ),
    "Caf funding of structures from attendance (Bonus territoire)": (
        request(to="ville_sceaux", purpose_kind="statistics",
                categories=["frequentation_eaje_alsh"], retention_days=730, frequency="yearly"),
        {"MINORS"}, "personal",
    ),
    "the NIR to identify families": (
        request(field="acces_aux_droits", purpose_kind="service_delivery", categories=["nir"]),
        {"NIR_NOT_AUTHORISED", "MATCHING_DATASETS", "DPIA_REQUIRED"}, "personal",
    ),
    "fraud suspicions to check a municipal aid": (
        request(field="accompagnement_social", purpose_kind="control",
                categories=["infractions_fraude"]),
        {"OFFENCE_DATA"}, "personal",
    ),
    "disability flag for inclusive leisure places, no Art. 9 condition": (
        request(field="handicap", purpose_kind="service_delivery",
                categories=["handicap_droit_flag"]),
        {"ART9_CONDITION_MISSING", "SPECIAL_CATEGORY", "DPIA_REQUIRED"}, "personal",
    ),
    "disability flag with Art. 9(2)(b) and contact details": (
        request(field="handicap", purpose_kind="service_delivery",
                categories=["identite_contact", "handicap_droit_flag"],
                art9_condition="art9_2_b"),
        {"SPECIAL_CATEGORY", "MATCHING_DATASETS", "DPIA_REQUIRED"}, "personal",
    ),
    "RSA recipients' addresses for a mailing": (
        request(field="acces_aux_droits", purpose_kind="outreach",
                categories=["identite_contact", "minima_sociaux_rsa"], frequency="once"),
        {"BULK_OUTREACH_LIST", "PERCEIVED_SENSITIVE", "MATCHING_DATASETS", "DPIA_REQUIRED"},
        "personal",
    ),
    "quotient familial kept two years for the ALSH": (
        request(field="enfance", retention_days=730),
        {"RETENTION_EXCEEDS_MAX", "PERCEIVED_SENSITIVE", "MINORS", "DPIA_REQUIRED"},
        "personal",
    ),
    "contact details for a municipal campaign": (
        request(field="acces_aux_droits", purpose_kind="electoral",
                categories=["identite_contact"], frequency="once"),
        {"INCOMPATIBLE_PURPOSE", "MATCHING_DATASETS"}, "personal",
    ),
    "child-protection alerts for family support": (
        request(to="ville_sceaux", field="accompagnement_social", purpose_kind="social_support",
                categories=["protection_enfance_ip"]),
        {"CATEGORY_NOT_ALLOWED"}, "personal",
    ),
    "rent arrears to prevent evictions": (
        request(field="logement", purpose_kind="social_support", volume=120,
                categories=["identite_contact", "logement_impayes_expulsion"]),
        {"PERCEIVED_SENSITIVE", "MATCHING_DATASETS", "DPIA_REQUIRED"}, "personal",
    ),
    "family composition on consent, no legal text": (
        request(field="parentalite", purpose_kind="service_delivery",
                categories=["composition_familiale"], legal_basis="art6_1_a", legal_text=None),
        {"LEGAL_BASIS_NOT_ALLOWED", "NO_LEGAL_TEXT"}, "personal",
    ),
    "a field the convention does not cover": (
        request(field="sport", purpose_kind="service_delivery",
                categories=["composition_familiale"]),
        {"FIELD_NOT_IN_CONVENTION"}, "personal",
    ),
    "attendance asked of the party that does not hold it": (
        request(purpose_kind="statistics", categories=["frequentation_eaje_alsh"]),
        {"CATEGORY_NOT_HELD", "MINORS"}, "personal",
    ),
    "the numéro allocataire the town hall's EAJE files record, asked by the Caf (FILOUE)": (
        request(to="ville_sceaux", purpose_kind="statistics",
                categories=["numero_allocataire", "frequentation_eaje_alsh"], retention_days=365,
                frequency="yearly"),
        {"MINORS", "MATCHING_DATASETS", "DPIA_REQUIRED"}, "personal",
    ),
    "aggregates sent to an analytics service outside the EU": (
        request(field="parentalite", purpose_kind="statistics",
                categories=["statistiques_agregees"], transfer_outside_eu=True),
        {"NON_EU_TRANSFER"}, "non_personal",
    ),
    "family composition of 12,000 families for school pricing": (
        request(field="enfance", categories=["numero_allocataire", "composition_familiale"],
                volume=12000),
        {"MINORS", "MATCHING_DATASETS", "DPIA_REQUIRED"}, "personal",
    ),
    "detailed health data asked of the Caf": (
        request(field="handicap", purpose_kind="service_delivery", categories=["sante_detail"],
                art9_condition="art9_2_h"),
        {"CATEGORY_NOT_HELD", "CATEGORY_NOT_ALLOWED"}, "personal",
    ),
}  # fmt: skip


@pytest.mark.parametrize("name", list(CASES))
def test_findings_and_triage(name: str) -> None:
    content, codes, triage = CASES[name]
    result = screen(POLICY, content, None)
    assert result.codes == codes
    assert result.triage.value == triage
    assert result.dpia_required == ("DPIA_REQUIRED" in codes)


def test_every_rule_code_is_exercised() -> None:
    seen = set().union(*(codes for _, codes, _ in CASES.values())) | {"CONVENTION_NOT_IN_FORCE"}
    assert seen == {
        "CONVENTION_NOT_IN_FORCE", "NO_LEGAL_TEXT", "LEGAL_BASIS_NOT_ALLOWED",
        "FIELD_NOT_IN_CONVENTION", "CATEGORY_NOT_HELD", "CATEGORY_NOT_ALLOWED",
        "NIR_NOT_AUTHORISED", "OFFENCE_DATA", "ART9_CONDITION_MISSING", "RETENTION_EXCEEDS_MAX",
        "BULK_OUTREACH_LIST", "INCOMPATIBLE_PURPOSE", "NON_EU_TRANSFER", "SPECIAL_CATEGORY",
        "PERCEIVED_SENSITIVE", "MINORS", "MATCHING_DATASETS", "DPIA_REQUIRED",
    }  # fmt: skip


def test_a_convention_not_in_force_blocks_any_request() -> None:
    content, codes, _ = CASES["crèche pricing by quotient familial"]
    result = screen(POLICY, content, ENDED)
    assert result.codes == codes | {"CONVENTION_NOT_IN_FORCE"}
    assert [f.code for f in result.blocking] == ["CONVENTION_NOT_IN_FORCE"]


def test_messages_name_the_article_and_the_channel() -> None:
    by_code = {
        f.code: f
        for content, _, _ in CASES.values()
        for f in screen(POLICY, content, ENDED).findings
    }
    for code, article in {
        "CONVENTION_NOT_IN_FORCE": "Article 10", "NO_LEGAL_TEXT": "GDPR art. 6(3)",
        "OFFENCE_DATA": "GDPR art. 10", "RETENTION_EXCEEDS_MAX": "GDPR art. 5(1)(e)",
        "INCOMPATIBLE_PURPOSE": "6(4)", "NON_EU_TRANSFER": "GDPR chapter V",
        "DPIA_REQUIRED": "GDPR art. 35", "CATEGORY_NOT_HELD": "CTG art. 7",
        "ART9_CONDITION_MISSING": "art. 9(2)", "NIR_NOT_AUTHORISED": "2019-341",
    }.items():  # fmt: skip
        assert article in by_code[code].message, code
    assert "L114-19" in (by_code["OFFENCE_DATA"].channel or "")
    assert "writes to its own users" in (by_code["BULK_OUTREACH_LIST"].channel or "")
    pricing = screen(POLICY, CASES["crèche pricing by quotient familial"][0], None)
    assert pricing.dpia_criteria == (
        "sensitive or highly personal data", "vulnerable data subjects",
        "matching or combining datasets")  # fmt: skip
    assert "; ".join(pricing.dpia_criteria) in pricing.findings[-1].message


def _write(path: Path, content: RequestContent) -> Path:
    path.write_text(yaml.safe_dump(content.model_dump(mode="json"), allow_unicode=True))
    return path


def test_request_check_is_a_dry_run(ctg: Ctg, tmp_path: Path) -> None:
    ok = _write(tmp_path / "ok.yaml", CASES["crèche pricing by quotient familial"][0])
    bad = _write(tmp_path / "bad.yaml", CASES["RSA recipients' addresses for a mailing"][0])
    before = ctg.snapshot()

    good = ctg("request", "check", "--from-file", str(ok), "--json")
    refused = ctg("request", "check", "--from-file", str(bad))

    assert good.exit_code == 0
    assert json.loads(good.stdout)["dpia_required"] is True
    assert refused.exit_code == 1
    assert "BULK_OUTREACH_LIST (blocking)" in refused.stdout
    assert "channel: the holder writes to its own users" in refused.stdout
    assert refused.stderr.strip().endswith("filing would be refused: BULK_OUTREACH_LIST")
    assert ctg.snapshot() == before


def test_filing_a_blocked_request_names_the_rule_and_the_channel(ctg: Ctg, tmp_path: Path) -> None:
    bad = _write(tmp_path / "fraud.yaml", CASES["fraud suspicions to check a municipal aid"][0])
    result = ctg.refused(
        "request",
        "new",
        "--from-file",
        str(bad),
        as_="v.agent",
        contains="filing refused: OFFENCE_DATA: 'infractions_fraude' is "
        "offence data, outside the CTG (GDPR art. 10)",
    )
    assert "hint: proper channel: OFFENCE_DATA → droit de communication" in result.stderr


def test_several_blocking_findings_are_listed_under_one_line(ctg: Ctg, tmp_path: Path) -> None:
    bad = _write(tmp_path / "bad.yaml", CASES["family composition on consent, no legal text"][0])
    result = ctg.refused(
        "request",
        "new",
        "--from-file",
        str(bad),
        as_="v.agent",
        contains="filing refused: LEGAL_BASIS_NOT_ALLOWED, NO_LEGAL_TEXT",
    )
    assert "\n  NO_LEGAL_TEXT: no French legal text is cited" in result.stderr


def test_findings_are_stored_and_recomputed_on_amendment(ctg: Ctg) -> None:
    rid = ctg.file_request()
    assert "MINORS" in {f["code"] for f in ctg.show(rid)["findings"]}
    ctg.ok("study", "accept", rid, "--note", "Étude", as_="c.controller")
    ctg.ok("study", "return", rid, "--reason", "Champ à revoir", as_="c.controller")

    amended = ctg.json("request", "amend", rid, "--field", "acces_aux_droits", as_="v.agent")

    assert {f["code"] for f in amended["findings"]} == {
        "PERCEIVED_SENSITIVE",
        "MATCHING_DATASETS",
        "DPIA_REQUIRED",
    }
    ctg.refused(
        "request",
        "amend",
        rid,
        "--retention-days",
        "900",
        as_="v.agent",
        contains="amendment refused: RETENTION_EXCEEDS_MAX",
    )
