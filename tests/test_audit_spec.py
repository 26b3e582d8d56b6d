"""docs/audit-format.md §11 agrees with the code: same signed bytes, same hash."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from ctg_exchange.audit import Event

SPEC = Path(__file__).resolve().parents[1] / "docs" / "audit-format.md"


def test_the_spec_test_vector_matches_the_code() -> None:
    section = SPEC.read_text(encoding="utf-8").split("## 11. Test vectors", 1)[1]
    signed_text = re.search(r"signed bytes\n`(ctg-exchange/event@v1)\\n(\{.*?\})`", section)
    digest = re.search(r"\n    ([0-9a-f]{64})\n", section)
    assert signed_text and digest
    signed = f"{signed_text.group(1)}\n{signed_text.group(2)}".encode()
    assert hashlib.sha256(signed).hexdigest() == digest.group(1)

    log = "00000000-0000-4000-8000-000000000000"
    event = Event(
        log=log,
        seq=1,
        time="2025-06-02T08:00:00.000000Z",
        actor="v.admin",
        party="ville_sceaux",
        role="admin",
        action="workspace.init",
        subject=log,
        prev="0" * 64,
        payload={},
    )
    assert event.signed_bytes() == signed
    assert event.digest() == digest.group(1)
