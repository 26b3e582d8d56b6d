"""The shipped Article 30 fiches as a French DPO reads them, and what `register check` flags
beyond a fiche's own fields (issue 15, point 9): placeholder contacts and values, special-category
data a structure collects but its fiche does not declare, and no fiche for this tool's own
processing."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest
import yaml
from test_exchange_life import ACCEPTED_WITH

from ctg_exchange.errors import PolicyError
from ctg_exchange.policy import load_policy, shipped_policy_path
from ctg_exchange.policy.loader import parse_policy
from ctg_exchange.policy.model import Contact, Policy
from ctg_exchange.register.check import register_problems
from ctg_exchange.register.loader import load_entries, registry_files
from ctg_exchange.register.model import Processor, RegisterEntry, SensitiveKind

from conftest import Ctg

REGISTRY = Path(__file__).resolve().parents[1] / "registry"
POLICY = load_policy(shipped_policy_path()).policy
HEALTH = next(c.label for c in POLICY.categories if c.id == "sante_detail")
FICHES = {f.entry.ref: f.entry for f in load_entries(registry_files(REGISTRY), POLICY)}


def _real_contacts(policy: Policy) -> Policy:
    """The policy as a party fills it in: its DPO's real contact, not the example."""
    parties = tuple(
        p.model_copy(
            update={
                "dpo": Contact(
                    name=f"Délégué à la protection des données — {p.short_name}",
                    email=f"dpo@{p.id}.fr",
                    phone="01 41 87 00 12",
                )
            }
        )
        for p in policy.parties
    )
    return policy.model_copy(update={"parties": parties})


def _filled(entry: RegisterEntry) -> RegisterEntry:
    """The fiche with its processors known, as its DPO completes it."""
    processors = tuple(
        Processor(name="Éditeur SAS", service=p.service, contract="Marché 2024-017, art. 12")
        for p in entry.processors
    )
    return entry.model_copy(update={"processors": processors})


def _lines(
    entries: list[RegisterEntry], policy: Policy, controller: str | None = None
) -> list[str]:
    return [str(f) for f in register_problems(entries, policy, controller)]


def test_a_register_filled_in_by_its_parties_has_nothing_to_flag() -> None:
    entries = [_filled(e) for e in FICHES.values()]
    assert _lines(entries, _real_contacts(POLICY)) == []
    # the shipped data: the example contacts are flagged, and so are the facts left to fill in
    codes = {f.code for f in register_problems(list(FICHES.values()), POLICY)}
    assert codes == {"PLACEHOLDER_CONTACT", "PLACEHOLDER_VALUE"}


def test_a_placeholder_looking_contact_is_flagged_even_without_the_example_mark() -> None:
    policy = _real_contacts(POLICY)
    ville = policy.parties[0].model_copy(
        update={"dpo": Contact(name="DPO à remplacer", email="dpo@sceaux.example", phone="x")}
    )
    policy = policy.model_copy(update={"parties": (ville, policy.parties[1])})
    entries = [_filled(e) for e in FICHES.values()]
    assert _lines(entries, policy, "ville_sceaux") == [
        "ville_sceaux: dpo.name: PLACEHOLDER_CONTACT: the DPO's name 'DPO à remplacer' is a "
        "placeholder (Art. 30(1)(a), Art. 37(7))",
        "ville_sceaux: dpo.email: PLACEHOLDER_CONTACT: the DPO's email 'dpo@sceaux.example' is a "
        "placeholder (Art. 30(1)(a), Art. 37(7))",
    ]


def test_a_processor_without_its_contract_is_flagged() -> None:
    eaje = _filled(FICHES["VS-EAJE"])
    eaje = eaje.model_copy(
        update={"processors": (Processor(name="Éditeur SAS", service="Logiciel"),)}
    )
    entries = [eaje] + [_filled(e) for e in FICHES.values() if e.ref != "VS-EAJE"]
    assert _lines(entries, _real_contacts(POLICY)) == [
        "VS-EAJE: processors[0].contract: PROCESSOR_CONTRACT_MISSING: processor 'Éditeur SAS' "
        "has no contract reference (Art. 28(3))"
    ]


@pytest.mark.parametrize("ref", ["VS-ALSH", "VS-EAJE"])
def test_special_category_data_a_structure_collects_must_be_declared(ref: str) -> None:
    stripped = _filled(FICHES[ref]).model_copy(update={"sensitive": ()})
    entries = [stripped] + [_filled(e) for e in FICHES.values() if e.ref != ref]
    structure = ref.removeprefix("VS-")
    found = _lines(entries, _real_contacts(POLICY))
    assert found[0] == (
        f"{ref}: sensitive: SENSITIVE_UNDECLARED: the policy says {structure} collects "
        f"'sante_detail' ({HEALTH}), data of GDPR art. 9, and the fiche declares none "
        "(Art. 30(1)(c))"
    )
    assert all("SENSITIVE_UNDECLARED" in line for line in found)


