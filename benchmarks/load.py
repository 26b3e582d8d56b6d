"""Requests per second through the full procedure, with concurrent agents, on both backends
(issue 7).

    python benchmarks/load.py [--requests 200] [--processes 1,2,4,8]
                              [--postgres postgresql://postgres@127.0.0.1:5432/test]

A workspace is made once per backend with the real command line; every measurement works on a
fresh copy of it (for PostgreSQL, a database made from it with ``CREATE DATABASE … TEMPLATE``).
``P`` agent processes (tests/procedure_worker.py) then share ``--requests`` requests and take
each from filing to approval: file (v.agent), study accept and submit (c.analyst), opinion
(c.dpo), approve (c.controller), each a checked, signed and committed transition with its audit
event. The rate is the requests approved divided by the span from the first agent's start to
the last one's end (interpreter start-up and key unlocking excluded: an agent's command pays
them once, ~0.5 s, whatever the database). ``audit verify``
must then pass on the result, or the run stops.

``--postgres`` names a server where the benchmark may create and drop its own databases
(default: ``CTG_TEST_POSTGRES_URL``, else the local server); ``--postgres ''`` runs SQLite only.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import secrets
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench_workspace import ROOT, cli, environment, make_workspace, run_processes

WORKER = ROOT / "tests" / "procedure_worker.py"
STEPS = 5  # file, study accept, study submit, opinion, approve
MEMBERS = (
    ("v.agent", "ville_sceaux", "staff", "v.admin"),
    ("c.admin", "caf92", "admin", "v.admin"),
    ("c.analyst", "caf92", "controller", "c.admin"),  # studies: no one both studies and decides
    ("c.controller", "caf92", "controller", "c.admin"),
    ("c.dpo", "caf92", "dpo", "c.admin"),
)


class Server:
    """Creates and drops the benchmark's PostgreSQL databases."""

    def __init__(self, url: str) -> None:
        import psycopg

        self.url = url
        self.prefix = f"ctg_bench_{secrets.token_hex(3)}"
        self._admin = psycopg.connect(url, autocommit=True)
        self._made: list[str] = []

    def url_of(self, name: str) -> str:
        return re.sub(r"/[^/?]*(\?|$)", lambda m: f"/{name}{m.group(1)}", self.url, count=1)

    def create(self, name: str, template: str | None = None) -> str:
        name = f"{self.prefix}_{name}"
        suffix = f" TEMPLATE {template}" if template else ""
        self._admin.execute(f"CREATE DATABASE {name}{suffix}")
        self._made.append(name)
        return name

    def close(self) -> None:
        for name in reversed(self._made):
            self._admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        self._admin.close()


def fresh_copy(template: Path, target: Path, database: str | None) -> dict[str, str]:
    shutil.copytree(template, target)
    if database:
        config_path = target / "ws" / "workspace.json"
        config = json.loads(config_path.read_text())
        config["database"] = database
        config_path.write_text(json.dumps(config, indent=2) + "\n")
    return environment(target)


def run(env: dict[str, str], processes: int, requests: int) -> dict[str, Any]:
    shares = [requests // processes + (i < requests % processes) for i in range(processes)]
    argvs = [
        [sys.executable, str(WORKER), env["CTG_WORKSPACE"], env["CTG_KEY_DIR"],
         "--count", str(share), "--until", "approved"]
        for share in shares
    ]  # fmt: skip
    results = run_processes(env, argvs, "an agent")
    verified = json.loads(cli(env, "audit", "verify", "--json"))
    if not verified.get("ok"):
        raise SystemExit("audit verify failed after the run")
    span = max(r["end"] for r in results) - min(r["start"] for r in results)
    done = sum(len(r["filed"]) for r in results)
    return {"rate": done / span, "span": span, "events": verified["events"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=200, help="requests per measurement")
    parser.add_argument("--processes", default="1,2,4,8", help="agent counts, comma-separated")
    parser.add_argument(
        "--postgres",
        default=os.environ.get(
            "CTG_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
        ),
    )
    parser.add_argument("--dir", type=Path, help="where the workspaces go (default: a temp dir)")
    args = parser.parse_args()
    counts = [int(p) for p in args.processes.split(",")]

    base = Path(tempfile.mkdtemp(prefix="ctg-load-", dir=args.dir))
    server = Server(args.postgres) if args.postgres else None
    started = time.perf_counter()
    table: dict[str, dict[int, dict[str, Any]]] = {}
    try:
        backends = ["sqlite"] + (["postgres"] if server else [])
        for backend in backends:
            template_db = server.create("template") if backend == "postgres" and server else None
            url = server.url_of(template_db) if server and template_db else None
            make_workspace(base / f"{backend}-template", MEMBERS, url)
            table[backend] = {}
            for processes in counts:
                target = base / f"{backend}-{processes}"
                database = None
                if server and template_db:
                    database = server.url_of(server.create(f"p{processes}", template_db))
                env = fresh_copy(base / f"{backend}-template", target, database)
                table[backend][processes] = run(env, processes, args.requests)
                cell = table[backend][processes]
                print(
                    f"  … {backend}, {processes} agent(s): {cell['rate']:.1f} requests/s "
                    f"({args.requests} in {cell['span']:.1f} s)",
                    file=sys.stderr,
                )
                shutil.rmtree(target)
    finally:
        if server:
            server.close()
        shutil.rmtree(base, ignore_errors=True)

    print(
        f"Machine: {os.cpu_count()} CPUs, Python {platform.python_version()}; "
        f"{args.requests} requests per cell, each taken from filing to approval "
        f"({STEPS} signed transitions); audit verify passed after every cell"
    )
    print()
    header = "| backend | " + " | ".join(f"{p} agent{'s' if p > 1 else ''}" for p in counts)
    print(header + " |")
    print("| --- |" + " ---: |" * len(counts))
    for backend, cells in table.items():
        rates = " | ".join(
            f"{cells[p]['rate']:.1f} req/s ({cells[p]['rate'] * STEPS:.0f} transitions/s)"
            for p in counts
        )
        print(f"| {backend} | {rates} |")
    print()
    print(f"total run: {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
