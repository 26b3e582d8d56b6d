"""An auditor of a hosted workspace (issue 19): the server lets it read, refuses it every step,
every package and every checkpoint signature, and, after its ``--until``, every call at all."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from test_people import people  # noqa: F401 (the fixture)

from ctg_exchange.remote import httpsig

from conftest import Ctg
from served import WORKSPACE_OF, call, key, remote_dirs, serving


def _state(ctg: Ctg) -> dict[str, str]:
    """The workspace's tables, but the nonces every signed call leaves."""
    return {name: digest for name, digest in ctg.tables().items() if name != "table:http_nonces"}


def _refusal(response: httpx.Response) -> tuple[int, str]:
    message = response.json()["error"]["message"]
    assert "\n" not in message
    return response.status_code, message


def test_an_auditor_reads_a_hosted_workspace_and_takes_no_step(
    people: Ctg,  # noqa: F811
    tmp_path: Path,
) -> None:
    ctg = people
    rid = ctg.file_request()
    ctg.ok("audit", "checkpoint", as_="v.admin")  # one the Caf's auditor would cosign
    with serving(ctg) as server:
        dirs = remote_dirs(ctg, server.url, tmp_path)
        for party, auditor in (("ville", "v.auditor"), ("caf", "c.auditor")):
            listed = ctg("--workspace", str(dirs[party]), "request", "list", "--json", as_=auditor)
            assert listed.exit_code == 0, listed.output
            assert [r["id"] for r in json.loads(listed.stdout)] == [rid]
            verified = ctg("--workspace", str(dirs[party]), "audit", "verify", as_=auditor)
            assert verified.exit_code == 0, verified.output
        before = _state(ctg)

        study = ctg("--workspace", str(dirs["caf"]), "study", "accept", rid, "--note", "Étude",
                    as_="c.auditor")  # fmt: skip
        assert study.exit_code == 1, study.output
        assert "AUDITOR_READS_ONLY: c.auditor is an auditor of caf92" in study.stderr
        signed = httpsig.sign(
            httpsig.Message("GET", f"{server.url}/v1/packages/{rid}/1", {}), b"", "v.auditor",
            key(ctg, "v.auditor"), workspace=WORKSPACE_OF[server.url],
        )  # fmt: skip
        download = httpx.get(f"{server.url}/v1/packages/{rid}/1", headers=signed, timeout=10)
        assert _refusal(download)[0] == 403 and "AUDITOR_READS_ONLY" in _refusal(download)[1]
        cosign = ctg("--workspace", str(dirs["caf"]), "audit", "cosign", as_="c.auditor")
        assert cosign.exit_code == 1, cosign.output
        assert "AUDITOR_READS_ONLY: c.auditor is an auditor of caf92" in cosign.stderr
        assert _state(ctg) == before


def test_after_its_until_a_hosted_workspace_refuses_the_auditor_every_call(
    people: Ctg,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ctg = people
    ctg.file_request()
    with serving(ctg) as server:
        dirs = remote_dirs(ctg, server.url, tmp_path)
        monkeypatch.setenv("CTG_TODAY", "2025-07-01")  # the server's simulated day too
        before = _state(ctg)

        whoami = call(server.url, member="v.auditor", signing_key=key(ctg, "v.auditor"))
        listed = ctg("--workspace", str(dirs["ville"]), "request", "list", as_="v.auditor")

        assert _refusal(whoami) == (
            403,
            "MEMBER_TERM_ENDED: v.auditor was a member until 2025-06-30: it can no longer act "
            "or read",
        )
        assert listed.exit_code == 1, listed.output
        assert "MEMBER_TERM_ENDED" in listed.stderr
        assert call(server.url, member="c.auditor", signing_key=key(ctg, "c.auditor")).is_success
        assert _state(ctg) == before


def test_hand_overs_and_an_auditor_for_a_period_from_afar(
    people: Ctg,  # noqa: F811
    tmp_path: Path,
) -> None:
    from conftest import PASSPHRASE, TEST_KDF_ROUNDS, add_args, member_keys

    ctg = people
    rid = ctg.file_request()
    member_keys(ctg).generate("v.inspector", PASSPHRASE, rounds=TEST_KDF_ROUNDS)
    with serving(ctg) as server:
        dirs = remote_dirs(ctg, server.url, tmp_path)

        def at(*args: str, as_: str) -> None:
            result = ctg("--workspace", str(dirs["ville"]), *args, as_=as_)
            assert result.exit_code == 0, result.output

        at(*add_args("v.inspector", "ville_sceaux", "auditor"), "--until", "2025-12-31",
           "--public-key", str(ctg.keys / "v.inspector.pub"), as_="v.admin")  # fmt: skip
        at("request", "hand-over", rid, "--to", "v.agent2", as_="v.agent")
        at("member", "revoke", "v.agent2", "--reason", "Mutation", "--successor", "v.agent",
           as_="v.admin")  # fmt: skip

    members = {m["id"]: m for m in ctg.json("member", "list")}
    assert (members["v.inspector"]["until"], members["v.inspector"]["roles"]) == (
        "2025-12-31",
        ["auditor"],
    )
    assert [(h["previous"], h["successor"]) for h in ctg.show(rid)["handovers"]] == [
        ("v.agent", "v.agent2"),
        ("v.agent2", "v.agent"),
    ]
    assert ctg("audit", "verify", "--full").exit_code == 0