def test_a_structure_whose_fiche_is_missing_is_flagged() -> None:
    entries = [_filled(e) for e in FICHES.values() if e.ref != "VS-ALSH"]
    assert _lines(entries, _real_contacts(POLICY)) == [
        "VS-ALSH: ref: STRUCTURE_FICHE_MISSING: the policy's ALSH structures are recorded in "
        "VS-ALSH, which is not in the register (Art. 30(1))"
    ]
    # the Caf's register is not the town hall's: nothing of VS-ALSH is asked of it
    assert _lines(entries, _real_contacts(POLICY), "caf92") == []


def test_an_unknown_category_in_a_structure_is_a_policy_error() -> None:
    text = shipped_policy_path().read_text(encoding="utf-8")
    broken = text.replace("sante_detail]  # fiche sanitaire", "sante_detaille]  # fiche", 1)
    assert broken != text
    with pytest.raises(PolicyError) as raised:
        parse_policy(broken, "policy.yaml")
    line = next(n for n, t in enumerate(broken.splitlines(), 1) if "sante_detaille" in t)
    assert raised.value.problems == [
        f"policy.yaml:{line}: structures[1].collects[3]: unknown data category 'sante_detaille'"
    ]


# -- the shipped fiches, as a DPO corrects them ---------------------------------------------


def test_each_party_records_the_processing_of_this_tool() -> None:
    tools = {e.controller: e for e in FICHES.values() if e.ctg_exchange_tool}
    assert set(tools) == {"ville_sceaux", "caf92"}
    for entry in tools.values():
        assert entry.legal_basis.art6 == "art6_1_c"
        assert "5(2)" in entry.legal_basis.text and "30" in entry.legal_basis.text
        assert all(d.retention for d in entry.data)
        assert any("journal" in d.description.lower() for d in entry.data)


def test_leisure_centres_declare_the_childrens_health_forms() -> None:
    alsh = FICHES["VS-ALSH"]
    assert [s.kind for s in alsh.sensitive] == [SensitiveKind.SANTE]
    assert "fiche sanitaire de liaison" in alsh.sensitive[0].description.lower()
    assert alsh.legal_basis.art9 in {"art9_2_h", "art9_2_g"}
    assert "R227-7" in alsh.legal_basis.text


def test_the_creches_fiche_names_refused_applicants_aeeh_and_the_caf_and_cnaf() -> None:
    eaje = FICHES["VS-EAJE"]
    assert any("refusée" in s for s in eaje.subjects)
    assert any("AEEH" in s.description for s in eaje.sensitive)
    partners = [r.name for r in eaje.recipients if r.type == "partenaire_institutionnel"]
    assert any(name.startswith("Cnaf (enquête FILOUE") for name in partners)
    assert any(name.startswith("Caf des Hauts-de-Seine") for name in partners)
    assert eaje.processors and FICHES["VS-ALSH"].processors


def test_legal_bases_cite_the_right_texts() -> None:
    tarif = FICHES["VS-TARIF"].legal_basis.text
    assert "loi n° 98-657 du 29 juillet 1998" in tarif.lower() and "art. 147" in tarif
    assert "L2331-2" not in tarif
    stats = FICHES["CAF92-STATS"].legal_basis.text
    assert "L223-1" in stats
    assert "CTG, article 9" not in stats and "non la base légale" in stats


def test_the_caf_communicates_no_category_its_fiche_does_not_declare() -> None:
    partners = FICHES["CAF92-PARTENAIRES"]
    assert "nationalite_sejour" not in partners.ctg_categories
    assert "evaluation_sociale" not in partners.ctg_categories


def test_the_relais_petite_enfance_has_its_current_name() -> None:
    assert FICHES["VS-RAM"].name.startswith("Relais petite enfance")
    ram = next(s for s in POLICY.structures if s.type == "RAM")
    assert ram.label.startswith("Relais petite enfance")


# -- end to end ----------------------------------------------------------------------------


@pytest.fixture
def registered(ctg: Ctg) -> Ctg:
    for dpo in ("v.dpo", "c.dpo"):
        ctg.ok("register", "import", str(REGISTRY), as_=dpo)
    return ctg


