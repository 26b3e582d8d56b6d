"""A hosted workspace (DESIGN §11, issue 14): a real server on 127.0.0.1, every call signed.

The server runs in a thread of the test (uvicorn, an ephemeral port) and stops with it. Each
refused call gets its status and one line, and changes nothing in the workspace.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ctg_exchange.crypto.keys import KeyDir
from ctg_exchange.remote import httpsig

from conftest import PASSPHRASE, Ctg
from served import (
    WORKSPACE_OF,
    Server,
    acting,
    call,
    fingerprint_of,
    key,
    remote_dirs,
    self_signed,
    serving,
)


# -- RFC 9421 itself -------------------------------------------------------------------------
def _b64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# RFC 9421 Appendix B.1.4 (test-key-ed25519) and B.2.6 (signing a request using ed25519)
RFC_KEY = Ed25519PrivateKey.from_private_bytes(
    _b64url("n4Ni-HpISpVObnQMW0wOhCKROaIKqKtW_2ZYb2p9KcU")
)
RFC_BASE = (
    '"date": Tue, 20 Apr 2021 02:07:55 GMT\n"@method": POST\n"@path": /foo\n'
    '"@authority": example.com\n"content-type": application/json\n"content-length": 18\n'
    '"@signature-params": ("date" "@method" "@path" "@authority" "content-type" '
    '"content-length");created=1618884473;keyid="test-key-ed25519"'
)
RFC_SIGNATURE = (
    "wqcAqbmYJ2ji2glfAMaRy4gruYYnx2nEFN2HN6jrnDnQCK1u02Gb04v9EDgwUPiu4A0w6vuQv5lIp5WPpBKRCw=="
)


def test_the_rfc_9421_ed25519_vector() -> None:
    """The library and the algorithm our calls use verify RFC 9421's own B.2.6 request, and
    Ed25519 (deterministic) signs its signature base to the very bytes it gives."""
    from http_message_signatures import HTTPMessageVerifier, algorithms

    public = RFC_KEY.public_key()

    class Keys:
        def resolve_public_key(self, key_id: str) -> Any:
            assert key_id == "test-key-ed25519"
            return public

    request = httpsig._Signable(
        "POST",
        "https://example.com/foo?param=Value&Pet=dog",
        {
            "Host": "example.com",
            "Date": "Tue, 20 Apr 2021 02:07:55 GMT",
            "Content-Type": "application/json",
            "Content-Length": "18",
            "Signature-Input": 'sig-b26=("date" "@method" "@path" "@authority" "content-type" '
            '"content-length");created=1618884473;keyid="test-key-ed25519"',
            "Signature": f"sig-b26=:{RFC_SIGNATURE}:",
        },
    )
    resolver: Any = Keys()
    verifier = HTTPMessageVerifier(signature_algorithm=algorithms.ED25519, key_resolver=resolver)
    (result,) = verifier.verify(request, max_age=None)
    assert result.covered_components['"@signature-params"'] in RFC_BASE
    assert base64.b64encode(RFC_KEY.sign(RFC_BASE.encode())).decode() == RFC_SIGNATURE
    tampered = dict(request.headers, Date="Tue, 20 Apr 2021 02:07:56 GMT")
    from http_message_signatures import InvalidSignature

    with pytest.raises(InvalidSignature):
        verifier.verify(httpsig._Signable("POST", request.url, tampered), max_age=None)


def test_health_and_a_signed_call(ctg: Ctg, served: Server) -> None:
    health = httpx.get(served.url + "/healthz", timeout=10).json()
    workspace_id = json.loads((ctg.workspace / "workspace.json").read_text())["id"]
    assert health == {
        "ok": True, "workspace": workspace_id, "version": health["version"], "simulated": True
    }  # fmt: skip

    answer = call(served.url, signing_key=key(ctg, "v.agent"))

    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "member": "v.agent", "party": "ville_sceaux", "roles": ["staff"],
        "workspace": workspace_id,
    }  # fmt: skip


def _refusal(response: httpx.Response) -> tuple[int, str]:
    message = response.json()["error"]["message"]
    assert "\n" not in message
    return response.status_code, message


NOW = dt.datetime.now(dt.UTC)
REFUSED: dict[str, tuple[dict[str, Any], int, str]] = {
    "unsigned": ({"headers": {}}, 401, "the call is not signed"),
    "another member's key": ({"signing_key_of": "c.agent"}, 401, "bad signature"),
    "body changed": ({"body": b'{"a":1}', "send_body": b'{"a":2}'}, 401, "Content-Digest"),
    "address changed": ({"send_path": "/v1/whoami?x=1"}, 401, "bad signature"),
    "expired": ({"now": NOW - dt.timedelta(minutes=20)}, 401, "expire"),
    "dated in the future": ({"now": NOW + dt.timedelta(minutes=20)}, 401, "future"),
    "living too long": ({"lifetime": dt.timedelta(hours=1)}, 401, "at most 5 minutes"),
    "short nonce": ({"nonce": "abc"}, 401, "nonce of 16 to 128 characters"),
    "unknown member": ({"member": "x.nobody"}, 401, "not the key of a member of this workspace"),
    "another workspace": (
        {"workspace": "0" * 8 + "-0000-0000-0000-" + "0" * 12},
        401,
        "meant for another workspace",
    ),
}


@pytest.mark.parametrize("case", REFUSED)
def test_a_call_that_does_not_hold_is_refused(ctg: Ctg, served: Server, case: str) -> None:
    change, status, message = REFUSED[case]
    change = dict(change)
    signer = key(ctg, change.pop("signing_key_of", "v.agent"))
    before = ctg.tables()

    refused = call(served.url, signing_key=signer, **change)

    assert refused.status_code == status, refused.text
    assert message in _refusal(refused)[1]
    assert ctg.tables() == before


def test_a_replayed_call_is_refused(ctg: Ctg, served: Server) -> None:
    signed = httpsig.sign(
        httpsig.Message("GET", served.url + "/v1/whoami", {}), b"", "v.agent",
        key(ctg, "v.agent"), workspace=WORKSPACE_OF[served.url],
    )  # fmt: skip
    assert httpx.get(served.url + "/v1/whoami", headers=signed, timeout=10).status_code == 200
    before = ctg.tables()

    replayed = httpx.get(served.url + "/v1/whoami", headers=signed, timeout=10)

    assert _refusal(replayed) == (401, "this signed call was already received (a replay)")
    assert ctg.tables() == before


def test_a_revoked_member_is_refused(ctg: Ctg, served: Server) -> None:
    ctg.ok("member", "revoke", "v.agent", "--reason", "Départ (test)", as_="v.admin")
    before = ctg.tables()

    refused = call(served.url, signing_key=key(ctg, "v.agent"))

    status, message = _refusal(refused)
    assert (status, message.split(" was revoked")[0]) == (403, "v.agent")
    assert ctg.tables() == before


def test_a_body_over_the_ceiling_is_refused(ctg: Ctg) -> None:
    with serving(ctg, max_body=4096) as server:
        before = ctg.tables()
        refused = call(server.url, signing_key=key(ctg, "v.agent"), body=b"x" * 5000)
        assert _refusal(refused) == (413, "the call's body is over 4 KiB")
        assert ctg.tables() == before


def test_the_access_log_names_routes_not_data(ctg: Ctg, served: Server) -> None:
    call(served.url, signing_key=key(ctg, "v.agent"))
    call(served.url, signing_key=key(ctg, "v.agent"), member="x.nobody")
    httpx.get(served.url + "/v1/requests/DX-2025-0001?purpose=secret", timeout=10)
    time.sleep(0.05)

    routes = [
        (line["method"], line["route"], line["status"], line["member"]) for line in served.log
    ]

    assert routes == [
        ("POST", "/v1/whoami", 200, "v.agent"),
        ("POST", "/v1/whoami", 401, None),
        ("GET", None, 404, None),
    ]
    assert "DX-2025" not in json.dumps(served.log) and "secret" not in json.dumps(served.log)


# -- TLS, pinned -----------------------------------------------------------------------------
def test_a_pinned_certificate_and_another_one(ctg: Ctg, tmp_path: Path) -> None:
    first, other = self_signed(tmp_path, "first"), self_signed(tmp_path, "other")
    client = tmp_path / "remote"
    with serving(ctg, tls=first) as server:
        wrong = ctg(
            "--workspace", str(client), "remote", "add", server.url, "--rehearsal",
            "--fingerprint", fingerprint_of(other[0]),
        )  # fmt: skip
        assert wrong.exit_code == 1, wrong.output
        assert "not the one given" in wrong.stderr
        assert not client.exists()

        added = ctg(
            "--workspace", str(client), "remote", "add", server.url, "--rehearsal",
            "--fingerprint", fingerprint_of(first[0]),
        )  # fmt: skip
        assert added.exit_code == 0, added.output
        status = ctg("--workspace", str(client), "remote", "status", "--json", as_="c.dpo")
        assert status.exit_code == 0, status.output
        assert json.loads(status.stdout)["member"] == "c.dpo"

    with serving(ctg, tls=other) as impostor:  # another certificate at the address
        config = json.loads((client / "workspace.json").read_text())
        config["remote"]["url"] = impostor.url
        (client / "workspace.json").write_text(json.dumps(config))
        refused = ctg("--workspace", str(client), "remote", "status", as_="c.dpo")
        assert refused.exit_code == 1, refused.output
        assert "its certificate is not the pinned one" in refused.stderr
        assert impostor.log == []  # nothing signed reached it


def test_a_local_command_on_a_remote_workspace_says_so(
    ctg: Ctg, served: Server, tmp_path: Path
) -> None:
    client = tmp_path / "remote"
    ctg.ok("--workspace", str(client), "remote", "add", served.url, "--rehearsal")
    refused = ctg("--workspace", str(client), "serve", "--listen", "127.0.0.1:1")
    assert refused.exit_code == 1, refused.output
    assert f"is a remote workspace (served at {served.url}): this command runs on the server's" in (
        refused.stderr
    )


def test_plain_http_is_for_this_machine_only(ctg: Ctg, tmp_path: Path) -> None:
    refused = ctg("--workspace", str(tmp_path / "r"), "remote", "add", "http://ctg.example.fr")
    assert refused.exit_code == 1
    assert "plain http:// is for a server on this machine only" in refused.stderr


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.slow
def test_the_serve_command_serves_and_logs(ctg: Ctg) -> None:
    """`ctg-exchange serve` itself, as an admin starts it: a process, stopped by the test."""
    import os
    import signal
    import subprocess
    import sys

    port = _free_port()
    env = {**os.environ, "CTG_WORKSPACE": str(ctg.workspace)}
    server = subprocess.Popen(
        [sys.executable, "-m", "ctg_exchange", "serve", "--listen", f"127.0.0.1:{port}"],
        env=env, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except httpx.TransportError:
                assert server.poll() is None, server.stderr.read() if server.stderr else ""
                assert time.monotonic() < deadline, "serve did not answer"
                time.sleep(0.1)
        assert health.json()["ok"] is True
        workspace = json.loads((ctg.workspace / "workspace.json").read_text())["id"]
        answer = call(
            f"http://127.0.0.1:{port}", signing_key=key(ctg, "c.dpo"), member="c.dpo",
            workspace=workspace,
        )  # fmt: skip
        assert answer.json()["member"] == "c.dpo"
    finally:
        server.send_signal(signal.SIGINT)
        _, log = server.communicate(timeout=20)
    lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    assert [(line["route"], line["status"]) for line in lines][-2:] == [
        ("/healthz", 200), ("/v1/whoami", 200)
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--listen", "8443"), "--listen takes HOST:PORT"),
        (("--listen", "127.0.0.1:99999"), "--listen takes HOST:PORT"),
        (("--public-url", "ftp://x"), "--public-url takes https://"),
    ],
)
def test_serve_refuses_bad_settings(ctg: Ctg, args: tuple[str, ...], message: str) -> None:
    ctg.refused("serve", *args, contains=message)


# -- the procedure, from two organisations ---------------------------------------------------
def test_the_procedure_runs_over_https_from_both_parties(
    ctg: Ctg, served: Server, tmp_path: Path
) -> None:
    from conftest import REQUEST

    dirs = remote_dirs(ctg, served.url, tmp_path)

    at = acting(ctg, dirs)

    rid = at("ville", *REQUEST, as_="v.agent")["id"]
    at("caf", "study", "accept", rid, "--note", "Étude à distance", as_="c.analyst")
    at("caf", "study", "submit", rid, as_="c.analyst")
    assert [item["id"] for item in at("caf", "dpo", "inbox", as_="c.dpo")] == [rid]
    at("caf", "dpo", "opinion", rid, "--verdict", "favourable", "--note", "Avis", as_="c.dpo")
    at("caf", "decide", "approve", rid, as_="c.controller")
    accepted = at(
        "ville",
        "conditions",
        "accept",
        rid,
        "--dpia-ref",
        "AIPD-1",
        "--information",
        "Lettre aux familles (test)",
        "--l311-mention",
        "Mention sur la facture (test)",
        as_="v.controller",
    )

    assert accepted["status"] == "conditions_accepted"
    assert at("caf", "request", "show", rid, as_="c.dpo")["status"] == "conditions_accepted"
    events = ctg.json("audit", "log")
    actors = {e["action"]: e["actor"] for e in events if e["subject"] == rid}
    assert actors["request.file"] == "v.agent" and actors["decide.approve"] == "c.controller"
    verified = ctg("audit", "verify")  # each event signed by its member, none by the server
    assert verified.exit_code == 0, verified.output


def test_a_refusal_reaches_the_member_as_one_line(ctg: Ctg, served: Server, tmp_path: Path) -> None:
    """A rule-breaking change sent with a valid signature is refused by the server's rules,
    with the line and the exit code a local command gives; nothing changes."""
    dirs = remote_dirs(ctg, served.url, tmp_path)
    rid = ctg.file_request()
    before = ctg.tables()

    refused = ctg("--workspace", str(dirs["caf"]), "decide", "approve", rid, as_="c.agent")

    assert refused.exit_code == 1, refused.output
    (line,) = [x for x in refused.stderr.splitlines() if x.startswith("ctg-exchange: error:")]
    assert "only the controller of the holding party (caf92)" in line
    tables = ctg.tables()
    tables.pop("table:http_nonces"), before.pop("table:http_nonces")  # the call itself
    assert tables == before


def test_a_change_prepared_while_the_log_moves_is_prepared_again(
    ctg: Ctg, served: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Between one member's prepare and commit another member's change lands: the commit's
    bytes no longer match what was signed (409), the client prepares again, and both
    changes are in one linear, verified chain."""
    from ctg_exchange.remote import session, workers

    from conftest import REQUEST, REQUEST_TO_VILLE

    monkeypatch.setattr(workers, "LEASE", 0.3)  # the town hall holds the tail, then lets go
    dirs = remote_dirs(ctg, served.url, tmp_path)
    honest = session.RemoteSession._signed
    prepares: list[str] = []

    def meanwhile(self: Any, operation: Any, args: Any, prepared: Any) -> Any:
        prepares.append(operation.name)
        if len(prepares) == 1:  # the Caf files while the town hall's change awaits signing
            other = ctg("--workspace", str(dirs["caf"]), *REQUEST_TO_VILLE, as_="c.both")
            assert other.exit_code == 0, other.output
        return honest(self, operation, args, prepared)

    monkeypatch.setattr(session.RemoteSession, "_signed", meanwhile)
    filed = ctg("--workspace", str(dirs["ville"]), *REQUEST, "--json", as_="v.agent")

    assert filed.exit_code == 0, filed.output
    assert prepares == ["request.file", "request.file", "request.file"]  # theirs between
    conflicts = [line for line in served.log if line["status"] == 409]
    assert len(conflicts) == 1 and conflicts[0]["member"] == "v.agent"
    files = [e for e in ctg.json("audit", "log") if e["action"] == "request.file"]
    assert [e["actor"] for e in files] == ["c.both", "v.agent"]
    assert ctg("audit", "verify").exit_code == 0


