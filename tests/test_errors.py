"""Errors are whole when made: exit code, message, hint, details and JSON form come with them.

The CLI prints any :class:`ExchangeError` the same way (``cli/app.py``); what ``--json`` shows is
the error's own ``to_json``, never attributes looked up on it afterwards.
"""

from __future__ import annotations

import pytest

from ctg_exchange.crypto.age import AgeError, Identity, Recipient
from ctg_exchange.errors import (
    AuditBroken,
    ExchangeError,
    IntegrityError,
    InvalidInput,
    NotAuthorised,
    PolicyError,
    Refused,
    ReplayError,
)


def test_each_error_carries_its_json_form() -> None:
    failures: list[dict[str, object]] = [
        {"where": f"event #{n}", "message": "bad signature", "seq": n} for n in range(3, 11)
    ]
    broken = AuditBroken("event #3", "bad signature", seq=3, failures=failures)

    assert NotAuthorised("admin-only", "only an admin").to_json() == {
        "code": "not_authorised", "message": "only an admin", "exit_code": 1, "rule": "admin-only",
    }  # fmt: skip
    assert PolicyError(["a.yaml:3: x", "a.yaml:9: y"]).to_json()["problems"] == [
        "a.yaml:3: x",
        "a.yaml:9: y",
    ]
    assert PolicyError(["a.yaml:3: x", "a.yaml:9: y"]).lines() == ["a.yaml:3: x", "a.yaml:9: y"]
    assert broken.to_json()["seq"] == 3 and "request" not in broken.to_json()
    assert broken.details == (
        "event #4: bad signature",
        "event #5: bad signature",
        "event #6: bad signature",
        "event #7: bad signature",
        "event #8: bad signature",
        "… and 2 more (--json lists them all)",
    )
    assert AuditBroken("event #3", "x", failures=failures[:1]).details == ()
    refused = Refused("RULE", "refused", hint="do this", details=["one", "two"])
    assert (refused.hint, refused.details, refused.to_json()["rule"]) == (
        "do this",
        ("one", "two"),
        "RULE",
    )


@pytest.mark.parametrize("error", [AgeError("x"), ReplayError("x")])
def test_integrity_errors_of_the_core_exit_3(error: ExchangeError) -> None:
    assert isinstance(error, IntegrityError)
    assert error.exit_code == 3


def test_a_malformed_age_key_is_invalid_input() -> None:
    with pytest.raises(InvalidInput, match="not an age X25519 recipient"):
        Recipient.parse("age1notarecipient")
    with pytest.raises(InvalidInput, match="not an age X25519 identity"):
        Identity.parse("AGE-SECRET-KEY-1NOTAKEY")
