"""The end of the convention (rules 3): a renewal only before the end; after it, a successor
convention both parties adopt; no avenant to an ended convention; a termination in one of
Article 12's cases, by the party it allows, once its notice has run. Each is re-applied by
``audit verify``: an event a modified copy signed past the rule is an integrity failure naming
its code. A workspace begun under rules 2 keeps them."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from test_convention import BREACH, COUNTERSIGN_REFERENCE, RENEWAL, SUCCESSOR, pending

from ctg_exchange.policy.termination import add_months

from conftest import INIT, PASSPHRASE, REQUEST, SHIPPED_POLICY, TEST_KDF_ROUNDS, Ctg

AFTER = {"CTG_TODAY": "2026-01-05"}  # the shipped convention ended on 2025-12-31
COUNTERSIGNING = ("convention", "countersign")


def countersigning(ctg: Ctg) -> tuple[str, ...]:
    return (*COUNTERSIGNING, str(pending(ctg)), "--reference", COUNTERSIGN_REFERENCE)


def approving(rid: str) -> tuple[tuple[tuple[str, ...], str], ...]:
    """The steps that take a filed request to approved, each with the member who takes it."""
    return (
        (("study", "accept", rid, "--note", "Étude"), "c.analyst"),
        (("study", "submit", rid), "c.analyst"),
        (("dpo", "opinion", rid, "--verdict", "favourable", "--note", "Avis"), "c.dpo"),
        (("decide", "approve", rid), "c.controller"),
    )


def _avenant(tmp_path: Path) -> Path:
    path = tmp_path / "avenant.yaml"
    text = SHIPPED_POLICY.read_text(encoding="utf-8")
    path.write_text(text.replace("opinion_deadline_days: 30", "opinion_deadline_days: 20"))
    return path


# -- renewal before the end, then a successor --------------------------------------------------
def test_a_renewal_is_decided_before_the_end_not_after(ctg: Ctg) -> None:
    ctg.refused(
        *RENEWAL,
        as_="v.admin",
        env=AFTER,
        contains="RENEWAL_AFTER_END: the convention ended on 2025-12-31: it renews only by "
        "express decision before its end (Article 10); after it, the parties adopt a new "
        "convention with new deliberations",
    )
    # proposed on its last day (still in force), countersigned once it has ended: refused
    ctg.ok(*RENEWAL, as_="v.admin", env={"CTG_TODAY": "2025-12-31"})
    ctg.refused(
        *countersigning(ctg), as_="c.admin", env=AFTER,
        contains="RENEWAL_AFTER_END: the convention ended on 2025-12-31",
    )  # fmt: skip
    assert ctg.json("convention", "show")["end"] == "2025-12-31"
    assert ctg("audit", "verify").exit_code == 0


def test_a_renewal_countersigned_on_the_last_day_takes_effect(ctg: Ctg) -> None:
    last_day = {"CTG_TODAY": "2025-12-31"}
    ctg.ok(*RENEWAL, as_="v.admin", env=last_day)
    ctg.ok(*countersigning(ctg), as_="c.admin", env=last_day)
    assert ctg.json("convention", "show")["end"] == "2029-12-31"
    assert ctg("audit", "verify").exit_code == 0


@pytest.mark.parametrize(
    ("start", "end", "today", "message"),
    [
        ("2026-01-01", "2030-12-31", "2025-06-02",
         "SUCCESSOR_WHILE_IN_FORCE: the convention runs until 2025-12-31: while it does, the "
         "parties renew it by express decision (Article 10)"),
        ("2025-12-31", "2030-12-31", "2026-01-05",
         "SUCCESSOR_PERIOD: --start 2025-12-31 must be after 2025-12-31, the last day the "
         "convention it follows was in force"),
        ("2026-01-01", "2026-01-04", "2026-01-05",
         "SUCCESSOR_PERIOD: --end 2026-01-04 must be on or after --start 2026-01-01 and today"),
    ],
    ids=["in-force", "overlap", "past"],
)  # fmt: skip
def test_a_successor_follows_an_ended_convention_for_a_later_period(
    ctg: Ctg, start: str, end: str, today: str, message: str
) -> None:
    successor = list(SUCCESSOR)
    successor[3], successor[5] = start, end
    ctg.refused(*successor, as_="v.admin", env={"CTG_TODAY": today}, contains=message)


def test_a_successor_after_a_termination_runs_a_new_period(ctg: Ctg) -> None:
    """Requests of the old period that lapsed stay lapsed; new ones are filed and approved; the
    new period's own renewal and termination are its own."""
    old = ctg.file_request()
    ctg.ok(*BREACH, "--on", "2025-06-02", "--reason", "Manquement (test)", as_="c.admin")
    assert ctg.show(old)["status"] == "lapsed"
    later = {"CTG_TODAY": "2025-09-01"}
    successor = list(SUCCESSOR)
    successor[3], successor[5] = "2025-09-01", "2028-12-31"
    ctg.refused(
        *successor[:3], "2025-06-01", *successor[4:], as_="c.admin", env=later,
        contains="SUCCESSOR_PERIOD: --start 2025-06-01 must be after 2025-06-01",
    )  # fmt: skip
    ctg.ok(*successor, as_="c.admin", env=later)
    shown = json.loads(ctg(*countersigning(ctg), "--json", as_="v.admin", env=later).stdout)
    assert (shown["status"], shown["start"], shown["end"], shown["lapsed"]) == (
        "in_force", "2025-09-01", "2028-12-31", []
    )  # fmt: skip

    rid = str(json.loads(ctg.ok(*REQUEST, "--json", as_="v.agent", env=later).stdout)["id"])
    for args, actor in approving(rid):
        ctg.ok(*args, as_=actor, env=later)
    assert ctg.show(rid)["status"] == "approved"
    assert ctg.show(old)["status"] == "lapsed"
    # the new period is renewed before its own end, and may be terminated in its turn
    ctg.ok(*RENEWAL, as_="v.admin", env=later)
    ctg.ok(*countersigning(ctg), as_="c.admin", env=later)
    assert ctg.json("convention", "show")["end"] == "2029-12-31"
    assert ctg("audit", "verify").exit_code == 0


