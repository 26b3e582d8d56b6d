"""The Article 30 register (issue 5): import, versions, completeness, feeding by the procedure,
CNIL-layout exports and the signed audit bundle."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import CHROMIUM, Ctg, headless_chromium, ssh_keygen_verify

REGISTRY = Path(__file__).resolve().parents[1] / "registry"
needs_ssh_keygen = pytest.mark.skipif(
    shutil.which("ssh-keygen") is None, reason="ssh-keygen is not installed"
)


@pytest.fixture
def registered(ctg: Ctg) -> Ctg:
    for dpo in ("v.dpo", "c.dpo"):
        ctg.ok("register", "import", str(REGISTRY), as_=dpo)
    return ctg


def accepted(ctg: Ctg) -> str:
    rid = ctg.file_request()
    ctg.advance(rid, "approved")
    ctg.ok(
        "conditions",
        "accept",
        rid,
        "--dpia-ref",
        "AIPD-VS-TEST",
        "--information",
        "Lettre aux familles (test)",
        "--l311-mention",
        "Mention sur la facture (test)",
        as_="v.controller",
    )
    return rid


def test_import_loads_each_partys_fiches_and_a_second_import_changes_nothing(ctg: Ctg) -> None:
    first = ctg.json("register", "import", str(REGISTRY), as_="v.dpo")
    assert first["added"] == ["VS-ALSH", "VS-CTGX", "VS-EAJE", "VS-RAM", "VS-TARIF"]
    assert first["skipped"] == ["CAF92-BONUS", "CAF92-CTGX", "CAF92-PARTENAIRES", "CAF92-STATS"]
    before = ctg.snapshot()
    again = ctg.json("register", "import", str(REGISTRY), as_="v.dpo")
    assert again["unchanged"] == first["added"] and not again["added"] and not again["updated"]
    assert ctg.snapshot() == before
    ctg.refused(
        "register",
        "import",
        str(REGISTRY),
        as_="v.agent",
        contains="only an admin or the DPO of ville_sceaux edits its register",
    )


def test_shipped_baseline_lacks_only_what_each_party_must_fill_in(registered: Ctg) -> None:
    result = registered("register", "check")
    assert result.exit_code == 1
    placeholder = "is a placeholder to replace with the fact (Art. 30(1))"
    contact = (
        "dpo: PLACEHOLDER_CONTACT: the policy's DPO contact is an example (`example: true`): the "
        "register must name the DPO and their contact details (Art. 30(1)(a), Art. 37(7))"
    )
    assert result.stdout.splitlines() == [
        "VS-ALSH: processors[0].name: PLACEHOLDER_VALUE: 'À compléter (éditeur du logiciel "
        f"enfance et du portail fa…' {placeholder}",
        "VS-ALSH: processors[0].contract: PLACEHOLDER_VALUE: 'À compléter (contrat ou clauses "
        f"de sous-traitance, RGPD a…' {placeholder}",
        "VS-EAJE: processors[0].name: PLACEHOLDER_VALUE: 'À compléter (éditeur du logiciel "
        f"petite enfance)' {placeholder}",
        "VS-EAJE: processors[0].contract: PLACEHOLDER_VALUE: 'À compléter (contrat ou clauses "
        f"de sous-traitance, RGPD a…' {placeholder}",
        f"ville_sceaux: {contact}",
        f"caf92: {contact}",
    ]
    refs = [e["ref"] for e in registered.json("register", "list")]
    assert refs == [
        "CAF92-BONUS",
        "CAF92-CTGX",
        "CAF92-PARTENAIRES",
        "CAF92-STATS",
        "VS-ALSH",
        "VS-CTGX",
        "VS-EAJE",
        "VS-RAM",
        "VS-TARIF",
    ]


@pytest.mark.parametrize(
    ("old", "new", "needle", "message"),
    [
        (
            "purpose: Calculer la participation",
            "purpos: Calculer la participation",
            "purpos:",
            "purpos: unknown key",
        ),
        (
            "controller: ville_sceaux",
            "controller: ville_antony",
            "controller:",
            "controller: unknown party 'ville_antony'",
        ),
        (
            "created_on: 2021-01-01",
            "created_on: 2021-02-30",
            "created_on",
            "created_on: input should be a valid date",
        ),
        ("ref: VS-TARIF", "ref: VS-EAJE", "ref:", "VS-EAJE is also in"),
    ],
    ids=["unknown-key", "unknown-controller", "bad-date", "duplicate-ref"],
)
def test_a_malformed_fiche_is_reported_with_its_line(
    ctg: Ctg, tmp_path: Path, old: str, new: str, needle: str, message: str
) -> None:
    registry = tmp_path / "registry"
    shutil.copytree(REGISTRY, registry)
    fiche = registry / "ville_sceaux" / "VS-TARIF.yaml"
    fiche.write_text(fiche.read_text(encoding="utf-8").replace(old, new, 1), encoding="utf-8")
    line = next(n for n, text in enumerate(fiche.read_text().splitlines(), 1) if needle in text)
    result = ctg("register", "import", str(registry), as_="v.dpo")
    assert result.exit_code == 1
    errors = result.stderr.splitlines()
    assert any(
        e.startswith(f"ctg-exchange: error: {fiche}:{line}: ") and message in e for e in errors
    ), errors
    assert ctg.json("register", "list") == []


def test_a_missing_mandatory_field_fails_the_import(ctg: Ctg, tmp_path: Path) -> None:
    fiche = tmp_path / "VS-NEW.yaml"
    fiche.write_text(
        "ref: VS-NEW\ncontroller: ville_sceaux\nname: Nouveau traitement\n"
        "created_on: 2025-01-01\nlegal_basis: {art6: art6_1_e, text: Texte}\n"
    )
    result = ctg.refused(
        "register",
        "import",
        str(fiche),
        as_="v.dpo",
        lines=2,
        contains=f"{fiche}:1: purpose: required key is missing",
    )
    assert f"{fiche}:1: subjects: required key is missing" in result.stderr


def _fiche(tmp_path: Path, **changes: object) -> Path:
    import yaml

    data = yaml.safe_load((REGISTRY / "ville_sceaux" / "VS-RAM.yaml").read_text())
    data.update(changes)
    path = tmp_path / f"{data['ref']}.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    return path


def test_check_names_what_is_incomplete(registered: Ctg, tmp_path: Path) -> None:
    incomplete = _fiche(
        tmp_path,
        ref="VS-CCAS",
        name="Aides facultatives du CCAS",
        data=[{"group": "economique_financier", "description": "Ressources"}],
        sensitive=[{"kind": "sante", "description": "Justificatif médical", "retention": "1 an"}],
        recipients=[{"name": "Commission d'aides"}],
        dpia_required=True,
    )
    registered.ok("register", "add", "--from-file", str(incomplete), as_="v.dpo")

    result = registered("register", "check", "--controller", "ville_sceaux")

    assert result.exit_code == 1
    assert [line for line in result.stdout.splitlines() if line.startswith("VS-CCAS")] == [
        "VS-CCAS: data[0].retention: RETENTION_UNSET: retention period unset (Art. 30(1)(f))",
        "VS-CCAS: legal_basis.art9: ART9_CONDITION_MISSING: special-category data without an "
        "Art. 9(2) condition",
        "VS-CCAS: dpia_ref: DPIA_REF_MISSING: a DPIA is required and no DPIA reference is "
        "recorded (Art. 35)",
        'VS-CCAS: recipients[0].type: RECIPIENT_TYPE_MISSING: recipient "Commission d\'aides" '
        "has no type",
    ]
    caf = registered("register", "check", "--controller", "caf92")
    assert caf.exit_code == 1
    assert [line.split(": ")[:3] for line in caf.stdout.splitlines()] == [
        ["caf92", "dpo", "PLACEHOLDER_CONTACT"]
    ]


def test_every_change_is_a_version_and_nothing_is_deleted(registered: Ctg, tmp_path: Path) -> None:
    changed = _fiche(tmp_path, purpose="Mettre en relation familles et assistants maternels")
    registered.refused(
        "register",
        "edit",
        "--from-file",
        str(changed),
        "--reason",
        "x",
        as_="c.dpo",
        contains="only an admin or the DPO of ville_sceaux",
    )
    registered.ok(
        "register",
        "edit",
        "--from-file",
        str(changed),
        "--reason",
        "Finalité reformulée",
        as_="v.admin",
    )
    registered.refused(
        "register",
        "edit",
        "--from-file",
        str(changed),
        "--reason",
        "encore",
        as_="v.dpo",
        contains="VS-RAM: nothing changed",
    )
    registered.refused(
        "register",
        "add",
        "--from-file",
        str(changed),
        as_="v.dpo",
        contains="VS-RAM already exists",
    )
    registered.refused(
        "register",
        "add",
        "--from-file",
        str(_fiche(tmp_path, ref="VS-NEW")),
        as_="v.agent",
        contains="only an admin or the DPO of ville_sceaux",
    )
    registered.refused(
        "register",
        "edit",
        "--from-file",
        str(_fiche(tmp_path, ref="VS-NONE")),
        "--reason",
        "x",
        as_="v.dpo",
        contains="no register fiche 'VS-NONE'",
    )
    registered.refused(
        "register", "import", str(REGISTRY), as_="v.agent", contains="only an admin or the DPO"
    )
    history = registered.json("register", "history", "VS-RAM")
    assert [(v["version"], v["changed_by"], v["reason"]) for v in history] == [
        (1, "v.dpo", "import of VS-RAM.yaml"),
        (2, "v.admin", "Finalité reformulée"),
    ]
    assert history[0]["purpose"] != history[1]["purpose"]
    assert registered("audit", "verify").exit_code == 0


def test_accepting_conditions_feeds_both_registers(registered: Ctg) -> None:
    rid = accepted(registered)
    ville = {
        e["ref"]: e for e in registered.json("register", "list", "--controller", "ville_sceaux")
    }
    new = ville[f"VS-{rid}"]
    assert new["exchanges"] == [rid]
    assert (
        new["source"] == f"Caisse d'allocations familiales des Hauts-de-Seine — échange CTG "
        f"article 7, {rid}"
    )
    assert new["legal_basis"] == {
        "art6": "art6_1_e",
        "art9": None,
        "text": "Texte de référence fictif pour les tests",
    }
    assert [d["group"] for d in new["data"]] == ["etat_civil_identite", "economique_financier"]
    assert new["dpia_ref"] == "AIPD-VS-TEST"
    caf = registered.json("register", "show", "CAF92-PARTENAIRES")
    assert caf["recipients"][-1] == {
        "name": f"Ville de Sceaux ({rid})",
        "type": "partenaire_institutionnel",
        "exchange": rid,
    }
    assert rid in caf["exchanges"]
    # the new fiche is complete: what check flags is only what the baseline leaves open
    result = registered("register", "check", "--json")
    assert result.exit_code == 1
    checked = json.loads(result.stdout)
    assert checked["findings"] and all(
        f["code"].startswith("PLACEHOLDER_") and f["subject"] != new["ref"]
        for f in checked["findings"]
    )
    # re-importing the baseline keeps what the procedure added
    registered.ok("register", "import", str(REGISTRY), as_="c.dpo")
    assert rid in registered.json("register", "show", "CAF92-PARTENAIRES")["exchanges"]


def test_a_dpia_reference_is_required_before_transfer(registered: Ctg) -> None:
    rid = registered.file_request()
    registered.advance(rid, "approved")
    registered.refused(
        "conditions",
        "accept",
        rid,
        as_="v.controller",
        contains=f"{rid} needs a DPIA (GDPR art. 35) before any transfer",
    )


def test_a_lapsed_exchange_annotates_its_fiches(registered: Ctg) -> None:
    rid = accepted(registered)
    registered.ok(
        "convention", "terminate", "--case", "breach", "--notice-date", "2025-04-30",
        "--on", "2025-06-02", "--reason", "Test", as_="v.admin",
    )  # fmt: skip
    assert registered.show(rid)["status"] == "lapsed"
    for ref in (f"VS-{rid}", "CAF92-PARTENAIRES"):
        notes = registered.json("register", "show", ref)["notes"]
        assert notes[-1]["exchange"] == rid and "caduc" in notes[-1]["text"]
    assert registered("audit", "verify").exit_code == 0


def test_csv_follows_the_cnil_model(registered: Ctg, tmp_path: Path) -> None:
    accepted(registered)
    out = tmp_path / "registre.csv"
    registered.ok(
        "register", "export", "--controller", "ville_sceaux", "--format", "csv", "--out", str(out)
    )
    with out.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle, delimiter=";"))
    assert rows[0][:6] == [
        "Nom du traitement",
        "N° / RÉF",
        "Date de création de la fiche",
        "Dernière mise à jour de la fiche",
        "Finalité du traitement",
        "Données sensibles ?",
    ]
    for column in (
        "Base légale (art. 6 / art. 9)",
        "Source des données",
        "Réf. échange CTG art. 7 / avis DPO / décision",
        "AIPD (réf.)",
    ):
        assert column in rows[0]
    by_ref = {row[1]: dict(zip(rows[0], row, strict=True)) for row in rows[1:]}
    assert by_ref["VS-EAJE"]["Données sensibles ?"] == "Oui"
    assert (
        "avis favorable du "
        in by_ref["VS-DX-2025-0001"]["Réf. échange CTG art. 7 / avis DPO / décision"]
    )


def test_xlsx_has_the_list_and_one_sheet_per_fiche(registered: Ctg, tmp_path: Path) -> None:
    from openpyxl import load_workbook

    out = tmp_path / "registre.xlsx"
    registered.ok("register", "export", "--format", "xlsx", "--out", str(out), as_="c.dpo")
    book = load_workbook(out)
    assert book.sheetnames == [
        "Liste des traitements",
        "CAF92-BONUS",
        "CAF92-CTGX",
        "CAF92-PARTENAIRES",
        "CAF92-STATS",
    ]
    cells = [c for row in book["Liste des traitements"].iter_rows(values_only=True) for c in row]
    for label in (
        "Responsable du traitement",
        "Représentant",
        "Délégué à la protection des données (DPO)",
        "Adresse mél",
        "N° / RÉF",
    ):
        assert label in cells
    fiche = [c for row in book["CAF92-PARTENAIRES"].iter_rows(values_only=True) for c in row]
    assert "Mesures de sécurité" in fiche and "Destinataires" in fiche


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")
def test_html_renders_in_headless_chromium(registered: Ctg, tmp_path: Path) -> None:
    out = tmp_path / "registre.html"
    registered.ok(
        "register", "export", "--controller", "caf92", "--format", "html", "--out", str(out)
    )
    shot = tmp_path / "page.png"
    headless_chromium(
        tmp_path / "profile", f"--screenshot={shot}", "--window-size=1200,1600", out.as_uri()
    )
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert shot.stat().st_size > 10_000
    assert "Registre des activités de traitement" in out.read_text()


@needs_ssh_keygen
def test_the_audit_bundle_verifies_and_detects_a_changed_byte(
    registered: Ctg, tmp_path: Path
) -> None:
    rid = accepted(registered)
    bundle = tmp_path / "controle"
    made = registered.json("register", "export", "--audit-bundle", str(bundle), as_="c.dpo")
    assert made["audit_log"].startswith(
        f"{made_events(registered) - 1} événements vérifiés ; tête "
    )
    names = {p.relative_to(bundle).as_posix() for p in bundle.rglob("*") if p.is_file()}
    assert {
        "SHA256SUMS",
        "SHA256SUMS.sig",
        f"echanges/{rid}/demande.json",
        f"echanges/{rid}/demande.md",
        "convention/politique-v1.yaml",
        "journal/export.jsonl",
        "journal/checkpoint.txt",
        "journal/verify_audit_export.py",
        "journal/verification.txt",
        "registre/registre-caf92.xlsx",
        "registre/registre-caf92.html",
    } <= names
    request = json.loads((bundle / "echanges" / rid / "demande.json").read_text())
    assert request["acceptance"]["dpia_ref"] == "AIPD-VS-TEST"

    def sums() -> int:
        return subprocess.run(
            ["sha256sum", "--quiet", "-c", "SHA256SUMS"],
            cwd=bundle,
            capture_output=True,
            check=False,
        ).returncode

    def signature() -> int:
        return ssh_keygen_verify(
            bundle / "journal" / "allowed_signers",
            "c.dpo",
            "ctg-exchange/bundle@v1",
            bundle / "SHA256SUMS.sig",
            (bundle / "SHA256SUMS").read_bytes(),
        ).returncode

    assert sums() == 0 and signature() == 0
    # the journal extract verifies without ctg-exchange, with the bundle's own script
    offline = subprocess.run(
        [
            sys.executable,
            "journal/verify_audit_export.py",
            "journal/export.jsonl",
            "--allowed-signers",
            "journal/allowed_signers",
        ],
        cwd=bundle,
        capture_output=True,
        text=True,
        check=False,
    )
    assert offline.returncode == 0, offline.stdout
    assert offline.stdout.startswith("OK: ")
    target = bundle / "registre" / "registre-caf92.md"
    data = bytearray(target.read_bytes())
    data[10] ^= 0x01
    target.write_bytes(bytes(data))
    assert sums() != 0
    listing = bytearray((bundle / "SHA256SUMS").read_bytes())
    listing[3] ^= 0x01
    (bundle / "SHA256SUMS").write_bytes(bytes(listing))
    assert signature() != 0
    assert registered.json("audit", "log")[-1]["action"] == "register.export"


def made_events(ctg: Ctg) -> int:
    """Events in the log now (the bundle's own export event is the last)."""
    return int(ctg.json("audit", "verify")["events"])


def test_a_bundle_for_one_fiche_and_refusals(registered: Ctg, tmp_path: Path) -> None:
    bundle = tmp_path / "fiche"
    registered.ok(
        "register", "export", "--audit-bundle", str(bundle), "--ref", "CAF92-STATS", as_="c.dpo"
    )
    assert sorted(p.name for p in (bundle / "registre").iterdir()) == [
        f"fiche-CAF92-STATS.{fmt}" for fmt in ("csv", "html", "json", "md", "xlsx")
    ]
    registered.refused(
        "register", "export", "--audit-bundle", str(bundle), as_="c.dpo", contains="already exists"
    )
    registered.refused(
        "register",
        "export",
        "--audit-bundle",
        str(tmp_path / "x"),
        "--controller",
        "caf92",
        as_="v.dpo",
        contains="only an admin or the DPO of caf92",
    )
    registered.refused(
        "register",
        "export",
        "--format",
        "csv",
        "--out",
        str(tmp_path / "r.csv"),
        contains="give --controller, or act as a member",
    )
