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
from ctg_exchange.policy.screening import screen, screening_codes

from conftest import Ctg

POLICY = load_policy(shipped_policy_path()).policy
ENDED = "the convention ctg-sceaux-caf92 ended on 2025-12-31 (Article 10)"


def request(**fields: Any) -> RequestContent:
    base: dict[str, Any] = {
        "to": "caf92", "field": "petite_enfance", "purpose": "Finalité décrite (synthétique)",
        "purpose_kind": "pricing", "categories": ["quotient_familial"],
        "subjects": "Familles fictives", "legal_basis": "art6_1_e",
        "legal_refs": ["loi_98_657_art147"], "retention_days": 180, "frequency": "monthly",
    }  # fmt: skip
    return RequestContent.model_validate({**base, **fields})


ALONE = {"combines_with_own_files": False}  # not matched with the requester's files
MATCHED = {"combines_with_own_files": True}
SERVICE = {"purpose_kind": "service_delivery", "legal_refs": ["crpa_l114_8_i"]}
STATS = {"purpose_kind": "statistics", "legal_refs": ["css_l263_1"]}
SOCIAL = {"purpose_kind": "social_support", "legal_refs": ["casf_l116_1"]}
PRICING = "crèche pricing by quotient familial, matched with the enrolment file"
QF_PRICING = {"PERCEIVED_SENSITIVE", "MINORS", "ALGORITHMIC_DECISION", "QF_PER_FAMILY_CHANNEL"}

