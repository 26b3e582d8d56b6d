"""No client is trusted (DESIGN §10): a modified copy of the tool, with a real member's key.

Each case runs the tool with one of its checks removed (monkeypatched in this process, as a
member would edit their copy) and takes a step the honest tool refuses: the events are signed
with the member's own key, chained, checkpointed, and the store holds what the modified tool
wrote. ``audit verify`` must still fail, exit 3, naming the event's sequence number and the rule
code — it re-applies the law, it does not trust the client that wrote the log.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ctg_exchange.domain.lifecycle import next_status as honest_next_status
from ctg_exchange.domain.models import Status
from ctg_exchange.policy.screening import Screening
from ctg_exchange.policy.screening import screen as honest_screen
from ctg_exchange.services import delivery, requests, review, send

from conftest import REQUEST, Ctg, State


def no_blocking_findings(*args: Any) -> Screening:
    """The screening with its blocking findings removed: what a modified copy would run."""
    found = honest_screen(*args)
    kept = tuple(f for f in found.findings if f.severity != "blocking")
    return Screening(kept, found.triage, found.dpia_required, found.dpia_criteria)


def anyone_may(action: Any, member: Any, request: Any) -> Any:
    """Every member may take every step, in the role the step needs."""
    from ctg_exchange.domain.rules import ACTION_ROLE

    return ACTION_ROLE[action]


def _broken(ctg: Ctg) -> tuple[str, dict[str, Any]]:
    result = ctg("audit", "verify")
    assert result.exit_code == 3, result.output
    first = result.stderr.splitlines()[0].removeprefix("ctg-exchange: error: audit log broken at ")
    failure = json.loads(ctg("audit", "verify", "--json").stdout)["error"]["failures"][0]
    return first, failure


def _last_seq(ctg: Ctg, action: str) -> int:
    return max(int(e["seq"]) for e in ctg.json("audit", "log") if e["action"] == action)


FILINGS = {
    "the NIR": (("--category", "nir"), "NIR_NOT_AUTHORISED", {}),
    "offence data": (("--category", "infractions_fraude"), "OFFENCE_DATA", {}),
    "a retention above the maximum": (("--retention-days", "3650"), "RETENTION_EXCEEDS_MAX", {}),
    "under the expired convention": ((), "CONVENTION_NOT_IN_FORCE", {"CTG_TODAY": "2026-02-02"}),
}


@pytest.mark.parametrize("case", FILINGS)
def test_a_filing_the_screening_refuses(
    ctg: Ctg, monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    extra, rule, env = FILINGS[case]
    monkeypatch.setattr(requests, "screen", no_blocking_findings)
    args = list(REQUEST)
    if "--retention-days" in extra:
        args[args.index("--retention-days") + 1] = extra[1]
        extra = ()
    filed = ctg(*args, *extra, as_="v.agent", env=env)
    assert filed.exit_code == 0, filed.output  # the modified copy files it
    seq = _last_seq(ctg, "request.file")

    first, failure = _broken(ctg)

    assert first.startswith(f"event #{seq} by v.agent: {rule}: "), first
    assert (failure["seq"], failure["actor"], failure["rule"]) == (seq, "v.agent", rule)


def test_a_refused_filing_amended_later_still_fails(
    ctg: Ctg, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An honest amendment afterwards does not launder the filing: the content each event
    filed is kept by its digest and screened again."""
    with monkeypatch.context() as patched:
        patched.setattr(requests, "screen", no_blocking_findings)
        rid = ctg.file_request("--category", "nir", as_="v.agent")
    seq = _last_seq(ctg, "request.file")
    ctg.ok(
        "request", "amend", rid, "--category", "numero_allocataire",
        "--category", "quotient_familial", as_="v.agent",
    )  # fmt: skip

    first, failure = _broken(ctg)

    assert first.startswith(f"event #{seq} by v.agent: NIR_NOT_AUTHORISED: "), first
    assert failure["rule"] == "NIR_NOT_AUTHORISED"


