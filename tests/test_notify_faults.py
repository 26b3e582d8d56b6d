"""Notifications when something goes wrong (issue 18's red team): a row edited behind the
tool's back or a server that fails costs only the member concerned, never everyone's digest."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from notify_servers import free_port, http_receiver, smtp_server
from test_notify import CAF_CONTROLLERS, address, contacts, use_smtp

from conftest import PASSPHRASE, REQUEST, TEST_KDF_ROUNDS, TODAY, Ctg, State, add_args, member_keys
from served import acting, remote_dirs, serving


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


def test_member_add_with_an_address_it_may_not_set_adds_nothing(fresh: Ctg) -> None:
    ctg = fresh
    keys = member_keys(ctg)
    keys.generate("v.admin", PASSPHRASE, rounds=TEST_KDF_ROUNDS)
    ctg.ok("init", "--admin", "v.admin", "--admin-name", "Admin (fictif)", "--admin-party",
           "ville_sceaux", "--simulated-clock")  # fmt: skip
    keys.generate("c.admin", PASSPHRASE, rounds=TEST_KDF_ROUNDS)
    before = ctg.snapshot()
    add = add_args("c.admin", "caf92", "admin")
    ctg.refused(*add, "--email", address("c.admin"), as_="v.admin",
                contains="an admin manages its own party's members only")  # fmt: skip
    assert ctg.snapshot() == before  # the member is not added without its address
    ctg.ok(*add, as_="v.admin")  # the first admin of the other party, without an address
    ctg.ok("member", "set", "c.admin", "--email", address("c.admin"), as_="c.admin")
    ctg.ok("audit", "verify")


def test_member_add_with_an_address_from_afar_is_one_change(state: State, tmp_path: Path) -> None:
    ctg = contacts(state)
    member_keys(ctg).generate("v.new", PASSPHRASE, rounds=TEST_KDF_ROUNDS)
    with serving(ctg) as server:
        at = acting(ctg, remote_dirs(ctg, server.url, tmp_path))
        at("ville", *add_args("v.new", "ville_sceaux", "staff"), "--email", address("v.new"),
           "--notify", "digest", as_="v.admin")  # fmt: skip
    events = [(e["action"], e["subject"]) for e in ctg.json("audit", "log")][-2:]
    assert events == [("member.add", "v.new"), ("member.contact", "v.new")]
    ctg.ok("audit", "verify")


def _verifies(url: str, post: Any, published: dict[str, Any]) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    from cryptography.hazmat.primitives.serialization import load_ssh_public_key

    from ctg_exchange.remote import httpsig

    public = load_ssh_public_key(published["public_key"].encode())
    assert isinstance(public, Ed25519PublicKey)
    message = httpsig.Message("POST", url + post.path, post.headers)
    httpsig.verify(message, post.body, lambda _keyid: public)


def test_only_the_machine_whose_key_the_database_keeps_posts_webhooks(
    ctg: Ctg, tmp_path: Path
) -> None:
    """A machine without the workspace's key (here: the key moved away) queues the posts of
    its steps and makes no key; the machine that holds it posts them, signed by it."""
    key_dir = ctg.workspace / "webhook"
    with http_receiver() as (url, posts):
        ctg.ok("notify", "webhook", f"{url}/hook")
        published = ctg.json("notify", "key")
        key_dir.rename(tmp_path / "held")  # another machine: no key of its own
        rid = ctg.file_request()
        assert posts == [] and not key_dir.exists()
        (waiting,) = ctg.json("notify", "status")["pending"]
        assert waiting["channel"] == "webhook" and waiting["attempts"] == 0
        assert ctg.json("notify", "key") == published and not key_dir.exists()
        (tmp_path / "held").rename(key_dir)  # the machine that holds it
        ctg.ok("notify", "flush")
        (post,) = posts
    _verifies(url, post, published)
    assert json.loads(post.body)["request"] == rid


@pytest.mark.postgres_only
def test_an_agents_machine_never_signs_for_a_shared_workspace(ctg: Ctg, tmp_path: Path) -> None:
    import shutil

    other = tmp_path / "agent-machine"
    other.mkdir()
    shutil.copy(ctg.workspace / "workspace.json", other / "workspace.json")
    agent = {"CTG_WORKSPACE": str(other)}
    with http_receiver() as (url, posts):
        ctg.ok("notify", "webhook", f"{url}/hook")
        published = ctg.json("notify", "key")
        ctg.ok(*REQUEST, as_="v.agent", env=agent)
        assert posts == [] and not (other / "webhook").exists()
        ctg.ok("notify", "flush")  # the host sends what the agent's step queued
        (post,) = posts
    _verifies(url, post, published)


def test_the_server_retries_failed_digests_on_the_outboxs_schedule(
    state: State, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ctg_exchange.remote import notifier as notifying
    from ctg_exchange.services.workspace import Workspace

    ctg = contacts(state)
    port = free_port()  # nothing listens yet
    use_smtp(ctg, port)
    ctg.file_request()
    log: list[dict[str, Any]] = []
    now = [1000.0]
    monkeypatch.setattr(notifying, "monotonic", lambda: now[0])
    notifier = notifying.Notifier(ctg.workspace, log.append, every=3600)
    workspace = Workspace.open(ctg.workspace)
    try:
        for _ in range(5):  # the loop's ticks, 2 s apart: one attempt
            notifier.tick(workspace)
        failed = {"notify": "digests", "sent": 0, "failed": len(CAF_CONTROLLERS)}
        assert [e for e in log if e["notify"] == "digests"] == [failed]
        now[0] += 61  # past the first wait (a minute): tried again, then 2 minutes
        notifier.tick(workspace)
        notifier.tick(workspace)
        assert [e for e in log if e["notify"] == "digests"] == [failed, failed]
        with smtp_server(port) as (_port, received):
            now[0] += 121
            notifier.tick(workspace)
            digests = [s for _to, s in received.take() if "awaits you" in s]
            assert len(digests) == len(CAF_CONTROLLERS)
    finally:
        notifier.close()
        workspace.close()


def test_a_member_revoked_meanwhile_is_sent_nothing_queued_before(state: State) -> None:
    ctg = contacts(state)
    port = free_port()
    use_smtp(ctg, port)
    ctg.ok("member", "set", "c.both", "--notify", "digest", as_="c.admin")
    ctg.file_request()  # the server down: 2 messages wait, and c.both's for its digest
    ctg.ok("member", "revoke", "c.analyst", "--reason", "Départ", as_="c.admin")
    ctg.ok("member", "revoke", "c.both", "--reason", "Départ", as_="c.admin")
    with smtp_server(port) as (_port, received):
        ctg.ok("notify", "flush")
        ctg.ok("remind", "--send")
        got = received.take()
    assert [to for to, _subject in got] == [address("c.controller")] * len(got)
    status = ctg.json("notify", "status")
    assert status["pending"] == []
    gone = sorted((m["to"], m["last_error"]) for m in status["sent"] if m["dropped"])
    assert gone == [("c.analyst", "dropped: member revoked"), ("c.both", "dropped: member revoked")]
    shown = ctg.ok("notify", "status").output
    assert (
        "#2 to c.analyst: not sent, the member was revoked" in shown
        or "to c.analyst: not sent, the member was revoked" in shown
    )
