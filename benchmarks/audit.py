"""Audit log: append rate through the service layer and verify rate, on SQLite (issue 6).

    python benchmarks/audit.py [--sizes 100k,1M] [--appends 200] [--new 1000] [--dir DIR]
                               [--keep | --base BASE]

A workspace is made with the real command line, one request is taken from filing to approval
with it, and that request's five events are the template of the log: the log is then grown to
each size by replaying the template for new requests through the product's own recorder (each
event signed, chained, added to the Merkle tree, checkpointed every 1,000 events) in large
transactions, with the request rows and steps the events describe. At each size:

- append: ``dpo annotate`` through the service layer (dry run, signature, one committed write
  transaction with ``synchronous=FULL``), repeated on distinct requests;
- verify: ``ctg-exchange audit verify --full`` as a process (start-up included): chain,
  hashes, signatures, roles replayed, checkpoints, and the stored state compared with the
  replay; its peak RSS is measured with GNU time (``apt-get install time``). It is remembered
  (in the bench's own ``XDG_STATE_HOME``);
- incremental: ``--new`` more events are grown (with their checkpoint), then ``ctg-exchange
  audit verify`` reads only them, proves the new checkpoint consistent with the remembered
  root and compares the records they touched: its time and peak RSS.

The machine's own limits are measured in the same run: Ed25519 verifications per second (one
thread, and as many threads as the verifier uses) and SHA-256, so the ratios show how close
verification is to what the hardware allows.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from bench_workspace import PASSPHRASE, ROOT, cli, make_workspace

sys.path.insert(0, str(ROOT))

TIME = "/usr/bin/time"  # GNU time (Debian package `time`), for the verifier's peak RSS
MEMBERS = (
    ("v.agent", "ville_sceaux", "staff", "v.admin"),
    ("v.controller", "ville_sceaux", "controller", "v.admin"),
    ("v.dpo", "ville_sceaux", "dpo", "v.admin"),
    ("c.admin", "caf92", "admin", "v.admin"),
    ("c.controller", "caf92", "controller", "c.admin"),
    ("c.analyst", "caf92", "controller", "c.admin"),  # studies; c.controller decides
    ("c.dpo", "caf92", "dpo", "c.admin"),
)
TEMPLATE = (
    (
        (
            "request",
            "new",
            "--to",
            "caf92",
            "--field",
            "petite_enfance",
            "--purpose",
            "Tarifer les crèches au barème national (banc d'essai synthétique)",
            "--purpose-kind",
            "pricing",
            "--category",
            "numero_allocataire",
            "--category",
            "quotient_familial",
            "--subjects",
            "Familles fictives (banc d'essai)",
            "--legal-basis",
            "art6_1_e",
            "--legal-ref",
            "loi_98_657_art147",
            "--combines-with-own-files",
            "--retention-days",
            "365",
            "--frequency",
            "monthly",
        ),
        "v.agent",
    ),
    (("study", "accept", "DX-2025-0001", "--note", "Étude engagée (fictif)"), "c.analyst"),
    (("study", "submit", "DX-2025-0001"), "c.analyst"),
    (
        ("dpo", "opinion", "DX-2025-0001", "--verdict", "favourable", "--note", "Avis fictif"),
        "c.dpo",
    ),
    (("decide", "approve", "DX-2025-0001"), "c.controller"),
)


def parse_count(text: str) -> int:
    units = {"K": 1_000, "M": 1_000_000}
    return (
        int(float(text[:-1]) * units[text[-1].upper()]) if text[-1].upper() in units else int(text)
    )


# -- the machine's limits --------------------------------------------------------------------
def ed25519_rate(threads: int, count: int = 20_000) -> float:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    public = key.public_key()
    messages = [os.urandom(180) for _ in range(count)]
    signatures = [key.sign(m) for m in messages]

    def work(part: int) -> None:
        for m, s in zip(messages[part::threads], signatures[part::threads], strict=True):
            public.verify(s, m)

    start = time.perf_counter()
    workers = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return count / (time.perf_counter() - start)


def sha256_rates() -> tuple[float, float]:
    """MiB/s over 1 MiB blocks, and hashes/s of event-sized (700-byte) messages."""
    block = os.urandom(1 << 20)
    start = time.perf_counter()
    for _ in range(256):
        hashlib.sha256(block).digest()
    bulk = 256 / (time.perf_counter() - start)
    small = os.urandom(700)
    start = time.perf_counter()
    for _ in range(200_000):
        hashlib.sha256(small).digest()
    return bulk, 200_000 / (time.perf_counter() - start)


# -- the workspace ---------------------------------------------------------------------------
def setup(base: Path) -> dict[str, str]:
    env = make_workspace(base, MEMBERS)
    for args, actor in TEMPLATE:
        cli(env, *args, actor=actor)
    return env


class Grower:
    """Grows the log by replaying the template request for new request ids, in transactions of
    ``batch`` events, through the product's recorder (signatures, chain, tree, checkpoints)."""

    def __init__(self, env: dict[str, str]) -> None:
        from ctg_exchange.crypto.keys import KeyDir
        from ctg_exchange.services.clock import Clock
        from ctg_exchange.services.workspace import Workspace

        self.workspace = Workspace.open(Path(env["CTG_WORKSPACE"]))
        os.environ["CTG_TODAY"] = env["CTG_TODAY"]  # the events' dates: the bench's own day
        self.clock = Clock.from_env()
        keys = KeyDir(Path(env["CTG_KEY_DIR"]))
        with self.workspace.store.transaction() as tx:
            events = list(tx.events(subject="DX-2025-0001"))
            self.template_doc = next(iter(tx.replay_rows("request")))[5]
            template = tx.get_request("DX-2025-0001")
            assert template is not None
            self.content = template.content  # each grown request files its own variant
            self.steps = {s.seq: s for s in tx.steps("DX-2025-0001")}
            self.members = {m.id: m for m in tx.list_members()}
        self.template = [(e.event, self.steps[e.seq]) for e in events]
        self.times = sorted({e.event.time for e in events}, key=len, reverse=True)
        self.signers = {
            m: keys.open_signer(m, PASSPHRASE) for m in {e.actor for e, _ in self.template}
        }
        self.number = 1
        from ctg_exchange.services.requests import content_digest

        self.digest = content_digest(self.content)
        self._purpose_json = json.dumps(self.content.purpose, ensure_ascii=False)[1:-1]
        assert self._purpose_json in self.template_doc

    def _variant(self, rid: str) -> tuple[Any, str]:
        """The template's content with a purpose of its own, and its digest."""
        from ctg_exchange.services.requests import content_digest

        content = self.content.model_copy(update={"purpose": f"{self.content.purpose} ({rid})"})
        return content, content_digest(content)

    def grow_to(self, size: int, batch: int = 5000) -> float:
        from ctg_exchange.domain.actions import Action
        from ctg_exchange.domain.catalogue import parse_payload
        from ctg_exchange.domain.models import Role
        from ctg_exchange.services.session import Recorder

        start = time.perf_counter()
        with self.workspace.store.transaction() as tx:
            have = tx.count_events()
        while have + len(self.template) <= size:
            with self.workspace.store.transaction(write=True) as tx:
                recorders = {
                    m: Recorder(tx, self.workspace.id, self.clock, s)
                    for m, s in self.signers.items()
                }
                now = next(iter(recorders.values())).now
                done = 0
                while done < batch and have + len(self.template) <= size:
                    self.number = tx.next_number("request-2025")
                    rid = f"DX-2025-{self.number:04d}"
                    doc = self.template_doc.replace("DX-2025-0001", rid)
                    for old in self.times:
                        doc = doc.replace(old, now)
                    # its own purpose, so its own content and digest, as in a real log (a
                    # verifier that screened one content once would otherwise look faster)
                    content, digest = self._variant(rid)
                    doc = doc.replace(
                        self._purpose_json, json.dumps(content.purpose, ensure_ascii=False)[1:-1]
                    )
                    tx.execute(
                        "INSERT INTO requests (id, status, from_party, to_party, filed_by, "
                        "updated_at, doc) VALUES (?, 'approved', 'ville_sceaux', 'caf92', "
                        "'v.agent', ?, ?)",
                        (rid, now, doc),
                    )
                    tx.keep_content(rid, digest, content)
                    for event, step in self.template:
                        text = json.dumps(event.payload).replace("DX-2025-0001", rid)
                        raw = json.loads(text.replace(self.digest, digest))
                        payload = parse_payload(Action(event.action), raw)
                        recorder = recorders[event.actor]
                        recorder.now = now
                        stored = recorder.record(
                            self.members[event.actor], Role(event.role), rid, payload
                        )
                        tx.insert_step(
                            stored.seq,
                            rid,
                            step.action,
                            step.from_status,
                            step.to_status,
                            step.text,
                        )
                    done += len(self.template)
                    have += len(self.template)
        return time.perf_counter() - start


