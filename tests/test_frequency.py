"""Deliveries keep to the approved frequency (issue 16, finding 10): one sooner is refused with
the date of the next allowed one, unless sent early with a justification, which the log
records; ``audit verify`` re-applies it (rules 3), and a log under older rules verifies as
before.

The shared test workspaces are dated 2025-06-02 (``CTG_TODAY``); the request is monthly.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date
from pathlib import Path

import pytest
from test_hostile_member import _broken  # verify's first failure, as the copy leaves it

from ctg_exchange.domain.frequency import (
    DELIVERY_TOO_EARLY,
    EARLY_FLAG,
    ONE_OFF_DELIVERED,
    check_timing,
    next_allowed,
)
from ctg_exchange.domain.models import Frequency
from ctg_exchange.errors import Refused
from ctg_exchange.services import delivery, send

from conftest import Ctg, State

QF = "numero_allocataire,quotient_familial,mois_reference_qf\n9000001,512,2025-05\n"
REASONS = "Rectification des QF de mai : erreur d'extraction (test)"
EARLY = ("--early", "--justification", REASONS)
JULY = {"CTG_TODAY": "2025-07-02"}


# -- the calendar ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("frequency", "previous", "expected"),
    [
        ("daily", "2025-06-02", "2025-06-03"),
        ("daily", "2025-12-31", "2026-01-01"),
        ("weekly", "2025-06-02", "2025-06-09"),
        ("monthly", "2025-06-02", "2025-07-02"),
        ("monthly", "2025-01-31", "2025-02-28"),  # a day the month lacks: its last day
        ("monthly", "2024-01-31", "2024-02-29"),
        ("monthly", "2025-04-30", "2025-05-30"),
        ("monthly", "2025-12-15", "2026-01-15"),
        ("quarterly", "2025-08-31", "2025-11-30"),
        ("quarterly", "2025-11-05", "2026-02-05"),
        ("yearly", "2024-02-29", "2025-02-28"),
        ("yearly", "2025-06-02", "2026-06-02"),
    ],
)
def test_the_calendar_of_each_frequency(frequency: str, previous: str, expected: str) -> None:
    assert next_allowed(Frequency(frequency), date.fromisoformat(previous)) == date.fromisoformat(
        expected
    )


def test_a_one_off_request_has_no_next_delivery() -> None:
    assert next_allowed(Frequency.ONCE, date(2025, 6, 2)) is None


def _timing(frequency: str, today: str, *, early: bool = False, justified: bool = False) -> None:
    check_timing("DX-2025-0001", Frequency(frequency), (1, date(2025, 6, 2)),
                 date.fromisoformat(today), early=early, justified=justified)  # fmt: skip


def test_the_day_the_calendar_gives_is_allowed_the_day_before_is_not() -> None:
    _timing("monthly", "2025-07-02")
    with pytest.raises(Refused) as refused:
        _timing("monthly", "2025-07-01")
    assert refused.value.rule == DELIVERY_TOO_EARLY
    assert refused.value.message == (
        "DX-2025-0001 is delivered monthly and its last delivery (DX-2025-0001-1) was on "
        "2025-06-02: the next is allowed from 2025-07-02"
    )


def test_early_needs_its_justification_and_a_reason_to_be_early() -> None:
    _timing("weekly", "2025-06-05", early=True, justified=True)
    with pytest.raises(Refused) as unjustified:
        _timing("weekly", "2025-06-05", early=True)
    with pytest.raises(Refused) as not_early:
        _timing("weekly", "2025-06-09", early=True, justified=True)
    with pytest.raises(Refused) as first:
        check_timing("DX-2025-0001", Frequency.WEEKLY, None, date(2025, 6, 2), early=True,
                     justified=True)  # fmt: skip
    with pytest.raises(Refused) as once:
        _timing("once", "2026-06-02", early=True, justified=True)
    assert unjustified.value.rule == DELIVERY_TOO_EARLY
    assert (not_early.value.rule, first.value.rule) == (EARLY_FLAG, EARLY_FLAG)
    assert "allowed since 2025-06-09" in not_early.value.message
    assert once.value.rule == ONE_OFF_DELIVERED  # early never makes a second one-off


# -- the command line --------------------------------------------------------------------------
def _accepted(ctg: Ctg, *extra: str) -> str:
    ctg.ok("keys", "generate", "--party", "ville_sceaux", "--encryption", as_="v.admin")
    ctg.ok("keys", "generate", "--party", "caf92", "--encryption", as_="c.admin")
    rid = ctg.file_request(*extra)
    ctg.advance(rid, "approved")
    ctg.ok("conditions", "accept", rid, "--dpia-ref", "AIPD-TEST-1", "--information",
           "Lettre aux familles (test)", "--l311-mention", "Mention sur la facture (test)",
           as_="v.controller")  # fmt: skip
    return rid


def _monthly(ctg: Ctg) -> object:
    return _accepted(ctg)


def _send(ctg: Ctg, tmp_path: Path, rid: str, *extra: str, name: str = "p") -> list[str]:
    """``exchange send`` arguments for a one-row QF file, the package at ``name``.ctgx."""
    dataset = tmp_path / "qf.csv"
    dataset.write_text(QF, encoding="utf-8")
    return ["exchange", "send", rid, "--dataset", str(dataset), "--out",
            str(tmp_path / f"{name}.ctgx"), *extra]  # fmt: skip


@pytest.fixture
def monthly(state: State) -> tuple[Ctg, str]:
    """Keys made, and a monthly request up to accepted conditions (filed first: DX-2025-0001)."""
    ctg = state("monthly-accepted", _monthly)
    return ctg, "DX-2025-0001"


def test_a_delivery_sooner_than_monthly_is_refused_with_the_next_date(
    monthly: tuple[Ctg, str], tmp_path: Path
) -> None:
    ctg, rid = monthly
    ctg.ok(*_send(ctg, tmp_path, rid, name="one"), as_="c.agent")

    for day in ("2025-06-02", "2025-07-01"):
        ctg.refused(
            *_send(ctg, tmp_path, rid, name="two"), as_="c.agent", env={"CTG_TODAY": day},
            contains=f"{rid} is delivered monthly and its last delivery ({rid}-1) was on "
            "2025-06-02: the next is allowed from 2025-07-02",
        )  # fmt: skip
    result = ctg(*_send(ctg, tmp_path, rid, name="two"), "--json", as_="c.agent", env=JULY)

    assert result.exit_code == 0, result.output
    sent = json.loads(result.stdout)
    assert (sent["number"], sent["early"], sent["justification"]) == (2, False, None)
    assert ctg.json("audit", "verify")["ok"] is True


def test_the_refusal_hints_at_early(monthly: tuple[Ctg, str], tmp_path: Path) -> None:
    ctg, rid = monthly
    ctg.ok(*_send(ctg, tmp_path, rid, name="one"), as_="c.agent")
    result = ctg(*_send(ctg, tmp_path, rid, name="two"), "--json", as_="c.agent")
    error = json.loads(result.stdout)["error"]
    assert (result.exit_code, error["rule"]) == (1, DELIVERY_TOO_EARLY)
    assert "hint: to send sooner, give --early with --justification TEXT" in result.stderr


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (("--early",), "--early needs --justification: why this delivery cannot wait"),
        (("--early", "--justification", "  "), "--early needs --justification"),
        (("--justification", REASONS), "--justification goes with --early"),
    ],
    ids=["early alone", "blank justification", "justification alone"],
)
def test_early_and_its_justification_go_together(
    monthly: tuple[Ctg, str], tmp_path: Path, extra: tuple[str, ...], message: str
) -> None:
    ctg, rid = monthly
    ctg.ok(*_send(ctg, tmp_path, rid, name="one"), as_="c.agent")
    ctg.refused(*_send(ctg, tmp_path, rid, *extra, name="two"), as_="c.agent", contains=message)


def test_early_is_refused_when_nothing_is_early(monthly: tuple[Ctg, str], tmp_path: Path) -> None:
    ctg, rid = monthly
    ctg.refused(
        *_send(ctg, tmp_path, rid, *EARLY, name="one"), as_="c.agent",
        contains=f"a delivery of {rid} on 2025-06-02 is its first delivery: --early is only for "
        "a delivery sooner than its frequency allows",
    )  # fmt: skip
    ctg.ok(*_send(ctg, tmp_path, rid, name="one"), as_="c.agent")
    ctg.refused(
        *_send(ctg, tmp_path, rid, *EARLY, name="two"), as_="c.agent", env=JULY,
        contains=f"a delivery of {rid} on 2025-07-02 is allowed since 2025-07-02",
    )  # fmt: skip


def test_an_early_delivery_is_recorded_and_shown(monthly: tuple[Ctg, str], tmp_path: Path) -> None:
    ctg, rid = monthly
    ctg.ok(*_send(ctg, tmp_path, rid, name="one"), as_="c.agent")

    sent = ctg.json(*_send(ctg, tmp_path, rid, *EARLY, name="two"), as_="c.agent")

    assert (sent["number"], sent["early"], sent["justification"]) == (2, True, REASONS)
    event = [e for e in ctg.json("audit", "log") if e["action"] == "exchange.send"][-1]
    assert event["payload"]["early"] is True
    assert event["payload"]["text_sha256"] == hashlib.sha256(REASONS.encode()).hexdigest()
    first = [e for e in ctg.json("audit", "log") if e["action"] == "exchange.send"][0]
    assert "early" not in first["payload"] and "text_sha256" not in first["payload"]
    shown = ctg.show(rid)
    assert [(d["early"], d["justification"]) for d in shown["deliveries"]] == [
        (False, None), (True, REASONS),
    ]  # fmt: skip
    human = ctg.ok("request", "show", rid).stdout
    assert f"early (sooner than its frequency allows): {REASONS}" in " ".join(human.split())
    assert ctg.json("audit", "verify")["ok"] is True
    bundle = tmp_path / "bundle"
    ctg.ok("register", "export", "--audit-bundle", str(bundle), as_="v.dpo")
    dossier = (bundle / "echanges" / rid / "demande.md").read_text(encoding="utf-8")
    assert f"{rid}-2 : envoyée le 2 juin 2025" in dossier
    assert "envoi anticipé sur la fréquence, motif : Rectification des QF de mai" in dossier
    document = json.loads((bundle / "echanges" / rid / "demande.json").read_text())
    assert document["deliveries"][1]["justification"] == REASONS


def test_a_justification_is_text_not_markup(monthly: tuple[Ctg, str], tmp_path: Path) -> None:
    ctg, rid = monthly
    ctg.ok(*_send(ctg, tmp_path, rid, name="one"), as_="c.agent")
    typed = "[red]urgent[/] <b>*now*</b>"
    ctg.ok(*_send(ctg, tmp_path, rid, "--early", "--justification", typed, name="two"),
           as_="c.agent")  # fmt: skip
    human = ctg.ok("request", "show", rid).stdout
    assert "[red]urgent[/]" in human
    bundle = tmp_path / "bundle"
    ctg.ok("register", "export", "--audit-bundle", str(bundle), as_="v.dpo")
    dossier = (bundle / "echanges" / rid / "demande.md").read_text(encoding="utf-8")
    assert "<b>" not in dossier and "*now*" not in dossier


def test_a_one_off_request_still_takes_one_delivery(state: State, tmp_path: Path) -> None:
    ctg = state("once-accepted", lambda c: _accepted(c, "--frequency", "once"))
    rid = "DX-2025-0001"
    ctg.ok(*_send(ctg, tmp_path, rid, name="one"), as_="c.agent")
    for extra in ((), EARLY):
        ctg.refused(
            *_send(ctg, tmp_path, rid, *extra, name="two"), as_="c.agent",
            env={"CTG_TODAY": "2025-12-01"},
            contains=f"{rid} asks for a one-off transfer, already made ({rid}-1)",
        )  # fmt: skip


# -- audit verify: a modified copy of the tool -------------------------------------------------
def _last_send(ctg: Ctg) -> int:
    return max(int(e["seq"]) for e in ctg.json("audit", "log") if e["action"] == "exchange.send")


@pytest.mark.parametrize(
    ("frequency", "rule"),
    [("monthly", DELIVERY_TOO_EARLY), ("once", ONE_OFF_DELIVERED)],
)
def test_a_modified_copy_sending_too_soon_is_caught(
    state: State, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, frequency: str, rule: str
) -> None:
    ctg = state(f"{frequency}-accepted", lambda c: _accepted(c, "--frequency", frequency))
    rid = "DX-2025-0001"
    ctg.ok(*_send(ctg, tmp_path, rid, name="one"), as_="c.agent")
    for module in (send, delivery):  # the copy no longer times its deliveries
        monkeypatch.setattr(module, "check_frequency", lambda *args: None)
    ctg.ok(*_send(ctg, tmp_path, rid, name="two"), as_="c.agent", env={"CTG_TODAY": "2025-06-20"})
    seq = _last_send(ctg)

    first, failure = _broken(ctg)

    assert first.startswith(f"event #{seq} by c.agent: {rule}: "), first
    assert (failure["seq"], failure["actor"], failure["rule"]) == (seq, "c.agent", rule)


def test_a_modified_copy_marking_an_on_time_delivery_early_is_caught(
    monthly: tuple[Ctg, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    ctg, rid = monthly
    ctg.ok(*_send(ctg, tmp_path, rid, name="one"), as_="c.agent")
    for module in (send, delivery):
        monkeypatch.setattr(module, "check_frequency", lambda *args: None)
    ctg.ok(*_send(ctg, tmp_path, rid, *EARLY, name="two"), as_="c.agent", env=JULY)
    seq = _last_send(ctg)

    first, failure = _broken(ctg)

    assert first.startswith(
        f"event #{seq} by c.agent: {EARLY_FLAG}: a delivery of {rid} on 2025-07-02 is allowed "
        "since 2025-07-02"
    ), first
    assert failure["rule"] == EARLY_FLAG


def test_a_justification_changed_behind_the_tools_back_is_found(
    monthly: tuple[Ctg, str], tmp_path: Path
) -> None:
    ctg, rid = monthly
    ctg.ok(*_send(ctg, tmp_path, rid, name="one"), as_="c.agent")
    ctg.ok(*_send(ctg, tmp_path, rid, *EARLY, name="two"), as_="c.agent")
    ctg.sql("UPDATE request_steps SET text = 'Autre motif' WHERE action = 'exchange.send' "
            "AND text IS NOT NULL", guards=False)  # fmt: skip

    result = ctg("audit", "verify")

    assert result.exit_code == 3, result.output


def test_a_log_under_rules_2_keeps_its_untimed_deliveries(
    fresh: Ctg, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A workspace begun under rules 2 sends as before (only a one-off request's second
    delivery is refused), and its log verifies; it has no early delivery."""
    from ctg_exchange.services import members

    from conftest import INIT, MEMBERS, PASSPHRASE, TEST_KDF_ROUNDS, add_args, member_keys

    keys = member_keys(fresh)
    keys.generate("v.admin", PASSPHRASE, rounds=TEST_KDF_ROUNDS)
    with monkeypatch.context() as older:
        older.setattr(members, "RULES", 2)
        fresh.ok(*INIT)
    for member_id, party, roles, adder in MEMBERS:
        keys.generate(member_id, PASSPHRASE, rounds=TEST_KDF_ROUNDS)
        fresh.ok(*add_args(member_id, party, *roles), as_=adder)
    fresh.ok("keys", "generate", "--party", "ville_sceaux", "--encryption", as_="v.admin")
    fresh.ok("keys", "generate", "--party", "caf92", "--encryption", as_="c.admin")
    rid = fresh.file_request()
    fresh.advance(rid, "approved")
    fresh.ok("conditions", "accept", rid, "--dpia-ref", "AIPD-TEST-1", as_="v.controller")

    fresh.ok(*_send(fresh, tmp_path, rid, name="one"), as_="c.agent")
    fresh.ok(*_send(fresh, tmp_path, rid, name="two"), as_="c.agent")
    fresh.refused(*_send(fresh, tmp_path, rid, *EARLY, name="three"), as_="c.agent",
                  contains="which do not time deliveries: send it without --early")  # fmt: skip

    verified = fresh.json("audit", "verify")
    assert (verified["ok"], verified["rules"]) == (True, 2)


def test_a_justification_read_from_a_file(monthly: tuple[Ctg, str], tmp_path: Path) -> None:
    ctg, rid = monthly
    ctg.ok(*_send(ctg, tmp_path, rid, name="one"), as_="c.agent")
    reasons = tmp_path / "motif.txt"
    reasons.write_text(f"{REASONS}\nDeuxième ligne du motif.\n", encoding="utf-8")

    sent = ctg.json(*_send(ctg, tmp_path, rid, "--early", "--justification-file", str(reasons),
                           name="two"), as_="c.agent")  # fmt: skip

    assert sent["justification"] == f"{REASONS}\nDeuxième ligne du motif."