CASES: dict[str, tuple[RequestContent, set[str], str]] = {
    "crèche pricing by quotient familial, matched with the enrolment file": (
        request(categories=["numero_allocataire", "quotient_familial"], retention_days=365,
                combines_with_own_files=True),
        QF_PRICING | {"MATCHING_DATASETS", "DPIA_REQUIRED"}, "personal",
    ),
    "territorial diagnosis from commune-level counts": (
        request(field="parentalite", purpose_kind="diagnostic",
                categories=["statistiques_agregees"], legal_basis=None, legal_refs=[],
                retention_days=1825, frequency="yearly", aggregates_of=["composition_familiale"]),
        set(), "non_personal",
    ),
    "counts that do not say what they count": (
        request(field="parentalite", purpose_kind="diagnostic",
                categories=["statistiques_agregees"], legal_basis=None, legal_refs=[],
                retention_days=1825, frequency="yearly"),
        {"COUNTS_UNDECLARED"}, "non_personal",
    ),
    "counts of social workers' assessments and of the RSA": (
        request(field="accompagnement_social", purpose_kind="diagnostic",
                categories=["statistiques_agregees"], legal_basis=None, legal_refs=[],
                retention_days=1825, frequency="yearly",
                aggregates_of=["evaluation_sociale", "minima_sociaux_rsa"]),
        {"CATEGORY_NOT_ALLOWED", "HELD_FOR_ANOTHER_BODY"}, "non_personal",
    ),
    "counts of crèche attendance asked of the Caf": (
        request(field="petite_enfance", purpose_kind="diagnostic",
                categories=["statistiques_agregees"], legal_basis=None, legal_refs=[],
                retention_days=1825, frequency="yearly", aggregates_of=["frequentation_eaje_alsh"]),
        {"CATEGORY_NOT_HELD"}, "non_personal",
    ),
    "contact details, not saying whether they will be matched": (
        request(field="parentalite", **SERVICE, categories=["identite_contact"]),
        {"MATCHING_UNDECLARED", "MATCHING_DATASETS"}, "personal",
    ),
    "Caf funding of structures from attendance (Bonus territoire)": (
        request(to="ville_sceaux", **STATS, categories=["frequentation_eaje_alsh"],
                retention_days=730, frequency="yearly"),
        {"MINORS"}, "personal",
    ),
    "the NIR to identify families": (
        request(**ALONE, field="acces_aux_droits", **SERVICE, categories=["nir"]),
        {"NIR_NOT_AUTHORISED"}, "personal",
    ),
    "fraud suspicions asked by the town hall to check a municipal aid": (
        request(field="accompagnement_social", purpose_kind="control",
                categories=["infractions_fraude"], legal_refs=["casf_l116_1"]),
        {"CONTROL_PURPOSE", "OFFENCE_DATA", "LEGAL_TEXT_PURPOSE"}, "personal",
    ),
    "crèche attendance asked by the Caf to control a benefit": (
        request(to="ville_sceaux", purpose_kind="control", legal_refs=[],
                categories=["frequentation_eaje_alsh"]),
        {"CONTROL_PURPOSE", "LEGAL_TEXT_NOT_LISTED", "MINORS", "DPIA_REQUIRED"}, "personal",
    ),
    "disability flag for inclusive leisure places, no Art. 9 condition": (
        request(field="handicap", purpose_kind="service_delivery", legal_refs=["casf_l114_1_1"],
                categories=["handicap_droit_flag"]),
        {"ART9_CONDITION_MISSING", "SPECIAL_CATEGORY", "DPIA_REQUIRED"}, "personal",
    ),
    "disability flag with Art. 9(2)(b), its text and contact details": (
        request(**ALONE, field="handicap", purpose_kind="service_delivery",
                legal_refs=["casf_l114_1_1"], art9_condition="art9_2_b",
                categories=["identite_contact", "handicap_droit_flag"]),
        {"SPECIAL_CATEGORY", "DPIA_REQUIRED"}, "personal",
    ),
    "disability flag with Art. 9(2)(b) on a general text only": (
        request(field="handicap", **SERVICE, categories=["handicap_droit_flag"],
                art9_condition="art9_2_b"),
        {"ART9_TEXT_MISSING", "SPECIAL_CATEGORY", "DPIA_REQUIRED"}, "personal",
    ),
    "benefits paid, by name, for a social service": (
        request(field="accompagnement_social", **SOCIAL, categories=["prestations_versees"]),
        {"ART9_CONDITION_MISSING", "ART9_TEXT_MISSING", "SPECIAL_CATEGORY", "DPIA_REQUIRED"},
        "personal",
    ),
    "prime d'activité recipients' addresses for a mailing": (
        request(**ALONE, field="acces_aux_droits", purpose_kind="outreach", legal_refs=[],
                categories=["identite_contact", "prime_activite"], frequency="once"),
        {"BULK_OUTREACH_LIST", "LEGAL_TEXT_NOT_LISTED", "PERCEIVED_SENSITIVE", "DPIA_REQUIRED"},
        "personal",
    ),
    "RSA recipients for a back-to-work scheme": (
        request(field="acces_aux_droits", **SERVICE, categories=["minima_sociaux_rsa"]),
        {"HELD_FOR_ANOTHER_BODY", "PERCEIVED_SENSITIVE", "DPIA_REQUIRED"}, "personal",
    ),
    "families to tell of the prime d'activité, under CRPA L114-8 II": (
        request(**ALONE, field="acces_aux_droits", purpose_kind="information_droits",
                legal_refs=["crpa_l114_8_ii"], categories=["identite_contact"],
                frequency="once", necessity="Seules les familles sans droit ouvert (fictif)",
                right_to_object="Courrier préalable avec un mois pour s'opposer (fictif)"),
        {"OUTREACH_RIGHTS"}, "personal",
    ),
    "families to tell of their rights, without necessity or objection": (
        request(**ALONE, field="acces_aux_droits", purpose_kind="information_droits",
                legal_refs=["crpa_l114_8_ii"], categories=["identite_contact"],
                frequency="once"),
        {"OUTREACH_RIGHTS", "OUTREACH_NECESSITY_MISSING", "OUTREACH_OBJECTION_MISSING"},
        "personal",
    ),
    "quotient familial kept two years for the ALSH": (
        request(field="enfance", retention_days=730),
        QF_PRICING | {"RETENTION_EXCEEDS_MAX", "DPIA_REQUIRED"}, "personal",
    ),
    "quotient familial used a year, then archived six years": (
        request(retention_days=365, archive_days=2190),
        QF_PRICING | {"ARCHIVE_EXCEEDS_MAX", "DPIA_REQUIRED"}, "personal",
    ),
    "contact details for a municipal campaign": (
        request(**ALONE, field="acces_aux_droits", purpose_kind="electoral",
                categories=["identite_contact"], frequency="once"),
        {"INCOMPATIBLE_PURPOSE", "LEGAL_TEXT_PURPOSE"}, "personal",
    ),
    "child-protection alerts for family support": (
        request(to="ville_sceaux", field="accompagnement_social", **SOCIAL,
                categories=["protection_enfance_ip"]),
        {"CATEGORY_NOT_ALLOWED"}, "personal",
    ),
    "social workers' assessments for family support": (
        request(field="accompagnement_social", **SOCIAL, categories=["evaluation_sociale"]),
        {"CATEGORY_NOT_ALLOWED"}, "personal",
    ),
    "nationality of families for an access-to-rights scheme": (
        request(field="acces_aux_droits", **SERVICE, categories=["nationalite_sejour"]),
        {"CATEGORY_NOT_ALLOWED"}, "personal",
    ),
    "rent arrears to prevent evictions": (
        request(**ALONE, field="logement", **SOCIAL, volume=120,
                categories=["identite_contact", "logement_impayes_expulsion"]),
        {"PERCEIVED_SENSITIVE", "DPIA_REQUIRED"}, "personal",
    ),
    "family composition on consent, a circular as its text": (
        request(field="parentalite", purpose_kind="service_delivery", legal_refs=[],
                categories=["composition_familiale"], legal_basis="art6_1_a",
                legal_text="Lettre circulaire Cnaf 2019-005"),
        {"LEGAL_BASIS_NOT_ALLOWED", "LEGAL_TEXT_NOT_LISTED"}, "personal",
    ),
    "family composition under a text the convention does not list": (
        request(field="parentalite", **{**SERVICE, "legal_refs": ["circulaire_cnaf_2019_005"]},
                categories=["composition_familiale"]),
        {"LEGAL_TEXT_NOT_LISTED"}, "personal",
    ),
    "a field the convention does not cover": (
        request(field="sport", **SERVICE, categories=["composition_familiale"]),
        {"FIELD_NOT_IN_CONVENTION"}, "personal",
    ),
    "attendance asked of the party that does not hold it": (
        request(**STATS, categories=["frequentation_eaje_alsh"]),
        {"CATEGORY_NOT_HELD", "MINORS", "DPIA_REQUIRED"}, "personal",
    ),
    "the numéro allocataire the town hall's EAJE files record, asked by the Caf (FILOUE)": (
        request(**MATCHED, to="ville_sceaux", **STATS,
                categories=["numero_allocataire", "frequentation_eaje_alsh"], retention_days=365,
                frequency="yearly"),
        {"MINORS", "MATCHING_DATASETS", "DPIA_REQUIRED"}, "personal",
    ),
    "the AEEH attestations the town hall's crèches hold, asked by the Caf": (
        request(to="ville_sceaux", purpose_kind="service_delivery", legal_refs=["csp_l2324_1"],
                categories=["handicap_droit_flag"], art9_condition="art9_2_b",
                frequency="yearly"),
        {"SPECIAL_CATEGORY", "MINORS", "DPIA_REQUIRED"}, "personal",
    ),
    "the incapacity rate asked of the town hall": (
        request(to="ville_sceaux", field="handicap", **SERVICE, categories=["taux_incapacite"],
                art9_condition="art9_2_h"),
        {"CATEGORY_NOT_HELD", "CATEGORY_NOT_ALLOWED"}, "personal",
    ),
    "monthly attendance for the Caf's funding": (
        request(to="ville_sceaux", **STATS, categories=["frequentation_eaje_alsh"]),
        {"MINORS", "DPIA_REQUIRED"}, "personal",
    ),
    "aggregates sent to an analytics service outside the EU": (
        request(field="parentalite", purpose_kind="statistics",
                categories=["statistiques_agregees"], transfer_outside_eu=True,
                aggregates_of=["composition_familiale"]),
        {"NON_EU_TRANSFER"}, "non_personal",
    ),
    "family composition of 12,000 families for school pricing": (
        request(**ALONE, field="enfance", volume=12000,
                categories=["numero_allocataire", "composition_familiale"]),
        {"MINORS", "ALGORITHMIC_DECISION", "DPIA_REQUIRED"}, "personal",
    ),
    "crèche fee with the AEEH reduction computed by the scale alone": (
        request(categories=["quotient_familial", "handicap_droit_flag"],
                legal_refs=["loi_98_657_art147"], art9_condition="art9_2_b"),
        QF_PRICING | {"AUTOMATED_DECISION_ART9", "ART9_TEXT_MISSING", "SPECIAL_CATEGORY",
                      "DPIA_REQUIRED"},
        "personal",
    ),
    "inclusive crèche places allotted by an algorithm from the AEEH flag": (
        request(purpose_kind="service_delivery", categories=["handicap_droit_flag"],
                legal_refs=["csp_l2324_1"], art9_condition="art9_2_b",
                automated_decision="solely_automated"),
        {"AUTOMATED_DECISION_ART9", "ALGORITHMIC_DECISION", "SPECIAL_CATEGORY", "MINORS",
         "DPIA_REQUIRED"},
        "personal",
    ),
    "inclusive crèche places allotted by an agent, helped by the AEEH flag": (
        request(purpose_kind="service_delivery", categories=["handicap_droit_flag"],
                legal_refs=["csp_l2324_1"], art9_condition="art9_2_b",
                automated_decision="assisted"),
        {"ALGORITHMIC_DECISION", "SPECIAL_CATEGORY", "MINORS", "DPIA_REQUIRED"}, "personal",
    ),
    "crèche places allocated by points from family composition": (
        request(**SERVICE, categories=["composition_familiale"], profiling=True,
                decides_access=True, frequency="yearly"),
        {"MINORS", "DPIA_REQUIRED"}, "personal",
    ),
    "family composition for the town hall's software vendor, no contract": (
        request(**SERVICE, categories=["composition_familiale"],
                processors=[{"name": "Éditeur fictif"}]),
        {"PROCESSOR_WITHOUT_CONTRACT", "MINORS"}, "personal",
    ),
    "family composition for a vendor under contract and a leisure association": (
        request(**SERVICE, categories=["composition_familiale"],
                processors=[{"name": "Éditeur fictif", "contract": "Contrat art. 28 fictif"}],
                onward_recipients=["Association fictive gérant un centre de loisirs"]),
        {"ONWARD_RECIPIENT", "MINORS"}, "personal",
    ),
    "detailed health data asked of the Caf": (
        request(field="handicap", purpose_kind="service_delivery", categories=["sante_detail"],
                legal_refs=["casf_l114_1_1"], art9_condition="art9_2_h"),
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
    assert seen == set(screening_codes(POLICY)) - {"NO_LEGAL_TEXT"}  # a policy without a list


def test_a_convention_not_in_force_blocks_any_request() -> None:
    content, codes, _ = CASES[PRICING]
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
        "CONVENTION_NOT_IN_FORCE": "Article 10", "LEGAL_TEXT_NOT_LISTED": "GDPR art. 6(3)",
        "OFFENCE_DATA": "GDPR art. 10", "RETENTION_EXCEEDS_MAX": "GDPR art. 5(1)(e)",
        "INCOMPATIBLE_PURPOSE": "6(4)", "NON_EU_TRANSFER": "GDPR chapter V",
        "DPIA_REQUIRED": "GDPR art. 35", "CATEGORY_NOT_HELD": "CTG art. 7",
        "ART9_CONDITION_MISSING": "art. 9(2)", "NIR_NOT_AUTHORISED": "2019-341",
        "CONTROL_PURPOSE": "CSS L114-19", "HELD_FOR_ANOTHER_BODY": "CASF L262-13",
        "ARCHIVE_EXCEEDS_MAX": "Code du patrimoine L212-2", "OUTREACH_RIGHTS": "CRPA L114-8 II",
        "AUTOMATED_DECISION_ART9": "Informatique et Libertés art. 47",
        "ALGORITHMIC_DECISION": "CRPA L311-3-1", "PROCESSOR_WITHOUT_CONTRACT": "art. 28(3)",
        "QF_PER_FAMILY_CHANNEL": "CRPA L114-8 I", "ART9_TEXT_MISSING": "GDPR art. 9(2)",
    }.items():  # fmt: skip
        assert article in by_code[code].message, code
    assert "writes to its own users" in (by_code["BULK_OUTREACH_LIST"].channel or "")
    assert "CDAP" in by_code["QF_PER_FAMILY_CHANNEL"].message
    pricing = screen(POLICY, CASES[PRICING][0], None)
    assert pricing.dpia_criteria == (
        "automated decision with legal or similar effect", "sensitive or highly personal data",
        "vulnerable data subjects", "matching or combining datasets")  # fmt: skip
    assert "; ".join(pricing.dpia_criteria) in pricing.findings[-1].message


def _write(path: Path, content: RequestContent) -> Path:
    path.write_text(yaml.safe_dump(content.model_dump(mode="json"), allow_unicode=True))
    return path


def test_request_check_is_a_dry_run(ctg: Ctg, tmp_path: Path) -> None:
    ok = _write(tmp_path / "ok.yaml", CASES[PRICING][0])
    bad = _write(
        tmp_path / "bad.yaml", CASES["prime d'activité recipients' addresses for a mailing"][0]
    )
    before = ctg.snapshot()

    good = ctg("request", "check", "--from-file", str(ok), "--json")
    refused = ctg("request", "check", "--from-file", str(bad))

    assert good.exit_code == 0
    assert json.loads(good.stdout)["dpia_required"] is True
    assert refused.exit_code == 1
    assert "BULK_OUTREACH_LIST (blocking)" in refused.stdout
    assert "channel: the holder writes to its own users" in refused.stdout
    assert refused.stderr.strip().endswith(
        "filing would be refused: LEGAL_TEXT_NOT_LISTED, BULK_OUTREACH_LIST"
    )
    assert ctg.snapshot() == before


def test_filing_a_blocked_request_names_the_rule_and_the_channel(ctg: Ctg, tmp_path: Path) -> None:
    control = CASES["crèche attendance asked by the Caf to control a benefit"][0]
    bad = _write(tmp_path / "control.yaml", control.model_copy(update={"legal_refs": ()}))
    result = ctg.refused(
        "request",
        "new",
        "--from-file",
        str(bad),
        as_="c.both",
        contains="filing refused: LEGAL_TEXT_NOT_LISTED, CONTROL_PURPOSE",
    )
    assert "\n  CONTROL_PURPOSE: a contrôle purpose is outside the CTG" in result.stderr
    assert (
        "hint: proper channel: CONTROL_PURPOSE → droit de communication de la Caf, dossier par "
        "dossier (CSS L114-19 et suivants)" in result.stderr
    )


def test_the_commune_is_not_sent_to_the_cafs_right(ctg: Ctg, tmp_path: Path) -> None:
    """Issue 15, point 1: the droit de communication is the Caf's, not the commune's."""
    fraud = CASES["fraud suspicions asked by the town hall to check a municipal aid"][0]
    bad = _write(tmp_path / "fraud.yaml", fraud)
    result = ctg.refused(
        "request",
        "new",
        "--from-file",
        str(bad),
        as_="v.agent",
        contains="filing refused: LEGAL_TEXT_PURPOSE, OFFENCE_DATA, CONTROL_PURPOSE",
    )
    assert "ville_sceaux has no channel to obtain them" in result.stderr
    assert "droit de communication" not in result.stderr.split("hint")[-1]
    assert "proper channel" not in result.stderr


def test_several_blocking_findings_are_listed_under_one_line(ctg: Ctg, tmp_path: Path) -> None:
    bad = _write(
        tmp_path / "bad.yaml", CASES["family composition on consent, a circular as its text"][0]
    )
    result = ctg.refused(
        "request",
        "new",
        "--from-file",
        str(bad),
        as_="v.agent",
        contains="filing refused: LEGAL_BASIS_NOT_ALLOWED, LEGAL_TEXT_NOT_LISTED",
    )
    assert "\n  LEGAL_TEXT_NOT_LISTED: no legal text of the convention's list" in result.stderr
    assert "a circular or an instruction is not law" in result.stderr


def test_findings_are_stored_and_recomputed_on_amendment(ctg: Ctg) -> None:
    rid = ctg.file_request()
    assert "MINORS" in {f["code"] for f in ctg.show(rid)["findings"]}
    ctg.ok("study", "accept", rid, "--note", "Étude", as_="c.controller")
    ctg.ok("study", "return", rid, "--reason", "Champ à revoir", as_="c.controller")

    amended = ctg.json("request", "amend", rid, "--field", "acces_aux_droits", as_="v.agent")

    assert {f["code"] for f in amended["findings"]} == {
        "PERCEIVED_SENSITIVE",
        "ALGORITHMIC_DECISION",
        "QF_PER_FAMILY_CHANNEL",
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