def _event_bytes(**change: Any) -> bytes:
    from ctg_exchange.audit.events import Event

    fields = {
        "log": "11111111-2222-3333-4444-555555555555", "seq": 7,
        "time": httpsig_now(), "actor": "c.dpo", "party": "caf92", "role": "dpo",
        "action": "dpo.opinion", "subject": "DX-2025-0001", "prev": "0" * 64, "payload": {},
    }  # fmt: skip
    return Event(**{**fields, **change}).signed_bytes()


def httpsig_now() -> str:
    from ctg_exchange.audit.events import utc_timestamp

    return utc_timestamp()


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({}, None),
        ({"actor": "c.controller"}, "is 'c.controller''s, not yours"),
        ({"action": "decide.approve"}, "dpo.opinion does not take 'decide.approve'"),
        ({"subject": "DX-2025-0002"}, "is about 'DX-2025-0002', not DX-2025-0001"),
        ({"log": "99999999-2222-3333-4444-555555555555"}, "not of this workspace's log"),
        ({"time": "2020-01-01T00:00:00.000000Z"}, "is dated 2020-01-01T00:00:00Z, not now"),
    ],
    ids=[
        "as asked",
        "another member",
        "another action",
        "another request",
        "another log",
        "another day",
    ],  # fmt: skip
)
def test_the_client_signs_only_what_its_command_does(change: dict[str, Any], why: str) -> None:
    from ctg_exchange.remote.client import ServerError
    from ctg_exchange.remote.session import check_event
    from ctg_exchange.services.remoting import operation_named

    opinion = operation_named("dpo.opinion")
    assert opinion is not None
    log = "11111111-2222-3333-4444-555555555555"
    args = {"request_id": "DX-2025-0001"}
    if why is None:
        check_event(_event_bytes(**change), log, "c.dpo", opinion, args)
        return
    with pytest.raises(ServerError, match=why.replace("(", r"\(")):
        check_event(_event_bytes(**change), log, "c.dpo", opinion, args)


