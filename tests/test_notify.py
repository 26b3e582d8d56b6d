"""Notifications (issue 18): each step e-mails the members who act next, through a real SMTP
server on 127.0.0.1; the daily digest goes once a day; webhooks are signed by the workspace's
own key and verify with the library alone; an SMTP outage loses nothing and the retry
delivers; bad addresses and settings are refused, nothing changed; `remind` reads only."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from pathlib import Path
from typing import Any

import pytest
from notify_servers import free_port, http_receiver, smtp_server

from ctg_exchange.crypto.keys import KeyDir

from conftest import (
    MEMBERS,
    PASSPHRASE,
    REQUEST,
    TEST_KDF_ROUNDS,
    TODAY,
    Ctg,
    State,
    add_args,
    member_keys,
)
from served import acting, remote_dirs, serving

ADMINS = {"ville_sceaux": "v.admin", "caf92": "c.admin"}
CAF_CONTROLLERS = ("c.analyst", "c.both", "c.controller")


def address(member: str) -> str:
    return f"{member}@{'ville' if member.startswith('v.') else 'caf'}.example"


def with_contacts(ctg: Ctg) -> None:
    """Every member with a (synthetic) address, immediate notifications."""
    for member, party, _roles, _adder in MEMBERS:
        ctg.ok("member", "set", member, "--email", address(member), as_=ADMINS[party])


def contacts(state: State) -> Ctg:
    return state("contacts", with_contacts)


def use_smtp(ctg: Ctg, port: int, language: str = "en") -> None:
    ctg.ok("notify", "smtp", "--host", "127.0.0.1", "--port", str(port), "--security", "none",
           "--sender", "ctg@ville.example", "--language", language)  # fmt: skip


def told(request_id: str, words: str, *members: str) -> list[tuple[str, str]]:
    return sorted((address(m), f"[CTG] {request_id}: {words}") for m in members)


def test_each_step_emails_exactly_who_acts_next(state: State) -> None:
    ctg = contacts(state)
    with smtp_server() as (port, received):
        use_smtp(ctg, port)
        rid = ctg.file_request()
        assert received.take() == told(rid, "request to study", *CAF_CONTROLLERS)
        ctg.ok("study", "accept", rid, "--note", "Étude", as_="c.analyst")
        assert received.take() == []  # the controller who accepted it studies it
        ctg.ok("study", "submit", rid, as_="c.analyst")
        (due,) = [i["due"] for i in ctg.json("dpo", "inbox", as_="c.dpo")]
        assert received.take() == told(rid, f"opinion awaited (by {due})", "c.dpo")
        ctg.ok("dpo", "opinion", rid, "--verdict", "favourable", "--note", "Avis", as_="c.dpo")
        assert received.take() == told(rid, "decision awaited", *CAF_CONTROLLERS)
        ctg.ok("decide", "approve", rid, as_="c.controller")
        assert received.take() == told(rid, "conditions to accept", "v.analyst", "v.controller")
        ctg.accept_conditions(rid)
        assert received.take() == told(rid, "dataset to send", "c.agent", "c.both")
        returned = ctg.file_request()
        received.take()
        ctg.ok("study", "accept", returned, "--note", "Étude", as_="c.analyst")
        ctg.ok("study", "return", returned, "--reason", "Préciser", as_="c.analyst")
        assert received.take() == told(returned, "returned", "v.agent")
    assert ctg.json("notify", "status")["pending"] == []


def test_a_message_says_ids_statuses_and_deadlines_never_the_purpose(state: State) -> None:
    ctg = contacts(state)
    hostile = "Tarifer\u202e les crèches\x1b[2J\r\nBcc: evil@attacker.example\r\n=HYPERLINK()"
    with smtp_server() as (port, received):
        use_smtp(ctg, port)
        args = list(REQUEST)
        args[args.index("--purpose") + 1] = hostile
        rid = str(ctg.json(*args, as_="v.agent")["id"])
        messages = [m for _tos, m in received.messages]
    assert len(messages) == len(CAF_CONTROLLERS)
    for message in messages:
        raw = message.as_string()
        assert "evil" not in raw and "Tarifer" not in raw and "\x1b" not in raw
        assert message["From"] == "ctg@ville.example"
        assert message["Auto-Submitted"] == "auto-generated"
        text = message.get_content()
        assert rid in text and "from ville_sceaux to caf92: filed" in text
        assert "(fictif)" not in raw  # no member's name either


def test_messages_are_in_the_workspace_language(state: State) -> None:
    ctg = contacts(state)
    with smtp_server() as (port, received):
        use_smtp(ctg, port, "fr")
        rid = ctg.file_request()
        (_to, message), *_ = received.messages
    assert str(message["Subject"]) == f"[CTG] {rid}\u00a0: demande à étudier"
    assert "de ville_sceaux à caf92" in message.get_content()


def test_the_digest_goes_once_a_day(state: State) -> None:
    ctg = contacts(state)
    with smtp_server() as (port, received):
        use_smtp(ctg, port)
        ctg.ok("member", "set", "c.dpo", "--notify", "digest", as_="c.admin")
        rid = ctg.file_request()
        ctg.advance(rid, "awaiting_dpo")
        assert address("c.dpo") not in {to for to, _ in received.take()}  # not at once
        events = len(ctg.json("audit", "log"))

        first = ctg.json("remind", "--send")
        digests = [(tos, m) for tos, m in received.messages if tos == [address("c.dpo")]]
        again = ctg.json("remind", "--send")
        received.messages.clear()
        ctg.ok("remind", "--send")
        assert received.take() == []
        next_day = ctg("remind", "--send", "--json", env={"CTG_TODAY": "2025-06-03"})

        assert len(digests) == 1
        ((_tos, digest),) = digests
        assert str(digest["Subject"]) == f"[CTG] 1 item awaits you ({TODAY})"
        body = digest.get_content()
        assert f"- {rid}: opinion due — by " in body
        assert f"- {rid}: opinion awaited" in body  # the step it was to be told of
        assert "c.dpo" in first["sent"]["sent"] and again["sent"]["sent"] == []
        assert "c.dpo" in again["sent"]["already"]
        assert "c.dpo" in json.loads(next_day.stdout)["sent"]["sent"]
        (tomorrow,) = [m for t, m in received.messages if t == [address("c.dpo")]]
        assert "opinion awaited" not in tomorrow.get_content()  # told once
        assert len(ctg.json("audit", "log")) == events  # remind adds no event
        assert ctg.json("notify", "status")["pending"] == []


def test_remind_reads_only(state: State) -> None:
    ctg = contacts(state)
    rid = ctg.file_request()
    ctg.advance(rid, "awaiting_dpo")
    before = ctg.snapshot()
    found = ctg.json("remind")
    assert ctg.snapshot() == before
    by_member = {m["member"]: m["items"] for m in found["members"]}
    assert [i["kind"] for i in by_member["c.dpo"]] == ["opinion"]
    assert by_member["c.dpo"][0]["subject"] == rid and not by_member["c.dpo"][0]["overdue"]
    assert "v.agent" not in by_member
    late = ctg("remind", "--member", "c.dpo", "--json", env={"CTG_TODAY": "2025-09-30"})
    (dpo,) = json.loads(late.stdout)["members"]
    assert dpo["items"][0]["overdue"] is True
    kinds = {i["kind"] for m in json.loads(late.stdout)["members"] for i in m["items"]}
    assert kinds == {"opinion"}
    ending = ctg("remind", "--member", "v.admin", "--json", env={"CTG_TODAY": "2025-11-15"})
    assert [i["kind"] for i in json.loads(ending.stdout)["members"][0]["items"]] == [
        "convention_end"
    ]
    assert ctg.snapshot() == before
    ctg.refused("remind", "--send", contains="no SMTP server is configured")


def test_a_webhook_is_signed_by_the_workspace_key(ctg: Ctg) -> None:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.serialization import load_ssh_public_key
    from http_message_signatures import HTTPMessageVerifier, HTTPSignatureKeyResolver, algorithms
    from http_message_signatures.exceptions import HTTPMessageSignaturesException

    with http_receiver() as (url, posts):
        ctg.ok("notify", "webhook", f"{url}/hook")
        published = ctg.json("notify", "key")
        rid = ctg.file_request()
        (post,) = posts

    class Keys(HTTPSignatureKeyResolver):
        def resolve_public_key(self, key_id: str) -> Any:
            assert key_id == published["keyid"]
            return load_ssh_public_key(published["public_key"].encode())

        def resolve_private_key(self, key_id: str) -> Any:
            raise AssertionError

    class Message:
        def __init__(self, target: str) -> None:
            self.method, self.url, self.headers = "POST", target, post.headers

    verifier = HTTPMessageVerifier(signature_algorithm=algorithms.ED25519, key_resolver=Keys())
    (result,) = verifier.verify(
        Message(url + post.path), require_components=("@method", "@target-uri"), body=post.body
    )
    assert result.parameters["keyid"] == published["keyid"]
    digest = base64.b64encode(hashlib.sha256(post.body).digest()).decode()
    assert post.headers["Content-Digest"] == f"sha-256=:{digest}:"
    assert '"content-digest"' in post.headers["Signature-Input"]
    body = json.loads(post.body)
    assert body["request"] == rid and body["status"] == "filed"
    assert body["action"] == "request.file" and body["requester"] == "ville_sceaux"
    assert "purpose" not in post.body.decode() and "Tarifer" not in post.body.decode()
    with pytest.raises((InvalidSignature, HTTPMessageSignaturesException)):
        verifier.verify(Message(f"{url}/other"), require_components=("@method",))
    with pytest.raises((InvalidSignature, HTTPMessageSignaturesException)):
        verifier.verify(Message(url + post.path), body=post.body + b" ")
    key_file = ctg.workspace / "webhook" / "ed25519"
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert published["public_key"] in (ctg.workspace / "webhook" / "ed25519.pub").read_text()


def test_an_smtp_outage_loses_nothing_and_the_retry_delivers(state: State) -> None:
    ctg = contacts(state)
    port = free_port()  # nothing listens there yet
    use_smtp(ctg, port)
    rid = ctg.file_request()  # the step is taken all the same
    pending = ctg.json("notify", "status")["pending"]
    assert sorted(m["to"] for m in pending) == list(CAF_CONTROLLERS)
    assert all(m["attempts"] == 1 and "ConnectionRefusedError" in m["last_error"] for m in pending)
    failed = ctg("notify", "flush")
    assert failed.exit_code == 1 and "3 messages could not be sent" in failed.stderr
    with smtp_server(port) as (_port, received):
        ctg.ok("notify", "flush")
        assert received.take() == told(rid, "request to study", *CAF_CONTROLLERS)
    status = ctg.json("notify", "status")
    assert status["pending"] == [] and {m["attempts"] for m in status["sent"]} == {3}


@pytest.mark.parametrize(
    ("args", "as_", "contains"),
    [
        (("member", "set", "v.agent", "--email", "v.agent@ville.example\r\nBcc: x@evil.example"),
         "v.admin", "--email: not a plain e-mail address"),
        (("member", "set", "v.agent", "--email", "Agent <v.agent@ville.example>"), "v.admin",
         "--email: not a plain e-mail address"),
        (("member", "set", "v.agent", "--email", "v.agent@localhost"), "v.admin",
         "--email: not a plain e-mail address"),
        (("member", "set", "v.agent"), "v.admin", "give --email ADDRESS, --no-email or --notify"),
        (("member", "set", "c.agent", "--email", "c.agent@caf.example"), "v.admin",
         "an admin manages its own party's members only"),
        (("member", "set", "v.agent", "--notify", "digest"), "v.agent", "admin"),
        (("member", "add", "v.new", "--name", "Nouvel agent (fictif)", "--party", "ville_sceaux",
          "--role", "staff", "--email", "v.new@@ville.example"), "v.admin",
         "--email: not a plain e-mail address"),
        (("notify", "smtp", "--host", "smtp.ville.example", "--security", "none", "--sender",
          "ctg@ville.example"), None, "--security none sends in clear"),
        (("notify", "smtp", "--host", "127.0.0.1", "--sender", "ctg"), None,
         "--sender: not a plain e-mail address"),
        (("notify", "smtp", "--host", "smtp\r\nx", "--sender", "ctg@ville.example"), None,
         "--host: not a host name"),
        (("notify", "smtp", "--host", "smtp.ville.example"), None, "need at least --host and"),
        (("notify", "smtp", "--host", "smtp.ville.example", "--sender", "ctg@ville.example",
          "--port", "70000"), None, "--port takes a number"),
        (("notify", "webhook", "http://hooks.caf.example/ctg"), None, "over https"),
        (("notify", "webhook", "https://u:p@hooks.caf.example/ctg"), None,
         "no user name, password"),
        (("notify", "webhook", "https://hooks.caf.example/ctg", "--remove"), None,
         "no such webhook"),
    ],
)  # fmt: skip
def test_bad_addresses_and_settings_are_refused(
    ctg: Ctg, args: tuple[str, ...], as_: str | None, contains: str
) -> None:
    result = ctg.refused(*args, as_=as_, contains=contains)
    assert "evil" not in result.stderr and "v.agent@" not in result.stderr


def test_a_password_file_others_may_read_is_refused(ctg: Ctg, tmp_path: Path) -> None:
    secret = tmp_path / "smtp-password"
    secret.write_text("synthetic-password\n")
    secret.chmod(0o644)
    ctg.refused("notify", "smtp", "--host", "smtp.ville.example", "--sender", "ctg@ville.example",
                "--password-file", str(secret), contains="accessible by others")  # fmt: skip
    secret.chmod(0o600)
    shown = ctg.json("notify", "smtp", "--host", "smtp.ville.example", "--sender",
                     "ctg@ville.example", "--password-file", str(secret))  # fmt: skip
    assert shown["smtp"]["security"] == "starttls" and shown["smtp"]["port"] == 587
    assert "synthetic-password" not in json.dumps(shown)
    assert "synthetic-password" not in json.dumps(ctg.json("notify", "show"))
    if ctg.backend == "sqlite":
        assert b"synthetic-password" not in ctg.db.read_bytes()


def test_the_log_says_an_address_changed_never_which(ctg: Ctg) -> None:
    KeyDir(ctg.keys).generate("v.new", PASSPHRASE, rounds=TEST_KDF_ROUNDS)
    ctg.ok("member", "add", "v.new", "--name", "Nouvel agent (fictif)", "--party", "ville_sceaux",
           "--role", "staff", "--email", "v.new@ville.example", as_="v.admin")  # fmt: skip
    ctg.ok("member", "set", "v.dpo", "--email", "dpo@ville.example", "--notify", "digest",
           as_="v.admin")  # fmt: skip
    ctg.ok("member", "set", "v.dpo", "--no-email", as_="v.admin")
    events = [e for e in ctg.json("audit", "log") if e["action"].startswith("member.")][-4:]
    assert [
        (e["action"], e["payload"].get("email"), e["payload"].get("notify")) for e in events
    ] == [
        ("member.add", None, None),
        ("member.contact", "set", None),
        ("member.contact", "set", "digest"),
        ("member.contact", "removed", None),
    ]
    assert events[1]["payload"] == {"member": "v.new", "email": "set"}
    assert "dpo@ville.example" not in json.dumps(ctg.json("audit", "log"))
    ctg.ok("audit", "verify")


def test_a_hosted_workspace_sends_from_the_server(state: State, tmp_path: Path) -> None:
    ctg = contacts(state)
    with smtp_server() as (port, received):
        use_smtp(ctg, port)
        with serving(ctg) as server:
            dirs = remote_dirs(ctg, server.url, tmp_path)
            at = acting(ctg, dirs)
            at("caf", "member", "set", "c.both", "--notify", "none", as_="c.admin")
            rid = str(at("ville", *REQUEST, as_="v.agent")["id"])
            deadline = time.monotonic() + 20
            while len(received.messages) < 2 and time.monotonic() < deadline:
                time.sleep(0.05)
            immediate = [(to, s) for to, s in received.take() if "item" not in s]
    assert immediate == told(rid, "request to study", "c.analyst", "c.controller")
    (contact,) = [e for e in ctg.json("audit", "log") if e["action"] == "member.contact"][-1:]
    assert contact["actor"] == "c.admin" and contact["payload"]["notify"] == "none"


def _kinds(ctg: Ctg, day: str) -> dict[str, list[tuple[str, str, str | None, bool]]]:
    found = json.loads(ctg("remind", "--json", env={"CTG_TODAY": day}).stdout)["members"]
    return {
        m["member"]: [(i["kind"], i["subject"], i["due"], i["overdue"]) for i in m["items"]]
        for m in found
    }


def test_deliveries_receptions_and_deletions_wait_on_their_staff(
    state: State, tmp_path: Path
) -> None:
    from test_frequency import _monthly, _send

    ctg = state("monthly-accepted", _monthly)
    rid = "DX-2025-0001"
    first = _kinds(ctg, TODAY)
    assert first["c.agent"] == first["c.both"] == [("send", rid, None, False)]
    ctg.ok(*_send(ctg, tmp_path, rid, name="one"), as_="c.agent")
    sent = _kinds(ctg, TODAY)
    assert "c.agent" not in sent  # monthly: nothing more before 2025-07-02
    assert sent["v.agent"] == [("receive", f"{rid}-1", None, False)]
    ctg.ok("exchange", "receive", str(tmp_path / "one.ctgx"), "--out", str(tmp_path / "in.csv"),
           as_="v.agent")  # fmt: skip
    later = _kinds(ctg, "2025-07-05")
    assert later["c.agent"] == [("send", rid, "2025-07-02", True)]
    assert "v.agent" not in later  # received; its deletion is not near yet
    deadline = ctg.json("retention", "list")[0]["retention_deadline"]
    near = _kinds(ctg, deadline)
    assert ("delete", f"{rid}-1", deadline, False) in near["v.agent"]


def test_who_is_told_by_the_rule_alone() -> None:
    from ctg_exchange.domain.actions import Action
    from ctg_exchange.domain.states import Status
    from ctg_exchange.notify.recipients import told
    from ctg_exchange.store.sql_notify import Contact

    people = [
        Contact("v.agent", "ville", ("staff",), True, None, "immediate"),
        Contact("v.gone", "ville", ("staff",), False, None, "immediate"),
        Contact("v.admin", "ville", ("admin",), True, None, "immediate"),
        Contact("c.agent", "caf", ("staff", "controller"), True, None, "immediate"),
        Contact("c.admin", "caf", ("admin",), True, None, "immediate"),
    ]
    by = {p.id: p for p in people}
    step = {"requester": "ville", "holder": "caf"}

    def who(action: Action, actor: str, status: Status | None = None) -> object:
        found = told(action, by[actor], people, **step, status=status)
        return None if found is None else (found.why, found.members)

    assert who(Action.SEND, "c.agent") == ("receive", ("v.agent",))  # never a revoked member
    assert who(Action.SUSPEND, "c.agent") == ("suspended", ("v.agent",))  # never the actor
    assert who(Action.FILE, "v.agent") == ("study", ("c.agent",))
    assert who(Action.REVIEW, "c.agent", Status.EXCHANGED) is None
    assert who(Action.REVIEW, "c.agent", Status.CLOSED) == ("closed", ("v.agent",))
    assert who(Action.ANNOTATE, "c.agent") is None
    assert told(Action.RENEWAL, by["v.admin"], people) == told(
        Action.AMENDMENT, by["v.admin"], people
    )
    renewal = told(Action.RENEWAL, by["v.admin"], people)
    assert renewal is not None and (renewal.why, renewal.members) == ("countersign", ("c.admin",))
    answer = told(Action.COUNTERSIGNATURE, by["c.admin"], people)
    assert answer is not None and answer.members == ("v.admin",)


def test_the_server_sends_the_days_digests_once(state: State) -> None:
    from ctg_exchange.remote.notifier import Notifier
    from ctg_exchange.services.workspace import Workspace

    ctg = contacts(state)
    with smtp_server() as (port, received):
        use_smtp(ctg, port)
        rid = ctg.file_request()
        received.take()
        log: list[dict[str, Any]] = []
        notifier = Notifier(ctg.workspace, log.append, every=3600)
        workspace = Workspace.open(ctg.workspace)
        try:
            notifier.tick(workspace)
            notifier.tick(workspace)  # the same day: nothing again
        finally:
            notifier.close()
            workspace.close()
        digests = received.take()
    assert digests == sorted(
        (address(m), f"[CTG] 1 item awaits you ({TODAY})") for m in CAF_CONTROLLERS
    )
    assert log == [{"notify": "digests", "sent": 3, "failed": 0}]
    assert rid


def test_an_address_edited_behind_the_tools_back_never_reaches_a_header(state: State) -> None:
    ctg = contacts(state)
    ctg.sql(
        "UPDATE members SET email = ? WHERE id = 'c.analyst'",
        params=("c.analyst@caf.example\r\nBcc: x@evil.example",),
    )
    with smtp_server() as (port, received):
        use_smtp(ctg, port)
        rid = ctg.file_request()
        got = received.take()
    assert got == told(rid, "request to study", "c.both", "c.controller")
    (stuck,) = ctg.json("notify", "status")["pending"]
    assert stuck["to"] == "c.analyst" and stuck["last_error"] == "ValueError"


def test_a_member_past_its_term_is_told_nothing(state: State) -> None:
    """A controller added until a day (issue 19's --until) gets no e-mail and no reminder
    after it, as a revoked member; before it, it is told as the others."""
    ctg = contacts(state)
    member_keys(ctg).generate("c.temp", PASSPHRASE, rounds=TEST_KDF_ROUNDS)
    ctg.ok(*add_args("c.temp", "caf92", "controller"), "--until", TODAY, as_="c.admin")
    ctg.ok("member", "set", "c.temp", "--email", address("c.temp"), as_="c.admin")
    later = {"CTG_TODAY": "2025-06-03"}
    with smtp_server() as (port, received):
        use_smtp(ctg, port)
        rid = ctg.file_request()
        assert received.take() == told(rid, "request to study", *CAF_CONTROLLERS, "c.temp")
        after = json.loads(ctg.ok(*REQUEST, "--json", as_="v.agent", env=later).stdout)["id"]
        assert received.take() == told(after, "request to study", *CAF_CONTROLLERS)
    reminded = json.loads(ctg.ok("--json", "remind", env=later).stdout)
    members = {entry["member"] for entry in reminded["members"]}
    assert "c.temp" not in members and "c.controller" in members
