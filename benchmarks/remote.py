"""A hosted workspace's speed (issue 14): signed transitions per second over HTTP with 1, 4 and
8 concurrent clients on SQLite and PostgreSQL, and ``request show`` latency remote against local.

    python benchmarks/remote.py [--requests 40] [--clients 1,4,8]
                                [--postgres postgresql://postgres@127.0.0.1:5432/test]

Per cell: a fresh copy of a workspace made with the real command line, ``ctg-exchange serve``
on it (a process, 127.0.0.1, HTTP), and ``C`` client processes (benchmarks/remote_worker.py)
sharing ``--requests`` requests, each taken from filing to approval: five transitions, each a
prepare and a commit, each call signed (RFC 9421) and each event signed by its member. The rate
is transitions divided by the span from the first client's start to the last one's end (keys
unlocked before). ``audit verify`` must pass after each cell. The server's peak resident memory
(VmHWM) is read when it stops. ``request show``: the median of 50, in-process on the workspace
against over HTTP (a signed call).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench_workspace import PASSPHRASE, ROOT, cli, make_workspace, run_processes
from load import Server, fresh_copy

WORKER = ROOT / "benchmarks" / "remote_worker.py"
STEPS = 5
MEMBERS = (
    ("v.agent", "ville_sceaux", "staff", "v.admin"),
    ("c.admin", "caf92", "admin", "v.admin"),
    ("c.analyst", "caf92", "controller", "c.admin"),
    ("c.controller", "caf92", "controller", "c.admin"),
    ("c.dpo", "caf92", "dpo", "c.admin"),
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Served:
    """``ctg-exchange serve`` on a workspace, as a process."""

    def __init__(self, env: dict[str, str]) -> None:
        import httpx

        self.url = f"http://127.0.0.1:{free_port()}"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "ctg_exchange", "serve", "--listen", self.url[7:]],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(self.url + "/healthz", timeout=1)
                return
            except httpx.TransportError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("serve did not start") from None
                time.sleep(0.1)

    def peak_rss_mib(self) -> float:
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        line = next(x for x in status.splitlines() if x.startswith("VmHWM:"))
        return int(line.split()[1]) / 1024

    def stop(self) -> None:
        self.process.send_signal(signal.SIGINT)
        self.process.wait(30)


def run_cell(env: dict[str, str], base: Path, clients: int, requests: int) -> dict[str, Any]:
    served = Served(env)
    try:
        remote = base / "remote"
        cli(env, "--workspace", str(remote), "remote", "add", served.url, "--rehearsal")
        shares = [requests // clients + (i < requests % clients) for i in range(clients)]
        argvs = [
            [sys.executable, str(WORKER), str(remote), env["CTG_KEY_DIR"], "--count", str(n)]
            for n in shares
        ]
        results = run_processes(env, argvs, "a client")
        rss = served.peak_rss_mib()
    finally:
        served.stop()
    verified = json.loads(cli(env, "audit", "verify", "--json"))
    if not verified.get("ok"):
        raise SystemExit("audit verify failed after the run")
    span = max(r["end"] for r in results) - min(r["start"] for r in results)
    return {"rate": requests * STEPS / span, "span": span, "rss": rss}


def show_latency(env: dict[str, str], base: Path) -> tuple[float, float]:
    """Median ``request show`` in ms: in-process on the workspace, then over HTTP."""
    sys.path.insert(0, str(ROOT))
    from ctg_exchange.crypto.keys import KeyDir
    from ctg_exchange.remote.session import RemoteSession
    from ctg_exchange.services.clock import Clock
    from ctg_exchange.services.requests import get_request, list_requests
    from ctg_exchange.services.workspace import Workspace, open_remote

    workspace = Workspace.open(Path(env["CTG_WORKSPACE"]))
    rid = list_requests(workspace)[0].id

    def median(target: Any) -> float:
        times = []
        for _ in range(50):
            started = time.perf_counter()
            get_request(target, rid)
            times.append((time.perf_counter() - started) * 1000)
        return statistics.median(times)

    local = median(workspace)
    workspace.close()
    served = Served(env)
    try:
        remote_dir = base / "remote-show"
        cli(env, "--workspace", str(remote_dir), "remote", "add", served.url, "--rehearsal")
        signer = KeyDir(Path(env["CTG_KEY_DIR"])).open_signer("v.agent", PASSPHRASE)
        session = RemoteSession(open_remote(remote_dir), "v.agent", lambda _: signer, Clock())
        remote = median(session)
    finally:
        served.stop()
    return local, remote


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=40, help="requests per cell")
    parser.add_argument("--clients", default="1,4,8", help="client counts, comma-separated")
    parser.add_argument(
        "--postgres",
        default=os.environ.get(
            "CTG_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
        ),
    )
    args = parser.parse_args()
    counts = [int(c) for c in args.clients.split(",")]
    base = Path(tempfile.mkdtemp(prefix="ctg-remote-"))
    server = Server(args.postgres) if args.postgres else None
    started = time.perf_counter()
    table: dict[str, dict[int, dict[str, Any]]] = {}
    latency = (0.0, 0.0)
    try:
        for backend in ["sqlite"] + (["postgres"] if server else []):
            template_db = server.create("template") if backend == "postgres" and server else None
            url = server.url_of(template_db) if server and template_db else None
            make_workspace(base / f"{backend}-template", MEMBERS, url)
            table[backend] = {}
            for clients in counts:
                target = base / f"{backend}-{clients}"
                database = None
                if server and template_db:
                    database = server.url_of(server.create(f"c{clients}", template_db))
                env = fresh_copy(base / f"{backend}-template", target, database)
                cell = table[backend][clients] = run_cell(env, target, clients, args.requests)
                print(
                    f"  … {backend}, {clients} client(s): {cell['rate']:.0f} transitions/s, "
                    f"server peak RSS {cell['rss']:.0f} MiB",
                    file=sys.stderr,
                )
                if backend == "sqlite" and clients == counts[0]:
                    latency = show_latency(env, target)
                shutil.rmtree(target)
    finally:
        if server:
            server.close()
        shutil.rmtree(base, ignore_errors=True)

    print(
        f"Machine: {os.cpu_count()} CPUs, Python {platform.python_version()}; {args.requests} "
        f"requests per cell, each {STEPS} signed transitions (prepare + commit over HTTP); "
        "audit verify passed after every cell"
    )
    print()
    print("| backend | " + " | ".join(f"{c} client{'s' if c > 1 else ''}" for c in counts) + " |")
    print("| --- |" + " ---: |" * len(counts))
    for backend, cells in table.items():
        rates = " | ".join(
            f"{cells[c]['rate']:.0f} transitions/s (server {cells[c]['rss']:.0f} MiB)"
            for c in counts
        )
        print(f"| {backend} | {rates} |")
    print()
    print("| request show (median of 50) | local, in-process | remote, signed HTTP call |")
    print("| --- | ---: | ---: |")
    print(f"| sqlite | {latency[0]:.2f} ms | {latency[1]:.2f} ms |")
    print()
    print("packages over HTTPS (1 GiB upload/download): not measured, not yet served")
    print(f"total run: {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