def test_every_remotable_module_is_known_to_the_server() -> None:
    """A server process imports nothing of its own accord: each module with a remotable
    service is named, so that its operations exist there."""
    import re

    root = Path(__file__).resolve().parents[1] / "ctg_exchange" / "services"
    marked = {p.stem for p in root.glob("*.py") if re.search(r"^@remotable\(", p.read_text(), re.M)}
    from ctg_exchange.services.remoting import SERVICE_MODULES

    assert marked == set(SERVICE_MODULES)


def test_every_remotable_step_runs_remotely(ctg: Ctg, served: Server, tmp_path: Path) -> None:
    """Beyond the happy path: check, amend, withdraw, return, reject, annotate, listings."""
    from conftest import REQUEST

    dirs = remote_dirs(ctg, served.url, tmp_path)

    at = acting(ctg, dirs)

    checked = at("ville", *(["request", "check"] + list(REQUEST[2:])), as_="v.agent")
    assert checked["triage"] and isinstance(checked["findings"], list)
    first = at("ville", *REQUEST, as_="v.agent")["id"]
    at("ville", "request", "amend", first, "--retention-days", "180", as_="v.agent")
    at("caf", "study", "accept", first, "--note", "Étude", as_="c.analyst")
    at("caf", "study", "return", first, "--reason", "Préciser la finalité", as_="c.analyst")
    at("ville", "request", "withdraw", first, "--reason", "Sans objet", as_="v.agent")
    second = at("ville", *REQUEST, as_="v.agent")["id"]
    at("caf", "study", "accept", second, "--note", "Étude", as_="c.analyst")
    at("caf", "study", "submit", second, as_="c.analyst")
    at("caf", "dpo", "opinion", second, "--verdict", "favourable", "--note", "Avis", as_="c.dpo")
    at("caf", "dpo", "annotate", second, "--note", "Registre à jour", as_="c.dpo")
    at("caf", "decide", "reject", second, "--reason", "Hors besoin", as_="c.controller")

    listed = at("caf", "request", "list", as_="c.dpo")
    assert {r["id"]: r["status"] for r in listed} == {first: "withdrawn", second: "rejected"}
    assert "v.agent" in {m["id"] for m in at("caf", "member", "list", as_="c.dpo")}
    assert ctg("audit", "verify").exit_code == 0


