"""The committee's report: time and memory of the figures' computation on long logs (issue 18).

    python benchmarks/report.py [--sizes 100k,1M]

A log is generated as a stream of events as the tool writes them (eight per request: filing,
submission, opinion, approval, conditions, delivery, reception, deletion, spread over a year)
and the figures are computed over it as ``ctg-exchange report`` computes them over the store's
stream (:func:`ctg_exchange.report.figures.compute`): the time, and the peak memory it
allocates (tracemalloc, in a second run). The report keeps a small state per request, never
the events: its memory follows the number of requests, not of events.
"""

from __future__ import annotations

import argparse
import time
import tracemalloc
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

from ctg_exchange.report.figures import Entry, Period, Scope, Terms, compute

STEPS = 8


def log(events: int) -> Iterator[Entry]:
    seq = 0
    first = date(2025, 1, 1)
    for number in range(events // STEPS):
        rid = f"DX-2025-{number:06d}"
        filed = first + timedelta(days=number % 300)

        def at(days: int, filed: date = filed) -> str:
            return f"{filed + timedelta(days=days)}T09:00:00.000000Z"

        steps: list[tuple[int, str, dict[str, Any]]] = [
            (0, "request.file", {"request": rid, "to": "caf92", "field": "enfance",
                                 "triage": "personal", "policy_version": 1,
                                 "findings": ["MINORS"], "to_status": "filed"}),
            (2, "study.submit", {"request": rid, "to_status": "awaiting_dpo"}),
            (2 + number % 40, "dpo.opinion", {"request": rid, "to_status": "opinion_given",
                                              "verdict": "favourable"}),
            (45, "decide.approve", {"request": rid, "to_status": "approved",
                                    "against_opinion": False, "adopted": [], "set_aside": []}),
            (47, "conditions.accept", {"request": rid, "to_status": "conditions_accepted"}),
            (50, "exchange.send", {"request": rid, "to_status": "exchanged", "delivery": 1,
                                   "rows": 100, "payload_size": 4096,
                                   "retention_deadline": str(filed + timedelta(days=80))}),
            (51, "exchange.receive", {"request": rid, "to_status": "exchanged", "delivery": 1,
                                      "retention_deadline": str(filed + timedelta(days=80))}),
            (70 + number % 20, "retention.destroy", {"request": rid, "to_status": "exchanged",
                                                     "delivery": 1}),
        ]  # fmt: skip
        for days, action, payload in steps:
            seq += 1
            yield Entry(seq, at(days), "ville_sceaux", action, payload)


def run(events: int) -> tuple[float, float, int]:
    period = Period(date(2025, 1, 1), date(2025, 12, 31), date(2025, 12, 31))
    terms = {1: Terms(30)}.__getitem__
    started = time.perf_counter()
    figures = compute(log(events), terms, period, Scope())
    seconds = time.perf_counter() - started
    tracemalloc.start()
    compute(log(events), terms, period, Scope())
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return seconds, peak / 2**20, figures.filed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100k,1M")
    sizes = [
        int(float(s[:-1]) * (1_000 if s[-1] == "k" else 1_000_000)) if s[-1] in "kM" else int(s)
        for s in parser.parse_args().sizes.split(",")
    ]
    print(f"{'events':>10}  {'requests':>9}  {'seconds':>8}  {'events/s':>9}  {'peak MiB':>9}")
    for size in sizes:
        seconds, peak, requests = run(size)
        print(
            f"{size:>10,}  {requests:>9,}  {seconds:>8.2f}  {size / seconds:>9,.0f}  {peak:>9.1f}"
        )


if __name__ == "__main__":
    main()
