"""Key rotation (issue 19): a member's signing key replaced by the member, or by an admin when
it is lost; a party's decryption identity replaced. The whole log keeps verifying, each event
under the key valid at its time; a retired key signs nothing more."""

from __future__ import annotations

import json
from typing import Any

import pytest

from conftest import Ctg


def _rotate(ctg: Ctg, member: str = "v.agent") -> dict[str, Any]:
    result: dict[str, Any] = ctg.json("keys", "rotate", "--member", member, as_=member)
    return result


def test_smoke(ctg: Ctg) -> None:
    before = ctg.json("member", "list")
    rotated = _rotate(ctg)
    print(rotated)
    request_id = ctg.file_request()
    print(ctg("audit", "verify").output)
    print(ctg("keys", "list", "--member", "v.agent").output)
    assert 0