def test_a_filed_content_removed_behind_the_tools_back(ctg: Ctg) -> None:
    rid = ctg.file_request()
    seq = _last_seq(ctg, "request.file")
    ctg.ok("request", "amend", rid, "--retention-days", "180", as_="v.agent")
    ctg.sql(f"DELETE FROM request_contents WHERE request_id = '{rid}' AND doc LIKE '%365%'")
    before = ctg.tables()

    first, failure = _broken(ctg)

    assert first.startswith(f"event #{seq} by v.agent: CONTENT_MISSING: "), first
    assert failure["rule"] == "CONTENT_MISSING"
    assert ctg.tables() == before


STEPS: dict[str, tuple[str, Callable[[Ctg, str], object], str]] = {
    "approval by a staff member": (
        "decide.approve",
        lambda ctg, rid: ctg.ok("decide", "approve", rid, as_="c.agent"),
        "the actor 'c.agent' does not hold controller for caf92",
    ),
    "opinion by the requester's DPO": (
        "dpo.opinion",
        lambda ctg, rid: ctg.ok(
            "dpo", "opinion", rid, "--verdict", "favourable", "--note", "Avis", as_="v.dpo"
        ),
        "not allowed (holder-dpo-only): only the DPO of the holding party (caf92)",
    ),
}


