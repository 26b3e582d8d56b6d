"""Issue 15: the law as a French DPO reads it, where it reaches past screening.

The screening cases themselves (control, holders, legal texts, outreach, automated decisions,
processors, retention) are in test_screening.py; here: what they change at send, in the log,
for a workspace whose policy was written before them, and on the command line.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from test_exchange import keyed, send  # noqa: F401  (the fixture, and the send helper)
from test_exchange_life import ACCEPTED_WITH

from ctg_exchange.cli.request_options import CONTENT_FIELDS
from ctg_exchange.domain.models import RequestContent
from ctg_exchange.policy import load_policy, shipped_policy_path
from ctg_exchange.policy.screening import screen
from ctg_exchange.services.requests import content_digest

from conftest import Ctg

POLICY = load_policy(shipped_policy_path()).policy
AGGREGATES = (
    "request", "new", "--to", "caf92", "--field", "acces_aux_droits",
    "--purpose", "Effectifs communaux pour le diagnostic (test)", "--purpose-kind", "diagnostic",
    "--category", "statistiques_agregees", "--subjects", "Aucune", "--retention-days", "1000",
    "--frequency", "yearly",
)  # fmt: skip
HEADER = "indicateur,territoire,periode,effectif\n"


def _approved_aggregates(ctg: Ctg, *extra: str) -> str:
    rid = str(ctg.json(*AGGREGATES, *extra, as_="v.agent")["id"])
    ctg.ok("study", "accept", rid, "--note", "Agrégats", as_="c.analyst")
    ctg.ok("decide", "approve", rid, as_="c.controller")
    ctg.ok(
        "conditions", "accept", rid, "--dpia-ref", "AIPD-TEST-1", *ACCEPTED_WITH, as_="v.controller"
    )
    return rid


def test_counts_of_a_sensitive_category_need_the_larger_smallest_cell(
    keyed: Ctg,  # noqa: F811
    tmp_path: Path,
) -> None:
    """Point 11: ``min_cell_sensitive`` (11) applies to counts of perceived-sensitive data."""
    ctg = keyed
    plain = _approved_aggregates(ctg, "--aggregates-of", "composition_familiale")
    sensitive = _approved_aggregates(ctg, "--aggregates-of", "prime_activite")
    dataset = tmp_path / "agg.csv"
    dataset.write_text(HEADER + "familles,Blagis,2025,40\nfamilles,Centre,2025,10\n")

    ctg.refused(
        "exchange", "send", sensitive, "--dataset", str(dataset), "--out",
        str(tmp_path / "s.ctgx"), as_="c.agent", contains="count cell(s) below 11",
    )  # fmt: skip
    assert send(ctg, plain, dataset)["rows"] == 2  # 10 is enough for ordinary counts
    assert ctg.show(sensitive)["aggregates_of"] == ["prime_activite"]


def test_counts_that_do_not_say_what_they_count_are_refused(ctg: Ctg) -> None:
    """Without ``aggregates_of`` the right smallest cell cannot be chosen: refused."""
    ctg.refused(*AGGREGATES, as_="v.agent", contains="filing refused: COUNTS_UNDECLARED")


def test_an_unknown_counted_category_is_refused(ctg: Ctg) -> None:
    ctg.refused(
        *AGGREGATES, "--aggregates-of", "revenus", as_="v.agent",
        contains="unknown data category 'revenus'",
    )  # fmt: skip


def test_archived_data_are_kept_for_active_use_then_archiving(
    keyed: Ctg,  # noqa: F811
    tmp_path: Path,
) -> None:
    """Point 8: active use and intermediate archiving are two figures; a delivery is kept
    for both (VS-TARIF: the billing year, then five years)."""
    ctg = keyed
    rid = ctg.file_request("--archive-days", "1825")
    assert ctg.show(rid)["archive_days"] == 1825
    ctg.advance(rid, "approved")
    ctg.ok(
        "conditions", "accept", rid, "--dpia-ref", "AIPD-TEST-1", *ACCEPTED_WITH, as_="v.controller"
    )
    dataset = tmp_path / "qf.csv"
    dataset.write_text(
        "numero_allocataire,quotient_familial,mois_reference_qf\n9000001,410,2025-05\n"
    )

    sent = send(ctg, rid, dataset)

    sent_on = date.fromisoformat(str(sent["sent_on"]))
    assert sent["retention_deadline"] == (sent_on + timedelta(days=365 + 1825)).isoformat()
    assert ctg("audit", "verify").exit_code == 0


def test_archiving_beyond_the_ceiling_is_refused_with_nothing_changed(ctg: Ctg) -> None:
    ctg.refused(
        "request", "new", *_request_args(), "--archive-days", "1826", as_="v.agent",
        contains="filing refused: ARCHIVE_EXCEEDS_MAX",
    )  # fmt: skip


def _request_args() -> tuple[str, ...]:
    from conftest import REQUEST

    return REQUEST[2:]


def test_a_content_filed_before_the_new_fields_keeps_its_digest() -> None:
    """A request filed by an earlier release is bound by the digest of what it wrote: the
    fields added since are left out while at their default."""
    old = {
        "to": "caf92", "field": "petite_enfance", "purpose": "p", "purpose_kind": "pricing",
        "categories": ["quotient_familial"], "subjects": "s", "legal_basis": "art6_1_e",
        "legal_text": "t", "retention_days": 365, "frequency": "monthly", "recipients": None,
        "volume": None, "art9_condition": None, "transfer_outside_eu": False, "nir_case": None,
    }  # fmt: skip
    from ctg_exchange.audit.canonical import document_digest

    content = RequestContent.model_validate(old)
    assert content_digest(content) == document_digest(old)
    declared = content.model_copy(update={"profiling": True})
    assert content_digest(declared) != document_digest(old)


def test_a_policy_written_before_the_list_keeps_its_free_text_rule() -> None:
    """The shipped policy's list makes free text a complement only; a policy without a list
    (as every workspace created before it holds) still asks for a free text, and still counts
    any direct identifier as matching: its logs verify as they did."""
    older = POLICY.model_copy(
        update={
            "legal_texts": (),
            "screening": POLICY.screening.model_copy(update={"all_edpb_criteria": False}),
        }
    )
    content = RequestContent.model_validate(
        {
            "to": "caf92",
            "field": "petite_enfance",
            "purpose": "p",
            "purpose_kind": "pricing",
            "categories": ["numero_allocataire", "composition_familiale"],
            "subjects": "s",
            "legal_basis": "art6_1_e",
            "retention_days": 365,
            "frequency": "monthly",
        }  # fmt: skip
    )
    assert "NO_LEGAL_TEXT" in screen(older, content, None).codes
    assert "MATCHING_DATASETS" in screen(older, content, None).codes
    with_text = content.model_copy(update={"legal_text": "Loi n° 98-657, art. 147"})
    assert "NO_LEGAL_TEXT" not in screen(older, with_text, None).codes
    shipped = screen(POLICY, with_text, None).codes
    assert "LEGAL_TEXT_NOT_LISTED" in shipped
    assert "MATCHING_UNDECLARED" in shipped  # the requester must say whether it matches
    declared = with_text.model_copy(update={"combines_with_own_files": False})
    assert "MATCHING_DATASETS" not in screen(POLICY, declared, None).codes


def test_every_content_field_has_its_option() -> None:
    options = {
        p.name for p in __import__("ctg_exchange.cli.request_cmd", fromlist=["new"]).new.params
    }
    assert set(CONTENT_FIELDS) == set(RequestContent.model_fields)
    assert set(CONTENT_FIELDS) <= options


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (("--processor", "Éditeur fictif"), "PROCESSOR_WITHOUT_CONTRACT"),
        (("--onward-recipient", "Association fictive"), "ONWARD_RECIPIENT"),
        (("--purpose-kind", "service_delivery", "--automated-decision", "solely_automated",
          "--category", "handicap_droit_flag", "--art9-condition", "art9_2_b",
          "--legal-ref", "csp_l2324_1", "--legal-ref", "crpa_l114_8_i"),
         "AUTOMATED_DECISION_ART9"),
    ],
)  # fmt: skip
def test_declared_processors_recipients_and_decisions_are_screened(
    ctg: Ctg, args: tuple[str, ...], code: str
) -> None:
    """Points 6 and 7, from the command line: one line, exit 1, nothing changed (``refused``
    checks all three)."""
    ctg.refused(
        "request", "new", *_request_args(), *args, as_="v.agent",
        contains=code,
    )  # fmt: skip


def test_declared_processors_are_shown_to_the_holder(ctg: Ctg) -> None:
    rid = ctg.file_request(
        "--processor", "Éditeur \x1b[31mfictif=Contrat art. 28 n° FICTIF-1",
        "--combines-with-own-files", "--automated-decision", "assisted",
    )  # fmt: skip
    shown = ctg.ok("request", "show", rid, as_="c.controller").stdout
    assert "Contrat art. 28 n° FICTIF-1" in shown
    assert "\x1b[31m" not in shown  # typed text is data, never a terminal escape
    document = ctg.json("request", "show", rid)
    assert document["processors"] == [
        {"name": "Éditeur \x1b[31mfictif", "contract": "Contrat art. 28 n° FICTIF-1"}
    ]
    assert document["automated_decision"] == "assisted"
    assert "MATCHING_DATASETS" in {f["code"] for f in document["findings"]}
    events = ctg("audit", "log", "--json").stdout
    assert "FICTIF-1" not in json.dumps(json.loads(events)[-1]["payload"])


def _archived_and_received(ctg: Ctg, tmp_path: Path, *recommend: str) -> str:
    """A QF request kept a year, then archived five years (unless the DPO's ``recommend``,
    adopted, caps it): sent and received."""
    rid = ctg.file_request("--archive-days", "1825")
    if recommend:
        ctg.advance(rid, "awaiting_dpo")
        recommended = [a for r in recommend for a in ("--recommend", r)]
        ctg.ok("dpo", "opinion", rid, "--verdict", "favourable_with_recommendations", "--note",
               "Avis", *recommended, as_="c.dpo")  # fmt: skip
        ctg.ok("decide", "approve", rid, "--adopt", "R1", as_="c.controller")
    else:
        ctg.advance(rid, "approved")
    ctg.ok(
        "conditions", "accept", rid, "--dpia-ref", "AIPD-TEST-1", *ACCEPTED_WITH, as_="v.controller"
    )
    dataset = tmp_path / "qf.csv"
    dataset.write_text(
        "numero_allocataire,quotient_familial,mois_reference_qf\n9000001,410,2025-05\n"
    )
    package = tmp_path / "p.ctgx"
    ctg.ok("exchange", "send", rid, "--dataset", str(dataset), "--out", str(package), as_="c.agent")
    ctg.ok("exchange", "receive", str(package), "--out", str(tmp_path / "in.csv"), as_="v.agent")
    return rid


LATER = {"CTG_TODAY": "2031-12-01"}  # past a year of use and five of archiving from mid-2025


def test_eliminating_archived_data_needs_the_archives_services_approval(
    keyed: Ctg,  # noqa: F811
    tmp_path: Path,
) -> None:
    """Point 8: deleting public records kept in intermediate archiving records the approval
    (visa d'élimination) of the archives service (Code du patrimoine L212-3)."""
    ctg = keyed
    rid = _archived_and_received(ctg, tmp_path)
    result = ctg.refused(
        "retention", "purge", as_="v.agent", env=LATER,
        contains=f"ARCHIVES_APPROVAL_REQUIRED: {rid}-1 were kept in intermediate archiving",
    )  # fmt: skip
    assert "--archives-approval" in result.stderr
    assert (tmp_path / "in.csv").exists()
    ctg.refused(
        "retention", "purge", "--archives-approval", "  ", as_="v.agent", env=LATER,
        contains="--archives-approval must not be empty",
    )  # fmt: skip

    purged = json.loads(
        ctg(
            "retention",
            "purge",
            "--archives-approval",
            "Visa AD92 n° FICTIF-117",
            "--json",
            as_="v.agent",
            env=LATER,
        ).stdout  # fmt: skip
    )

    assert purged["deleted"][0]["archives_approval"] == "Visa AD92 n° FICTIF-117"
    assert not (tmp_path / "in.csv").exists()
    event = [e for e in ctg.json("audit", "log") if e["action"] == "retention.destroy"][-1]
    assert "FICTIF-117" not in json.dumps(event)  # the log binds its digest only
    assert len(event["payload"]["archives_approval_sha256"]) == 64
    assert ctg("audit", "verify", env=LATER).exit_code == 0


def test_an_attestation_of_archived_data_needs_the_approval_too(
    keyed: Ctg,  # noqa: F811
    tmp_path: Path,
) -> None:
    ctg = keyed
    rid = _archived_and_received(ctg, tmp_path)
    (tmp_path / "in.csv").unlink()
    ctg.refused(
        "retention", "attest", f"{rid}-1", "--note", "Supprimé à la main", as_="v.agent",
        env=LATER, contains="ARCHIVES_APPROVAL_REQUIRED",
    )  # fmt: skip
    ctg.ok(
        "retention", "attest", f"{rid}-1", "--note", "Supprimé à la main",
        "--archives-approval", "Visa AD92 n° FICTIF-118", as_="v.agent", env=LATER,
    )  # fmt: skip


def test_a_modified_copy_eliminating_archives_without_approval_is_caught(
    keyed: Ctg,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """DESIGN §10: the replay re-applies the rule to an event a modified client signed."""
    from ctg_exchange.services import retention

    ctg = keyed
    _archived_and_received(ctg, tmp_path)
    monkeypatch.setattr(retention, "_archived", lambda *args: [])
    monkeypatch.setattr(retention, "_ensure_approval", lambda *args: None)
    assert ctg("retention", "purge", as_="v.agent", env=LATER).exit_code == 0
    seq = max(int(e["seq"]) for e in ctg.json("audit", "log") if e["action"] == "retention.destroy")

    result = ctg("audit", "verify", env=LATER)

    assert result.exit_code == 3, result.output
    assert f"event #{seq} by v.agent: ARCHIVES_APPROVAL_REQUIRED: " in result.stderr


def test_the_rules_page_names_every_rule_with_its_source() -> None:
    """docs/regles.md, generated from the policy's list, covers every code screening may
    yield, and every procedure rule it lists is one the code applies."""
    from ctg_exchange.policy.screening import screening_codes

    root = Path(__file__).resolve().parents[1]
    listed = {r.code: r for r in POLICY.rules}
    screening = set(screening_codes(POLICY))
    assert screening <= set(listed), screening - set(listed)
    for code in screening:
        assert listed[code].effect in ("blocking", "warning"), code
    source = "\n".join(p.read_text(encoding="utf-8") for p in (root / "ctg_exchange").rglob("*.py"))
    for code, rule in listed.items():
        assert rule.source.strip(), code
        if code not in screening:
            assert f'"{code}"' in source, f"{code} is not a rule the code applies"
    page = (root / "docs" / "regles.md").read_text(encoding="utf-8")
    assert all(f"`{code}`" in page for code in listed)


def _approved(**content: object) -> Any:
    from ctg_exchange.domain.models import ExchangeRequest
    from ctg_exchange.domain.recommendations import Condition

    base = {
        "to": "caf92", "field": "petite_enfance", "purpose": "p", "purpose_kind": "pricing",
        "categories": ["quotient_familial"], "subjects": "s", "retention_days": 365,
        "frequency": "monthly",
    }  # fmt: skip
    return ExchangeRequest.model_validate(
        {
            "id": "DX-2026-0001",
            "status": "conditions_accepted",
            "from_party": "ville_sceaux",
            "content": {**base, **content},
            "filed_by": "v.agent",
            "filed_on": "2026-01-05",
            "filed_at": "2026-01-05T09:00:00Z",
            "updated_at": "2026-01-05T09:00:00Z",
            "policy_version": 1,
            "conditions": [Condition(source=1, kind="max_retention_days", text="x", value=180)],
        }  # fmt: skip
    )


def test_the_dpos_ceiling_bounds_use_and_archiving_together() -> None:
    """An adopted ``max_retention_days`` is "at most N days", archiving included."""
    from ctg_exchange.services.delivery import retention_days

    assert retention_days(_approved(archive_days=1825)) == 180
    assert retention_days(_approved(retention_days=90, archive_days=60)) == 150


@pytest.mark.parametrize(
    ("declared", "message"),
    [
        ({"processors": [{"name": f"Éditeur {i}", "contract": "c"} for i in range(21)]},
         "at most 20 items"),
        ({"processors": [{"name": "Éditeur", "contract": "a"}, {"name": "éditeur"}]},
         "processor listed twice: Éditeur"),
        ({"onward_recipients": ["Association", "Association"]},
         "recipient listed twice: Association"),
        ({"processors": [{"name": "x" * 301, "contract": "c"}]}, "at most 300 characters"),
    ],
)  # fmt: skip
def test_declarations_are_bounded(declared: dict[str, Any], message: str) -> None:
    from ctg_exchange.errors import InvalidInput
    from ctg_exchange.services.requests import parse_content

    with pytest.raises(InvalidInput, match=message):
        parse_content({**_approved().content.model_dump(mode="json"), **declared})


def test_the_request_template_lists_every_field_and_fills_into_a_valid_request(
    ctg: Ctg, tmp_path: Path
) -> None:
    """A newcomer writes a request from `request template`, with the values it lists."""
    import yaml

    text = ctg.ok("request", "template").stdout
    document = yaml.safe_load(text)
    assert set(document) == set(RequestContent.model_fields)
    assert "loi_98_657_art147 (pricing)" in text
    assert "evaluation_sociale" not in text  # never exchanged: not offered
    document.update(
        purpose="Tarifer les crèches (synthétique)", purpose_kind="pricing",
        categories=["quotient_familial"], subjects="Familles fictives",
        legal_refs=["loi_98_657_art147"],
    )  # fmt: skip
    filled = tmp_path / "request.yaml"
    filled.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    checked = ctg("request", "check", "--from-file", str(filled))
    assert checked.exit_code == 0, checked.output


def test_policy_show_lists_what_a_request_may_name(ctg: Ctg, tmp_path: Path) -> None:
    listed = ctg.json("policy", "show", "legal-texts")["legal-texts"]
    assert {"id": "crpa_l114_8_ii", "purposes": ["information_droits"], "art9_for": []} == {
        k: v for k, v in next(t for t in listed if t["id"] == "crpa_l114_8_ii").items()
        if k != "label"
    }  # fmt: skip
    categories = ctg.json("policy", "show", "categories")["categories"]
    rsa = next(c for c in categories if c["id"] == "minima_sociaux_rsa")
    assert rsa["exchange"] == "held for Département des Hauts-de-Seine"
    purposes = ctg.json("policy", "show", "purposes")["purposes"]
    control = next(k for k in purposes if k["id"] == "control")
    assert control["regime"] == "refused: outside the CTG (CONTROL_PURPOSE)"
    shown = ctg.ok("policy", "show", "purposes")
    assert "the workspace's policy, version 1" in shown.stderr
    elsewhere = ctg("--workspace", str(tmp_path / "none"), "policy", "show", "fields")
    assert elsewhere.exit_code == 0, elsewhere.output
    assert "the shipped policy ctg-sceaux-caf92.yaml (no workspace)" in elsewhere.stderr


def test_a_delivery_the_dpo_capped_before_archiving_is_deleted_without_approval(
    keyed: Ctg,  # noqa: F811
    tmp_path: Path,
) -> None:
    """The DPO's max_retention_days:180 leaves no archiving phase: plain deletion."""
    ctg = keyed
    _archived_and_received(ctg, tmp_path, "max_retention_days:180")
    later = {"CTG_TODAY": "2026-06-01"}  # past the 180 days
    purged = json.loads(ctg("retention", "purge", "--json", as_="v.agent", env=later).stdout)
    assert purged["deleted"][0]["archives_approval"] is None
    assert not (tmp_path / "in.csv").exists()
    assert ctg("audit", "verify", env=later).exit_code == 0
