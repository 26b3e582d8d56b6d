"""Notifications when something goes wrong (issue 18's red team): a row edited behind the
tool's back or a server that fails costs only the member concerned, never everyone's digest."""

from __future__ import annotations

import json

import pytest
from notify_servers import smtp_server
from test_notify import CAF_CONTROLLERS, address, contacts, use_smtp

from conftest import TODAY, Ctg, State


def test_one_bad_address_costs_only_its_own_digest(state: State) -> None:
    ctg = contacts(state)
    ctg.sql(
        "UPDATE members SET email = ? WHERE id = 'c.analyst'",
        params=("c.analyst@caf.example\r\nBcc: x@evil.example",),
    )
    others = [m for m in CAF_CONTROLLERS if m != "c.analyst"]
    with smtp_server() as (port, received):
        use_smtp(ctg, port)
        ctg.file_request()
        received.take()
        first = ctg("remind", "--send")
        got = received.take()
        again = ctg("remind", "--send", "--json")
        assert received.take() == []
    assert got == sorted((address(m), f"[CTG] 1 item awaits you ({TODAY})") for m in others)
    assert first.exit_code == 1 and "1 digest could not be sent" in first.stderr
    assert "c.analyst: not sent (ValueError)" in first.output and "evil" not in first.output
    retried = json.loads(again.stdout)["sent"]  # not recorded as sent: tried again, alone
    assert retried["failed"] == {"c.analyst": "ValueError"} and retried["already"] == others


def test_a_sender_that_breaks_releases_the_days_claims(
    state: State, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ctg_exchange.notify import mail
    from ctg_exchange.services.reminders import send_digests
    from ctg_exchange.services.workspace import Workspace

    ctg = contacts(state)
    with smtp_server() as (port, received):
        use_smtp(ctg, port)
        ctg.file_request()
        received.take()

        def broken(*_args: object) -> None:
            raise RuntimeError("the connection broke")

        workspace = Workspace.open(ctg.workspace)
        try:
            with monkeypatch.context() as patched:
                patched.setattr(mail, "send_all", broken)
                with pytest.raises(RuntimeError):
                    send_digests(workspace, workspace.clock())
            with workspace.store.transaction() as tx:
                assert not tx.reminded(TODAY)
        finally:
            workspace.close()
        retried = json.loads(ctg.ok("remind", "--send", "--json").stdout)["sent"]
        assert sorted(retried["sent"]) == list(CAF_CONTROLLERS)
        assert len(received.take()) == len(CAF_CONTROLLERS)


def test_remind_names_an_unknown_member(ctg: Ctg) -> None:
    before = ctg.snapshot()
    result = ctg.refused("remind", "--member", "nobody\x1b[2J", contains="unknown member 'nobody")
    assert "\x1b" not in result.output and result.stderr.count("\n") == 1
    assert ctg.snapshot() == before


def test_remind_member_send_emails_that_member_only(state: State) -> None:
    ctg = contacts(state)
    with smtp_server() as (port, received):
        use_smtp(ctg, port)
        ctg.file_request()
        received.take()
        one = json.loads(ctg.ok("remind", "--member", "c.analyst", "--send", "--json").stdout)
        assert received.take() == [(address("c.analyst"), f"[CTG] 1 item awaits you ({TODAY})")]
        rest = json.loads(ctg.ok("remind", "--send", "--json").stdout)
    assert one["sent"] == {"sent": ["c.analyst"], "already": [], "failed": {}}
    assert rest["sent"]["sent"] == ["c.both", "c.controller"]
    assert rest["sent"]["already"] == ["c.analyst"]
