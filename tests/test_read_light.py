"""``member list``, ``register list`` and ``audit log`` read rows as stored (issue 17): the same
output as from the models, without pydantic, the cryptography or (on a pipe) rich."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from conftest import Ctg, State

ROOT = Path(__file__).resolve().parents[1]


def _read(ctg: Ctg) -> None:
    from test_request_show import _shown

    _shown(ctg)
    ctg.ok("register", "import", as_="v.dpo")
    ctg.ok("register", "import", as_="c.dpo")
    ctg.ok("member", "revoke", "v.analyst", "--reason", "Départ (test)", as_="v.admin")


@pytest.fixture
def read(state: State) -> Ctg:
    return state("read-light", _read)


def test_the_highlights_are_the_models_for_every_action() -> None:
    """Each action's payload model says the words :mod:`ctg_exchange.domain.highlights`
    reads: a step's states and the one field it records besides, a member's id."""
    from ctg_exchange.domain import highlights
    from ctg_exchange.domain.catalogue import CATALOGUE
    from ctg_exchange.domain.key_payloads import KeyRotation
    from ctg_exchange.domain.payloads import MemberAdd, MemberContact, MemberRevoke, Payload
    from ctg_exchange.domain.step_payloads import RequestFile, RequestStep

    steps = {}
    for action, model in CATALOGUE.items():
        if issubclass(model, RequestFile):
            assert action.value == highlights.FILE
        elif issubclass(model, RequestStep):
            said = [key for key in ("changed", "verdict", "outcome") if key in model.model_fields]
            steps[action.value] = said[0] if said else None
        elif model in (MemberAdd, MemberRevoke, MemberContact, KeyRotation):
            assert action.value in highlights.MEMBERS
        else:
            assert model.highlights is Payload.highlights, action
    assert steps == highlights.STEPS


def test_audit_log_says_what_the_models_say_of_every_event(read: Ctg) -> None:
    from ctg_exchange.audit.events import StoredEvent
    from ctg_exchange.domain.actions import Action
    from ctg_exchange.domain.catalogue import parse_payload
    from ctg_exchange.domain.highlights import highlights

    db = read.connect()
    try:
        rows = db.execute("SELECT action, payload FROM audit_events ORDER BY seq").fetchall()
    finally:
        db.close()
    actions = set()
    for action, text in rows:
        payload = StoredEvent.payload_from_text(text)
        expected = parse_payload(Action(action), payload).highlights()
        assert highlights(action, payload) == expected, action
        actions.add(action)
    assert {"request.file", "dpo.opinion", "decide.approve", "decide.reject",
            "member.revoke", "exchange.send"} <= actions  # fmt: skip
    assert highlights("dpo.opinion", {"from_status": "awaiting_dpo", "to_status": "filed",
                                      "verdict": "not one"}) == {}  # fmt: skip


def test_member_list_is_what_the_models_give(read: Ctg) -> None:
    from ctg_exchange.cli.member_cmd import member_json
    from ctg_exchange.services.members import list_members
    from ctg_exchange.services.workspace import Workspace

    workspace = Workspace.open(read.workspace)
    try:
        expected = [member_json(m) for m in list_members(workspace)]
    finally:
        workspace.close()
    listed = read.json("member", "list")
    assert listed == expected
    assert [list(m) for m in listed] == [list(m) for m in expected]
    lines = read.ok("member", "list").stdout.splitlines()
    assert lines[0].split("\t") == ["id", "party", "roles", "status", "added by", "name"]
    revoked = next(line for line in lines if line.startswith("v.analyst\t"))
    assert revoked.split("\t")[3] == "revoked 2025-06-02"


def test_register_list_is_what_the_models_give(read: Ctg) -> None:
    from ctg_exchange.services.register import current_entries
    from ctg_exchange.services.workspace import Workspace

    workspace = Workspace.open(read.workspace)
    try:
        versions = current_entries(workspace, "caf92")
    finally:
        workspace.close()
    assert versions
    expected = [
        "\t".join((v.entry.ref, v.entry.controller, str(v.version), v.at[:10], v.entry.name))
        for v in versions
    ]
    lines = read.ok("register", "list", "--controller", "caf92").stdout.splitlines()
    assert lines == ["ref\tcontroller\tv\tupdated\tname", *expected]


def test_a_fiche_not_json_is_named(read: Ctg) -> None:
    read.sql("UPDATE register_versions SET doc = 'garbage' WHERE version = 1 AND ref = "
             "(SELECT MIN(ref) FROM register_versions)", guards=False)  # fmt: skip
    read.refused("register", "list", code=3, contains="register_versions row")


def _loaded(ctg: Ctg, command: list[str]) -> tuple[str, list[str]]:
    probe = (
        "import sys\n"
        "from ctg_exchange.cli import main\n"
        f"sys.argv = ['ctg-exchange', *{command!r}]\n"
        "try:\n    main()\nexcept SystemExit as exc:\n    assert not exc.code, exc.code\n"
        "print(sorted({m.split('.')[0] for m in sys.modules}), file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=False, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr
    loaded: Any = eval(done.stderr.strip().splitlines()[-1])  # noqa: S307 (our own probe)
    return done.stdout, loaded


@pytest.mark.parametrize(
    "command",
    [["member", "list"], ["--json", "member", "list"], ["register", "list"], ["audit", "log"],
     ["audit", "log", "--request", "DX-2025-0002"]],
)  # fmt: skip
def test_these_read_commands_load_no_models_no_crypto_no_rich(
    read: Ctg, command: list[str]
) -> None:
    if read.backend == "postgres":
        pytest.skip("psycopg is what a PostgreSQL workspace needs")
    read.ok(*command)  # the policy's facts cached (audit log's time zone)
    stdout, loaded = _loaded(read, command)
    assert stdout
    assert not {"pydantic", "cryptography", "rich", "yaml"} & set(loaded), loaded


@pytest.mark.parametrize(
    "value",
    [{"a": "é\x00\x1f\"\\\n\t\u2028\x7f", "b": [], "c": {}, "d": [1, True, None, False, "x"],
      1: "a number as key", None: 2, "f": 1.5, "g": (1, 2), "h": -3, 2.5: "k", False: 0},
     [], {}, "s", 3, None, [[{"z": [], "y": {"x": [{}]}}]], {"s": Path("p")}],
)  # fmt: skip
def test_lists_write_json_as_the_standard_library_indents_it(value: object) -> None:
    """``--json --all`` writes each item with its own indenting encoder: the same text."""
    import json

    from ctg_exchange.cli.listing import indented

    out: list[str] = []
    indented(value, "", out)
    assert "".join(out) == json.dumps(value, ensure_ascii=False, indent=2, default=str)
