"""The procedure's dates are the events' dates (DESIGN §10, issue 13).

``CTG_TODAY`` sets the date only in a workspace created as a simulation, which its genesis
records and every output shows; elsewhere it is refused (exit 2) and nothing changes. No event
is dated before the one it follows.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ctg_exchange.services.clock import Clock, procedure_date

from conftest import INIT, REQUEST, Ctg

REAL_INIT = tuple(arg for arg in INIT if arg != "--simulated-clock")
REGISTRY = Path(__file__).resolve().parents[1] / "registry"


@pytest.fixture
def real(fresh: Ctg, monkeypatch: pytest.MonkeyPatch) -> Ctg:
    """An ordinary workspace: its dates are the real ones."""
    monkeypatch.delenv("CTG_TODAY")
    fresh.ok(*REAL_INIT)
    return fresh


def test_a_clock_override_is_refused_in_an_ordinary_workspace(real: Ctg) -> None:
    for command in (("audit", "verify"), ("member", "list"), ("convention", "show")):
        real.refused(
            *command,
            as_="v.admin",
            env={"CTG_TODAY": "2025-06-02"},
            code=2,
            contains="CTG_TODAY sets the date only in a workspace created as a simulation",
        )
    genesis = real.json("audit", "show", "1")
    assert genesis["payload"]["procedure"] == {"rules": 3, "clock": "real"}
    assert real.json("audit", "verify")["simulated_clock"] is False


@pytest.mark.sqlite_only
def test_init_with_an_override_needs_the_simulation_flag(
    fresh: Ctg, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CTG_TODAY", "2025-12-31")
    result = fresh(*REAL_INIT)
    assert result.exit_code == 2, result.output
    assert "add --simulated-clock" in result.stderr
    assert not fresh.workspace.exists()


def test_in_an_ordinary_workspace_the_filing_day_is_the_events_day(real: Ctg) -> None:
    from conftest import PASSPHRASE, TEST_KDF_ROUNDS, add_args, member_keys

    for member, party, role in (
        ("v.agent", "ville_sceaux", "staff"),
        ("c.admin", "caf92", "admin"),
    ):
        member_keys(real).generate(member, PASSPHRASE, rounds=TEST_KDF_ROUNDS)
        real.ok(*add_args(member, party, role), as_="v.admin")
    today = Clock().today().isoformat()  # it takes effect no earlier than proposed
    successor = ("convention", "successor", "--start", today, "--end", "2099-12-31",
                 "--reference", "Test", "--deliberation", "Test")  # fmt: skip
    real.ok(*successor, as_="v.admin")
    seq = real.json("convention", "show")["pending"]
    real.ok("convention", "countersign", str(seq), "--reference", "Test", as_="c.admin")
    rid = str(real.json(*REQUEST, as_="v.agent")["id"])
    filed = real.show(rid)
    event = next(e for e in real.json("audit", "log") if e["action"] == "request.file")
    assert filed["filed_on"] == procedure_date(event["time"]).isoformat()


def test_a_simulated_workspace_says_so_everywhere(ctg: Ctg, tmp_path: Path) -> None:
    for dpo in ("v.dpo", "c.dpo"):
        ctg.ok("register", "import", str(REGISTRY), as_=dpo)
    rid = ctg.file_request()
    assert ctg.json("audit", "show", "1")["payload"]["procedure"]["clock"] == "simulated"
    verified = ctg.ok("audit", "verify")
    assert "simulated clock" in verified.stderr
    assert ctg.json("audit", "verify")["simulated_clock"] is True
    assert "simulated clock" in ctg.ok("request", "show", rid).stdout
    assert ctg.show(rid)["simulated_clock"] is True
    for fmt in ("csv", "md", "html", "xlsx", "json"):
        out = tmp_path / f"r.{fmt}"
        ctg.ok("register", "export", "--format", fmt, "--out", str(out), as_="v.dpo")
        if fmt == "xlsx":
            from openpyxl import load_workbook

            sheet = load_workbook(out)["Liste des traitements"]
            cells = [c for row in sheet.iter_rows(values_only=True) for c in row]
            assert any(isinstance(c, str) and "horloge simulée" in c for c in cells)
        elif fmt == "json":
            assert json.loads(out.read_text(encoding="utf-8"))["simulated_clock"] is True
        else:
            assert "horloge simulée" in out.read_text(encoding="utf-8-sig"), fmt
    ctg.ok("register", "export", "--audit-bundle", str(tmp_path / "b"), as_="v.dpo")
    assert "horloge simulée" in (tmp_path / "b" / "journal" / "verification.txt").read_text()


def test_no_event_is_dated_before_the_last_one(ctg: Ctg) -> None:
    ctg.file_request()
    ctg.refused(
        *REQUEST,
        as_="v.agent",
        env={"CTG_TODAY": "2025-05-01"},
        contains="CLOCK_BEHIND_LOG: ",
    )


def test_an_event_dated_in_the_future_is_an_integrity_failure(
    real: Ctg, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A modified copy dating its event a month ahead (a send dated so stretches the deletion
    deadline): caught by verify; the honest tool appends nothing after it."""
    from datetime import UTC, datetime, timedelta

    from ctg_exchange.audit.events import utc_timestamp
    from ctg_exchange.services.clock import Clock

    ahead = utc_timestamp(datetime.now(UTC) + timedelta(days=30))
    with monkeypatch.context() as patched:
        patched.setattr(Clock, "now", lambda self: ahead)
        real.ok("convention", "successor", "--start", "2099-01-01", "--end", "2099-12-31",
                "--reference", "R", "--deliberation", "D", as_="v.admin")  # fmt: skip
    seq = max(int(e["seq"]) for e in real.json("audit", "log"))

    result = real("audit", "verify")
    assert result.exit_code == 3, result.output
    assert result.stderr.splitlines()[0].startswith(
        f"ctg-exchange: error: audit log broken at event #{seq} by v.admin: DATED_IN_FUTURE: "
    ), result.stderr
    proposal = real.json("convention", "show")["pending"]
    real.refused(
        "convention", "withdraw", str(proposal), "--reason", "Test", as_="v.admin",
        contains="CLOCK_BEHIND_LOG: ",
    )  # fmt: skip


def test_a_simulated_workspace_may_run_ahead_of_the_real_date(ctg: Ctg) -> None:
    successor = ("convention", "successor", "--start", "2098-01-05", "--end", "2099-12-31",
                 "--reference", "R", "--deliberation", "D")  # fmt: skip
    ctg.ok(*successor, as_="v.admin", env={"CTG_TODAY": "2098-01-05"})
    assert ctg("audit", "verify").exit_code == 0


def test_a_genesis_whose_time_is_not_a_log_time(real: Ctg) -> None:
    """Its time is checked even with nothing before it (it crashed the future-date check)."""
    real.sql("UPDATE audit_events SET time = '2026-02-02T10:00:00Z' WHERE seq = 1", guards=False)
    result = real("audit", "verify")
    assert result.exit_code == 3, result.output
    assert "event #1: its time is not a UTC time as the log writes it" in result.stderr
