"""Recommendations that bind: every one answered at approval, adopted ones become conditions,
which only the requesting party's controller accepts; non-personal requests skip the DPO."""

from __future__ import annotations

import pytest

from ctg_exchange.domain.recommendations import RecommendationKind, parse_recommendation
from ctg_exchange.errors import InvalidInput

from conftest import Ctg

RECOMMENDATIONS = (
    "--recommend", "max_retention_days:180",
    "--recommend", "limit_columns:numero_allocataire,quotient_familial",
    "--recommend", "Informer les familles de l'origine des données (CRPA L114-8)",
)  # fmt: skip


def _with_opinion(ctg: Ctg, *recommend: str) -> str:
    rid = ctg.file_request()
    ctg.advance(rid, "awaiting_dpo")
    ctg.ok("dpo", "opinion", rid, "--verdict", "favourable_with_recommendations",
           "--note", "Avis de test", *recommend, as_="c.dpo")  # fmt: skip
    return rid


@pytest.mark.parametrize(
    ("text", "kind", "columns", "value"),
    [
        ("limit_columns:numero_allocataire, quotient_familial", "limit_columns",
         ("numero_allocataire", "quotient_familial"), None),
        ("max_retention_days:90", "max_retention_days", (), 90),
        ("pseudonymise:numero_allocataire", "pseudonymise", ("numero_allocataire",), None),
        ("aggregate_min_count:11", "aggregate_min_count", (), 11),
        ("Chiffrer le fichier : clé transmise hors bande", "free", (), None),
    ],
)  # fmt: skip
def test_recommendation_forms(
    text: str, kind: str, columns: tuple[str, ...], value: int | None
) -> None:
    parsed = parse_recommendation(3, text)
    assert (parsed.label, parsed.kind, parsed.columns, parsed.value) == (
        "R3", RecommendationKind(kind), columns, value)  # fmt: skip


@pytest.mark.parametrize(
    "text", ["max_retention_days:soon", "aggregate_min_count:0", "limit_columns:", "pseudonymise:A"]
)
def test_malformed_machine_checkable_recommendations(text: str) -> None:
    with pytest.raises(InvalidInput, match="R1"):
        parse_recommendation(1, text)


def test_an_unanswered_recommendation_refuses_the_approval(ctg: Ctg) -> None:
    rid = _with_opinion(ctg, *RECOMMENDATIONS)
    refused = ctg.refused(
        "decide",
        "approve",
        rid,
        "--adopt",
        "R1",
        "--adopt",
        "R2",
        as_="c.controller",
        contains=f"approving {rid} answers every recommendation: R3 unanswered",
    )
    # the hint names the one left unanswered, not R1
    assert '(--adopt R3) or set it aside with reasons (--set-aside R3="…")' in refused.stderr
    ctg.refused(
        "decide",
        "approve",
        rid,
        "--adopt",
        "R1",
        "--adopt",
        "R2",
        "--set-aside",
        "R3=",
        as_="c.controller",
        contains="setting R3 aside needs written reasons",
    )
    ctg.refused(
        "decide",
        "approve",
        rid,
        "--adopt",
        "R1",
        "--adopt",
        "R1",
        as_="c.controller",
        contains="R1 is answered twice",
    )
    ctg.refused(
        "decide",
        "approve",
        rid,
        "--adopt",
        "R9",
        as_="c.controller",
        contains="no recommendation 'R9' (the opinion has: R1, R2, R3)",
    )


def test_adopted_recommendations_become_the_conditions(ctg: Ctg) -> None:
    rid = _with_opinion(ctg, *RECOMMENDATIONS)
    ctg.ok("decide", "approve", rid, "--adopt", "R1", "--adopt", "r2",
           "--set-aside", "R3=Mention déjà portée au formulaire d'inscription",
           as_="c.controller")  # fmt: skip

    shown = ctg.show(rid)
    assert [(c["source"], c["kind"], c["columns"], c["value"]) for c in shown["conditions"]] == [
        (1, "max_retention_days", [], 180),
        (2, "limit_columns", ["numero_allocataire", "quotient_familial"], None),
    ]
    assert shown["decision"]["answers"][2] == {
        "number": 3, "adopted": False,
        "reason": "Mention déjà portée au formulaire d'inscription"}  # fmt: skip


