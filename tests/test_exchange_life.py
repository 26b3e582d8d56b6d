"""The procedure as corrected by issue 15 (point 10), the request side: reasons to approve after
an out_of_scope opinion; the requesting party's DPO's advice; the Art. 14 information (and the
CRPA L311-3-1 mention) at the acceptance of the conditions; suspension and resumption of an
exchange whose conditions were breached; the yearly review, which may close it.

Each refusal exits 1 with one line and changes nothing; each rule a modified client skips is
caught by ``audit verify`` (exit 3), naming the event and the rule."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from test_exchange import accepted, keyed, qf_csv  # noqa: F401 (keyed: a fixture)
from test_hostile_member import anyone_may

from ctg_exchange.domain.models import Status
from ctg_exchange.domain.requirements import check_acceptance, check_approval
from ctg_exchange.errors import Refused
from ctg_exchange.services import conditions, delivery, requests, review, send

from conftest import REQUEST, Ctg
from served import Server
from test_remote_exchange import Parties

INFO = ("--information", "Lettre aux familles à l'inscription (test)")
MENTION = ("--l311-mention", "Mention sur chaque facture (test)")
ACCEPTED_WITH = (*INFO, *MENTION)  # what accepting the test's QF pricing request records


def _broken(ctg: Ctg, seq: int) -> dict[str, Any]:
    """``audit verify`` fails (exit 3); the failure at event ``seq``."""
    result = ctg("audit", "verify", "--json")
    assert result.exit_code == 3, result.output
    failures = json.loads(result.stdout)["error"]["failures"]
    return next(f for f in failures if f.get("seq") == seq)


def _last_seq(ctg: Ctg, action: str) -> int:
    return max(int(e["seq"]) for e in ctg.json("audit", "log") if e["action"] == action)


def _verifies(ctg: Ctg) -> None:
    verified = ctg("audit", "verify")
    assert verified.exit_code == 0, verified.output


# -- 1. reasons to approve after an out_of_scope opinion ----------------------------------------
def _out_of_scope(ctg: Ctg) -> str:
    rid = ctg.file_request()
    ctg.advance(rid, "awaiting_dpo")
    ctg.ok(
        "dpo",
        "opinion",
        rid,
        "--verdict",
        "out_of_scope",
        "--note",
        "Autre canal : CDAP (CRPA L114-8)",
        as_="c.dpo",
    )
    return rid


def test_approving_after_an_out_of_scope_opinion_needs_written_reasons(ctg: Ctg) -> None:
    rid = _out_of_scope(ctg)
    refused = ctg.refused(
        "decide",
        "approve",
        rid,
        as_="c.controller",
        contains=f"the DPO's opinion on {rid} is out_of_scope: approving needs written reasons "
        "in --justification",
    )
    approved = ctg.json(
        "decide",
        "approve",
        rid,
        "--justification",
        "Le canal CDAP ne couvre pas les familles non allocataires",
        as_="c.controller",
    )

    assert "hint: the DPO advises, the controller decides" in refused.stderr
    assert approved["approved_against_dpo_opinion"] is True
    assert approved["decision"]["against_opinion"] is True
    assert "against the DPO's opinion" in ctg.ok("request", "show", rid).stdout
    _verifies(ctg)


def test_a_forged_approval_without_reasons_after_out_of_scope(
    ctg: Ctg, monkeypatch: pytest.MonkeyPatch
) -> None:
    rid = _out_of_scope(ctg)
    monkeypatch.setattr(review, "check_approval", lambda *args: False)  # a modified copy
    ctg.ok("decide", "approve", rid, as_="c.controller")
    seq = _last_seq(ctg, "decide.approve")

    failure = _broken(ctg, seq)

    assert failure["rule"] == "REASONS_REQUIRED"
    assert "is out_of_scope: approving needs written reasons" in failure["message"]


def test_a_forged_approval_with_reasons_not_flagged_against_the_opinion(
    ctg: Ctg, monkeypatch: pytest.MonkeyPatch
) -> None:
    rid = _out_of_scope(ctg)
    monkeypatch.setattr(review, "check_approval", lambda *args: False)
    ctg.ok("decide", "approve", rid, "--justification", "Motifs", as_="c.controller")
    seq = _last_seq(ctg, "decide.approve")

    assert _broken(ctg, seq)["rule"] == "AGAINST_OPINION"


def test_the_requirements_apply_from_rules_3_only() -> None:
    """A log written under rules 2 (or by 0.1.0) keeps verifying: an out_of_scope opinion
    did not need reasons then, and nothing recorded the Art. 14 information."""
    assert check_approval("DX-2025-0001", "out_of_scope", False, 2) is False
    assert check_approval("DX-2025-0001", "unfavourable", True, 1) is True
    with pytest.raises(Refused) as refused:
        check_approval("DX-2025-0001", "out_of_scope", False, 3)
    assert refused.value.rule == "REASONS_REQUIRED"
    from ctg_exchange.domain.models import Triage

    check_acceptance(
        "DX-2025-0001",
        Triage.PERSONAL,
        {"ALGORITHMIC_DECISION"},
        information=False,
        l311_mention=False,
        rules=2,
    )
    check_acceptance(
        "DX-2025-0001", Triage.NON_PERSONAL, (), information=False, l311_mention=False, rules=3
    )


# -- 2. the requesting party's DPO advises ------------------------------------------------------
def test_the_requesters_dpo_advises_without_blocking_anything(ctg: Ctg) -> None:
    rid = ctg.file_request()
    advised = ctg.json("dpo", "advise", rid, "--note", "AIPD à mettre à jour", as_="v.dpo")
    ctg.advance(rid, "approved")  # nothing waited for it, nothing needs it
    ctg.ok("dpo", "advise", rid, "--note", "Informer les familles avant la facture", as_="v.dpo")
    shown = ctg.show(rid)

    assert advised["status"] == "filed"
    assert [(a["by"], a["note"]) for a in shown["advices"]] == [
        ("v.dpo", "AIPD à mettre à jour"),
        ("v.dpo", "Informer les familles avant la facture"),
    ]
    assert shown["status"] == "approved"
    human = ctg.ok("request", "show", rid).stdout
    assert "Requester's DPO advice (v.dpo, 2025-06-02): AIPD à mettre à jour" in human
    _verifies(ctg)


@pytest.mark.parametrize(
    ("member", "rule"),
    [("c.dpo", "requester-dpo-only"), ("v.controller", "requester-dpo-only")],
)
def test_only_the_requesting_partys_dpo_advises(ctg: Ctg, member: str, rule: str) -> None:
    rid = ctg.file_request()
    result = ctg.refused(
        "dpo",
        "advise",
        rid,
        "--note",
        "Avis",
        as_=member,
        contains=f"only the DPO of the requesting party (ville_sceaux) advises on {rid}",
    )
    assert "ctg-exchange: error:" in result.stderr


def test_no_advice_once_the_request_has_ended(ctg: Ctg) -> None:
    rid = ctg.file_request()
    ctg.ok("request", "withdraw", rid, "--reason", "Plus nécessaire", as_="v.agent")
    ctg.refused(
        "dpo",
        "advise",
        rid,
        "--note",
        "Avis",
        as_="v.dpo",
        contains=f"{rid} is withdrawn: `dpo advise` needs ",
    )


def test_a_forged_advice_by_the_holders_dpo(ctg: Ctg, monkeypatch: pytest.MonkeyPatch) -> None:
    rid = ctg.file_request()
    monkeypatch.setattr(requests, "authorise", anyone_may)
    ctg.ok("dpo", "advise", rid, "--note", "Avis", as_="c.dpo")
    seq = _last_seq(ctg, "dpo.advise")

    assert _broken(ctg, seq)["rule"] == "requester-dpo-only"


# -- 3. the Art. 14 information, and the L311-3-1 mention, at the conditions --------------------
def _approved_by_the_town_hall(ctg: Ctg) -> str:
    """The Caf's request for the town hall's attendance data (no decision computed from it),
    approved by the town hall."""
    rid = ctg.file_request(as_="c.both")
    ctg.ok("study", "accept", rid, "--note", "Étude", as_="v.analyst")
    ctg.ok("study", "submit", rid, as_="v.analyst")
    ctg.ok("dpo", "opinion", rid, "--verdict", "favourable", "--note", "Avis", as_="v.dpo")
    ctg.ok("decide", "approve", rid, as_="v.controller")
    return rid


def test_accepting_the_conditions_records_how_families_are_told(ctg: Ctg) -> None:
    rid = _approved_by_the_town_hall(ctg)
    ctg.refused(
        "conditions",
        "accept",
        rid,
        "--dpia-ref",
        "AIPD-1",
        as_="c.controller",
        contains=f"accepting the conditions of {rid} records how and when the persons "
        "concerned are told which data came from the other party (GDPR art. 14, CRPA "
        "L114-8): give it with --information",
    )
    accepted = ctg.json(
        "conditions", "accept", rid, "--dpia-ref", "AIPD-1", *INFO, as_="c.controller"
    )

    assert "ALGORITHMIC_DECISION" not in {f["code"] for f in accepted["findings"]}
    assert accepted["acceptance"]["information"] == INFO[1]
    assert accepted["acceptance"]["l311_mention"] is None
    assert (
        "persons informed (GDPR art. 14): Lettre aux familles"
        in ctg.ok("request", "show", rid).stdout
    )
    _verifies(ctg)


def _algorithmic(ctg: Ctg) -> str:
    """A request for the QF to compute crèche tariffs: screening finds the decisions it feeds
    algorithmic (the acceptance checks the finding's code on the stored request)."""
    rid = ctg.file_request()
    assert "ALGORITHMIC_DECISION" in {f["code"] for f in ctg.show(rid)["findings"]}
    ctg.advance(rid, "approved")
    return rid


def test_decisions_fed_by_the_data_need_the_l311_mention(ctg: Ctg) -> None:
    rid = _algorithmic(ctg)
    ctg.refused(
        "conditions",
        "accept",
        rid,
        "--dpia-ref",
        "AIPD-1",
        *INFO,
        as_="v.controller",
        contains=f"the data of {rid} feed individual decisions (ALGORITHMIC_DECISION): "
        "accepting its conditions records where those decisions state they were taken "
        "on the basis of an algorithmic processing (CRPA L311-3-1): give it with "
        "--l311-mention",
    )
    accepted = ctg.json(
        "conditions",
        "accept",
        rid,
        "--dpia-ref",
        "AIPD-1",
        *INFO,
        "--l311-mention",
        "Mention sur chaque facture",
        as_="v.controller",
    )

    assert accepted["acceptance"]["l311_mention"] == "Mention sur chaque facture"


@pytest.mark.parametrize("missing", ["information", "l311_mention"])
def test_a_forged_acceptance_without_what_it_records(
    ctg: Ctg, monkeypatch: pytest.MonkeyPatch, missing: str
) -> None:
    rid = _algorithmic(ctg)
    monkeypatch.setattr(conditions, "check_acceptance", lambda *args, **kwargs: None)
    given = INFO if missing == "l311_mention" else ("--l311-mention", "Mention")
    ctg.ok("conditions", "accept", rid, "--dpia-ref", "AIPD-1", *given, as_="v.controller")
    seq = _last_seq(ctg, "conditions.accept")

    failure = _broken(ctg, seq)

    assert failure["rule"] == {"information": "ART14_INFORMATION"}.get(missing, "L311_MENTION")


# -- 4. suspension for breached conditions ------------------------------------------------------
def test_a_suspended_exchange_sends_nothing_until_resumed(keyed: Ctg, tmp_path: Path) -> None:  # noqa: F811
    ctg = keyed
    rid = accepted(ctg)
    dataset = qf_csv(tmp_path / "qf.csv")
    reason = "Condition R1 non respectée (test)"
    suspended = ctg.json("exchange", "suspend", rid, "--reason", reason, as_="c.controller")
    ctg.refused(
        "exchange",
        "send",
        rid,
        "--dataset",
        str(dataset),
        "--out",
        str(tmp_path / "p.ctgx"),
        as_="c.agent",
        contains=f"{rid} is suspended: `exchange send` needs conditions_accepted or exchanged",
    )
    ctg.refused(
        "exchange",
        "suspend",
        rid,
        "--reason",
        "Encore",
        as_="c.controller",
        contains=f"{rid} is suspended: `exchange suspend` needs",
    )
    resumed = ctg.json("exchange", "resume", rid, "--note", "Purge constatée", as_="c.controller")
    ctg.ok(
        "exchange",
        "send",
        rid,
        "--dataset",
        str(dataset),
        "--out",
        str(tmp_path / "p.ctgx"),
        as_="c.agent",
    )
    ctg.ok("exchange", "suspend", rid, "--reason", "Seconde violation", as_="c.controller")
    again = ctg.json("exchange", "resume", rid, "--note", "Corrigé", as_="c.controller")

    assert suspended["status"] == "suspended"
    assert suspended["suspension"]["from_status"] == "conditions_accepted"
    assert suspended["suspension"]["reason"] == reason
    assert (resumed["status"], resumed["suspension"]) == ("conditions_accepted", None)
    assert again["status"] == "exchanged"  # back where it was suspended from
    _verifies(ctg)


@pytest.mark.parametrize("member", ["v.controller", "c.agent", "c.dpo"])
def test_only_the_holders_controller_suspends(ctg: Ctg, member: str) -> None:
    rid = ctg.file_request()
    ctg.advance(rid, "approved")
    ctg.ok("conditions", "accept", rid, "--dpia-ref", "AIPD-1", *INFO, *MENTION, as_="v.controller")
    ctg.refused(
        "exchange",
        "suspend",
        rid,
        "--reason",
        "Violation",
        as_=member,
        contains=f"only the controller of the holding party (caf92) suspends {rid}",
    )


def test_an_exchange_not_yet_accepted_is_not_suspended(ctg: Ctg) -> None:
    rid = ctg.file_request()
    ctg.advance(rid, "approved")
    ctg.refused(
        "exchange",
        "suspend",
        rid,
        "--reason",
        "Violation",
        as_="c.controller",
        contains=f"{rid} is approved: `exchange suspend` needs conditions_accepted or exchanged",
    )
    ctg.refused(
        "exchange",
        "resume",
        rid,
        "--note",
        "Rien",
        as_="c.controller",
        contains=f"{rid} is approved: `exchange resume` needs suspended",
    )


def _sends_anyway(honest: Any) -> Any:
    def next_status(action: Any, request: Any, **kwargs: Any) -> Status:
        if request.status in (Status.SUSPENDED, Status.CLOSED):
            return Status.EXCHANGED
        return honest(action, request, **kwargs)  # type: ignore[no-any-return]

    return next_status


@pytest.mark.parametrize("how", ["suspended", "closed"])
def test_a_forged_send_while_suspended_or_closed(
    keyed: Ctg,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    how: str,
) -> None:
    ctg = keyed
    rid = accepted(ctg)
    if how == "suspended":
        ctg.ok("exchange", "suspend", rid, "--reason", "Violation", as_="c.controller")
    else:
        ctg.ok("review", "record", rid, "--outcome", "close", "--note", "Fin", as_="c.controller")
    for module in (send, delivery, requests):
        monkeypatch.setattr(module, "next_status", _sends_anyway(module.next_status))
    dataset = qf_csv(tmp_path / "qf.csv")
    ctg.ok(
        "exchange",
        "send",
        rid,
        "--dataset",
        str(dataset),
        "--out",
        str(tmp_path / "p.ctgx"),
        as_="c.agent",
    )
    seq = _last_seq(ctg, "exchange.send")

    failure = _broken(ctg, seq)

    assert failure["rule"] == "state-machine"
    assert f"{rid} is {how}: `exchange send` needs" in failure["message"]


def test_a_forged_suspension_by_the_requester(ctg: Ctg, monkeypatch: pytest.MonkeyPatch) -> None:
    rid = ctg.file_request()
    ctg.advance(rid, "approved")
    ctg.ok("conditions", "accept", rid, "--dpia-ref", "AIPD-1", *INFO, *MENTION, as_="v.controller")
    monkeypatch.setattr(requests, "authorise", anyone_may)
    ctg.ok("exchange", "suspend", rid, "--reason", "Violation", as_="v.controller")
    seq = _last_seq(ctg, "exchange.suspend")

    assert _broken(ctg, seq)["rule"] == "holder-controller-only"


# -- 5. the yearly review ------------------------------------------------------------------------
def _accepted_here(ctg: Ctg) -> str:
    rid = ctg.file_request()
    ctg.advance(rid, "approved")
    ctg.ok("conditions", "accept", rid, "--dpia-ref", "AIPD-1", *INFO, *MENTION, as_="v.controller")
    return rid


def _due(ctg: Ctg, today: str) -> list[tuple[str, str, str]]:
    result = ctg("--json", "review", "due", env={"CTG_TODAY": today})
    assert result.exit_code == 0, result.output
    return [(d["id"], d["since"], d["due"]) for d in json.loads(result.stdout)]


def test_a_review_falls_due_a_year_after_the_last_one(ctg: Ctg) -> None:
    rid = _accepted_here(ctg)  # 2025-06-02
    other = ctg.file_request()  # not accepted: never due

    assert _due(ctg, "2026-06-01") == []
    assert _due(ctg, "2026-06-02") == [(rid, "2025-06-02", "2026-06-02")]
    listed = ctg("review", "due", env={"CTG_TODAY": "2026-07-01"}).stdout
    assert rid in listed and "2026-06-02" in listed and other not in listed
    reviewed = ctg(
        "--json",
        "review",
        "record",
        rid,
        "--outcome",
        "continue",
        "--note",
        "Toujours nécessaire",
        as_="c.controller",
        env={"CTG_TODAY": "2026-07-01"},
    )
    assert reviewed.exit_code == 0, reviewed.output
    assert json.loads(reviewed.stdout)["status"] == "conditions_accepted"
    assert _due(ctg, "2027-06-30") == []
    assert _due(ctg, "2027-07-01") == [(rid, "2026-07-01", "2027-07-01")]
    assert (
        "Yearly review (c.controller, 2026-07-01): continue"
        in ctg.ok("request", "show", rid).stdout
    )
    _verifies(ctg)


def test_a_review_closes_the_exchange(ctg: Ctg) -> None:
    rid = _accepted_here(ctg)
    ctg.ok("exchange", "suspend", rid, "--reason", "Violation", as_="c.controller")
    closed = ctg.json(
        "review", "record", rid, "--outcome", "close", "--note", "Flux arrêté", as_="c.controller"
    )

    assert (closed["status"], closed["suspension"]) == ("closed", None)
    assert [(r["outcome"], r["note"]) for r in closed["reviews"]] == [("close", "Flux arrêté")]
    assert _due(ctg, "2030-01-01") == []
    ctg.refused(
        "review",
        "record",
        rid,
        "--outcome",
        "continue",
        "--note",
        "Encore",
        as_="c.controller",
        contains=f"{rid} is closed: `review record` needs",
    )
    ctg.refused(
        "exchange",
        "resume",
        rid,
        "--note",
        "Reprise",
        as_="c.controller",
        contains=f"{rid} is closed: `exchange resume` needs suspended",
    )
    ctg.refused(
        "dpo",
        "advise",
        rid,
        "--note",
        "Avis",
        as_="v.dpo",
        contains=f"{rid} is closed: `dpo advise` needs",
    )
    _verifies(ctg)


def test_only_the_holders_controller_reviews(ctg: Ctg) -> None:
    rid = _accepted_here(ctg)
    ctg.refused(
        "review",
        "record",
        rid,
        "--outcome",
        "close",
        "--note",
        "Fin",
        as_="v.controller",
        contains=f"only the controller of the holding party (caf92) reviews {rid}",
    )


# -- on a hosted workspace -----------------------------------------------------------------------
@pytest.fixture
def parties(ctg: Ctg, served: Server, tmp_path: Path) -> Parties:
    return Parties(ctg, served.url, tmp_path)


def test_advice_suspension_and_review_from_afar(ctg: Ctg, parties: Parties) -> None:
    """Each new step runs from each party's own machine against `ctg-exchange serve`."""
    at = parties
    rid = str(at("ville", *REQUEST, as_="v.agent")["id"])
    at("ville", "dpo", "advise", rid, "--note", "AIPD à jour", as_="v.dpo")
    at("caf", "study", "accept", rid, "--note", "Étude", as_="c.analyst")
    at("caf", "study", "submit", rid, as_="c.analyst")
    at("caf", "dpo", "opinion", rid, "--verdict", "out_of_scope", "--note", "CDAP", as_="c.dpo")
    refused = at.run("caf", "decide", "approve", rid, as_="c.controller")
    at("caf", "decide", "approve", rid, "--justification", "Motifs", as_="c.controller")
    at(
        "ville",
        "conditions",
        "accept",
        rid,
        "--dpia-ref",
        "AIPD-1",
        *INFO,
        *MENTION,
        as_="v.controller",
    )
    at("caf", "exchange", "suspend", rid, "--reason", "Violation", as_="c.controller")
    at("caf", "exchange", "resume", rid, "--note", "Corrigé", as_="c.controller")
    due = at("ville", "review", "due", as_="v.controller")
    closed = at(
        "caf", "review", "record", rid, "--outcome", "close", "--note", "Fin", as_="c.controller"
    )

    assert refused.exit_code == 1 and "needs written reasons" in refused.stderr
    assert due == []
    assert closed["status"] == "closed" and closed["advices"][0]["note"] == "AIPD à jour"
    _verifies(ctg)