def _prepared_filing(ctg: Ctg, served: Server) -> tuple[dict[str, Any], dict[str, Any]]:
    content = {
        "to": "caf92", "field": "petite_enfance", "purpose": "Tarifer (test)",
        "purpose_kind": "pricing", "categories": ["quotient_familial"], "subjects": "Familles",
        "legal_basis": "art6_1_e", "legal_refs": ["loi_98_657_art147"], "retention_days": 365,
        "frequency": "monthly",
    }  # fmt: skip
    body = json.dumps({"args": {"content": content}, "phase": "prepare"}).encode()
    prepared = call(served.url, "/v1/call/request.file", signing_key=key(ctg, "v.agent"), body=body)
    assert prepared.status_code == 200, prepared.text
    return {"content": content}, prepared.json()["prepare"]


def _commit(
    ctg: Ctg, served: Server, args: Any, answer: Any, signatures: Any, **change: Any
) -> httpx.Response:
    commit = {"args": args, "phase": "commit", "now": answer["now"], "ticket": answer["ticket"],
              "signatures": signatures, **change}  # fmt: skip
    return call(
        served.url, "/v1/call/request.file", signing_key=key(ctg, "v.agent"),
        body=json.dumps(commit).encode(),
    )  # fmt: skip


def _signatures(ctg: Ctg, answer: Any, member: str, *, zeroed: bool = False) -> dict[str, str]:
    """``member``'s signatures of the prepared messages; ``zeroed``: the key blob right, the
    signature bytes zero."""
    from ctg_exchange.crypto import sshsig
    from ctg_exchange.services.remoting import message_key

    signer = KeyDir(ctg.keys).open_signer(member, PASSPHRASE)
    signatures = {}
    for item in answer["sign"]:
        message = base64.b64decode(item["message"])
        armored = signer.sign(item["namespace"], message)
        if zeroed:
            armored = sshsig.armor(sshsig.dearmor(armored)[:-64] + bytes(64))
        signatures[message_key(item["namespace"], message)] = armored
    return signatures


