"""The convention's life: expiry (Art. 10), express renewal, avenants (Art. 11), termination
(Art. 12), the successor convention, and the lapse of requests not yet exchanged."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from ctg_exchange.services.clock import Clock

from conftest import REQUEST, SHIPPED_POLICY, Ctg

RENEWAL = ("convention", "renew", "--until", "2029-12-31",
           "--reference", "Délibérations fictives de reconduction (test)")  # fmt: skip
COUNTERSIGN_REFERENCE = "Décision fictive du conseil d'administration (test)"
SUCCESSOR = ("convention", "successor", "--start", "2026-01-01", "--end", "2030-12-31",
             "--reference", "CTG Sceaux – Caf 92, 2026-2030 (fictive)",
             "--deliberation", "Délibération fictive du conseil municipal (test)")  # fmt: skip


# Article 12: a breach, a month after the formal notice (either party); a modification made
# without an avenant, at once (the Caf)
BREACH = ("convention", "terminate", "--case", "breach", "--notice-date", "2025-04-30")
WITHOUT_AVENANT = ("convention", "terminate", "--case", "modification_without_avenant")


def pending(ctg: Ctg) -> int:
    """The renewal or avenant awaiting countersignature."""
    seq = ctg.json("convention", "show")["pending"]
    assert isinstance(seq, int), "nothing is pending"
    return seq


def countersign(ctg: Ctg, as_: str, env: dict[str, str] | None = None) -> dict[str, object]:
    """The other party's admin countersigns what is pending."""
    command = ("convention", "countersign", str(pending(ctg)), "--reference", COUNTERSIGN_REFERENCE)
    result = ctg(*command, "--json", as_=as_, env=env)
    assert result.exit_code == 0, result.output
    shown: dict[str, object] = json.loads(result.stdout)
    return shown


def agreed(
    ctg: Ctg, *proposal: str, by: str, countersigner: str, env: dict[str, str] | None = None
) -> dict[str, object]:
    """A renewal or avenant proposed by ``by`` and countersigned by ``countersigner``."""
    ctg.ok(*proposal, as_=by, env=env)
    return countersign(ctg, countersigner, env)