@pytest.mark.parametrize("case", STEPS)
def test_a_step_by_someone_the_rules_exclude(
    ctg: Ctg, monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    action, take, message = STEPS[case]
    rid = ctg.file_request()
    ctg.advance(rid, "awaiting_dpo" if action == "dpo.opinion" else "opinion_given")
    monkeypatch.setattr(requests, "authorise", anyone_may)
    monkeypatch.setattr(review, "authorise", anyone_may)
    take(ctg, rid)
    seq = _last_seq(ctg, action)

    first, failure = _broken(ctg)

    assert first.startswith(f"event #{seq}: {message}"), first
    assert failure["seq"] == seq and failure["rule"] in ("role-not-held", "holder-dpo-only")


def test_one_person_studying_and_deciding(ctg: Ctg, monkeypatch: pytest.MonkeyPatch) -> None:
    rid = ctg.file_request()
    monkeypatch.setattr(requests, "separate_duties", lambda *args: None)
    ctg.ok("study", "accept", rid, "--note", "Étude", as_="c.controller")
    ctg.ok("study", "submit", rid, as_="c.controller")
    ctg.ok("dpo", "opinion", rid, "--verdict", "favourable", "--note", "Avis", as_="c.dpo")
    ctg.ok("decide", "approve", rid, as_="c.controller")
    seq = _last_seq(ctg, "decide.approve")

    first, failure = _broken(ctg)

    assert first.startswith(
        f"event #{seq} by c.controller: SEPARATION_OF_DUTIES: c.controller studied {rid}"
    ), first
    assert failure["rule"] == "SEPARATION_OF_DUTIES"


def _party_keys(ctg: Ctg) -> None:
    ctg.ok("keys", "generate", "--party", "ville_sceaux", "--encryption", as_="v.admin")
    ctg.ok("keys", "generate", "--party", "caf92", "--encryption", as_="c.admin")


def test_a_delivery_before_the_conditions_are_accepted(
    state: State, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    ctg = state("keyed", _party_keys)
    rid = ctg.file_request()
    ctg.advance(rid, "approved")

    def sends_anyway(action: Any, request: Any, **kwargs: Any) -> Status:
        if request.status is Status.APPROVED:
            return Status.EXCHANGED
        return honest_next_status(action, request, **kwargs)

    monkeypatch.setattr(send, "next_status", sends_anyway)
    monkeypatch.setattr(delivery, "next_status", sends_anyway)
    monkeypatch.setattr(requests, "next_status", sends_anyway)
    dataset = tmp_path / "qf.csv"
    dataset.write_text("numero_allocataire,quotient_familial\n9000001,512\n", encoding="utf-8")
    sent = ctg("exchange", "send", rid, "--dataset", str(dataset), "--out",
               str(tmp_path / "p.ctgx"), as_="c.agent")  # fmt: skip
    assert sent.exit_code == 0, sent.output
    seq = _last_seq(ctg, "exchange.send")

    first, failure = _broken(ctg)

    assert first.startswith(
        f"event #{seq}: not allowed (state-machine): {rid} is approved: `exchange send` needs "
        "conditions_accepted"
    ), first
    assert (failure["seq"], failure["rule"]) == (seq, "state-machine")


def test_the_honest_path_still_verifies(ctg: Ctg) -> None:
    rid = ctg.file_request()
    ctg.advance(rid, "approved")
    ctg.accept_conditions(rid)
    result = ctg.json("audit", "verify")
    assert result["ok"] is True and result["rules"] == 3


def test_a_genesis_admin_who_is_also_the_dpo(fresh: Ctg, monkeypatch: pytest.MonkeyPatch) -> None:
    """A modified `init` declaring its admin DPO as well: the replay checks the genesis too."""
    from ctg_exchange.domain.models import Member, Role
    from ctg_exchange.services import members

    from conftest import INIT

    def admin_and_dpo(**fields: Any) -> Member:
        return Member(**{**fields, "roles": (Role.ADMIN, Role.DPO)})

    with monkeypatch.context() as patched:
        patched.setattr(members, "Member", admin_and_dpo)
        fresh.ok(*INIT)

    first, failure = _broken(fresh)

    assert first.startswith("event #1 by v.admin: DPO_CONFLICT: "), first
    assert (failure["seq"], failure["rule"]) == (1, "DPO_CONFLICT")


RENEWAL = ("convention", "renew", "--until", "2029-12-31", "--reference", "Reconduction (test)")


def test_a_renewal_one_party_put_in_effect_alone(ctg: Ctg, monkeypatch: pytest.MonkeyPatch) -> None:
    """A modified copy records the town hall's renewal as in effect at once, then files under
    it: the log says the renewal awaits the Caf's countersignature, so the convention had
    ended on the filing's day."""
    from ctg_exchange.services.workspace import Workspace

    after = {"CTG_TODAY": "2026-02-02"}
    with monkeypatch.context() as patched:
        patched.setattr(Workspace, "rules", property(lambda self: 1))
        ctg.ok(*RENEWAL, as_="v.admin", env=after)
    filed = ctg(*REQUEST, as_="v.agent", env=after)  # the store says in force: it files
    assert filed.exit_code == 0, filed.output
    seq = _last_seq(ctg, "request.file")

    result = ctg("audit", "verify", "--json")
    assert result.exit_code == 3, result.output
    failures = json.loads(result.stdout)["error"]["failures"]
    assert {"seq": seq, "actor": "v.agent", "rule": "CONVENTION_NOT_IN_FORCE"}.items() <= next(
        f for f in failures if f["seq"] == seq
    ).items(), failures


def test_a_renewal_countersigned_by_its_own_party(
    ctg: Ctg, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ctg_exchange.services import convention

    ctg.ok(*RENEWAL, as_="v.admin")
    proposal = ctg.json("convention", "show")["pending"]
    with monkeypatch.context() as patched:
        patched.setattr(convention, "ensure_countersigner", lambda *args: None)
        ctg.ok("convention", "countersign", str(proposal), "--reference", "R", as_="v.admin")
    seq = _last_seq(ctg, "convention.countersignature")

    first, failure = _broken(ctg)

    assert first.startswith(f"event #{seq} by v.admin: BOTH_PARTIES: the renewal #{proposal}"), (
        first
    )
    assert failure["rule"] == "BOTH_PARTIES"


def test_an_avenant_naming_a_version_out_of_sequence(
    ctg: Ctg, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A modified `convention amend` numbering its version as it likes (v7 after v1; or v1
    again, over the text in force): each avenant adds the next version over the one in
    effect, or verify names it."""
    from ctg_exchange.services import avenant as amending

    from conftest import SHIPPED_POLICY

    avenant = tmp_path / "avenant.yaml"
    text = SHIPPED_POLICY.read_text(encoding="utf-8")
    avenant.write_text(text.replace("opinion_deadline_days: 30", "opinion_deadline_days: 20"))
    with monkeypatch.context() as patched:
        patched.setattr(amending, "max", lambda versions: 6, raising=False)
        ctg.ok("convention", "amend", "--policy", str(avenant), "--reference", "A", as_="c.admin")
    seq = _last_seq(ctg, "convention.amendment")

    first, failure = _broken(ctg)

    assert first.startswith(
        f"event #{seq} by c.admin: AVENANT_VERSION: an avenant adds policy v2 over v1, not v7 "
        "over v1"
    ), first
    assert failure["rule"] == "AVENANT_VERSION"


def test_requests_lapsed_while_the_convention_is_in_force(
    ctg: Ctg, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A modified copy closing open requests as lapsed though the convention runs: a request
    lapses only once the convention is no longer in force."""
    from ctg_exchange.policy.convention import ConventionState

    ctg.file_request()
    with monkeypatch.context() as patched:
        patched.setattr(ConventionState, "why_not_in_force", lambda self, day: "ended (forged)")
        ctg.ok("convention", "lapse", as_="v.admin")
    seq = min(int(e["seq"]) for e in ctg.json("audit", "log") if e["action"] == "request.lapse")

    first, failure = _broken(ctg)

    assert first.startswith(f"event #{seq} by v.admin: LAPSE_IN_FORCE: "), first
    assert failure["rule"] == "LAPSE_IN_FORCE"


def test_a_member_declared_with_another_keys_fingerprint() -> None:
    from ctg_exchange.audit.replay import member_from
    from ctg_exchange.domain.payloads import MemberDeclaration
    from ctg_exchange.errors import ReplayError

    key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBsP7WgGZwDHjTCbTn7sYb0vTxrpfkMiwiL7iKRC30sT"
    declared = {"member": "v.x", "party": "ville_sceaux", "roles": ["staff"], "public_key": key,
                "fingerprint": "SHA256:" + "A" * 43, "name_sha256": "0" * 64}  # fmt: skip
    with pytest.raises(ReplayError, match="another key's fingerprint"):
        member_from(MemberDeclaration.model_validate(declared), 2)


def _with_conditions(ctg: Ctg) -> str:
    """A request whose DPO capped retention at 180 days and the columns at two (adopted)."""
    rid = ctg.file_request()
    ctg.advance(rid, "awaiting_dpo")
    ctg.ok("dpo", "opinion", rid, "--verdict", "favourable_with_recommendations", "--note",
           "Avis", "--recommend", "max_retention_days:180", "--recommend",
           "limit_columns:numero_allocataire,quotient_familial", as_="c.dpo")  # fmt: skip
    ctg.ok("decide", "approve", rid, "--adopt", "R1", "--adopt", "R2", as_="c.controller")
    ctg.ok("conditions", "accept", rid, "--dpia-ref", "AIPD-TEST-1", "--information",
           "Lettre aux familles (test)", "--l311-mention", "Mention sur la facture (test)",
           as_="v.controller")  # fmt: skip
    return rid


QF_TWO = "numero_allocataire,quotient_familial\n9000001,512\n"
QF_THREE = "numero_allocataire,quotient_familial,mois_reference_qf\n9000001,512,2025-05\n"


def _longer(m: pytest.MonkeyPatch) -> None:
    for module in (send, delivery):
        m.setattr(module, "retention_days", lambda request: 365)


def _wider(m: pytest.MonkeyPatch) -> None:
    for module in (send, delivery):
        m.setattr(module, "approved_columns", lambda *a: tuple(QF_THREE.split("\n")[0].split(",")))


def _unapplied(m: pytest.MonkeyPatch) -> None:
    m.setattr(send, "_applied", lambda *a, **k: ())
    m.setattr(delivery, "APPLIED_KINDS", ())


SENDS = {
    "a deadline past the DPO's 180 days": (_longer, QF_TWO, "RETENTION_DEADLINE"),
    "a column the DPO limited away": (_wider, QF_THREE, "COLUMNS_NOT_APPROVED"),
    "an adopted condition left unapplied": (_unapplied, QF_TWO, "CONDITIONS_NOT_APPLIED"),
}


@pytest.mark.parametrize("case", SENDS)
def test_a_delivery_past_its_conditions(
    state: State, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, case: str
) -> None:
    """The adopted conditions bind the file: the replay re-applies them to each delivery."""
    ctg = state("keyed", _party_keys)
    rid = _with_conditions(ctg)
    modify, rows, rule = SENDS[case]
    modify(monkeypatch)
    dataset = tmp_path / "qf.csv"
    dataset.write_text(rows, encoding="utf-8")
    sent = ctg("exchange", "send", rid, "--dataset", str(dataset), "--out",
               str(tmp_path / "p.ctgx"), as_="c.agent")  # fmt: skip
    assert sent.exit_code == 0, sent.output
    seq = _last_seq(ctg, "exchange.send")

    first, failure = _broken(ctg)

    assert first.startswith(f"event #{seq} by c.agent: {rule}: "), first
    assert (failure["seq"], failure["rule"]) == (seq, rule)


def test_an_approval_leaving_a_recommendation_unanswered(
    ctg: Ctg, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each recommendation is adopted or set aside: a modified copy that drops one is caught."""
    rid = ctg.file_request()
    ctg.advance(rid, "awaiting_dpo")
    ctg.ok("dpo", "opinion", rid, "--verdict", "favourable_with_recommendations", "--note",
           "Avis", "--recommend", "max_retention_days:180", as_="c.dpo")  # fmt: skip
    monkeypatch.setattr(review, "check_answered", lambda *args: None)
    assert ctg("decide", "approve", rid, as_="c.controller").exit_code == 0
    seq = _last_seq(ctg, "decide.approve")

    first, failure = _broken(ctg)

    assert first.startswith(
        f"event #{seq} by c.controller: not allowed (RECOMMENDATION_UNANSWERED): "
    ), first
    assert failure["rule"] == "RECOMMENDATION_UNANSWERED"


def test_conditions_accepted_without_the_dpia_it_needs(
    ctg: Ctg, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ctg_exchange.services import conditions

    rid = ctg.file_request()
    ctg.advance(rid, "approved")
    monkeypatch.setattr(conditions, "check_dpia", lambda *args: None)
    accepted = ctg("conditions", "accept", rid, "--information", "Lettre (test)",
                   "--l311-mention", "Facture (test)", as_="v.controller")  # fmt: skip
    assert accepted.exit_code == 0, accepted.output
    seq = _last_seq(ctg, "conditions.accept")

    first, failure = _broken(ctg)

    assert first.startswith(f"event #{seq} by v.controller: not allowed (DPIA_REF_MISSING): "), (
        first
    )
    assert failure["rule"] == "DPIA_REF_MISSING"


def test_a_log_claiming_older_rules_holds_no_step_they_lacked(
    fresh: Ctg, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A modified copy that writes rules 2 in a new workspace's genesis, to dodge what rules 3
    require, cannot take the steps rules 3 brought either: verify refuses them."""
    from ctg_exchange.services import members

    from conftest import INIT, MEMBERS, PASSPHRASE, TEST_KDF_ROUNDS, add_args, member_keys

    keys = member_keys(fresh)
    keys.generate("v.admin", PASSPHRASE, rounds=TEST_KDF_ROUNDS)
    monkeypatch.setattr(members, "RULES", 2)
    fresh.ok(*INIT)
    for member_id, party, roles, adder in MEMBERS:
        keys.generate(member_id, PASSPHRASE, rounds=TEST_KDF_ROUNDS)
        fresh.ok(*add_args(member_id, party, *roles), as_=adder)
    rid = fresh.file_request()
    fresh.ok("dpo", "advise", rid, "--note", "Avis du délégué du demandeur", as_="v.dpo")
    seq = _last_seq(fresh, "dpo.advise")

    result = fresh("audit", "verify")

    assert result.exit_code == 3, result.output
    assert f"event #{seq}" in result.stderr
    assert "a log verified by rules 2 has no dpo.advise" in result.stderr