@pytest.mark.parametrize(
    ("member", "zeroed"), [("c.agent", False), ("v.agent", True)],
    ids=["another member's key", "the right key blob, a bad signature"],
)  # fmt: skip
def test_a_commit_not_signed_by_the_member_is_refused(
    ctg: Ctg, served: Server, member: str, zeroed: bool
) -> None:
    """Straight to the API, a valid call by v.agent whose event signatures are not v.agent's:
    the whole SSHSIG signature is verified, curve included, and nothing is written."""
    args, answer = _prepared_filing(ctg, served)
    signatures = _signatures(ctg, answer, member, zeroed=zeroed)
    before = ctg.tables()

    refused = _commit(ctg, served, args, answer, signatures)

    assert _refusal(refused) == (403, "a signature sent is not v.agent's of what it signs")
    after = ctg.tables()
    after.pop("table:http_nonces"), before.pop("table:http_nonces")
    assert after == before


def test_a_commit_at_another_time_than_prepared_is_refused(ctg: Ctg, served: Server) -> None:
    """The member cannot choose their events' time: the commit is sealed to its prepare."""
    args, answer = _prepared_filing(ctg, served)
    signatures = _signatures(ctg, answer, "v.agent")
    moved = answer["now"][:-8] + "000000Z"
    refused = _commit(ctg, served, args, answer, signatures, now=moved)
    assert refused.status_code == 409
    assert "not the one prepared" in _refusal(refused)[1]


