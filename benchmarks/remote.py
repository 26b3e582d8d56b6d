"""A hosted workspace's speed (issue 14): signed transitions per second over HTTP with 1, 4 and
8 concurrent clients on SQLite and PostgreSQL, ``request show`` latency remote against local,
and a package's way up and down (1 GiB by default) with the server's peak memory.

    python benchmarks/remote.py [--requests 40] [--clients 1,4,8] [--package-size 1G]
                                [--postgres postgresql://postgres@127.0.0.1:5432/test]

Per cell: a fresh copy of a workspace made with the real command line, ``ctg-exchange serve``
on it (a process, 127.0.0.1, HTTP), and ``C`` client processes (benchmarks/remote_worker.py)
sharing ``--requests`` requests, each taken from filing to approval: five transitions, each a
prepare and a commit, each call signed (RFC 9421) and each event signed by its member. The rate
is transitions divided by the span from the first client's start to the last one's end (keys
unlocked before). ``audit verify`` must pass after each cell. The server's peak resident memory
(VmHWM) is read when it stops. ``request show``: the median of 50, in-process on the workspace
against over HTTP (a signed call).

Packages, on each backend: a request taken to accepted conditions, then on a fresh ``serve``
process a delivery of 64 rows sent and received (the server's peak resident memory, VmHWM, is
read then), then ``exchange send`` of a synthetic CSV of ``--package-size`` (read, checked,
encrypted and signed on the client, streamed up, recorded) and ``exchange receive`` (streamed
down, checked, decrypted), each a whole command, then the package alone, uploaded and
downloaded by a signed client call. Throughput is the package's size over the time; the
server's peak memory is read again at the end: flat in the package's size, it does not move.
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

    def peak_rss_mib(self, field: str = "VmHWM") -> float:
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        line = next(x for x in status.splitlines() if x.startswith(f"{field}:"))
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
    """Median ``request show`` in ms: in-process on the workspace, then over HTTP (on a
    workspace the cell filled)."""
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


PACKAGE_MEMBERS = (
    ("v.agent", "ville_sceaux", "staff", "v.admin"),
    ("v.controller", "ville_sceaux", "controller", "v.admin"),
    ("c.admin", "caf92", "admin", "v.admin"),
    ("c.agent", "caf92", "staff", "c.admin"),
    ("c.analyst", "caf92", "controller", "c.admin"),
    ("c.controller", "caf92", "controller", "c.admin"),
    ("c.dpo", "caf92", "dpo", "c.admin"),
)
QF_ROW = b"9000001,512,2025-05\n"
FILING = (
    "request", "new", "--to", "caf92", "--field", "petite_enfance",
    "--purpose", "Tarifer les crèches au barème national (mesure synthétique)",
    "--purpose-kind", "pricing",
    "--category", "numero_allocataire", "--category", "quotient_familial",
    "--subjects", "Familles fictives inscrites en EAJE (mesure)",
    "--legal-basis", "art6_1_e", "--legal-ref", "loi_98_657_art147",
    "--retention-days", "365", "--frequency", "monthly", "--combines-with-own-files",
)  # fmt: skip


def _dataset(path: Path, size: int) -> None:
    block = QF_ROW * (1 << 16)
    with open(path, "wb") as out:
        out.write(b"numero_allocataire,quotient_familial,mois_reference_qf\n")
        while out.tell() < size:
            out.write(block[: max(len(QF_ROW), size - out.tell())])


def packages(base: Path, size: int, database: str | None = None) -> dict[str, float]:
    """Send and receive a package of about ``size`` bytes through ``serve``."""
    sys.path.insert(0, str(ROOT))
    from ctg_exchange.crypto.keys import KeyDir
    from ctg_exchange.remote.client import Client
    from ctg_exchange.services.workspace import open_remote

    env = make_workspace(base, PACKAGE_MEMBERS, database)
    env["CTG_IDENTITY_PASSPHRASE"] = PASSPHRASE
    cli(env, "keys", "generate", "--party", "ville_sceaux", "--encryption", actor="v.admin")
    cli(env, "keys", "generate", "--party", "caf92", "--encryption", actor="c.admin")
    rid = json.loads(cli(env, *FILING, "--json", actor="v.agent"))["id"]
    for actor, *step in (
        ("c.analyst", "study", "accept", rid, "--note", "Étude"),
        ("c.analyst", "study", "submit", rid),
        ("c.dpo", "dpo", "opinion", rid, "--verdict", "favourable", "--note", "Avis"),
        ("c.controller", "decide", "approve", rid),
        (
            "v.controller",
            "conditions",
            "accept",
            rid,
            "--dpia-ref",
            "AIPD-BENCH",
            "--information",
            "Lettre aux familles (test)",
            "--l311-mention",
            "Mention sur la facture (test)",
        ),
    ):
        cli(env, *step, actor=actor)
    small, dataset, package = base / "small.csv", base / "qf.csv", base / "sent.ctgx"
    _dataset(small, 64 * len(QF_ROW))
    _dataset(dataset, size)
    served = Served(env)
    timing: dict[str, float] = {}
    try:
        remote = base / "remote"
        cli(env, "--workspace", str(remote), "remote", "add", served.url, "--rehearsal")
        on_remote = {**env, "CTG_WORKSPACE": str(remote)}
        # a delivery of 64 rows first: the server's peak then, against its peak after 1 GiB
        cli(on_remote, "exchange", "send", rid, "--dataset", str(small), actor="c.agent")
        cli(on_remote, "exchange", "receive", f"{rid}-1", "--out", str(base / "small-in.csv"),
            actor="v.agent")  # fmt: skip
        timing["rest"] = served.peak_rss_mib()
        started = time.perf_counter()
        cli(on_remote, "exchange", "send", rid, "--dataset", str(dataset), "--out", str(package),
            "--early", "--justification", "Mesure de performance (banc d'essai)",
            actor="c.agent")  # fmt: skip
        timing["send"] = time.perf_counter() - started
        started = time.perf_counter()
        cli(on_remote, "exchange", "receive", f"{rid}-2", "--out", str(base / "in.csv"),
            actor="v.agent")  # fmt: skip
        timing["receive"] = time.perf_counter() - started
        (base / "in.csv").unlink()
        config = open_remote(remote)
        client = Client(config, KeyDir(base / "keys").open_signer("c.agent", PASSPHRASE))
        started = time.perf_counter()
        client.upload("/v1/packages", package, rid)
        timing["upload"] = time.perf_counter() - started
        downloader = Client(config, KeyDir(base / "keys").open_signer("v.agent", PASSPHRASE))
        with open(base / "down.ctgx", "wb") as out:
            started = time.perf_counter()
            downloader.download(f"/v1/packages/{rid}/2", out)
            timing["download"] = time.perf_counter() - started
        timing["rss"] = served.peak_rss_mib()
    finally:
        served.stop()
    if (base / "down.ctgx").read_bytes() != package.read_bytes():
        raise SystemExit("the package downloaded is not the one sent")
    timing["size"] = package.stat().st_size
    return timing


def _bytes(text: str) -> int:
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    return int(float(text[:-1]) * units[text[-1].upper()]) if text[-1].isalpha() else int(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=40, help="requests per cell")
    parser.add_argument("--package-size", default="1G", help="the dataset sent (0: none)")
    parser.add_argument("--clients", default="1,4,8", help="client counts, comma-separated")
    parser.add_argument(
        "--postgres",
        default=os.environ.get(
            "CTG_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
        ),
    )
    args = parser.parse_args()
    counts = [int(c) for c in args.clients.split(",")]
    size = _bytes(args.package_size)
    base = Path(tempfile.mkdtemp(prefix="ctg-remote-"))
    server = Server(args.postgres) if args.postgres else None
    started = time.perf_counter()
    columns: dict[str, dict[str, str]] = {}
    latency = (0.0, 0.0)
    try:
        for backend in ["sqlite"] + (["postgres"] if server else []):
            column = columns[backend] = {}
            template_db = server.create("template") if backend == "postgres" and server else None
            url = server.url_of(template_db) if server and template_db else None
            make_workspace(base / f"{backend}-template", MEMBERS, url)
            for clients in counts:
                target = base / f"{backend}-{clients}"
                database = None
                if server and template_db:
                    database = server.url_of(server.create(f"c{clients}", template_db))
                env = fresh_copy(base / f"{backend}-template", target, database)
                cell = run_cell(env, target, clients, args.requests)
                column[f"transitions/s, {clients} client{'s' if clients > 1 else ''}"] = (
                    f"{cell['rate']:.0f} (server {cell['rss']:.0f} MiB)"
                )
                print(f"  … {backend}, {clients} client(s): {cell['rate']:.0f}/s", file=sys.stderr)
                if clients == counts[0]:
                    latency = show_latency(env, target)
                shutil.rmtree(target)
            column["request show, in-process on the workspace"] = f"{latency[0]:.2f} ms"
            column["request show, a signed HTTP call"] = f"{latency[1]:.2f} ms"
            if size:
                database = None
                if server and template_db:
                    database = server.url_of(server.create("packages"))
                moved = packages(base / f"{backend}-packages", size, database)
                shutil.rmtree(base / f"{backend}-packages")
                mib = moved["size"] / (1 << 20)
                for label, key in (
                    ("upload alone (a signed streamed call)", "upload"),
                    ("download alone (a signed call)", "download"),
                    ("exchange send (read, check, encrypt, sign, upload, record)", "send"),
                    ("exchange receive (download, check, decrypt, record)", "receive"),
                ):
                    column[f"{mib:,.0f} MiB package: {label}"] = (
                        f"{moved[key]:.2f} s, {mib / moved[key]:.0f} MiB/s"
                    )
                column["server peak RSS: after a 64-row package, then after the large one"] = (
                    f"{moved['rest']:.1f} MiB, then {moved['rss']:.1f} MiB"
                )
                print(f"  … {backend}, packages: {moved['rss']:.1f} MiB", file=sys.stderr)
    finally:
        if server:
            server.close()
        shutil.rmtree(base, ignore_errors=True)

    print(
        f"Machine: {os.cpu_count()} CPUs, Python {platform.python_version()}; client processes "
        f"and the server on this machine, over HTTP on 127.0.0.1. Transitions: {args.requests} "
        f"requests per cell, each {STEPS} signed transitions (a prepare and a commit, each a "
        "signed call); audit verify passed after every cell. request show: median of 50."
    )
    print()
    print("| measure | " + " | ".join(columns) + " |")
    print("| --- |" + " ---: |" * len(columns))
    for row in next(iter(columns.values())):
        print(f"| {row} | " + " | ".join(col.get(row, "") for col in columns.values()) + " |")
    print(f"\ntotal run: {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
