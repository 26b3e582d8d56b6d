"""The catalogue of audited actions: one model per action, exactly what 0.1.0 wrote, and no
payload the tool would not write.

Pure: no workspace, no CLI.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from ctg_exchange.domain.actions import REQUEST_STEPS, TAKEN_AS, Action
from ctg_exchange.domain.catalogue import CATALOGUE, parse_payload
from ctg_exchange.domain.facts import FactBook
from ctg_exchange.domain.models import Status
from ctg_exchange.domain.payloads import PayloadInvalid
from ctg_exchange.domain.step_payloads import Approve, Destroy, StepHead

ROOT = Path(__file__).resolve().parents[1]
RECORDED = ROOT / "tests" / "vectors" / "release" / "0.1.0" / "export.jsonl"


def recorded_events() -> list[dict[str, Any]]:
    lines = RECORDED.read_text(encoding="utf-8").splitlines()
    return [e for e in map(json.loads, lines) if e["type"] == "event"]


def test_every_action_has_one_model_and_its_roles() -> None:
    assert set(CATALOGUE) == set(Action) == set(TAKEN_AS)
    for action, model in CATALOGUE.items():
        assert model.action is action
        assert model.subject
        assert TAKEN_AS[action]
    assert len(set(CATALOGUE.values())) == len(Action)
    assert all(len(TAKEN_AS[step]) == 1 for step in REQUEST_STEPS)


# actions added since 0.1.0, whose payloads a test of today's tool records (test_convention)
SINCE_RELEASE = {
    Action.COUNTERSIGNATURE,
    Action.WITHDRAWAL,
    Action.SUCCESSOR,
    Action.ADVISE,
    Action.SUSPEND,
    Action.RESUME,
    Action.REVIEW,
    Action.HAND_OVER,  # issue 19 (test_people records it)
    Action.MEMBER_CONTACT,  # test_notify records it
    Action.KEY_ROTATE,  # issue 19: tests/test_key_rotation.py
}


def test_the_recorded_release_holds_every_action() -> None:
    assert {Action(e["action"]) for e in recorded_events()} == set(Action) - SINCE_RELEASE


@pytest.mark.parametrize("event", recorded_events(), ids=lambda e: f"{e['seq']}-{e['action']}")
def test_a_recorded_payload_parses_and_dumps_back_key_for_key(event: dict[str, Any]) -> None:
    payload = parse_payload(Action(event["action"]), event["payload"])

    assert payload.to_json() == event["payload"]
    assert json.dumps(payload.to_json(), sort_keys=True) == json.dumps(
        event["payload"], sort_keys=True
    )


def _recorded(action: Action) -> dict[str, Any]:
    payload: dict[str, Any] = next(e for e in recorded_events() if e["action"] == action)["payload"]
    return payload


@pytest.mark.parametrize(
    ("action", "change", "message"),
    [
        (Action.OPINION, {"colour": "rouge"}, "colour: unexpected key"),
        (Action.OPINION, {"verdict": "tres_favorable"}, "verdict: Input should be 'favourable'"),
        (Action.OPINION, {"recommendations": "aucune"}, "recommendations: Input should be a valid"),
        (Action.OPINION, {"text_sha256": None}, "text_sha256: Input should be a valid string"),
        (Action.STUDY_SUBMIT, {"text_sha256": None}, "text_sha256: left out when it has no value"),
        (
            Action.FILE,
            {"findings": ["MINORS", "DPIA_REQUIRED"]},
            "findings: the items are written sorted",
        ),
        (Action.MEMBER_ADD, {"roles": ["staff", "staff"]}, "roles: an item is listed twice"),
        (Action.SEND, {"rows": "3"}, "rows: Input should be a valid integer"),
        (Action.SEND, {"rows": 3.0}, "rows: Input should be a valid integer"),
        (Action.SEND, {"rows": -1}, "rows: Input should be greater than or equal to 0"),
        (
            Action.SEND,
            {"retention_deadline": "2025-12-31T00:00"},
            "retention_deadline: a date is written YYYY-MM-DD",
        ),
        (
            Action.SEND,
            {"retention_deadline": 20251231},
            "retention_deadline: a date is written YYYY-MM-DD",
        ),
        (Action.APPROVE, {"against_opinion": 1}, "against_opinion: Input should be a valid bool"),
        (Action.APPROVE, {"outcome": "rejected"}, "outcome: Input should be 'approved'"),
        (Action.FILE, {"request": "DX-1"}, "request: String should match pattern"),
        (Action.FILE, {"categories": []}, "categories: Tuple should have at least 1 item"),
        (Action.MEMBER_ADD, {"roles": ["root"]}, "roles.0: Input should be 'staff'"),
        (Action.MEMBER_ADD, {"public_key": "ssh-rsa AAAA"}, "public_key: String should match"),
        (Action.ENCRYPTION_KEY, {"recipient": "age1short"}, "recipient: String should match"),
        (Action.RENEWAL, {"kind": "termination"}, "kind: Input should be 'renewal'"),
    ],
)
def test_a_payload_the_tool_would_not_write_is_refused_naming_its_field(
    action: Action, change: dict[str, Any], message: str
) -> None:
    with pytest.raises(PayloadInvalid) as refused:
        parse_payload(action, {**_recorded(action), **change})
    assert str(refused.value).startswith(message), str(refused.value)


@pytest.mark.parametrize("action", [Action.OPINION, Action.SEND, Action.INIT, Action.RENEWAL])
def test_a_payload_missing_a_key_is_refused(action: Action) -> None:
    payload = _recorded(action)
    for key in payload:
        if key == "text_sha256" and action is not Action.OPINION:
            continue  # left out when there is no text
        with pytest.raises(PayloadInvalid, match=f"^{key}: Field required"):
            parse_payload(action, {k: v for k, v in payload.items() if k != key})


def _head(text: str | None = None) -> StepHead:
    return StepHead(
        request="DX-2025-0001",
        from_status=Status.OPINION_GIVEN,
        to_status=Status.APPROVED,
        text_sha256=text,
    )


def test_a_text_digest_is_left_out_when_there_is_no_text_and_other_nulls_stay() -> None:
    approve = Approve(
        **_head(), outcome="approved", against_opinion=False, adopted=(), set_aside=()
    )
    destroy = Destroy(
        **_head("a" * 64), delivery=1, method="attest", path_sha256="b" * 64, file_sha256=None
    )

    assert "text_sha256" not in approve.to_json()
    assert destroy.to_json()["text_sha256"] == "a" * 64
    assert destroy.to_json()["file_sha256"] is None


def test_replaying_the_recorded_payloads_builds_every_kind_of_record() -> None:
    book = FactBook()
    for event in recorded_events():

        class Seen:
            seq, time, actor, party, subject = (
                event["seq"], event["time"], event["actor"], event["party"], event["subject"],
            )  # fmt: skip

        parse_payload(Action(event["action"]), event["payload"]).apply(book, Seen())

    # (a pseudonymisation key bound by its delivery, a key rotation: new since the recorded
    # 0.1.0 log)
    new = ("pseudonym_key", "key_rotation")
    records = {k: v for k, v in book.records().items() if k not in new}
    assert all(records.values()), [k for k, v in records.items() if not v]
    assert len(book.steps) == sum(
        1 for e in recorded_events() if Action(e["action"]) in REQUEST_STEPS
    )
    revoked = book.member["c.temp"]
    assert (revoked.revoked_by, revoked.revoke_reason_sha256 is not None) == ("c.admin", True)
    assert sum(1 for r in book.recipient.values() if r.retired_seq is not None) == 1
    assert {r.status for r in book.request.values()} >= {Status.LAPSED, Status.WITHDRAWN}


def test_who_takes_each_action_is_the_same_for_the_tool_and_the_offline_verifier() -> None:
    """The standalone script keeps its own table (it imports nothing of the tool): both say
    the same, action for action, role for role."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "offline", ROOT / "docs" / "verify_audit_export.py"
    )
    assert spec is not None and spec.loader is not None
    offline = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(offline)
    assert offline.ROLE_OF == {
        action.value: tuple(role.value for role in roles) for action, roles in TAKEN_AS.items()
    }
    assert set(TAKEN_AS) == set(Action)


def test_no_action_name_is_written_outside_the_catalogue() -> None:
    """Every module names actions through ``Action``; only ``domain/actions.py`` spells them."""
    quoted = re.compile("|".join(rf"[\"']{re.escape(a.value)}[\"']" for a in Action))
    sources = [*(ROOT / "ctg_exchange").rglob("*.py"), *(ROOT / "tools").glob("*.py")]
    found = [
        f"{path.relative_to(ROOT)}: {match.group()}"
        for path in sorted(sources)
        if path != ROOT / "ctg_exchange" / "domain" / "actions.py"
        for match in quoted.finditer(path.read_text(encoding="utf-8"))
    ]
    assert found == []