def test_a_nonce_outlives_its_signature(ctg: Ctg, served: Server) -> None:
    """Replayed after it expires, within the clocks' allowance, a call is still known (it
    expired a second before it was first received: the allowance let it through)."""
    signed = httpsig.sign(
        httpsig.Message("GET", served.url + "/v1/whoami", {}), b"", "v.agent",
        key(ctg, "v.agent"), workspace=WORKSPACE_OF[served.url],
        now=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=2), lifetime=dt.timedelta(seconds=1),
    )  # fmt: skip
    assert httpx.get(served.url + "/v1/whoami", headers=signed, timeout=10).status_code == 200
    replayed = httpx.get(served.url + "/v1/whoami", headers=signed, timeout=10)
    assert _refusal(replayed) == (401, "this signed call was already received (a replay)")


def test_hostile_arguments_get_one_line(ctg: Ctg, served: Server) -> None:
    for body, message in [
        (b'{"args": {}}', "request.show needs request_id"),
        (b'{"args": {"request_id": "\\ud800"}}', "not JSON (UTF-8)"),
        (b"[" * 20000 + b"]" * 20000, "not JSON (UTF-8)"),
        (b'{"args": {"request_id": 7}}', "request.show: request_id: Input should be a valid"),
    ]:
        answer = call(served.url, "/v1/call/request.show", signing_key=key(ctg, "v.agent"),
                      body=body)  # fmt: skip
        assert answer.status_code == 422, (body[:40], answer.text)
        assert message in _refusal(answer)[1]


def _opinion_batch(verdict: str = "unfavourable") -> Any:
    from ctg_exchange.domain.models import Verdict
    from ctg_exchange.remote.session import Batch
    from ctg_exchange.services.remoting import operation_named

    intent = {"request_id": "DX-2025-0001", "verdict": Verdict(verdict), "note": "Avis",
              "recommendations": ()}  # fmt: skip
    log = "11111111-2222-3333-4444-555555555555"
    return Batch(log, "c.dpo", operation_named("dpo.opinion"), intent)  # type: ignore[arg-type]


def _opinion_payload(verdict: str) -> dict[str, Any]:
    from ctg_exchange.services.remoting import said

    return {"request": "DX-2025-0001", "from_status": "awaiting_dpo",
            "to_status": "opinion_given", "verdict": verdict, "recommendations": [],
            "text_sha256": said("Avis")}  # fmt: skip


def test_the_client_checks_what_the_event_says() -> None:
    """A hostile server swapping the verdict, adding an event or a checkpoint of its own
    gets nothing signed."""
    from ctg_exchange.audit.events import Event
    from ctg_exchange.remote.client import ServerError

    honest = _opinion_batch()
    honest.event(_event_bytes(payload=_opinion_payload("unfavourable")))
    honest.complete()

    swapped = _opinion_batch()
    swapped.event(_event_bytes(payload=_opinion_payload("favourable")))
    with pytest.raises(ServerError, match="the event's verdict is not what you asked"):
        swapped.complete()

    twice = _opinion_batch()
    first = _event_bytes(payload=_opinion_payload("unfavourable"))
    twice.event(first)
    body = json.loads(first.split(b"\n", 1)[1] if b"\n" in first else first[first.index(b"{") :])
    second = Event(**{**{k: v for k, v in body.items() if k != "v"}, "seq": 8,
                      "prev": twice.events[0].digest()})  # fmt: skip
    twice.event(second.signed_bytes())
    with pytest.raises(ServerError, match="records one dpo.opinion event"):
        twice.complete()

    checkpointed = _opinion_batch()
    checkpointed.event(_event_bytes(payload=_opinion_payload("unfavourable")))
    note = "ctg-exchange.example/11111111-2222-3333-4444-555555555555\n7\n" + "A" * 43 + "=\n"
    with pytest.raises(ServerError, match="checkpoint"):
        checkpointed.checkpoint(note.encode(), [])


