"""One client of a hosted workspace, for ``benchmarks/remote.py``.

    python benchmarks/remote_worker.py REMOTE_DIR KEY_DIR --count N

It files ``N`` requests as ``v.agent`` and takes each through study (``c.analyst``), opinion
(``c.dpo``) and approval (``c.controller``) over HTTP, each step prepared by the server and
signed here: five signed transitions a request. Every member's key is unlocked before the clock
starts. It prints one JSON line: how many requests, and when it started and ended (wall clock,
so several clients' spans can be joined). Every value is synthetic.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from procedure_worker import CONTENT  # noqa: E402  (the load benchmark's synthetic filing)

from ctg_exchange.crypto.keys import KeyDir  # noqa: E402
from ctg_exchange.domain.models import RequestContent, Verdict  # noqa: E402
from ctg_exchange.remote.session import RemoteSession  # noqa: E402
from ctg_exchange.services import requests, review  # noqa: E402
from ctg_exchange.services.clock import Clock  # noqa: E402
from ctg_exchange.services.workspace import open_remote  # noqa: E402

MEMBERS = ("v.agent", "c.analyst", "c.dpo", "c.controller")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("remote", type=Path)
    parser.add_argument("key_dir", type=Path)
    parser.add_argument("--count", type=int, required=True)
    args = parser.parse_args()
    config = open_remote(args.remote)
    keys = KeyDir(args.key_dir)
    signers = {m: keys.open_signer(m, os.environ["CTG_PASSPHRASE"]) for m in MEMBERS}
    sessions = {m: RemoteSession(config, m, signers.__getitem__, Clock()) for m in MEMBERS}
    content = RequestContent.model_validate(CONTENT)
    started = time.time()
    for _ in range(args.count):
        rid = requests.file_request(sessions["v.agent"], content).id  # type: ignore[arg-type]
        review.study_accept(sessions["c.analyst"], rid, "Étude")  # type: ignore[arg-type]
        review.study_submit(sessions["c.analyst"], rid)  # type: ignore[arg-type]
        review.give_opinion(sessions["c.dpo"], rid, Verdict.FAVOURABLE, "Avis")  # type: ignore[arg-type]
        review.approve(sessions["c.controller"], rid)  # type: ignore[arg-type]
    print(json.dumps({"requests": args.count, "start": started, "end": time.time()}))


if __name__ == "__main__":
    main()
