"""A stored row changed into something the tool never writes is evidence, not a crash.

Whoever can write the database can put anything in a row. Every command that meets such a row,
``audit verify`` first, answers with an integrity failure (exit 3) naming the table and the row,
never an internal error, and changes nothing.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import REQUEST, Ctg, State

REGISTRY = Path(__file__).resolve().parents[1] / "registry"


def _registered_request(ctg: Ctg) -> None:
    for dpo in ("v.dpo", "c.dpo"):
        ctg.ok("register", "import", str(REGISTRY), as_=dpo)
    rid = ctg.file_request()
    ctg.advance(rid, "opinion_given")


@pytest.fixture
def workspace(state: State) -> Ctg:
    ctg = state("registered_request", _registered_request)
    assert ctg("audit", "verify").exit_code == 0  # remembered: the cases verify with --full
    return ctg


def _last_seq(ctg: Ctg, action: str) -> int:
    return max(int(e["seq"]) for e in ctg.json("audit", "log") if e["action"] == action)


CASES: dict[str, tuple[str, str, list[tuple[str, ...]]]] = {
    "event payload not JSON": (
        "UPDATE audit_events SET payload = '{not json' WHERE seq = {opinion}",
        "audit_events row #{opinion}",
        [("audit", "verify", "--full"), ("audit", "log"), ("audit", "show", "{opinion}")],
    ),
    "event payload not an object": (
        "UPDATE audit_events SET payload = '[1, 2]' WHERE seq = {opinion}",
        "audit_events row #{opinion}",
        [("audit", "verify", "--full"), ("audit", "log")],
    ),
    "event payload with a float": (
        "UPDATE audit_events SET payload = '{\"a\": 1.5}' WHERE seq = {opinion}",
        "audit_events row #{opinion}",
        [("audit", "verify", "--full"), ("audit", "log")],
    ),
    "request document refused by its model": (
        "UPDATE requests SET doc = '{\"id\": 1}'",
        "requests row DX-",
        [("audit", "verify", "--full"), ("request", "list"), ("request", "show", "{rid}")],
    ),
    "request document not JSON": (
        "UPDATE requests SET doc = 'garbage'",
        "requests row DX-",
        [("audit", "verify", "--full"), ("request", "list")],
    ),
    "member role that does not exist": (
        "UPDATE members SET roles = 'overlord' WHERE id = 'c.agent'",
        "members row c.agent",
        [("audit", "verify", "--full"), ("member", "list")],
    ),
    "register version refused by its model": (
        "UPDATE register_versions SET doc = '[]' WHERE ref = 'VS-EAJE'",
        "register_versions row VS-EAJE v1",
        [("audit", "verify", "--full"), ("register", "list"), ("register", "show", "VS-EAJE")],
    ),
    "request step with a state that does not exist": (
        "UPDATE request_steps SET to_status = 'teleported' WHERE seq = {opinion}",
        "request_steps row {opinion}",
        [("request", "show", "{rid}")],
    ),
    "policy text that no longer parses": (
        "UPDATE policies SET text = 'id: [' WHERE version = 1",
        "policies row v1",
        [("convention", "show"), ("request", "check", *REQUEST[2:])],
    ),
}


# rows that ``audit verify`` reads as columns, not as models: it names what differs from the log
VERIFY_SAYS = {
    "request step with a state that does not exist": "request {rid}: step {opinion}: to_status "
    "is 'teleported' in the store; the log says 'opinion_given'",
    "policy text that no longer parses": "policy 1: sha256 is ",
}


@pytest.mark.parametrize("case", CASES)
def test_a_row_that_no_longer_parses_is_an_integrity_failure(workspace: Ctg, case: str) -> None:
    statement, where, commands = CASES[case]
    commands = [*commands, ("audit", "verify", "--full")] if case in VERIFY_SAYS else commands
    rid = workspace.json("request", "list")[0]["id"]
    names = {"opinion": str(_last_seq(workspace, "dpo.opinion")), "rid": rid}
    workspace.sql(statement.replace("{opinion}", names["opinion"]), guards=False)
    where = where.format(**names)
    for command in commands:
        args = [arg.format(**names) for arg in command]
        expected = f"the {where}"
        if case in VERIFY_SAYS and command == ("audit", "verify", "--full"):
            expected = VERIFY_SAYS[case].format(**names)
        result = workspace.refused(*args, as_="c.dpo", code=3, contains=expected)
        assert "internal error" not in result.stderr
        if command == ("audit", "verify", "--full") and case not in VERIFY_SAYS:
            document = json.loads(workspace("audit", "verify", "--full", "--json").stdout)["error"]
            assert document["code"] == "corrupt_row", document
