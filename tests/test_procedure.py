"""The Article 7 procedure end to end through the command line, filing through decision."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

from conftest import Ctg


def test_request_goes_from_filing_to_accepted_conditions(ctg: Ctg) -> None:
    rid = ctg.file_request()
    assert rid == "DX-2025-0001"
    filed = ctg.show(rid)
    assert filed["status"] == "filed"
    assert filed["triage"] == "personal"
    assert {f["code"] for f in filed["findings"]} == {
        "PERCEIVED_SENSITIVE",
        "MINORS",
        "ALGORITHMIC_DECISION",
        "QF_PER_FAMILY_CHANNEL",
        "MATCHING_DATASETS",
        "DPIA_REQUIRED",
    }
    assert filed["dpia_required"] is True

    ctg.ok("study", "accept", rid, "--note", "Besoin établi", as_="c.analyst")
    ctg.ok("study", "submit", rid, "--note", "Pour avis", as_="c.analyst")
    inbox = ctg.json("dpo", "inbox", as_="c.dpo")
    assert [item["id"] for item in inbox] == [rid]
    assert inbox[0]["due"] == "2025-07-02"  # submitted 2025-06-02 + 30 days
    assert "DPIA_REQUIRED" in ctg.ok("dpo", "inbox", as_="c.dpo").stdout
    ctg.ok(
        "dpo",
        "opinion",
        rid,
        "--verdict",
        "favourable_with_recommendations",
        "--note",
        "Finalité légitime",
        "--recommend",
        "max_retention_days:180",
        "--recommend",
        "Informer les familles (CRPA L114-8)",
        as_="c.dpo",
    )
    approved = ctg.json(
        "decide",
        "approve",
        rid,
        "--adopt",
        "R1",
        "--set-aside",
        "R2=Information faite au guichet d'inscription",
        as_="c.controller",
    )
    accepted = ctg.json(
        "conditions",
        "accept",
        rid,
        "--dpia-ref",
        "AIPD-TEST-1",
        "--information",
        "Lettre aux familles (test)",
        "--l311-mention",
        "Mention sur la facture (test)",
        as_="v.controller",
    )

    assert approved["status"] == "approved"
    assert accepted["status"] == "conditions_accepted"
    shown = ctg.show(rid)
    assert (shown["from"], shown["to"], shown["field"]) == (
        "ville_sceaux",
        "caf92",
        "petite_enfance",
    )
    assert shown["categories"] == ["numero_allocataire", "quotient_familial"]
    assert shown["opinion"]["verdict"] == "favourable_with_recommendations"
    assert [(r["number"], r["kind"]) for r in shown["opinion"]["recommendations"]] == [
        (1, "max_retention_days"),
        (2, "free"),
    ]
    assert shown["decision"]["outcome"] == "approved"
    assert shown["approved_against_dpo_opinion"] is False
    assert [(a["number"], a["adopted"]) for a in shown["decision"]["answers"]] == [
        (1, True),
        (2, False),
    ]
    assert shown["conditions"] == [
        {
            "source": 1,
            "kind": "max_retention_days",
            "text": "max_retention_days:180",
            "columns": [],
            "value": 180,
        }
    ]
    assert shown["acceptance"]["by"] == "v.controller"
    assert [(h["action"], h["to_status"]) for h in shown["history"]] == [
        ("request.file", "filed"),
        ("study.accept", "under_study"),
        ("study.submit", "awaiting_dpo"),
        ("dpo.opinion", "opinion_given"),
        ("decide.approve", "approved"),
        ("conditions.accept", "conditions_accepted"),
    ]
    assert [h["actor"] for h in shown["history"]] == [
        "v.agent",
        "c.analyst",
        "c.analyst",
        "c.dpo",
        "c.controller",
        "v.controller",
    ]
    assert ctg.json("dpo", "inbox", as_="c.dpo") == []
    human = ctg.ok("request", "show", rid).stdout
    assert "R1  max_retention_days:180" in human and "Conditions accepted by v.controller" in human
    verify = ctg("audit", "verify")
    assert verify.exit_code == 0
    # init + 10 members + 6 steps + the requester's new register fiche
    assert verify.stdout.strip() == "18 events verified"


def test_request_ids_count_per_year(ctg: Ctg) -> None:
    assert ctg.file_request() == "DX-2025-0001"
    assert ctg.file_request() == "DX-2025-0002"
    assert ctg.json("request", "list", "--status", "filed")[1]["id"] == "DX-2025-0002"


def test_returned_request_is_amended_and_filed_again(ctg: Ctg) -> None:
    rid = ctg.file_request()
    ctg.ok("study", "accept", rid, "--note", "À l'étude", as_="c.controller")
    ctg.ok(
        "study", "return", rid, "--reason", "Réduire la durée de conservation", as_="c.controller"
    )
    assert ctg.show(rid)["status"] == "returned"

    amended = ctg.json("request", "amend", rid, "--retention-days", "180", as_="v.agent")

    assert amended["status"] == "filed"
    assert amended["retention_days"] == 180
    assert ctg.show(rid)["history"][-1]["text"] == "changed: retention_days"


def test_withdrawn_by_requester_before_decision(ctg: Ctg) -> None:
    rid = ctg.file_request()
    ctg.advance(rid, "awaiting_dpo")
    withdrawn = ctg.json(
        "request", "withdraw", rid, "--reason", "Besoin couvert autrement", as_="v.agent"
    )
    assert withdrawn["status"] == "withdrawn"


def test_rejection_records_the_reason(ctg: Ctg) -> None:
    rid = ctg.file_request()
    ctg.advance(rid, "opinion_given")
    ctg.ok("decide", "reject", rid, "--reason", "Finalité non établie", as_="c.controller")
    shown = ctg.show(rid)
    assert shown["status"] == "rejected"
    assert shown["decision"]["text"] == "Finalité non établie"


def test_approval_against_an_unfavourable_opinion_needs_reasons_and_is_flagged(ctg: Ctg) -> None:
    rid = ctg.file_request()
    ctg.advance(rid, "awaiting_dpo")
    ctg.ok(
        "dpo", "opinion", rid, "--verdict", "unfavourable", "--note", "Finalité floue", as_="c.dpo"
    )
    ctg.refused("decide", "approve", rid, as_="c.controller", contains="--justification")

    approved = ctg.json(
        "decide",
        "approve",
        rid,
        "--justification",
        "Motifs écrits du directeur",
        as_="c.controller",
    )

    assert approved["decision"]["against_opinion"] is True
    assert approved["decision"]["text"] == "Motifs écrits du directeur"
    event = ctg.json("audit", "log", "--request", rid)[-1]
    assert event["payload"]["against_opinion"] is True


def test_dpo_of_either_party_annotates_at_any_stage(ctg: Ctg) -> None:
    rid = ctg.file_request()
    ctg.ok("dpo", "annotate", rid, "--note", "Registre de la Ville à compléter", as_="v.dpo")
    ctg.advance(rid, "approved")
    ctg.ok("dpo", "annotate", rid, "--note", "Vérifié après décision", as_="c.dpo")

    shown = ctg.show(rid)
    assert [(a["by"], a["party"]) for a in shown["annotations"]] == [
        ("v.dpo", "ville_sceaux"),
        ("c.dpo", "caf92"),
    ]
    assert shown["status"] == "approved"
    human = ctg.ok("request", "show", rid).stdout
    assert "Registre de la Ville à compléter" in human


def test_request_from_yaml_file(ctg: Ctg, tmp_path: Path) -> None:
    source = tmp_path / "request.yaml"
    source.write_text(
        textwrap.dedent("""\
        to: caf92
        field: enfance
        purpose: Vérifier l'éligibilité au tarif social de l'ALSH (jeu de test)
        purpose_kind: pricing
        categories: [quotient_familial]
        subjects: Familles fictives de l'ALSH
        legal_basis: art6_1_e
        legal_refs: [loi_98_657_art147]
        legal_text: Texte de référence fictif
        retention_days: 200
        frequency: yearly
        """),
        encoding="utf-8",
    )

    filed = ctg.json(
        "request", "new", "--from-file", str(source), "--retention-days", "100", as_="v.agent"
    )

    assert filed["field"] == "enfance"
    assert filed["retention_days"] == 100  # an option overrides the file


def test_notes_stay_out_of_the_audit_log_but_are_bound_by_their_hash(ctg: Ctg) -> None:
    rid = ctg.file_request()
    note = "Note de test contenant un nom fictif : Camille Exemple"
    ctg.ok("study", "accept", rid, "--note", note, as_="c.controller")

    events = ctg("audit", "log", "--json").stdout
    assert "Camille Exemple" not in events
    import hashlib
    import json

    last = json.loads(events)[-1]
    assert last["payload"]["text_sha256"] == hashlib.sha256(note.encode()).hexdigest()
    assert "Camille Exemple" in ctg.ok("request", "show", rid).stdout


def test_human_output_of_lists(ctg: Ctg) -> None:
    rid = ctg.file_request()
    assert rid in ctg.ok("request", "list").stdout
    assert "v.agent" in ctg.ok("member", "list").stdout
    assert "request.file" in ctg.ok("audit", "log").stdout
    assert (
        "No requests with status approved"
        in ctg.ok("request", "list", "--status", "approved").stderr
    )


def test_dpo_inbox_sorts_by_due_date_and_marks_the_overdue(ctg: Ctg) -> None:
    late, early = ctg.file_request(), ctg.file_request()
    ctg.ok("study", "accept", late, "--note", "Étude", as_="c.controller")
    ctg.ok("study", "accept", early, "--note", "Étude", as_="c.controller")
    ctg.ok("study", "submit", early, as_="c.controller")  # on 2025-06-02, the tests' day
    ctg.ok("study", "submit", late, as_="c.controller", env={"CTG_TODAY": "2025-06-20"})

    inbox = ctg("dpo", "inbox", "--json", as_="c.dpo", env={"CTG_TODAY": "2025-07-05"})

    items = [(i["id"], i["due"], i["overdue"]) for i in json.loads(inbox.stdout)]
    assert items == [(early, "2025-07-02", True), (late, "2025-07-20", False)]
    human = ctg("dpo", "inbox", as_="c.dpo", env={"CTG_TODAY": "2025-07-05"}).stdout
    assert "2025-07-02 overdue" in human
    ctg.refused("dpo", "inbox", as_="c.controller", contains="c.controller is not a DPO")
