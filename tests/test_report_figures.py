"""The committee's figures computed from a stream of events, without the CLI or a store (issue
18): periods in France's calendar, the delays' median, 90th percentile and maximum, the due
time of the policy version each request references, the scope, deletions by outcome."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest

from ctg_exchange.report.figures import (
    Entry,
    Period,
    Scope,
    Terms,
    UnreadableEvent,
    compute,
)

TERMS = {1: Terms(30), 2: Terms(15)}


class Log:
    """Events written as the tool writes their payloads (only the keys the report reads)."""

    def __init__(self) -> None:
        self.entries: list[Entry] = []

    def add(self, day: str, action: str, party: str = "ville", **payload: Any) -> None:
        time = f"{day}T10:00:00.000000Z" if len(day) == 10 else day
        self.entries.append(Entry(len(self.entries) + 1, time, party, action, payload))

    def file(self, day: str, rid: str, *, to: str = "caf", field: str = "enfance",
             version: int = 1, findings: tuple[str, ...] = (), party: str = "ville",
             triage: str = "personal") -> None:  # fmt: skip
        self.add(day, "request.file", party, request=rid, to=to, field=field, triage=triage,
                 policy_version=version, findings=list(findings), to_status="filed")  # fmt: skip

    def step(self, day: str, rid: str, action: str, to_status: str, **payload: Any) -> None:
        self.add(day, action, request=rid, to_status=to_status, **payload)

    def through_opinion(self, rid: str, filed: str, submitted: str, opined: str,
                        verdict: str = "favourable", version: int = 1) -> None:  # fmt: skip
        self.file(filed, rid, version=version)
        self.step(submitted, rid, "study.submit", "awaiting_dpo")
        self.step(opined, rid, "dpo.opinion", "opinion_given", verdict=verdict)


def figures(log: Log | list[Entry], start: str = "2025-01-01", end: str = "2025-12-31",
            as_of: str = "2025-12-31", scope: Scope | None = None) -> Any:  # fmt: skip
    entries = log.entries if isinstance(log, Log) else log
    period = Period(date.fromisoformat(start), date.fromisoformat(end), date.fromisoformat(as_of))
    return compute(iter(entries), TERMS.__getitem__, period, scope or Scope())


@pytest.mark.parametrize(
    ("days", "median", "p90", "maximum"),
    [
        ([5], 5.0, 5, 5),
        ([5, 10], 7.5, 10, 10),
        ([1, 2, 3], 2.0, 3, 3),
        (list(range(1, 11)), 5.5, 9, 10),  # nearest rank: the 9th of 10
        (list(range(1, 21)), 10.5, 18, 20),
        ([0, 0, 0, 40], 0.0, 40, 40),
    ],
)
def test_the_delay_of_a_stage(days: list[int], median: float, p90: int, maximum: int) -> None:
    log = Log()
    for number, delay in enumerate(days):
        log.through_opinion(f"R{number}", "2025-03-01", "2025-03-01", f"2025-03-{1 + delay:02d}"
                            if delay < 31 else f"2025-04-{delay - 30:02d}")  # fmt: skip
    delay = figures(log).delays["submission_to_opinion"]
    assert (delay.count, delay.median, delay.p90, delay.maximum) == (
        len(days),
        median,
        p90,
        maximum,
    )


@pytest.mark.parametrize(
    ("version", "days", "within", "late"),
    [(1, 30, 1, 0), (1, 31, 0, 1), (2, 15, 1, 0), (2, 16, 0, 1)],
)
def test_the_opinion_is_judged_by_its_requests_policy_version(
    version: int, days: int, within: int, late: int
) -> None:
    log = Log()
    opined = date.fromordinal(date(2025, 3, 1).toordinal() + days).isoformat()
    log.through_opinion("R", "2025-02-20", "2025-03-01", opined, version=version)
    delay = figures(log).delays["submission_to_opinion"]
    assert (delay.due_days, delay.within_due, delay.late) == (
        (TERMS[version].opinion_deadline_days,),
        within,
        late,
    )
    assert figures(log).delays["filing_to_opinion"].maximum == days + 9


@pytest.mark.parametrize(
    ("time", "counted"),
    [
        ("2025-01-01T10:00:00.000000Z", True),
        ("2024-12-31T23:30:00.000000Z", True),  # 00:30 on 1 January in Paris
        ("2024-12-31T22:30:00.000000Z", False),  # 23:30 on 31 December in Paris
        ("2025-12-31T22:59:00.000000Z", True),
        ("2025-12-31T23:01:00.000000Z", False),  # 1 January 2026 in Paris: not read
    ],
)
def test_a_request_counts_in_the_period_of_its_filing_day_in_france(
    time: str, counted: bool
) -> None:
    log = Log()
    log.file(time, "R")
    assert figures(log).filed == int(counted)


def test_the_status_is_the_one_at_the_periods_end() -> None:
    log = Log()
    log.file("2025-06-01", "R")
    log.step("2025-06-20", "R", "request.withdraw", "withdrawn")
    assert figures(log, end="2025-06-19", as_of="2025-06-19").by_status["filed"] == 1
    assert figures(log).by_status == {**figures(log).by_status, "withdrawn": 1, "filed": 0}


def test_a_step_counts_in_its_own_period_not_its_requests() -> None:
    log = Log()
    log.through_opinion("R", "2024-12-01", "2024-12-10", "2025-01-05", verdict="unfavourable")
    found = figures(log)
    assert found.filed == 0
    assert found.verdicts["unfavourable"] == 1
    assert found.delays["filing_to_opinion"].maximum == 35


@pytest.mark.parametrize(
    ("scope", "filed", "opinions"),
    [
        (Scope(), 3, 2),
        (Scope(field="enfance"), 2, 2),
        (Scope(field="jeunesse"), 1, 0),
        (Scope(party="caf"), 3, 2),
        (Scope(party="ville", field="jeunesse"), 1, 0),
        (Scope(party="autre"), 0, 0),
    ],
)
def test_the_scope(scope: Scope, filed: int, opinions: int) -> None:
    log = Log()
    log.through_opinion("R1", "2025-02-01", "2025-02-02", "2025-02-03")
    log.through_opinion("R2", "2025-02-01", "2025-02-02", "2025-02-03")
    log.file("2025-02-01", "R3", field="jeunesse", to="ville", party="caf")
    found = figures(log, scope=scope)
    assert (found.filed, sum(found.verdicts.values())) == (filed, opinions)


def test_the_direction_and_the_findings() -> None:
    log = Log()
    log.file("2025-02-01", "R1", findings=("MINORS", "DPIA_REQUIRED"))
    log.file("2025-02-01", "R2", to="ville", party="caf", findings=("MINORS",),
             triage="non_personal")  # fmt: skip
    amended: dict[str, Any] = {
        "to": "caf",
        "field": "enfance",
        "triage": "personal",
        "policy_version": 1,
    }
    log.add("2025-02-02", "request.amend", request="R1", findings=["MINORS"], to_status="filed",
            **amended)  # fmt: skip
    found = figures(log)
    assert found.by_direction == {("caf", "ville"): 1, ("ville", "caf"): 1}
    assert found.findings == {"MINORS": 2}  # as last recorded: the amendment dropped one
    assert found.non_personal == 1


def _deliveries(log: Log, deleted: dict[int, str]) -> None:
    """Four deliveries received, kept until 1 March, 1 April, 1 May and 1 June 2025."""
    log.file("2025-01-02", "R")
    for number, deadline in enumerate(("03-01", "04-01", "05-01", "06-01"), start=1):
        log.step("2025-01-10", "R", "exchange.send", "exchanged", delivery=number, rows=10,
                 payload_size=1000, retention_deadline=f"2025-{deadline}")  # fmt: skip
        log.step("2025-01-11", "R", "exchange.receive", "exchanged", delivery=number,
                 retention_deadline=f"2025-{deadline}")  # fmt: skip
    for number, day in sorted(deleted.items(), key=lambda item: item[1]):
        log.step(day, "R", "retention.destroy", "exchanged", delivery=number)


@pytest.mark.parametrize(
    ("deleted", "as_of", "expected"),
    [
        ({}, "2025-04-15", {"on_time": 0, "late": 0, "overdue": 2, "not_yet_due": 2}),
        ({1: "2025-03-01", 2: "2025-04-02"}, "2025-12-31",
         {"on_time": 1, "late": 1, "overdue": 2, "not_yet_due": 0}),
        ({1: "2025-02-01", 2: "2025-02-01", 3: "2025-02-01", 4: "2025-02-01"}, "2025-04-15",
         {"on_time": 4, "late": 0, "overdue": 0, "not_yet_due": 0}),
    ],
)  # fmt: skip
def test_deletions_by_outcome(
    deleted: dict[int, str], as_of: str, expected: dict[str, int]
) -> None:
    log = Log()
    _deliveries(log, deleted)
    found = figures(log, end="2025-12-31", as_of=as_of)
    assert found.deletions == expected
    assert (found.deliveries, found.rows, found.bytes) == (4, 40, 4000)
    # a deletion counts in the period of its deadline
    assert sum(figures(log, start="2025-03-01", end="2025-03-31").deletions.values()) == 1


def test_decisions() -> None:
    log = Log()
    log.through_opinion("R1", "2025-02-01", "2025-02-02", "2025-02-03", verdict="unfavourable")
    log.step("2025-02-05", "R1", "decide.approve", "approved", against_opinion=True, adopted=[1],
             set_aside=[{"number": 2, "reason_sha256": "0" * 64}])  # fmt: skip
    log.through_opinion("R2", "2025-02-01", "2025-02-02", "2025-02-03")
    log.step("2025-02-04", "R2", "decide.reject", "rejected")
    log.file("2025-02-01", "R3")
    log.step("2025-02-02", "R3", "study.return", "returned")
    log.step("2025-02-03", "R3", "request.lapse", "lapsed")
    found = figures(log)
    assert (found.approved, found.rejected, found.against_opinion) == (1, 1, 1)
    assert (found.adopted, found.set_aside, found.returns, found.lapses) == (1, 1, 1, 1)
    assert found.delays["opinion_to_decision"].maximum == 2


def test_an_overdue_opinion_is_counted_in_the_period_of_its_due_day() -> None:
    log = Log()
    log.file("2025-01-10", "R")
    log.step("2025-01-10", "R", "study.submit", "awaiting_dpo")  # due 9 February
    assert figures(log, as_of="2025-02-09").opinions_overdue == 0
    assert figures(log, as_of="2025-02-10").opinions_overdue == 1
    assert figures(log, start="2025-03-01", as_of="2025-04-01").opinions_overdue == 0


def test_a_request_filed_after_the_end_is_left_out_with_its_steps_dated_before() -> None:
    """The log takes an event dated up to 5 minutes before its predecessor (clocks differ): a
    request filed just after midnight on 1 January in France by a clock running fast, then
    accepted by one on time just before it, belongs to the next year, with its step."""
    log = Log()
    log.file("2025-06-01", "KEPT")
    log.file("2025-12-31T23:01:00.000000Z", "R")  # 00:01 on 1 January 2026 in France
    log.step("2025-12-31T22:59:30.000000Z", "R", "study.accept", "under_study")
    found = figures(log)
    assert found.filed == 1 and found.by_status["under_study"] == 0
    log.step("2025-12-31T22:59:40.000000Z", "UNKNOWN", "study.accept", "under_study")
    with pytest.raises(UnreadableEvent) as caught:  # a request never filed is still corrupt
        figures(log)
    assert caught.value.seq == 4


def test_a_step_counts_under_the_field_the_request_had_when_it_was_taken() -> None:
    """As docs/report.md says: the filing under the last field, each step under its own."""
    log = Log()
    log.file("2025-02-01", "R", field="enfance")
    log.step("2025-02-02", "R", "study.accept", "under_study")
    log.step("2025-02-03", "R", "study.return", "returned")
    log.add("2025-02-04", "request.amend", request="R", to="caf", field="jeunesse",
            triage="personal", policy_version=1, findings=[], to_status="filed")  # fmt: skip
    log.step("2025-02-05", "R", "request.withdraw", "withdrawn")
    old, new = (
        figures(log, scope=Scope(field="enfance")),
        figures(log, scope=Scope(field="jeunesse")),
    )
    assert (old.filed, old.returns, old.withdrawals) == (0, 1, 0)
    assert (new.filed, new.returns, new.withdrawals) == (1, 0, 1)


def test_a_payload_changed_behind_the_tools_back_names_its_event() -> None:
    log = Log()
    log.file("2025-02-01", "R")
    log.add("2025-02-02", "dpo.opinion", request="R", to_status="opinion_given", verdict="?")
    with pytest.raises(UnreadableEvent) as caught:
        figures(log)
    assert caught.value.seq == 2


def test_the_log_streams_through() -> None:
    """A long log is read once, as it comes: a generator, never a list."""

    def stream() -> Iterator[Entry]:
        for number in range(20_000):
            day = f"2025-{1 + number % 12:02d}-10T10:00:00.000000Z"
            payload = {"request": f"R{number}", "to": "caf", "field": "enfance",
                       "triage": "personal", "policy_version": 1, "findings": [],
                       "to_status": "filed"}  # fmt: skip
            yield Entry(number + 1, day, "ville", "request.file", payload)

    period = Period(date(2025, 1, 1), date(2025, 12, 31), date(2025, 12, 31))
    assert compute(stream(), TERMS.__getitem__, period, Scope()).filed == 20_000


def test_a_csv_cell_is_never_a_formula() -> None:
    """The policy's names reach the CSV (a direction's parties): as text, never a formula."""
    import csv

    from ctg_exchange.report.tables import csv_text, sections

    log = Log()
    log.file("2025-02-01", "R")
    found = figures(log)
    parties = {"ville": '=HYPERLINK("http://example.invalid")', "caf": "+Caf"}
    text = csv_text(found, sections(found, parties), simulated=True)
    rows = list(csv.reader(text.lstrip("\ufeff").splitlines(), delimiter=";"))
    direction = next(row for row in rows if row[0] == "directions")
    assert direction[3] == '\'=HYPERLINK("http://example.invalid") → +Caf'
    assert all(not cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row)
    assert rows[-1][:2] == ["note", "simulated_clock"]
