"""Times are stored in UTC and shown in Paris, the offset named (issue 16, case 3)."""

from __future__ import annotations

import re

import pytest

from ctg_exchange.cli.views import short_time

from conftest import Ctg


@pytest.mark.parametrize(
    ("stored", "shown"),
    [
        ("2026-11-27T03:49:58.123456Z", "2026-11-27 04:49 +01:00"),  # winter: UTC+1
        ("2026-07-01T22:30:00.000000Z", "2026-07-02 00:30 +02:00"),  # summer, past midnight
    ],
)
def test_a_stored_time_is_shown_in_paris(stored: str, shown: str) -> None:
    assert short_time(stored) == shown


def test_request_history_and_audit_log_show_paris_times(ctg: Ctg) -> None:
    rid = ctg.file_request()
    stored = ctg.json("audit", "log")[-1]["time"]
    assert stored.endswith("Z")  # stored and exported in UTC
    history = ctg.ok("request", "show", rid).stdout
    log = ctg.ok("audit", "log").stdout
    assert short_time(stored) in history
    assert short_time(stored) in log
    assert re.search(r"\d{2}:\d{2} \+0[12]:00", log)
