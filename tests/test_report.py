"""``ctg-exchange report`` (issue 18): the committee's figures, on a workspace whose delays and
verdicts are known, read from the log alone; reads only; refuses bad input in one line.

The workspace is a rehearsal: each step is dated by ``CTG_TODAY``. All data are synthetic.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Any

import pytest
from test_exchange import qf_csv, receive, send

from conftest import REQUEST_TO_VILLE, Ctg, State

REPORT_DAY = "2025-11-03"  # the day the report is run: overdue is judged on it


def on(day: str) -> None:
    """The following steps are dated ``day`` (2025)."""
    os.environ["CTG_TODAY"] = f"2025-{day}"


def _evaluated(ctg: Ctg) -> None:
    """Six requests with known dates (the comments give the figures they make)."""
    on("06-02")
    ctg.ok("keys", "generate", "--party", "ville_sceaux", "--encryption", as_="v.admin")
    ctg.ok("keys", "generate", "--party", "caf92", "--encryption", as_="c.admin")
    r1, r2, r3, r5 = (ctg.file_request() for _ in range(4))
    r4 = ctg.file_request("--field", "enfance")
    r6 = str(ctg.json(*REQUEST_TO_VILLE, as_="c.both")["id"])
    on("06-03")
    for rid in (r1, r2, r4, r5):
        ctg.ok("study", "accept", rid, "--note", "Étude", as_="c.analyst")
    ctg.ok("study", "accept", r6, "--note", "Étude", as_="v.analyst")
    on("06-04")
    ctg.ok("study", "submit", r2, as_="c.analyst")
    ctg.ok("study", "return", r4, "--reason", "Préciser la finalité", as_="c.analyst")
    ctg.ok("study", "submit", r6, as_="v.analyst")
    on("06-05")
    ctg.ok("study", "submit", r1, as_="c.analyst")
    ctg.ok("study", "submit", r5, as_="c.analyst")  # never answered: due 07-05, overdue
    on("06-10")
    ctg.ok("request", "withdraw", r3, "--reason", "Plus nécessaire", as_="v.agent")
    on("06-14")  # R6: 12 days from filing, 10 from submission
    ctg.ok("dpo", "opinion", r6, "--verdict", "unfavourable", "--note", "Non", as_="v.dpo")
    on("06-16")
    ctg.ok("decide", "approve", r6, "--justification", "Motifs écrits", as_="v.controller")
    on("06-25")  # R1: 23 days from filing, 20 from submission
    ctg.ok("dpo", "opinion", r1, "--verdict", "favourable_with_recommendations", "--note", "Oui",
           "--recommend", "max_retention_days:30", "--recommend", "Informer les familles",
           as_="c.dpo")  # fmt: skip
    on("06-30")
    ctg.ok("decide", "approve", r1, "--adopt", "R1", "--set-aside", "R2=Déjà fait",
           as_="c.controller")  # fmt: skip
    on("07-02")
    ctg.accept_conditions(r1)
    ship(ctg, r1, 1, "07-10", 3)  # each kept 30 days (R1): deadlines 08-09, 09-10, 10-11
    on("07-20")  # R2: 48 days from filing, 46 from submission (due in 30: late)
    ctg.ok("dpo", "opinion", r2, "--verdict", "unfavourable", "--note", "Non", as_="c.dpo")
    on("07-21")
    ctg.ok("decide", "reject", r2, "--reason", "Avis défavorable", as_="c.controller")
    ship(ctg, r1, 2, "08-11", 4)
    deleted(ctg, r1, 1, "08-20")  # late
    deleted(ctg, r1, 2, "09-01")  # on time
    ship(ctg, r1, 3, "09-11", 5)  # never deleted: overdue
    on(REPORT_DAY[5:])


def ship(ctg: Ctg, rid: str, number: int, day: str, rows: int) -> None:
    """Delivery ``number`` of ``rid`` sent on ``day``, received the day after."""
    where = ctg.root / "datasets" / str(number)  # one package per directory: named by request
    where.mkdir(parents=True)
    on(day)
    package = send(ctg, rid, qf_csv(where / "qf.csv", rows))["package"]
    on(f"{day[:3]}{int(day[3:]) + 1:02d}")
    ctg.ok(*receive(package, where / "in.csv"), as_="v.agent")


def deleted(ctg: Ctg, rid: str, number: int, day: str) -> None:
    on(day)
    (ctg.root / "datasets" / str(number) / "in.csv").unlink()
    ctg.ok("retention", "attest", f"{rid}-{number}", "--note", "Supprimé", as_="v.agent")


@pytest.fixture
def evaluated(state: State, monkeypatch: pytest.MonkeyPatch) -> Ctg:
    made = state("report-evaluated", _evaluated)
    monkeypatch.setenv("CTG_TODAY", REPORT_DAY)
    return made


def figure(document: dict[str, Any], path: str) -> Any:
    value: Any = document
    for key in path.split("."):
        value = value[key]
    return value


# (the report's options, a figure's path in --json, its value)
YEAR = ()
CASES = [
    (YEAR, "period.from", "2025-01-01"),
    (YEAR, "period.to", "2025-12-31"),
    (YEAR, "period.as_of", REPORT_DAY),
    (YEAR, "requests.filed", 6),
    (YEAR, "requests.by_status.exchanged", 1),
    (YEAR, "requests.by_status.rejected", 1),
    (YEAR, "requests.by_status.withdrawn", 1),
    (YEAR, "requests.by_status.returned", 1),
    (YEAR, "requests.by_status.awaiting_dpo", 1),
    (YEAR, "requests.by_status.approved", 1),
    (YEAR, "requests.by_direction", [{"from": "caf92", "to": "ville_sceaux", "count": 1},
                                     {"from": "ville_sceaux", "to": "caf92", "count": 5}]),
    (YEAR, "requests.non_personal", 0),
    (YEAR, "delays.filing_to_opinion", {"count": 3, "median": 23.0, "p90": 48, "max": 48,
                                        "due_days": [], "within_due": None, "late": None}),
    (YEAR, "delays.submission_to_opinion", {"count": 3, "median": 20.0, "p90": 46, "max": 46,
                                            "due_days": [30], "within_due": 2, "late": 1}),
    (YEAR, "delays.opinion_to_decision", {"count": 3, "median": 2.0, "p90": 5, "max": 5,
                                          "due_days": [], "within_due": None, "late": None}),
    (YEAR, "delays.filing_to_decision.median", 28.0),
    (YEAR, "delays.filing_to_decision.max", 49),
    (YEAR, "delays.decision_to_conditions.median", 2.0),
    (YEAR, "delays.conditions_to_first_delivery.median", 8.0),
    (YEAR, "delays.filing_to_first_delivery", {"count": 1, "median": 38.0, "p90": 38, "max": 38,
                                               "due_days": [], "within_due": None, "late": None}),
    (YEAR, "opinions.by_verdict", {"favourable": 0, "favourable_with_recommendations": 1,
                                   "unfavourable": 2, "out_of_scope": 0}),
    (YEAR, "opinions.overdue", 1),
    (YEAR, "decisions", {"approved": 2, "rejected": 1, "against_opinion": 1,
                         "recommendations_adopted": 1, "recommendations_set_aside": 1}),
    (YEAR, "returns", 1),
    (YEAR, "withdrawals", 1),
    (YEAR, "lapses", 0),
    (YEAR, "refusals_recorded", False),
    (YEAR, "deliveries.count", 3),
    (YEAR, "deliveries.rows", 12),
    (YEAR, "deletions", {"on_time": 1, "late": 1, "overdue": 1, "not_yet_due": 0}),
    (("--field", "enfance"), "requests.filed", 1),
    (("--field", "enfance"), "requests.by_status.returned", 1),
    (("--field", "enfance"), "returns", 1),
    (("--field", "enfance"), "deliveries.count", 0),
    (("--field", "enfance"), "opinions.overdue", 0),
    (("--party", "caf92"), "requests.filed", 6),
    (("--from", "2025-07-01", "--to", "2025-07-31"), "requests.filed", 0),
    (("--from", "2025-07-01", "--to", "2025-07-31"), "opinions.by_verdict.unfavourable", 1),
    (("--from", "2025-07-01", "--to", "2025-07-31"), "delays.submission_to_opinion.late", 1),
    (("--from", "2025-07-01", "--to", "2025-07-31"), "decisions.rejected", 1),
    (("--from", "2025-07-01", "--to", "2025-07-31"), "delays.decision_to_conditions.count", 1),
    (("--from", "2025-07-01", "--to", "2025-07-31"), "deliveries.rows", 3),
    (("--from", "2025-07-01", "--to", "2025-07-31"), "opinions.overdue", 1),
    (("--from", "2025-08-01", "--to", "2025-08-31"), "deletions.late", 1),
    (("--from", "2025-08-01", "--to", "2025-08-31"), "deletions.on_time", 0),
    # a past period's figures: the events after its end are not read
    (("--to", "2025-06-30"), "period.from", "2025-01-01"),
    (("--to", "2025-06-30"), "requests.by_status.approved", 2),
    (("--to", "2025-06-30"), "requests.by_status.awaiting_dpo", 2),
    (("--to", "2025-06-30"), "opinions.overdue", 0),
    (("--to", "2025-06-30"), "deliveries.count", 0),
]  # fmt: skip


@pytest.mark.parametrize(("args", "path", "expected"), CASES)
def test_the_figures_of_a_workspace_with_known_delays(
    evaluated: Ctg, args: tuple[str, ...], path: str, expected: Any
) -> None:
    assert figure(evaluated.json("report", *args), path) == expected


def test_the_bytes_are_those_of_the_payloads_sent(evaluated: Ctg) -> None:
    sent = [e for e in evaluated.json("audit", "log", "--all") if e["action"] == "exchange.send"]
    assert len(sent) == 3
    total = sum(e["payload"]["payload_size"] for e in sent)
    assert evaluated.json("report")["deliveries"]["bytes"] == total > 0


def test_report_reads_only(evaluated: Ctg, tmp_path: Path) -> None:
    before = evaluated.snapshot()
    events = len(evaluated.json("audit", "log", "--all"))
    for args in ((), ("--json",), ("--format", "csv"), ("--csv", str(tmp_path / "r.csv"))):
        result = evaluated("report", *args, env={"CTG_PASSPHRASE": ""})  # no key is opened
        assert result.exit_code == 0, result.output
    assert evaluated.snapshot() == before
    assert len(evaluated.json("audit", "log", "--all")) == events


def test_the_terminal_and_the_csv_show_the_same_figures(evaluated: Ctg, tmp_path: Path) -> None:
    printed = evaluated.ok("report").stdout  # a pipe: plain, tab-separated lines
    assert "submission to the DPO → opinion\t3\t20\t46\t46\t30\t2\t1" in printed.splitlines()
    assert "deleted late\t1" in printed.splitlines()
    out = tmp_path / "report.csv"
    evaluated.ok("report", "--csv", str(out))
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(raw.decode("utf-8-sig").splitlines(), delimiter=";"))
    assert rows[0] == ["section", "figure", "measure", "label", "value"]
    found = {(r[0], r[1], r[2]): r[4] for r in rows[1:]}
    assert found[("delays", "submission_to_opinion", "late")] == "1"
    assert found[("deletions", "overdue", "count")] == "1"
    assert found[("directions", "caf92>ville_sceaux", "count")] == "1"
    assert evaluated.ok("report", "--format", "csv").stdout_bytes == raw


def test_each_output_alone_on_stdout(evaluated: Ctg, tmp_path: Path) -> None:
    page = evaluated.ok("report", "--html", "-").stdout
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    written = evaluated.ok("report", "--html", str(tmp_path / "r.html"))
    assert written.stdout == ""  # the file, and a line on stderr saying where
    assert "--html: written to" in written.stderr
    assert (tmp_path / "r.html").read_text("utf-8").startswith("<!DOCTYPE html>")


@pytest.mark.parametrize(
    ("args", "code", "contains"),
    [
        (("--from", "2025-07-01", "--to", "2025-06-30"), 1, "--from 2025-07-01 is after --to"),
        (("--field", "astronomie"), 1, "unknown field 'astronomie' for --field"),
        (("--party", "nasa"), 1, "unknown party 'nasa' for --party"),
        (("--csv", "-", "--html", "-"), 1, "cannot both write to stdout"),
    ],
)
def test_bad_input_is_refused_in_one_line(
    ctg: Ctg, args: tuple[str, ...], code: int, contains: str
) -> None:
    ctg.refused("report", *args, code=code, contains=contains)


@pytest.mark.parametrize(
    ("args", "contains"),
    [
        (("--from", "2025-13-01"), "Invalid value for '--from'"),
        (("--to", "demain"), "Invalid value for '--to'"),
        (("--format", "csv", "--csv", "x.csv"), "--format csv prints the CSV"),
        (("--format", "pdf"), "Invalid value for '--format'"),
    ],
)
def test_bad_usage_exits_2(ctg: Ctg, args: tuple[str, ...], contains: str) -> None:
    before = ctg.snapshot()
    result = ctg("report", *args)
    assert result.exit_code == 2, result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and contains in errors[0], result.stderr
    assert ctg.snapshot() == before


def test_no_typed_text_reaches_the_report(ctg: Ctg, tmp_path: Path) -> None:
    hostile = '<script>alert(1)</script>\x1b[31m=HYPERLINK("http://x")'
    ctg.file_request("--purpose", f"Tarifer {hostile}")
    ctg.ok("study", "accept", ctg.json("request", "list")[0]["id"], "--note", hostile,
           as_="c.analyst")  # fmt: skip
    html_out, csv_out = tmp_path / "r.html", tmp_path / "r.csv"
    printed = ctg.ok("report", "--html", str(html_out), "--csv", str(csv_out)).output
    for text in (printed, html_out.read_text("utf-8"), csv_out.read_text("utf-8-sig")):
        assert "<script" not in text.lower()
        assert "\x1b" not in text
        assert "HYPERLINK" not in text
        assert "Tarifer" not in text


def test_in_french(evaluated: Ctg, tmp_path: Path) -> None:
    printed = evaluated("report", env={"CTG_LANG": "fr"})
    assert printed.exit_code == 0, printed.output
    assert "avis défavorable\t2" in printed.stdout.splitlines()
    assert "Période du 1er janvier 2025 au 31 décembre 2025" in printed.stderr
    assert "Délais en jours" in printed.stderr  # a table's title, on a pipe: said, not data
    out = tmp_path / "rapport.html"
    assert evaluated("report", "--html", str(out), env={"CTG_LANG": "fr"}).exit_code == 0
    page = out.read_text("utf-8")
    assert '<html lang="fr">' in page
    assert "du 1er janvier 2025 au 31 décembre 2025" in page
    assert "avis défavorable" in page
    assert "Évaluation des échanges de données" in page


def test_a_partys_copy_of_a_hosted_log_gives_the_same_figures(
    ctg: Ctg, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    from test_remote_exchange import Parties

    rid = ctg.file_request()
    ctg.advance(rid, "approved")
    ctg.file_request()
    served = request.getfixturevalue("served")
    at = Parties(ctg, served.url, tmp_path)
    here = ctg.json("report")
    for party, member in (("ville", "v.dpo"), ("caf", "c.dpo")):
        assert at(party, "report", as_=member) == here  # read in the party's own copy
    assert here["requests"]["filed"] == 2 and here["decisions"]["approved"] == 1