def append_rate(env: dict[str, str], grower: Grower, appends: int) -> float:
    """``dpo annotate`` through the service layer, each its own committed transaction."""
    from ctg_exchange.crypto.keys import KeyDir
    from ctg_exchange.services.clock import Clock
    from ctg_exchange.services.review import annotate
    from ctg_exchange.services.session import Keyring, Session
    from ctg_exchange.services.workspace import Workspace

    workspace = Workspace.open(Path(env["CTG_WORKSPACE"]))
    keyring = Keyring(KeyDir(Path(env["CTG_KEY_DIR"])), lambda prompt, confirm=False: PASSPHRASE)
    session = Session(workspace, keyring, Clock.from_env(), "c.dpo")
    annotate(session, "DX-2025-0002", "Échauffement (fictif)")  # unlock the key once
    numbers = range(grower.number, max(2, grower.number - appends), -1)
    start = time.perf_counter()
    for number in numbers:
        annotate(session, f"DX-2025-{number:04d}", "Note de suivi (fictive)")
    elapsed = time.perf_counter() - start
    workspace.store.close()
    return len(numbers) / elapsed


def verify_rate(env: dict[str, str], *args: str) -> tuple[float, int, float, int | None]:
    """``ctg-exchange audit verify`` as a user runs it: a whole process, and its peak RSS (MiB)
    through GNU time when it is installed."""
    argv = [sys.executable, "-m", "ctg_exchange", "audit", "verify", "--json", *args]
    with tempfile.TemporaryDirectory() as scratch:
        peak_file = Path(scratch) / "rss"
        if Path(TIME).exists():
            argv = [TIME, "-f", "%M", "-o", str(peak_file), *argv]
        start = time.perf_counter()
        done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
        elapsed = time.perf_counter() - start
        if done.returncode != 0:
            raise SystemExit(f"audit verify failed: {done.stderr.strip()}")
        peak = int(peak_file.read_text().split()[-1]) // 1024 if peak_file.exists() else None
    events = int(json.loads(done.stdout)["events"])
    return events / elapsed, events, elapsed, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100k,1M")
    parser.add_argument("--appends", type=int, default=200)
    parser.add_argument("--new", type=int, default=1000, help="events the incremental run reads")
    parser.add_argument("--dir", type=Path, help="where the workspace goes (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the workspace (say where)")
    parser.add_argument("--base", type=Path, help="grow on from a workspace kept by --keep")
    args = parser.parse_args()
    sizes = [parse_count(s) for s in args.sizes.split(",")]

    from ctg_exchange.audit.verify import WORKERS

    started = time.perf_counter()
    # the machine's limits: the best of three runs each, the VM's neighbours being noisy
    one = max(ed25519_rate(1) for _ in range(3))
    many = max(ed25519_rate(WORKERS) for _ in range(3))
    sha_bulk, sha_small = sha256_rates()
    base = args.base or Path(tempfile.mkdtemp(prefix="ctg-audit-bench-", dir=args.dir))
    rows, increments = [], []
    try:
        if args.base:
            from bench_workspace import environment

            env = environment(base)
        else:
            env = setup(base)
        env["XDG_STATE_HOME"] = str(base / "state")  # what the verifier remembers: the bench's
        # the commands run as installed, from bytecode: compiled once, then read
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        shutil.rmtree(base / "state", ignore_errors=True)
        grower = Grower(env)
        for size in sizes:
            grown = grower.grow_to(size)
            appends = append_rate(env, grower, args.appends)
            rate, events, elapsed, peak = verify_rate(env, "--full")
            db = Path(env["CTG_WORKSPACE"]) / "ctg.sqlite3"
            rows.append((events, grown, appends, rate, elapsed, peak, db.stat().st_size))
            print(f"  … {events:,} events: verified in {elapsed:.1f} s", file=sys.stderr)
            _, _, unchanged, _ = verify_rate(env)
            grower.grow_to(events + args.new)
            _, total, later, later_peak = verify_rate(env)
            memory = sum(f.stat().st_size for f in (base / "state").rglob("*.sqlite3"))
            increments.append((events, total - events, unchanged, later, later_peak, memory))
    finally:
        if args.keep or args.base:
            print(f"workspace kept in {base}", file=sys.stderr)
        else:
            shutil.rmtree(base, ignore_errors=True)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024

    print(
        f"Machine: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}, "
        f"SQLite file in {base.parent}"
    )
    print(f"Ed25519 verify: {one:,.0f}/s on one thread, {many:,.0f}/s on {WORKERS} threads")
    print(f"SHA-256: {sha_bulk:,.0f} MiB/s (1 MiB blocks), {sha_small:,.0f} hashes/s (700 B)")
    print()
    print(
        "| events | grown in | append (service layer) | audit verify | verify / Ed25519 "
        f"(1 thread) | verify / Ed25519 ({WORKERS} threads) | verify peak RSS | database |"
    )
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for events, grown, appends, rate, elapsed, peak, size in rows:
        print(
            f"| {events:,} | {grown:.0f} s | {appends:,.0f} events/s | {rate:,.0f} events/s "
            f"({elapsed:.0f} s) | {rate / one:.2f} | {rate / many:.2f} | "
            f"{'—' if peak is None else f'{peak:,} MiB'} | {size / 2**20:,.0f} MiB |"
        )
    print()
    print(
        "| events | incremental: new events | nothing new | after the new events | its peak RSS"
        " | memory file |"
    )
    print("| ---: | ---: | ---: | ---: | ---: | ---: |")
    for events, new, unchanged, later, later_peak, memory in increments:
        print(
            f"| {events:,} | {new:,} | {unchanged:.2f} s | {later:.2f} s | "
            f"{'—' if later_peak is None else f'{later_peak:,} MiB'} | {memory / 2**20:,.0f} MiB |"
        )
    print()
    print(f"total run: {time.perf_counter() - started:.0f} s (this process's peak RSS {rss} MiB)")


if __name__ == "__main__":
    main()
