"""A request lives under one period of the convention; a termination is dated within the period
it ends (rules 3, the red team's findings on the convention's end).

- A request is approved under the period it was filed in, and its conditions accepted, its data
  sent and its suspension lifted under the period it was approved in: once a successor
  convention has opened a new period, what the old one approved is not carried on
  (``PERIOD_CHANGED``). A request suspended before anything was sent lapses with the others.
- A termination takes effect no earlier than the day it is recorded and by the convention's
  end; its notice is dated within the period, not in the future (``TERMINATION_DATE``); a later
  termination with an earlier effect takes the place of one still running its notice; a
  successor convention starts no earlier than the day it is proposed (``SUCCESSOR_PERIOD``).
- A notice that would expire on a Saturday, a Sunday or a public holiday runs to the next
  working day (Code de procédure civile art. 642).

Each refusal exits 1 with one line and changes nothing; each rule a modified copy skips is
caught by ``audit verify`` (exit 3) naming the rule.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from test_convention import BREACH, COUNTERSIGN_REFERENCE, pending
from test_convention_end import TERMINATE, _broken_at, _forged, approving
from test_exchange import accepted, keyed, qf_csv  # noqa: F401 (keyed: a fixture)

from ctg_exchange.policy.convention import ConventionState
from ctg_exchange.policy.termination import easter, notice_expires, public_holidays
from ctg_exchange.services import convention, termination

from conftest import REQUEST, Ctg

NEW = {"CTG_TODAY": "2026-01-05"}  # the shipped convention ended on 2025-12-31
UNCHECKED = (termination, "why_not_terminated")  # a modified copy that checks no termination
OLD_PERIOD = (
    "approved under the convention of 2021-01-01–2025-12-31; a new convention needs a new request"
)


def _successor(ctg: Ctg, countersigned: dict[str, str] = NEW) -> dict[str, Any]:
    """The town hall proposes the convention that follows, from 2026-01-05; the Caf
    countersigns it (``countersigned``: the day it does)."""
    ctg.ok("convention", "successor", "--start", "2026-01-05", "--end", "2030-12-31",
           "--reference", "CTG 2026-2030 (test)", "--deliberation", "Délibération (test)",
           as_="v.admin", env=NEW)  # fmt: skip
    done = ctg("convention", "countersign", str(pending(ctg)), "--reference",
               COUNTERSIGN_REFERENCE, "--json", as_="c.admin", env=countersigned)  # fmt: skip
    assert done.exit_code == 0, done.output
    shown: dict[str, Any] = json.loads(done.stdout)
    return shown


def _caught(
    ctg: Ctg,
    monkeypatch: pytest.MonkeyPatch,
    check: tuple[Any, str],
    step: tuple[tuple[str, ...], str, dict[str, str] | None],
    action: str,
    message: str,
) -> None:
    """A modified copy without ``check`` takes ``step``; ``audit verify`` fails (exit 3) at
    its ``action`` event, first line ``message`` (``RULE: …``), naming the rule."""
    _forged(ctg, monkeypatch, *check, step)
    seq, first, failure = _broken_at(ctg, action)
    assert first.startswith(f"event #{seq} by {step[1]}: {message}"), first
    assert failure["rule"] == message.split(":")[0]


def _send_args(rid: str, tmp_path: Path, name: str = "p") -> tuple[str, ...]:
    dataset = qf_csv(tmp_path / f"{name}.csv")
    out = tmp_path / f"{name}.ctgx"
    return ("exchange", "send", rid, "--dataset", str(dataset), "--out", str(out))


# -- 1. a request approved under one period is not served under the next ------------------------
def test_a_request_suspended_before_any_transfer_lapses_when_the_convention_ends(
    keyed: Ctg,  # noqa: F811
    tmp_path: Path,
) -> None:
    """(a) Suspended before the end, it no longer escapes the lapse; one suspended after a
    transfer keeps its deliveries to delete, but is not resumed under the successor."""
    ctg = keyed
    waiting, sent = accepted(ctg), accepted(ctg)
    ctg.ok(*_send_args(sent, tmp_path), as_="c.agent")
    for rid in (waiting, sent):
        ctg.ok("exchange", "suspend", rid, "--reason", "Violation (test)", as_="c.controller")
    assert ctg.json("convention", "show")["open_requests"] == [waiting]

    shown = _successor(ctg)

    assert shown["lapsed"] == [waiting]
    assert (ctg.show(waiting)["status"], ctg.show(sent)["status"]) == ("lapsed", "suspended")
    ctg.refused(
        "exchange", "resume", sent, "--note", "Corrigé", as_="c.controller", env=NEW,
        contains=f"PERIOD_CHANGED: resuming refused: {OLD_PERIOD} (the current one runs from "
        "2026-01-05)",
    )  # fmt: skip
    ctg.refused(
        "convention", "lapse", as_="c.admin", env={"CTG_TODAY": "2031-01-02"},
        contains="no open request to lapse",
    )  # fmt: skip
    assert ctg("audit", "verify").exit_code == 0


def test_a_recurring_exchange_stops_with_the_convention_it_was_approved_under(
    keyed: Ctg,  # noqa: F811
    tmp_path: Path,
) -> None:
    """(c) A monthly exchange, already sent once, sends nothing under the successor."""
    ctg = keyed
    rid = accepted(ctg)
    ctg.ok(*_send_args(rid, tmp_path, "june"), as_="c.agent")
    _successor(ctg)
    ctg.refused(
        *_send_args(rid, tmp_path, "january"), as_="c.agent", env=NEW,
        contains=f"PERIOD_CHANGED: sending refused: {OLD_PERIOD}",
    )  # fmt: skip
    assert ctg.show(rid)["status"] == "exchanged"  # its delivery is still deleted in time
    assert ctg("audit", "verify").exit_code == 0


def _left_open(ctg: Ctg, monkeypatch: pytest.MonkeyPatch, countersigned: dict[str, str]) -> None:
    """A modified copy countersigns the successor without lapsing what the old period left
    open."""
    with monkeypatch.context() as patched:
        patched.setattr(convention, "_take_effect_renewal", lambda *args: [])
        assert _successor(ctg, countersigned)["lapsed"] == []


def _opinion_given(ctg: Ctg, tmp_path: Path) -> tuple[tuple[str, ...], str]:
    rid = ctg.file_request()
    ctg.advance(rid, "opinion_given")
    return ("decide", "approve", rid), "c.controller"


def _approved(ctg: Ctg, tmp_path: Path) -> tuple[tuple[str, ...], str]:
    rid = ctg.file_request()
    ctg.advance(rid, "approved")
    return ("conditions", "accept", rid, "--dpia-ref", "AIPD-1", "--information", "Lettre",
            "--l311-mention", "Mention"), "v.controller"  # fmt: skip


def _conditions_accepted(ctg: Ctg, tmp_path: Path) -> tuple[tuple[str, ...], str]:
    return _send_args(accepted(ctg), tmp_path), "c.agent"


def _suspended(ctg: Ctg, tmp_path: Path) -> tuple[tuple[str, ...], str]:
    rid = accepted(ctg)
    ctg.ok("exchange", "suspend", rid, "--reason", "Violation", as_="c.controller")
    return ("exchange", "resume", rid, "--note", "Corrigé"), "c.controller"


STEPS = {
    "approval": (_opinion_given, "decide.approve",
                 "approval refused: filed under the convention of 2021-01-01–2025-12-31"),
    "acceptance": (_approved, "conditions.accept",
                   f"accepting the conditions refused: {OLD_PERIOD}"),
    "delivery": (_conditions_accepted, "exchange.send", f"sending refused: {OLD_PERIOD}"),
    "resumption": (_suspended, "exchange.resume", f"resuming refused: {OLD_PERIOD}"),
}  # fmt: skip


@pytest.mark.parametrize("step", STEPS)
def test_a_step_of_the_old_period_under_the_new_one(
    keyed: Ctg,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    step: str,
) -> None:
    """(b) Left open by a modified copy, a request of the old period is refused by the honest
    tool under the new one; signed anyway by a modified copy, ``audit verify`` names it."""
    ctg = keyed
    prepare, action, message = STEPS[step]
    args, actor = prepare(ctg, tmp_path)
    _left_open(ctg, monkeypatch, NEW)
    ctg.refused(*args, as_=actor, env=NEW, contains=f"PERIOD_CHANGED: {message}")

    forged = (ConventionState, "ensure_same_period")
    _caught(ctg, monkeypatch, forged, (args, actor, NEW), action, f"PERIOD_CHANGED: {message}")


def test_a_request_of_the_new_period_runs_under_it(
    keyed: Ctg,  # noqa: F811
    tmp_path: Path,
) -> None:
    """The successor countersigned after its first day: requests filed under it are served."""
    ctg = keyed
    _successor(ctg, countersigned={"CTG_TODAY": "2026-01-09"})
    later = {"CTG_TODAY": "2026-01-12"}
    rid = str(json.loads(ctg.ok(*REQUEST, "--json", as_="v.agent", env=later).stdout)["id"])
    for args, actor in (
        *approving(rid),
        (("conditions", "accept", rid, "--dpia-ref", "AIPD-1", "--information", "Lettre",
          "--l311-mention", "Mention"), "v.controller"),
        (_send_args(rid, tmp_path), "c.agent"),
        (("exchange", "suspend", rid, "--reason", "Violation"), "c.controller"),
        (("exchange", "resume", rid, "--note", "Corrigé"), "c.controller"),
    ):  # fmt: skip
        ctg.ok(*args, as_=actor, env=later)
    assert ctg.show(rid)["status"] == "exchanged"
    assert ctg("audit", "verify").exit_code == 0


# -- 2 and 3. a termination dated within the period it ends ---------------------------------------
DATED = {
    "after the end (it would block the other party's rights)": (
        ("--case", "denunciation", "--notice-date", "2025-06-01", "--on", "2035-01-01"),
        "v.admin",
        "TERMINATION_DATE: --on 2035-01-01 is after the convention's end, 2025-12-31 (Article "
        "10): a termination taking effect after the end ends nothing; it takes effect by "
        "2025-12-31 at the latest",
    ),
    "a dénonciation before the convention began": (
        ("--case", "denunciation", "--notice-date", "2019-01-01", "--on", "2019-08-01"),
        "v.admin",
        "TERMINATION_DATE: the notice is dated 2019-01-01, before the convention in force took "
        "effect on 2021-01-01: a notice is given under the convention it ends",
    ),
    "backdated": (
        ("--case", "modification_without_avenant", "--on", "2023-01-01"),
        "c.admin",
        "TERMINATION_DATE: --on 2023-01-01 is before today (2025-06-02): a termination takes "
        "effect no earlier than the day it is recorded, it is not retroactive",
    ),
    "a formal notice of 1999": (
        ("--case", "breach", "--notice-date", "1999-01-01", "--on", "2025-07-01"),
        "c.admin",
        "TERMINATION_DATE: the notice is dated 1999-01-01, before the convention in force took "
        "effect on 2021-01-01",
    ),
}


@pytest.mark.parametrize("case", DATED)
def test_a_termination_is_dated_within_the_period(ctg: Ctg, case: str) -> None:
    args, actor, message = DATED[case]
    ctg.refused(*TERMINATE, *args, as_=actor, contains=message)


@pytest.mark.parametrize("case", DATED)
def test_a_termination_forged_outside_the_period(
    ctg: Ctg, monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    args, actor, message = DATED[case]
    step = ((*TERMINATE, *args), actor, None)
    _caught(ctg, monkeypatch, UNCHECKED, step, "convention.termination", message)


def test_a_later_termination_with_an_earlier_effect_takes_the_place_of_one_pending(
    ctg: Ctg,
) -> None:
    """Article 12: a dénonciation running its six months does not take away the Caf's right to
    terminate at once for a modification without avenant."""
    rid = ctg.file_request()
    ctg.ok(*TERMINATE, "--case", "denunciation", "--notice-date", "2025-01-31",
           "--on", "2025-08-01", as_="v.admin")  # fmt: skip
    ctg.refused(
        *BREACH, "--on", "2025-09-01", "--reason", "Manquement", as_="c.admin",
        contains="TERMINATION_NOT_ALLOWED: the convention is already terminated with effect from "
        "2025-08-01 (Article 12): a later termination takes its place only with an earlier "
        "effect",
    )  # fmt: skip

    ended = ctg.json(*TERMINATE, "--case", "modification_without_avenant", "--on", "2025-06-02",
                     as_="c.admin")  # fmt: skip

    assert (ended["status"], ended["last_day"], ended["lapsed"]) == (
        "terminated", "2025-06-01", [rid]
    )  # fmt: skip
    assert [c["case"] for c in ended["changes"]] == ["denunciation", "modification_without_avenant"]
    ctg.refused(
        *BREACH, "--on", "2025-06-02", "--reason", "x", as_="v.admin",
        contains="TERMINATION_NOT_ALLOWED: the convention is already terminated with effect from "
        "2025-06-02 (Article 12)",
    )  # fmt: skip
    assert ctg("audit", "verify").exit_code == 0


def test_a_termination_forged_past_one_already_in_effect(
    ctg: Ctg, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctg.ok(*TERMINATE, "--case", "modification_without_avenant", "--on", "2025-06-02",
           as_="c.admin")  # fmt: skip
    step = ((*BREACH, "--on", "2025-06-02", "--reason", "x"), "v.admin", None)
    message = "TERMINATION_NOT_ALLOWED: the convention is already terminated"
    _caught(ctg, monkeypatch, UNCHECKED, step, "convention.termination", message)


def test_a_successor_starts_no_earlier_than_it_is_proposed(
    ctg: Ctg, monkeypatch: pytest.MonkeyPatch
) -> None:
    backdated = ("convention", "successor", "--start", "2026-01-01", "--end", "2030-12-31",
                 "--reference", "R", "--deliberation", "D")  # fmt: skip
    message = (
        "SUCCESSOR_PERIOD: --start 2026-01-01 is before 2026-01-05, the day it was proposed: a "
        "convention takes effect no earlier than the parties adopt it, not retroactively"
    )
    ctg.refused(*backdated, as_="v.admin", env=NEW, contains=message)

    forged = (ConventionState, "why_no_successor")
    _caught(ctg, monkeypatch, forged, (backdated, "v.admin", NEW), "convention.successor", message)


# -- 4. Code de procédure civile art. 642 ----------------------------------------------------------
def test_a_notice_expiring_on_a_sunday_runs_to_the_monday(
    ctg: Ctg, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A formal notice of 1 May 2025: its month would expire on Sunday 1 June."""
    notice = ("--case", "breach", "--notice-date", "2025-05-01", "--on", "2025-06-02")
    message = (
        "TERMINATION_NOTICE: the notice of 2025-05-01 runs until 2025-06-02 (2025-06-01 is not "
        "a working day: Code de procédure civile art. 642): the termination takes effect on "
        "2025-06-03 at the earliest, not 2025-06-02"
    )
    ctg.refused(*TERMINATE, *notice, as_="v.admin", contains=message)

    step = ((*TERMINATE, *notice), "v.admin", None)
    _caught(ctg, monkeypatch, UNCHECKED, step, "convention.termination", message)