def test_check_flags_a_party_without_a_fiche_for_this_tool(ctg: Ctg, tmp_path: Path) -> None:
    registry = tmp_path / "registry"
    shutil.copytree(REGISTRY, registry)
    (registry / "ville_sceaux" / "VS-CTGX.yaml").unlink()
    ctg.ok("register", "import", str(registry), as_="v.dpo")
    result = ctg("register", "check", "--controller", "ville_sceaux", "--json")
    assert result.exit_code == 1
    findings = json.loads(result.stdout)["findings"]
    assert {
        "subject": "ville_sceaux",
        "field": "register",
        "code": "TOOL_FICHE_MISSING",
        "message": "no fiche records the processing of ctg-exchange itself (members, keys, audit "
        "log; GDPR art. 5(2) and 30): add one with `ctg_exchange_tool: true`",
    } in findings


def test_check_flags_health_data_dropped_from_the_leisure_centres_fiche(
    registered: Ctg, tmp_path: Path
) -> None:
    data = yaml.safe_load((REGISTRY / "ville_sceaux" / "VS-ALSH.yaml").read_text())
    del data["sensitive"]
    data["legal_basis"].pop("art9")
    fiche = tmp_path / "VS-ALSH.yaml"
    fiche.write_text(yaml.safe_dump(data, allow_unicode=True))
    registered.ok("register", "edit", "--from-file", str(fiche), "--reason", "x", as_="v.dpo")
    result = registered("register", "check", "--controller", "ville_sceaux")
    assert result.exit_code == 1
    assert [line for line in result.stdout.splitlines() if "SENSITIVE_UNDECLARED" in line] == [
        "VS-ALSH: sensitive: SENSITIVE_UNDECLARED: the policy says ALSH collects 'sante_detail' "
        f"({HEALTH}), data of GDPR art. 9, and the fiche declares none (Art. 30(1)(c))"
    ]


def test_exports_show_the_processors(registered: Ctg, tmp_path: Path) -> None:
    out = tmp_path / "registre.csv"
    registered.ok("register", "export", "--format", "csv", "--out", str(out), as_="v.dpo")
    with out.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle, delimiter=";"))
    by_ref = {row[1]: dict(zip(rows[0], row, strict=True)) for row in rows[1:]}
    eaje = by_ref["VS-EAJE"]
    assert (
        eaje["Destinataires — Sous-traitants"] == "À compléter (éditeur du logiciel petite enfance)"
    )
    assert eaje["Sous-traitants (art. 28) — prestation, contrat, hébergement"].startswith(
        "À compléter (éditeur du logiciel petite enfance) : Édition, maintenance"
    )
    assert (
        "contrat (art. 28) : À compléter"
        in eaje["Sous-traitants (art. 28) — prestation, contrat, hébergement"]
    )
    for fmt in ("html", "md"):
        page = tmp_path / f"registre.{fmt}"
        registered.ok("register", "export", "--format", fmt, "--out", str(page), as_="v.dpo")
        text = page.read_text(encoding="utf-8")
        assert "Sous-traitants (RGPD art. 28)" in text
        assert "éditeur du logiciel petite enfance" in text
    shown = registered("register", "show", "VS-EAJE")
    assert "Sous-traitants (RGPD art. 28)" in shown.stdout
    assert registered.json("register", "show", "VS-EAJE")["processors"][0]["contract"].startswith(
        "À compléter"
    )


def test_the_processors_are_in_what_the_log_signed(registered: Ctg) -> None:
    registered.sql(
        "UPDATE register_versions SET doc = replace(doc, 'éditeur du logiciel petite enfance', "
        "'autre éditeur') WHERE ref = 'VS-EAJE'",
        guards=False,
    )
    result = registered("audit", "verify")
    assert result.exit_code == 3
    assert "VS-EAJE" in result.output


def test_the_requesters_new_fiche_names_the_processors_of_its_request(registered: Ctg) -> None:
    rid = registered.file_request("--processor", "Éditeur Test SAS=Marché 2024-017, art. 12")
    registered.advance(rid, "approved")
    registered.ok(
        "conditions",
        "accept",
        rid,
        "--dpia-ref",
        "AIPD-VS-TEST",
        *ACCEPTED_WITH,
        as_="v.controller",
    )
    fiche = registered.json("register", "show", f"VS-{rid}")
    assert fiche["processors"] == [
        {
            "name": "Éditeur Test SAS",
            "service": f"Sous-traitant déclaré dans la demande {rid}",
            "contract": "Marché 2024-017, art. 12",
            "location": None,
        }
    ]
    assert registered("audit", "verify").exit_code == 0