def test_recommendations_are_checked_against_the_request(ctg: Ctg) -> None:
    rid = ctg.file_request()
    ctg.advance(rid, "awaiting_dpo")
    opinion = ("dpo", "opinion", rid, "--verdict", "favourable_with_recommendations",
               "--note", "Avis")  # fmt: skip
    ctg.refused(
        *opinion,
        "--recommend",
        "limit_columns:nom,quotient_familial",
        as_="c.dpo",
        contains="R1 names columns the request does not carry: nom",
    )
    ctg.refused(
        *opinion,
        "--recommend",
        "max_retention_days:400",
        as_="c.dpo",
        contains="R1 would keep the data 400 days, not less than the 365 days requested",
    )


def test_only_the_requesting_partys_controller_accepts_the_conditions(ctg: Ctg) -> None:
    rid = _with_opinion(ctg, "--recommend", "max_retention_days:90")
    ctg.refused(
        "conditions",
        "accept",
        rid,
        as_="v.controller",
        contains=f"{rid} is opinion_given: `conditions accept` needs approved",
    )
    ctg.ok("decide", "approve", rid, "--adopt", "R1", as_="c.controller")
    for actor in ("c.controller", "v.agent", "v.dpo", "v.admin"):
        ctg.refused(
            "conditions",
            "accept",
            rid,
            as_=actor,
            contains="only the controller of the requesting party (ville_sceaux) "
            "accepts the conditions",
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
    assert accepted["acceptance"]["by"] == "v.controller"
    ctg.refused("conditions", "accept", rid, as_="v.controller", contains="is conditions_accepted")


def test_approval_against_an_unfavourable_opinion_is_flagged(ctg: Ctg) -> None:
    rid = ctg.file_request()
    ctg.advance(rid, "awaiting_dpo")
    ctg.ok("dpo", "opinion", rid, "--verdict", "unfavourable", "--note", "Disproportionné",
           "--recommend", "max_retention_days:90", as_="c.dpo")  # fmt: skip
    ctg.refused(
        "decide",
        "approve",
        rid,
        "--adopt",
        "R1",
        as_="c.controller",
        contains="approving needs written reasons in --justification",
    )
    approved = ctg.json(
        "decide",
        "approve",
        rid,
        "--adopt",
        "R1",
        "--justification",
        "Nécessité de service établie par le directeur",
        as_="c.controller",
    )
    assert approved["approved_against_dpo_opinion"] is True


def test_a_non_personal_request_skips_the_dpo(ctg: Ctg) -> None:
    result = ctg.json(
        "request", "new", "--to", "caf92", "--field", "parentalite",
        "--purpose", "Diagnostic de territoire à partir d'effectifs communaux (test)",
        "--purpose-kind", "diagnostic", "--category", "statistiques_agregees",
        "--aggregates-of", "composition_familiale",
        "--subjects", "Aucune personne identifiable", "--retention-days", "1825",
        "--frequency", "yearly", as_="v.agent",
    )  # fmt: skip
    rid = result["id"]
    assert (result["triage"], result["findings"], result["legal_basis"]) == (
        "non_personal", [], None)  # fmt: skip
    ctg.ok("study", "accept", rid, "--note", "Agrégats communaux", as_="c.analyst")
    ctg.refused(
        "study",
        "submit",
        rid,
        as_="c.analyst",
        contains=f"{rid} is non-personal (anonymous aggregates): it skips the DPO",
    )
    ctg.ok("decide", "approve", rid, as_="c.controller")

    shown = ctg.show(rid)
    assert shown["status"] == "approved" and shown["opinion"] is None
    assert "non_personal — anonymous aggregates: no DPO" in ctg.ok("request", "show", rid).stdout