# -- avenants ----------------------------------------------------------------------------------
def test_an_ended_convention_takes_no_avenant(ctg: Ctg, tmp_path: Path) -> None:
    amending = ("convention", "amend", "--policy", str(_avenant(tmp_path)), "--reference", "Av")
    ctg.refused(
        *amending, as_="c.admin", env=AFTER,
        contains="AVENANT_AFTER_END: the convention ended on 2025-12-31 (Article 10): an ended "
        "convention is not amended (Article 11)",
    )  # fmt: skip
    ctg.ok(*amending, as_="c.admin", env={"CTG_TODAY": "2025-12-30"})
    ctg.refused(*countersigning(ctg), as_="v.admin", env=AFTER, contains="AVENANT_AFTER_END: ")
    assert ctg.json("convention", "show")["policy_version"] == 1


# -- termination (Article 12) ------------------------------------------------------------------
TERMINATE = ("convention", "terminate", "--reason", "Test")
REFUSED_TERMINATIONS = {
    "a breach without notice": (
        ("--case", "breach", "--on", "2025-07-01"), "v.admin",
        "TERMINATION_CASE: breach runs from a notice: --notice-date is required (Article 12: "
        "« résiliée de plein droit par l'une ou l'autre partie, à l'expiration d'un délai "
        "d'un mois suivant l'envoi d'une lettre recommandée",
    ),
    "a breach before the month has run": (
        ("--case", "breach", "--notice-date", "2025-05-02", "--on", "2025-06-02"), "v.admin",
        "TERMINATION_NOTICE: the notice of 2025-05-02 runs until 2025-06-02: the termination "
        "takes effect on 2025-06-03 at the earliest, not 2025-06-02 (Article 12: «",
    ),
    "a dénonciation with five months' notice": (
        ("--case", "denunciation", "--notice-date", "2025-02-01", "--on", "2025-07-01"),
        "c.admin",
        "TERMINATION_NOTICE: the notice of 2025-02-01 runs until 2025-08-01: the termination "
        "takes effect on 2025-08-02 at the earliest, not 2025-07-01 (Article 12: « dénoncée "
        "par l'une ou l'autre des parties moyennant un délai de prévenance de 6 mois »)",
    ),
    "a notice dated after today": (
        ("--case", "denunciation", "--notice-date", "2025-06-03", "--on", "2026-01-01"),
        "v.admin",
        "TERMINATION_NOTICE: the notice is dated 2025-06-03, after today (2025-06-02)",
    ),
    "a breach of law by the town hall": (
        ("--case", "breach_of_law", "--notice-date", "2025-04-30", "--on", "2025-06-02"),
        "v.admin",
        "TERMINATION_CAF_ONLY: only the Caf terminates the convention for breach_of_law "
        "(Article 12: « les infractions […] aux lois et règlements en vigueur entraîneront la "
        "résiliation de plein droit de la présente convention par la Caf",
    ),
    "an immediate termination by the town hall": (
        ("--case", "modification_without_avenant", "--on", "2025-06-02"), "v.admin",
        "TERMINATION_CAF_ONLY: only the Caf terminates the convention for "
        "modification_without_avenant (Article 12: « résiliée de plein droit par la Caf, sans "
        "qu'il soit besoin de procéder à une mise en demeure",
    ),
    "an immediate termination with a notice": (
        ("--case", "modification_without_avenant", "--notice-date", "2025-05-01",
         "--on", "2025-06-02"), "c.admin",
        "TERMINATION_CASE: modification_without_avenant needs no formal notice",
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", REFUSED_TERMINATIONS)
def test_a_termination_respects_article_12(ctg: Ctg, case: str) -> None:
    args, actor, message = REFUSED_TERMINATIONS[case]
    ctg.refused(*TERMINATE, *args, as_=actor, contains=message)


def test_an_ended_convention_is_not_terminated(ctg: Ctg) -> None:
    ctg.refused(
        *TERMINATE, "--case", "modification_without_avenant", "--on", "2026-01-05",
        as_="c.admin", env=AFTER,
        contains="TERMINATION_NOT_ALLOWED: the convention ended on 2025-12-31 (Article 10): "
        "there is nothing left to terminate",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("args", "actor", "shown"),
    [
        (("--case", "breach_of_law", "--notice-date", "2025-04-30", "--on", "2025-06-02"),
         "c.admin", "(breach_of_law, notice of 2025-04-30)"),
        (("--case", "modification_without_avenant", "--on", "2025-06-02"), "c.admin",
         "(modification_without_avenant)"),
        (("--case", "denunciation", "--notice-date", "2025-01-31", "--on", "2025-08-01"),
         "v.admin", "(denunciation, notice of 2025-01-31)"),
    ],
    ids=["breach-of-law", "immediate", "denunciation"],
)  # fmt: skip
def test_a_termination_in_a_case_of_article_12(
    ctg: Ctg, args: tuple[str, ...], actor: str, shown: str
) -> None:
    ctg.ok(*TERMINATE, *args, as_=actor)
    change = ctg.json("convention", "show")["changes"][0]
    assert (change["case"], change["notice_date"]) == (args[1], args[3] if len(args) > 4 else None)
    assert shown in " ".join(ctg.ok("convention", "show").stdout.split())
    assert ctg("audit", "verify").exit_code == 0


def test_months_run_to_the_same_day_or_the_months_last() -> None:
    assert add_months(date(2025, 5, 2), 1) == date(2025, 6, 2)
    assert add_months(date(2025, 8, 31), 6) == date(2026, 2, 28)
    assert add_months(date(2023, 8, 31), 6) == date(2024, 2, 29)
    assert add_months(date(2025, 12, 15), 1) == date(2026, 1, 15)


# -- a modified copy signing past each rule ------------------------------------------------------
def _broken_at(ctg: Ctg, action: str) -> tuple[int, str, dict[str, Any]]:
    seq = max(int(e["seq"]) for e in ctg.json("audit", "log") if e["action"] == action)
    result = ctg("audit", "verify")
    assert result.exit_code == 3, result.output
    first = result.stderr.splitlines()[0].removeprefix("ctg-exchange: error: audit log broken at ")
    failure = json.loads(ctg("audit", "verify", "--json").stdout)["error"]["failures"][0]
    return seq, first, failure


def _forged(ctg: Ctg, monkeypatch: pytest.MonkeyPatch, target: Any, name: str, *step: Any) -> None:
    with monkeypatch.context() as patched:
        patched.setattr(target, name, lambda *args, **kwargs: None)
        for args, actor, env in step:
            ctg.ok(*args, as_=actor, env=env)


def test_a_renewal_forged_after_the_end(ctg: Ctg, monkeypatch: pytest.MonkeyPatch) -> None:
    from ctg_exchange.policy.convention import ConventionState

    _forged(ctg, monkeypatch, ConventionState, "renewal_too_late", (RENEWAL, "v.admin", AFTER))
    seq, first, failure = _broken_at(ctg, "convention.renewal")
    assert first.startswith(f"event #{seq} by v.admin: RENEWAL_AFTER_END: the convention ended"), (
        first
    )
    assert failure["rule"] == "RENEWAL_AFTER_END"


def test_an_avenant_forged_after_the_end(
    ctg: Ctg, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from ctg_exchange.policy.convention import ConventionState

    amending = ("convention", "amend", "--policy", str(_avenant(tmp_path)), "--reference", "Av")
    _forged(ctg, monkeypatch, ConventionState, "avenant_too_late", (amending, "c.admin", AFTER))
    seq, first, failure = _broken_at(ctg, "convention.amendment")
    assert first.startswith(f"event #{seq} by c.admin: AVENANT_AFTER_END: "), first
    assert failure["rule"] == "AVENANT_AFTER_END"


def test_a_successor_forged_while_the_convention_runs(
    ctg: Ctg, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ctg_exchange.policy.convention import ConventionState

    _forged(ctg, monkeypatch, ConventionState, "why_no_successor", (SUCCESSOR, "v.admin", None))
    seq, first, failure = _broken_at(ctg, "convention.successor")
    assert first.startswith(f"event #{seq} by v.admin: SUCCESSOR_WHILE_IN_FORCE: "), first
    assert failure["rule"] == "SUCCESSOR_WHILE_IN_FORCE"


@pytest.mark.parametrize(
    ("args", "rule"),
    [
        (("--case", "breach_of_law", "--notice-date", "2025-04-30", "--on", "2025-06-02"),
         "TERMINATION_CAF_ONLY"),
        (("--case", "denunciation", "--notice-date", "2025-05-01", "--on", "2025-06-02"),
         "TERMINATION_NOTICE"),
    ],
    ids=["caf-only", "notice"],
)  # fmt: skip
def test_a_termination_forged_past_article_12(
    ctg: Ctg, monkeypatch: pytest.MonkeyPatch, args: tuple[str, ...], rule: str
) -> None:
    from ctg_exchange.services import termination

    step = ((*TERMINATE, *args), "v.admin", None)
    _forged(ctg, monkeypatch, termination, "why_not_terminated", step)
    seq, first, failure = _broken_at(ctg, "convention.termination")
    assert first.startswith(f"event #{seq} by v.admin: {rule}: "), first
    assert failure["rule"] == rule


# -- a workspace begun under rules 2 keeps them ------------------------------------------------
def test_a_rules_2_workspace_still_renews_after_the_end(
    fresh: Ctg, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ctg_exchange.services import members

    from conftest import add_args, member_keys

    with monkeypatch.context() as patched:
        patched.setattr(members, "RULES", 2)
        fresh.ok(*INIT)
    member_keys(fresh).generate("c.admin", PASSPHRASE, rounds=TEST_KDF_ROUNDS)
    fresh.ok(*add_args("c.admin", "caf92", "admin"), as_="v.admin")
    fresh.ok(*RENEWAL, as_="v.admin", env=AFTER)
    fresh.ok(*countersigning(fresh), as_="c.admin", env=AFTER)
    fresh.ok("convention", "terminate", "--case", "breach", "--on", "2026-01-05",
             "--reason", "Test", as_="v.admin", env=AFTER)  # fmt: skip
    fresh.refused(
        *SUCCESSOR, as_="v.admin", env=AFTER,
        contains="SUCCESSOR_WHILE_IN_FORCE: this workspace's log is verified by rules 2",
    )  # fmt: skip
    verified = fresh.json("audit", "verify")
    assert (verified["ok"], verified["rules"]) == (True, 2)
