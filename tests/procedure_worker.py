"""One agent process driving requests through the procedure, for the concurrency and crash tests
and for ``benchmarks/load.py``.

    python tests/procedure_worker.py WORKSPACE KEY_DIR --count N [--until STATUS]
                                     [--hang-at POINT --marker FILE]

It files ``N`` requests as ``v.agent`` and moves each through study (``c.analyst``) and the
DPO's opinion (``c.dpo``), and with ``--until approved`` through the decision, calling the
services in-process (one workspace connection, each member's key unlocked once, before the
clock starts). It prints one
JSON line: the ids it filed, the errors it saw (each one a failure of the test), and when it
started and ended (wall clock, so that several workers' spans can be joined).

``--hang-at`` makes the first real (signed) transition stop at a chosen point, write
``--marker`` and sleep, so that a test can kill the process there:

- ``before-event``: the request row is changed, its audit event not yet appended;
- ``after-event``: the event and its tree nodes are written, the transaction not committed;
- ``after-commit``: the transition committed, the process not yet gone.

Every value is synthetic.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any

PASSPHRASE = os.environ.get("CTG_PASSPHRASE", "synthetic-test-passphrase")
CONTENT = {
    "to": "caf92",
    "field": "petite_enfance",
    "purpose": "Tarifer les crèches au barème national (demande de test synthétique)",
    "purpose_kind": "pricing",
    "categories": ["numero_allocataire", "quotient_familial"],
    "subjects": "Familles fictives inscrites en EAJE (jeu de test)",
    "legal_basis": "art6_1_e",
    "legal_refs": ["loi_98_657_art147"],
    "combines_with_own_files": True,
    "legal_text": "Texte de référence fictif pour les tests",
    "retention_days": 365,
    "frequency": "monthly",
}
STATUSES = ("filed", "under_study", "awaiting_dpo", "opinion_given", "approved")


def _hang(marker: Path) -> None:
    marker.write_text(str(os.getpid()))
    time.sleep(600)


def _install_hang(point: str, marker: Path) -> None:
    """Stop the first signed transition at ``point`` (see the module's docstring)."""
    from ctg_exchange.services import session as session_module

    original = session_module.Recorder.record

    def record(self: Any, *args: Any, **kwargs: Any) -> Any:
        if self.dry_run:
            return original(self, *args, **kwargs)
        if point == "before-event":
            _hang(marker)
        stored = original(self, *args, **kwargs)
        if point == "after-event":
            _hang(marker)
        return stored

    session_module.Recorder.record = record  # type: ignore[method-assign]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("workspace", type=Path)
    parser.add_argument("key_dir", type=Path)
    parser.add_argument("--count", type=int, default=25)
    parser.add_argument("--until", choices=STATUSES[1:], default="opinion_given")
    parser.add_argument("--advance", help="move this existing request one step, nothing else")
    parser.add_argument("--hang-at", choices=("before-event", "after-event", "after-commit"))
    parser.add_argument("--marker", type=Path)
    args = parser.parse_args(argv)

    from ctg_exchange.crypto.keys import KeyDir
    from ctg_exchange.domain.models import RequestContent, Verdict
    from ctg_exchange.services import requests, review
    from ctg_exchange.services.clock import Clock
    from ctg_exchange.services.session import Keyring, Session
    from ctg_exchange.services.workspace import Workspace

    if args.hang_at in ("before-event", "after-event"):
        _install_hang(args.hang_at, args.marker)
    workspace = Workspace.open(args.workspace)
    keyring = Keyring(KeyDir(args.key_dir), lambda prompt, confirm=False: PASSPHRASE)
    clock = Clock.from_env()

    def as_(member: str) -> Session:
        return Session(workspace, keyring, clock, member)

    content = RequestContent.model_validate(CONTENT)
    steps = {
        "under_study": lambda rid: review.study_accept(as_("c.analyst"), rid, "Étude engagée"),
        "awaiting_dpo": lambda rid: review.study_submit(as_("c.analyst"), rid),
        "opinion_given": lambda rid: review.give_opinion(
            as_("c.dpo"), rid, Verdict.FAVOURABLE, "Avis de test"
        ),
        "approved": lambda rid: review.approve(as_("c.controller"), rid),
    }
    filed: list[str] = []
    errors: list[str] = []
    with workspace.store.transaction() as tx:  # each key unlocked once, before the clock starts
        members = [tx.get_member(m) for m in ("v.agent", "c.analyst", "c.controller", "c.dpo")]
    for member in members:
        assert member is not None
        keyring.signer(member)
    started, wall_start = time.perf_counter(), time.time()
    try:
        if args.advance:
            status = requests.get_request(workspace, args.advance).request.status.value
            steps[STATUSES[STATUSES.index(status) + 1]](args.advance)
        else:
            for _ in range(args.count):
                rid = requests.file_request(as_("v.agent"), content).id
                filed.append(rid)
                for status in STATUSES[1 : STATUSES.index(args.until) + 1]:
                    steps[status](rid)
        if args.hang_at == "after-commit":
            _hang(args.marker)
    except Exception as exc:  # every error is reported: the tests require none
        errors.append(f"{type(exc).__name__}: {exc}")
        traceback.print_exc()
    finally:
        workspace.close()
    elapsed = time.perf_counter() - started
    print(
        json.dumps(
            {
                "filed": filed,
                "errors": errors,
                "seconds": elapsed,
                "start": wall_start,
                "end": wall_start + elapsed,
            }
        )
    )
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