def test_todays_date_refuses_filing_until_a_successor_convention_is_adopted(
    ctg: Ctg, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CTG_TODAY")  # the real date: after the shipped convention ended
    today = Clock().today()  # the day in Paris, not the machine's zone (CI ran at 23:30 UTC)
    assert today > date(2025, 12, 31)
    ctg.refused(
        *REQUEST,
        as_="v.agent",
        contains="CONVENTION_NOT_IN_FORCE: the convention ctg-sceaux-caf92 ended on "
        "2025-12-31 and renews only by express decision (Article 10)",
    )
    shown = ctg.json("convention", "show")
    assert (shown["status"], shown["end"], shown["days_left"]) == ("expired", "2025-12-31", None)

    # after its end it is not renewed: the parties adopt a new convention
    ctg.refused(
        *RENEWAL,
        as_="v.admin",
        contains="RENEWAL_AFTER_END: the convention ended on 2025-12-31: it renews only by "
        "express decision before its end (Article 10)",
    )
    # it takes effect no earlier than the day it is proposed
    successor = (*SUCCESSOR[:3], today.isoformat(), *SUCCESSOR[4:])
    ctg.refused(
        *SUCCESSOR, as_="v.admin",
        contains=f"SUCCESSOR_PERIOD: --start 2026-01-01 is before {today}, the day it was "
        "proposed: a convention takes effect no earlier than the parties adopt it",
    )  # fmt: skip
    ctg.refused(*successor, as_="v.agent", contains="only an admin records the convention's life")
    proposed = " ".join(ctg.ok(*successor, as_="v.admin").stderr.split())
    assert f"successor convention from {today} to 2030-12-31 proposed as #" in proposed
    assert "takes effect when an admin of caf92 countersigns it" in proposed
    seq = pending(ctg)

    # proposed by one party, it changes nothing: filing is still refused
    ctg.refused(*REQUEST, as_="v.agent", contains="CONVENTION_NOT_IN_FORCE: ")
    shown = ctg.json("convention", "show")
    assert (shown["status"], shown["end"], shown["successor"]) == ("expired", "2025-12-31", None)
    assert shown["changes"][0]["status"] == "pending"
    assert shown["changes"][0]["deliberation"] == SUCCESSOR[-1]
    assert "awaits the countersignature of caf92" in " ".join(
        ctg.ok("convention", "show").stdout.split()
    )
    countersigning = ("convention", "countersign", str(seq), "--reference", COUNTERSIGN_REFERENCE)
    ctg.refused(*countersigning, as_="v.admin", contains="BOTH_PARTIES: the successor convention #")
    ctg.refused(*countersigning, as_="c.agent", contains="only an admin records")
    blank = ("convention", "countersign", str(seq), "--reference", " ")
    ctg.refused(*blank, as_="c.admin", contains="--reference must not be empty")
    zero = ctg("convention", "countersign", "0", "--reference", "x", as_="c.admin")
    assert zero.exit_code == 2 and "0 is not in the range x>=1" in zero.stderr
    ctg.refused(*successor, as_="c.admin", contains="PROPOSAL_PENDING: the successor convention #")

    ctg.ok(*countersigning, as_="c.admin")

    assert ctg.file_request().startswith(f"DX-{today.year}-")
    shown = ctg.json("convention", "show")
    assert (shown["status"], shown["start"], shown["end"], shown["pending"]) == (
        "in_force", today.isoformat(), "2030-12-31", None
    )  # fmt: skip
    assert shown["successor"] == seq
    assert shown["days_left"] == (date(2030, 12, 31) - today).days
    change = shown["changes"][0]
    assert (change["kind"], change["status"], change["party"], change["until"]) == (
        "successor", "in_effect", "ville_sceaux", "2030-12-31"
    )  # fmt: skip
    assert change["countersigned_reference"] == COUNTERSIGN_REFERENCE
    rendered = " ".join(ctg.ok("convention", "show").stdout.split())
    assert f"{today} → 2030-12-31, successor convention #" in rendered
    assert f"deliberation — {SUCCESSOR[-1]}" in rendered
    ctg.refused(*countersigning, as_="c.admin", contains="is already in effect")
    verified = ctg("audit", "verify")
    assert verified.exit_code == 0, verified.output


def test_renewal_is_checked(ctg: Ctg) -> None:
    ctg.refused(
        "convention",
        "renew",
        "--until",
        "2025-06-30",
        "--reference",
        "x",
        as_="v.admin",
        contains="must be after the current end, 2025-12-31",
    )
    ctg.refused(
        "convention",
        "renew",
        "--until",
        "2027-01-01",
        "--reference",
        " ",
        as_="v.admin",
        contains="--reference must not be empty",
    )


def test_approving_and_accepting_are_refused_once_the_convention_has_ended(ctg: Ctg) -> None:
    approved, pending = ctg.file_request(), ctg.file_request()
    ctg.advance(approved, "approved")
    ctg.advance(pending, "opinion_given")
    after = {"CTG_TODAY": "2026-01-02"}

    ctg.refused(
        "decide",
        "approve",
        pending,
        as_="c.controller",
        env=after,
        contains="CONVENTION_NOT_IN_FORCE: approval refused on 2026-01-02: the "
        "convention ctg-sceaux-caf92 ended on 2025-12-31",
    )
    ctg.refused(
        "conditions",
        "accept",
        approved,
        as_="v.controller",
        env=after,
        contains="CONVENTION_NOT_IN_FORCE: accepting the conditions refused",
    )


def test_open_requests_lapse_when_a_successor_convention_takes_effect(ctg: Ctg) -> None:
    rid = ctg.file_request()
    after = {"CTG_TODAY": "2026-01-01"}
    ctg.ok(*SUCCESSOR, as_="v.admin", env=after)
    assert ctg.show(rid)["status"] == "filed"  # the successor is not in effect yet
    assert countersign(ctg, "c.admin", env=after)["lapsed"] == [rid]
    shown = ctg.show(rid)
    assert shown["status"] == "lapsed"
    assert "ended on 2025-12-31" in shown["history"][-1]["text"]


def test_lapse_is_recorded_by_an_admin_once_the_convention_has_ended(ctg: Ctg) -> None:
    rid = ctg.file_request()
    ctg.refused("convention", "lapse", as_="v.admin", contains="the convention is in force")
    after = {"CTG_TODAY": "2026-01-05"}
    ctg.refused(
        "convention",
        "lapse",
        as_="v.agent",
        env=after,
        contains="only an admin records the convention's life",
    )
    result = ctg("convention", "lapse", "--json", as_="c.admin", env=after)
    assert result.exit_code == 0, result.output
    assert ctg.show(rid)["status"] == "lapsed"
    ctg.refused(
        "convention", "lapse", as_="c.admin", env=after, contains="no open request to lapse"
    )


def test_termination_lapses_open_requests(ctg: Ctg) -> None:
    filed, approved, rejected = ctg.file_request(), ctg.file_request(), ctg.file_request()
    ctg.advance(approved, "approved")
    ctg.advance(rejected, "opinion_given")
    ctg.ok("decide", "reject", rejected, "--reason", "Hors besoin", as_="c.controller")

    result = ctg.json(*BREACH, "--on", "2025-06-02", "--reason", "Manquement (test)", as_="c.admin")

    assert result["lapsed"] == [filed, approved]
    assert result["status"] == "terminated"
    assert [ctg.show(r)["status"] for r in (filed, approved, rejected)] == [
        "lapsed",
        "lapsed",
        "rejected",
    ]
    ctg.refused(
        *REQUEST,
        as_="v.agent",
        contains="CONVENTION_NOT_IN_FORCE: the convention ctg-sceaux-caf92 was "
        "terminated with effect from 2025-06-02 (Article 12)",
    )
    ctg.refused(*RENEWAL, as_="v.admin", contains="a terminated convention is not renewed")
    ctg.refused(
        *BREACH, "--on", "2025-07-01", "--reason", "x", as_="v.admin",
        contains="TERMINATION_NOT_ALLOWED: the convention is already terminated with effect "
        "from 2025-06-02 (Article 12)",
    )  # fmt: skip
    verified = ctg("audit", "verify")
    assert verified.exit_code == 0, verified.output


def test_a_future_termination_lets_requests_run_until_its_date(ctg: Ctg) -> None:
    rid = ctg.file_request()
    result = ctg.json(
        "convention", "terminate", "--case", "denunciation", "--notice-date", "2025-02-28",
        "--on", "2025-09-01", "--reason", "Préavis de six mois (test)", as_="v.admin",
    )  # fmt: skip
    assert result["lapsed"] == []
    assert result["status"] == "in_force"
    assert result["last_day"] == "2025-08-31"
    ctg.ok("study", "accept", rid, "--note", "Étude", as_="c.controller")
    lapsed = ctg("convention", "lapse", "--json", as_="v.admin", env={"CTG_TODAY": "2025-09-01"})
    assert lapsed.exit_code == 0, lapsed.output
    assert ctg.show(rid)["status"] == "lapsed"


def _avenant(tmp_path: Path, old: str, new: str) -> Path:
    text = SHIPPED_POLICY.read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "avenant-1.yaml"
    path.write_text(text.replace(old, new), encoding="utf-8")
    return path


def test_an_avenant_adds_a_policy_version_and_requests_keep_theirs(
    ctg: Ctg, tmp_path: Path
) -> None:
    before = ctg.file_request()
    avenant = _avenant(tmp_path, "opinion_deadline_days: 30", "opinion_deadline_days: 20")

    ctg.refused(
        "convention",
        "amend",
        "--policy",
        str(avenant),
        "--reference",
        "Avenant",
        as_="v.dpo",
        contains="only an admin records the convention's life",
    )
    amending = ("convention", "amend", "--policy", str(avenant), "--reference", "Avenant n° 1")
    ctg.ok(*amending, as_="v.admin")
    assert ctg.show(ctg.file_request())["policy_version"] == 1  # pending: v1 still in effect
    assert ctg.json("convention", "show")["policy_version"] == 1
    countersign(ctg, "c.admin")
    after = ctg.file_request()

    assert ctg.show(before)["policy_version"] == 1
    assert ctg.show(after)["policy_version"] == 2
    assert "(policy v1)" in ctg.ok("request", "show", before).stdout
    assert "(policy v2)" in ctg.ok("request", "show", after).stdout
    shown = ctg.json("convention", "show")
    assert [p["version"] for p in shown["policy_versions"]] == [1, 2]
    assert shown["policy_version"] == 2
    ctg.ok("study", "accept", after, "--note", "Étude", as_="c.controller")
    ctg.ok("study", "submit", after, as_="c.controller")
    assert ctg.json("dpo", "inbox", as_="c.dpo")[0]["due"] == "2025-06-22"  # 20 days now
    ctg.refused(
        "convention",
        "amend",
        "--policy",
        str(avenant),
        "--reference",
        "Encore",
        as_="v.admin",
        contains="this policy is already version 2",
    )
    other = _avenant(tmp_path, "id: ctg-sceaux-caf92", "id: ctg-antony-caf92")
    ctg.refused(
        "convention",
        "amend",
        "--policy",
        str(other),
        "--reference",
        "x",
        as_="v.admin",
        contains="an avenant amends ctg-sceaux-caf92",
    )
    broken = _avenant(tmp_path, "opinion_deadline_days: 30", "opinion_deadline_days: soon")
    ctg.refused(
        "convention",
        "amend",
        "--policy",
        str(broken),
        "--reference",
        "x",
        as_="v.admin",
        contains="opinion_deadline_days: input should be a valid integer",
    )


def test_audit_verifies_after_renew_amend_and_terminate(ctg: Ctg, tmp_path: Path) -> None:
    ctg.file_request()
    agreed(ctg, *RENEWAL, by="v.admin", countersigner="c.admin")
    avenant = _avenant(tmp_path, "opinion_deadline_days: 30", "opinion_deadline_days: 45")
    amending = ("convention", "amend", "--policy", str(avenant), "--reference", "Avenant n° 1")
    agreed(ctg, *amending, by="c.admin", countersigner="v.admin")
    ctg.ok(*BREACH, "--on", "2025-06-02", "--reason", "Manquement", as_="v.admin")

    verify = ctg("audit", "verify")

    assert verify.exit_code == 0, verify.output
    actions = [e["action"] for e in ctg.json("audit", "log")]
    assert actions[-6:] == [
        "convention.renewal",
        "convention.countersignature",
        "convention.amendment",
        "convention.countersignature",
        "convention.termination",
        "request.lapse",
    ]


def test_a_proposal_is_withdrawn_or_declined_and_never_takes_effect(
    ctg: Ctg, tmp_path: Path
) -> None:
    ctg.ok(*RENEWAL, as_="v.admin")
    seq = pending(ctg)
    withdrawing = ("convention", "withdraw", str(seq), "--reason", "Erreur de date (test)")
    ctg.refused(*withdrawing, as_="v.agent", contains="only an admin records")
    ctg.refused("convention", "withdraw", "999", "--reason", "x", as_="v.admin",
                contains="no renewal, avenant or successor convention #999")  # fmt: skip
    assert "(renewal until 2029-12-31) withdrawn" in " ".join(
        ctg.ok(*withdrawing, as_="v.admin").stderr.split()
    )
    shown = ctg.json("convention", "show")
    assert (shown["pending"], shown["end"], shown["changes"][0]["status"]) == (
        None, "2025-12-31", "withdrawn"
    )  # fmt: skip
    ctg.refused(
        "convention", "countersign", str(seq), "--reference", "x", as_="c.admin",
        contains="was withdrawn",
    )  # fmt: skip
    ctg.refused(*withdrawing, as_="c.admin", contains="was withdrawn")

    # an avenant proposed by the Caf, declined by the town hall: its version stays unused
    avenant = _avenant(tmp_path, "opinion_deadline_days: 30", "opinion_deadline_days: 20")
    ctg.ok("convention", "amend", "--policy", str(avenant), "--reference", "Avenant", as_="c.admin")
    declining = ("convention", "withdraw", str(pending(ctg)), "--reason", "Refus (test)")
    assert "declined" in ctg.ok(*declining, as_="v.admin").stderr
    other = _avenant(tmp_path, "opinion_deadline_days: 30", "opinion_deadline_days: 25")
    amending = ("convention", "amend", "--policy", str(other), "--reference", "Avenant bis")
    agreed(ctg, *amending, by="v.admin", countersigner="c.admin")
    shown = ctg.json("convention", "show")
    assert [p["version"] for p in shown["policy_versions"]] == [1, 2, 3]
    assert shown["policy_version"] == 3
    assert ctg.show(ctg.file_request())["policy_version"] == 3
    verified = ctg("audit", "verify")
    assert verified.exit_code == 0, verified.output


def test_an_avenant_is_not_countersigned_once_the_termination_took_effect(
    ctg: Ctg, tmp_path: Path
) -> None:
    avenant = _avenant(tmp_path, "opinion_deadline_days: 30", "opinion_deadline_days: 20")
    ctg.ok("convention", "amend", "--policy", str(avenant), "--reference", "Av", as_="c.admin")
    seq = pending(ctg)
    ctg.ok(*WITHOUT_AVENANT, "--on", "2025-06-02", "--reason", "Fin", as_="c.admin")
    ctg.refused(
        "convention", "countersign", str(seq), "--reference", "x", as_="v.admin",
        contains="a terminated convention is not amended",
    )  # fmt: skip
    ctg.ok("convention", "withdraw", str(seq), "--reason", "Caduc", as_="c.admin")
    ctg.refused(
        "convention", "amend", "--policy", str(avenant), "--reference", "Av", as_="c.admin",
        contains="a terminated convention is not amended",
    )  # fmt: skip


def test_versions_pending_or_withdrawn_are_shown_so(ctg: Ctg, tmp_path: Path) -> None:
    avenant = _avenant(tmp_path, "opinion_deadline_days: 30", "opinion_deadline_days: 20")
    ctg.ok("convention", "amend", "--policy", str(avenant), "--reference", "Av", as_="c.admin")
    shown = ctg.json("convention", "show")
    assert [(p["version"], p["status"]) for p in shown["policy_versions"]] == [
        (1, "adopted"), (2, "pending")
    ]  # fmt: skip
    assert "(pending)" in ctg.ok("convention", "show").stdout.split("policy v2")[1]


@pytest.mark.parametrize(
    "edit",
    [
        "UPDATE convention_changes SET policy_version = NULL WHERE kind = 'amendment'",
        "UPDATE convention_changes SET reference = 'autre' WHERE kind = 'amendment'",
        "UPDATE convention_changes SET effective = '2030-01-01' WHERE kind = 'amendment'",
    ],
    ids=["version", "reference", "date"],
)
def test_a_proposal_edited_behind_the_tools_back_is_not_countersigned(
    ctg: Ctg, tmp_path: Path, edit: str
) -> None:
    avenant = _avenant(tmp_path, "opinion_deadline_days: 30", "opinion_deadline_days: 20")
    ctg.ok("convention", "amend", "--policy", str(avenant), "--reference", "Av", as_="c.admin")
    seq = pending(ctg)
    ctg.sql(edit)
    ctg.refused(
        "convention", "countersign", str(seq), "--reference", "x", as_="v.admin", code=3,
        contains=f"the convention_changes row {seq} is not what the tool writes",
    )  # fmt: skip


def test_a_renewal_row_naming_a_pending_avenants_version_is_caught(
    ctg: Ctg, tmp_path: Path
) -> None:
    """One column edited so that the tool would apply an avenant the other party never
    countersigned: the stored state no longer matches the log."""
    agreed(ctg, *RENEWAL, by="v.admin", countersigner="c.admin")
    avenant = _avenant(tmp_path, "opinion_deadline_days: 30", "opinion_deadline_days: 20")
    ctg.ok("convention", "amend", "--policy", str(avenant), "--reference", "Av", as_="c.admin")
    ctg.sql("UPDATE convention_changes SET policy_version = 2 WHERE kind = 'renewal'")

    assert ctg.json("convention", "show")["policy_version"] == 1  # only an avenant moves it
    result = ctg("audit", "verify")
    assert result.exit_code == 3, result.output
    assert "policy_version is 2 in the store; the log says None" in result.stderr