def test_a_rehearsal_is_accepted_only_knowingly(ctg: Ctg, served: Server, tmp_path: Path) -> None:
    """A rehearsal's server dates the events as it likes (its simulated day): the member's
    client would then not check the dates, so it must be said at `remote add`."""
    refused = ctg("--workspace", str(tmp_path / "r"), "remote", "add", served.url)
    assert refused.exit_code == 1
    assert "a rehearsal (simulated clock): add --rehearsal" in refused.stderr
    assert not (tmp_path / "r").exists()


def test_concurrent_changes_queue_on_the_tail_instead_of_failing(
    ctg: Ctg, served: Server, tmp_path: Path
) -> None:
    """Four members' clients filing at once: each prepare waits for the change before it to
    commit, none is prepared for nothing, and the chain has them all."""
    from concurrent.futures import ThreadPoolExecutor

    from procedure_worker import CONTENT

    from ctg_exchange.domain.models import RequestContent
    from ctg_exchange.remote.session import RemoteSession
    from ctg_exchange.services.clock import Clock
    from ctg_exchange.services.requests import file_request
    from ctg_exchange.services.workspace import open_remote

    config = open_remote(remote_dirs(ctg, served.url, tmp_path)["ville"])
    signer = KeyDir(ctg.keys).open_signer("v.agent", PASSPHRASE)
    content = RequestContent.model_validate(CONTENT)

    def files(_: int) -> list[str]:
        session: Any = RemoteSession(config, "v.agent", lambda _: signer, Clock())
        return [file_request(session, content).id for _ in range(3)]

    with ThreadPoolExecutor(4) as pool:
        filed = [rid for ids in pool.map(files, range(4)) for rid in ids]

    assert len(set(filed)) == 12
    assert [line["status"] for line in served.log].count(409) == 0
    assert ctg.json("audit", "verify")["events"] >= 12


def test_both_parties_agree_a_renewal_from_their_own_machines(
    ctg: Ctg, served: Server, tmp_path: Path
) -> None:
    """The town hall proposes, the Caf countersigns, each from its own remote workspace."""
    dirs = remote_dirs(ctg, served.url, tmp_path)

    at = acting(ctg, dirs)

    renewal = ("convention", "renew", "--until", "2029-12-31", "--reference", "Délibération")
    proposed = at("ville", *renewal, as_="v.admin")
    assert proposed["change"]["status"] == "pending" and proposed["end"] == "2025-12-31"
    seq = str(at("caf", "convention", "show", as_="c.dpo")["pending"])
    refused = ctg("--workspace", str(dirs["ville"]), "convention", "countersign", seq,
                  "--reference", "x", as_="v.admin")  # fmt: skip
    assert refused.exit_code == 1 and "BOTH_PARTIES" in refused.stderr
    agreed = at("caf", "convention", "countersign", seq, "--reference", "Décision du CA",
                as_="c.admin")  # fmt: skip
    assert (agreed["end"], agreed["change"]["status"]) == ("2029-12-31", "in_effect")
    at("caf", "convention", "terminate", "--case", "denunciation", "--notice-date", "2025-06-02",
       "--on", "2028-06-30", "--reason", "Préavis", as_="c.admin")  # fmt: skip
    assert at("ville", "convention", "show", as_="v.dpo")["last_day"] == "2028-06-29"
    assert ctg("audit", "verify").exit_code == 0


def test_an_admin_manages_members_from_afar(ctg: Ctg, served: Server, tmp_path: Path) -> None:
    from conftest import TEST_KDF_ROUNDS, add_args, member_keys

    dirs = remote_dirs(ctg, served.url, tmp_path)
    at = acting(ctg, dirs)
    member_keys(ctg).generate("v.agent2", PASSPHRASE, rounds=TEST_KDF_ROUNDS)
    added = at("ville", *add_args("v.agent2", "ville_sceaux", "staff"), as_="v.admin")
    assert (added["id"], added["roles"]) == ("v.agent2", ["staff"])
    member_keys(ctg).generate("c.x", PASSPHRASE, rounds=TEST_KDF_ROUNDS)
    refused = ctg("--workspace", str(dirs["caf"]), *add_args("c.x", "ville_sceaux", "staff"),
                  as_="c.admin")  # fmt: skip
    assert refused.exit_code == 1, refused.output
    assert "c.admin" in refused.stderr and "ville_sceaux" in refused.stderr  # the server's rule
    at("ville", "member", "revoke", "v.agent2", "--reason", "Départ", as_="v.admin")
    members = {m["id"]: m for m in at("caf", "member", "list", as_="c.dpo")}
    assert members["v.agent2"]["revoked_at"]
    assert ctg("audit", "verify").exit_code == 0


