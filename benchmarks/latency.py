"""Read commands at the terminal: whole-process time and peak RSS on 10 and 10,000 requests.

    python benchmarks/latency.py [--sizes 10,10000] [--runs 7] [--dir DIR]

Each workspace is made with the real command line and grown with ``benchmarks/audit.py``'s
grower (one request filed, studied, submitted, opined on and approved through the command
line, then replayed for new request ids through the product's recorder: signed, chained,
checkpointed); two more requests are filed and submitted through the command line so that the
DPO's inbox has something in it. Every read command then runs as a person runs it, a whole
process writing to a pipe, interleaved with ``python -c "import click"``, the reference taken in
the same run (a bare interpreter that loads the command-line library and nothing else); the
median of the runs is kept, and the ratio to the reference's median. Peak RSS is the process's
own, through GNU time (``apt-get install time``), as ``benchmarks/exchange.py`` measures it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from audit import TEMPLATE, Grower, setup
from bench_workspace import cli

TIME = "/usr/bin/time"  # GNU time (Debian package `time`)


def tool() -> list[str]:
    """The command a person types: the installed ``ctg-exchange`` script when there is one."""
    script = Path(sys.executable).with_name("ctg-exchange")
    return [str(script)] if script.exists() else [sys.executable, "-m", "ctg_exchange"]


def commands(show: str) -> dict[str, list[str]]:
    return {
        "--help": ["--help"],
        "request list": ["request", "list"],
        "request list --overdue": ["request", "list", "--overdue"],
        "--json request list": ["--json", "request", "list"],
        "--json request list --all": ["--json", "request", "list", "--all"],
        f"request show {show}": ["request", "show", show],
        "dpo inbox": ["--as", "c.dpo", "dpo", "inbox"],
        "member list": ["member", "list"],
        "register list": ["register", "list"],
        "audit log": ["audit", "log"],
        "--json audit log": ["--json", "audit", "log"],
    }


def run(argv: Sequence[str], env: dict[str, str]) -> tuple[float, int]:
    """Wall seconds and peak RSS (MiB) of one process writing to a pipe."""
    with tempfile.NamedTemporaryFile() as peak:
        wrapped = [TIME, "-f", "%M", "-o", peak.name, *argv] if Path(TIME).exists() else argv
        start = time.perf_counter()
        done = subprocess.run(wrapped, env=env, capture_output=True, check=False)
        elapsed = time.perf_counter() - start
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(argv[-4:])} failed: {done.stderr.decode()[-500:]}")
        text = Path(peak.name).read_text().split()
        return elapsed, (int(text[-1]) // 1024 if text else 0)


def workspace(base: Path, requests: int) -> tuple[dict[str, str], str]:
    """A workspace of ``requests`` requests (two of them awaiting the DPO); the id of one
    approved request in the middle, which ``request show`` shows."""
    env = setup(base)
    grower = Grower(env)
    with grower.workspace.store.transaction() as tx:
        events = tx.count_events()
    grower.grow_to(events + len(TEMPLATE) * max(0, requests - 3))
    grower.workspace.close()
    new, _actor = TEMPLATE[0]
    for _ in range(2):
        rid = json.loads(cli(env, "--json", *new, actor="v.agent"))["id"]
        cli(env, "study", "accept", rid, "--note", "Étude (fictif)", actor="c.analyst")
        cli(env, "study", "submit", rid, actor="c.analyst")
    return env, f"DX-2025-{max(1, requests // 2):04d}"


def measure(
    env: dict[str, str], show: str, runs: int
) -> tuple[float, dict[str, tuple[float, float, int]]]:
    """The reference's median, and each command's median, ratio to it and peak RSS."""
    reference: list[float] = []
    times: dict[str, list[float]] = {}
    peaks: dict[str, int] = {}
    base = tool()
    listed = commands(show)
    for args in listed.values():  # once, unmeasured: caches and bytecode warm
        run([*base, *args], env)
    for _ in range(runs):
        for name, args in listed.items():
            reference.append(run([sys.executable, "-c", "import click"], env)[0])
            elapsed, peak = run([*base, *args], env)
            times.setdefault(name, []).append(elapsed)
            peaks[name] = max(peaks.get(name, 0), peak)
    click_median = statistics.median(reference)
    return click_median, {
        name: (statistics.median(t), statistics.median(t) / click_median, peaks[name])
        for name, t in times.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10,10000", help="requests per workspace")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--dir", type=Path, help="where the workspaces go (default: a temp dir)")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    started = time.perf_counter()
    results = []
    for size in sizes:
        base = Path(tempfile.mkdtemp(prefix=f"ctg-latency-{size}-", dir=args.dir))
        try:
            env, show = workspace(base, size)
            print(f"  … {size:,} requests: workspace ready", file=sys.stderr)
            results.append((size, *measure(env, show, args.runs)))
        finally:
            shutil.rmtree(base, ignore_errors=True)

    load = os.getloadavg()
    print(
        f"Machine: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}, "
        f"load {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; {args.runs} runs, medians; "
        f"command: {' '.join(Path(a).name for a in tool())}"
    )
    for size, click_median, _rows in results:
        print(f"{size:,} requests: python -c 'import click' {click_median * 1000:.0f} ms")
    print()
    header = " | ".join(f"{size:,} requests" for size, _c, _r in results)
    print(f"| command | {header} | peak RSS ({', '.join(f'{s:,}' for s, _c, _r in results)}) |")
    print("| --- |" + " ---: |" * len(results) + " ---: |")
    names = list(results[0][2])
    for index, name in enumerate(names):
        cells = []
        peaks = []
        for _size, _click, rows in results:
            key = list(rows)[index]
            elapsed, ratio, peak = rows[key]
            cells.append(f"{elapsed * 1000:,.0f} ms ({ratio:.1f}×)")
            peaks.append(f"{peak} MiB")
        label = name.split(" DX-")[0] if name.startswith("request show") else name
        print(f"| {label} | {' | '.join(cells)} | {', '.join(peaks)} |")
    print()
    print(f"total run: {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