def test_france_s_public_holidays() -> None:
    assert [easter(y) for y in (2024, 2025, 2026, 2027, 2038)] == [
        date(2024, 3, 31), date(2025, 4, 20), date(2026, 4, 5), date(2027, 3, 28),
        date(2038, 4, 25),
    ]  # fmt: skip
    assert sorted(public_holidays(2025)) == [
        date(2025, 1, 1), date(2025, 4, 21), date(2025, 5, 1), date(2025, 5, 8),
        date(2025, 5, 29), date(2025, 6, 9), date(2025, 7, 14), date(2025, 8, 15),
        date(2025, 11, 1), date(2025, 11, 11), date(2025, 12, 25),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("notice", "months", "expires"),
    [
        (date(2025, 4, 30), 1, date(2025, 5, 30)),  # a Friday: as art. 641 counts it
        (date(2025, 3, 21), 1, date(2025, 4, 22)),  # Easter Monday
        (date(2025, 4, 29), 1, date(2025, 5, 30)),  # Ascension Thursday
        (date(2025, 5, 9), 1, date(2025, 6, 10)),  # Whit Monday
        (date(2025, 2, 14), 5, date(2025, 7, 15)),  # 14 July, a Monday
        (date(2024, 11, 1), 6, date(2025, 5, 2)),  # 1 May, a Thursday
        (date(2025, 6, 15), 6, date(2025, 12, 15)),  # a Monday
        (date(2025, 6, 27), 6, date(2025, 12, 29)),  # Saturday 27 December, then a Sunday
        (date(2025, 8, 31), 6, date(2026, 3, 2)),  # 28 February 2026, a Saturday
    ],
)
def test_a_notice_expires_on_a_working_day(notice: date, months: int, expires: date) -> None:
    assert notice_expires(notice, months) == expires