def test_the_other_party_checks_the_latest_checkpoint_extends_its_own(
    ctg: Ctg, served: Server
) -> None:
    """What a witness does before it cosigns: the server's latest checkpoint and the RFC 9162
    proof that the one the witness holds is its prefix; a rewritten log gives no such proof."""
    from ctg_exchange.audit import merkle
    from ctg_exchange.audit.checkpoint import parse_note

    ctg.ok("audit", "checkpoint", as_="c.dpo")
    held = call(served.url, "/v1/checkpoint", signing_key=key(ctg, "c.dpo"), member="c.dpo")
    old = parse_note(held.json()["checkpoint"]["note"])
    ctg.file_request()
    ctg.ok("audit", "checkpoint", as_="v.dpo")

    answer = call(served.url, f"/v1/checkpoint?from={old.size}", signing_key=key(ctg, "c.dpo"),
                  member="c.dpo").json()["checkpoint"]  # fmt: skip
    latest = parse_note(answer["note"])
    proof = [bytes.fromhex(node) for node in answer["consistency"]]

    assert latest.size > old.size
    assert merkle.consistent(old.size, latest.size, old.root, latest.root, proof)
    forked = bytes([old.root[0] ^ 1]) + old.root[1:]  # what a rewritten history would show
    assert not merkle.consistent(old.size, latest.size, forked, latest.root, proof)
    too_far = call(served.url, "/v1/checkpoint?from=99999", signing_key=key(ctg, "c.dpo"),
                   member="c.dpo")  # fmt: skip
    assert _refusal(too_far)[0] == 422


def test_a_hostile_server_slipping_lapses_into_a_renewal_gets_nothing_signed(
    ctg: Ctg, served: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server (here, patched in this process) adds the lapse of every open request to a
    renewal the town hall's admin only proposes: the client refuses to sign."""
    from ctg_exchange.services import convention

    dirs = remote_dirs(ctg, served.url, tmp_path)
    rid = ctg.file_request()
    honest = convention.record_change

    def with_lapses(tx: Any, recorder: Any, actor: Any, *args: Any, **kwargs: Any) -> Any:
        convention._lapse_open(tx, recorder, actor, "lapsed: forged", dt.date(2025, 6, 2))
        return honest(tx, recorder, actor, *args, **kwargs)

    monkeypatch.setattr(convention, "record_change", with_lapses)
    before = ctg.tables()
    refused = ctg("--workspace", str(dirs["ville"]), "convention", "renew", "--until",
                  "2029-12-31", "--reference", "Délibération", as_="v.admin")  # fmt: skip

    assert refused.exit_code == 1, refused.output
    assert "refused to sign: convention.renewal does not take 'request.lapse'" in refused.stderr
    assert ctg.show(rid)["status"] == "filed"
    after = ctg.tables()
    after.pop("table:http_nonces"), before.pop("table:http_nonces")
    assert after == before


def test_the_other_party_copies_the_log_and_verifies_it_without_the_server(
    ctg: Ctg, served: Server
) -> None:
    """The witness's copy: every event, page by page, verified on the other party's side
    (chain, signatures, roles) against the served checkpoint's root; an edited event shows."""
    from ctg_exchange.audit.checkpoint import parse_note
    from ctg_exchange.audit.export import event_from_line as _event
    from ctg_exchange.audit.verify import CheckpointSource, LogVerifier

    ctg.file_request()
    ctg.ok("audit", "checkpoint", as_="c.dpo")

    def copy() -> tuple[list[Any], Any]:
        events: list[Any] = []
        while True:
            page = call(served.url, f"/v1/log?after={len(events)}", signing_key=key(ctg, "c.dpo"),
                        member="c.dpo").json()  # fmt: skip
            events += [_event(line)[0] for line in page["events"]]
            if len(events) >= page["size"] or not page["events"]:
                break
        note = call(served.url, "/v1/checkpoint", signing_key=key(ctg, "c.dpo"),
                    member="c.dpo").json()["checkpoint"]["note"]  # fmt: skip
        return events, parse_note(note)

    def verified(events: list[Any], checkpoint: Any) -> Any:
        verifier = LogVerifier(events[0].event.log, [CheckpointSource("served", checkpoint)])
        for stored in events:
            verifier.feed(stored)
        return verifier.finish()

    events, checkpoint = copy()
    assert checkpoint.size == len(events)
    assert verified(events, checkpoint).failures == []

    ctg.sql("UPDATE audit_events SET subject = 'DX-2025-9999' WHERE seq = 3", guards=False)
    events, checkpoint = copy()
    assert [f.seq for f in verified(events, checkpoint).failures][:1] == [3]
