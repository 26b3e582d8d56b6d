"""Shown times are in the convention's time zone, a policy setting (issue 16, item 2); the
procedure's dates stay the French calendar, so a log verifies the same under any setting."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from test_convention_end import countersigning

from ctg_exchange.cli.views import short_time
from ctg_exchange.domain.dates import day_of
from ctg_exchange.errors import PolicyError
from ctg_exchange.policy import load_policy, shipped_policy_path

from conftest import INIT, SHIPPED_POLICY, Ctg

SHIPPED_ZONE = "time_zone: Europe/Paris"


def _policy(tmp_path: Path, zone: str) -> Path:
    text = SHIPPED_POLICY.read_text(encoding="utf-8")
    assert SHIPPED_ZONE in text
    path = tmp_path / "policy.yaml"
    path.write_text(text.replace(SHIPPED_ZONE, f"time_zone: {zone}"), encoding="utf-8")
    return path


def test_the_shipped_policy_shows_paris_time_and_says_dates_stay_french() -> None:
    policy = load_policy(shipped_policy_path()).policy
    assert policy.time_zone == "Europe/Paris"
    assert policy.display_zone == ZoneInfo("Europe/Paris")
    text = shipped_policy_path().read_text(encoding="utf-8")
    comment = text[: text.index(SHIPPED_ZONE)].rsplit("\n\n", 1)[1]
    assert "stay the French calendar, Europe/Paris" in comment


def test_a_policy_without_the_setting_shows_paris_time(tmp_path: Path) -> None:
    text = SHIPPED_POLICY.read_text(encoding="utf-8").replace(SHIPPED_ZONE, "")
    path = tmp_path / "older.yaml"
    path.write_text(text, encoding="utf-8")
    assert load_policy(path).policy.time_zone == "Europe/Paris"


def test_a_stored_time_is_shown_in_the_zone_given() -> None:
    stored = "2026-11-27T03:49:58.123456Z"
    assert short_time(stored, ZoneInfo("Indian/Reunion")) == "2026-11-27 07:49 +04:00"
    assert short_time(stored, ZoneInfo("America/Cayenne")) == "2026-11-27 00:49 -03:00"
    assert short_time(stored) == "2026-11-27 04:49 +01:00"


@pytest.mark.parametrize("zone", ["Europe/Pariss", "Paris", "../../etc/passwd", "America"])
def test_an_unknown_zone_is_a_policy_error_with_its_line(tmp_path: Path, zone: str) -> None:
    path = _policy(tmp_path, zone)
    line = next(
        n
        for n, text in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if text.startswith("time_zone:")
    )
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    assert caught.value.problems == [
        f"{path}:{line}: time_zone: unknown time zone {zone!r}: an IANA name such as Europe/Paris"
    ]


def test_init_refuses_a_policy_with_an_unknown_zone(fresh: Ctg, tmp_path: Path) -> None:
    path = _policy(tmp_path, "Europe/Pariss")
    result = fresh(*INIT, "--policy", str(path))
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0].startswith(f"ctg-exchange: error: {path}:")
    assert "time_zone: unknown time zone 'Europe/Pariss'" in result.stderr
    assert "Traceback" not in result.output
    assert not fresh.workspace.exists()


def test_an_avenant_changes_the_shown_zone_not_the_procedure_dates(
    ctg: Ctg, tmp_path: Path
) -> None:
    rid = ctg.file_request()
    stored = ctg.json("audit", "log")[-1]["time"]
    days = [e["time"] for e in ctg.json("audit", "log")]
    before = ctg.json("request", "show", rid)
    assert short_time(stored) in ctg.ok("request", "show", rid).stdout

    amending = ("convention", "amend", "--policy", str(_policy(tmp_path, "Indian/Reunion")))
    ctg.ok(*amending, "--reference", "Avenant : fuseau affiché", as_="c.admin")
    ctg.ok(*countersigning(ctg), as_="v.admin")

    reunion = short_time(stored, ZoneInfo("Indian/Reunion"))
    assert reunion.endswith("+04:00")
    assert reunion in ctg.ok("request", "show", rid).stdout
    assert reunion in ctg.ok("audit", "log").stdout
    # what is stored and signed, and the procedure's days, are the same
    assert ctg.json("request", "show", rid)["filed_on"] == before["filed_on"]
    assert [day_of(t) for t in days] == [day_of(e["time"]) for e in ctg.json("audit", "log")][
        : len(days)
    ]
    assert ctg("audit", "verify").exit_code == 0
