"""The command line as a new user meets it: help, examples, speed of --help, the demo."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from ctg_exchange.cli.app import COMMANDS, cli, summary
from ctg_exchange.policy import load_policy, shipped_policy_path

GROUPS = (
    "init", "keys", "member", "convention", "policy", "request", "study", "dpo", "decide",
    "conditions", "exchange", "review", "retention", "register", "audit", "report", "remind",
    "notify", "serve", "remote",
    "witness", "demo",
)  # fmt: skip
# a server prints only its access log, one JSON line per request: no document to give
NO_JSON = {"serve"}


def _all_commands() -> list[tuple[str, click.Command]]:
    ctx = click.Context(cli)
    found = []
    for name in cli.list_commands(ctx):
        command = cli.get_command(ctx, name)
        assert command is not None
        if isinstance(command, click.Group):
            found += [(f"{name} {sub}", command.commands[sub]) for sub in command.commands]
        else:
            found.append((name, command))
    return found


def test_help_lists_the_groups() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    for group in GROUPS:
        assert f"  {group} " in result.stdout
    assert tuple(COMMANDS) == GROUPS


def test_each_groups_line_in_the_help_is_its_own_docstring_summary() -> None:
    ctx = click.Context(cli)
    for name, where in COMMANDS.items():
        command = cli.get_command(ctx, name)
        assert command is not None and command.callback is not None
        first = (command.callback.__doc__ or "").strip().splitlines()[0]
        assert summary(*where) == first
    listing = CliRunner().invoke(cli, ["--help"], terminal_width=200).stdout
    assert "  audit       Read, verify, checkpoint, prove and export the signed" in listing


@pytest.mark.parametrize("path", [path for path, _ in _all_commands()])
def test_every_command_has_an_example(path: str) -> None:
    result = CliRunner().invoke(cli, [*path.split(), "--help"])
    assert result.exit_code == 0
    assert re.search(r"Examples?:\n +ctg-exchange ", result.stdout), result.stdout
    assert ("--json" in result.stdout) is (path not in NO_JSON)


def test_help_imports_nothing_heavy() -> None:
    code = (
        "import sys\n"
        "from ctg_exchange.cli.app import cli\n"
        "try:\n    cli(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('rich', 'pydantic', 'cryptography', 'yaml', 'sqlite3', 'psycopg')"
        " if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "HEAVY []" in out.stdout


def test_python_dash_m_runs_the_cli() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "ctg_exchange", "--version"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.startswith("ctg-exchange, version ")


def test_usage_errors_exit_2() -> None:
    result = CliRunner().invoke(cli, ["request", "list", "--status", "nonsense"])
    assert result.exit_code == 2


def test_shipped_policy_has_what_the_convention_says() -> None:
    policy = load_policy(shipped_policy_path()).policy
    assert policy.party_ids == ("ville_sceaux", "caf92")
    assert (str(policy.validity.start), str(policy.validity.end)) == ("2021-01-01", "2025-12-31")
    assert [f.id for f in policy.fields] == [
        "petite_enfance",
        "enfance",
        "jeunesse",
        "parentalite",
        "acces_aux_droits",
        "inclusion_numerique",
        "animation_vie_sociale",
        "logement",
        "handicap",
        "accompagnement_social",
    ]
    required = {
        "identite_contact",
        "numero_allocataire",
        "nir",
        "composition_familiale",
        "frequentation_eaje_alsh",
        "quotient_familial",
        "ressources_montants_prestations",
        "minima_sociaux_rsa",
        "logement_impayes_expulsion",
        "evaluation_sociale",
        "handicap_droit_flag",
        "sante_detail",
        "protection_enfance_ip",
        "infractions_fraude",
        "nationalite_sejour",
        "statistiques_agregees",
    }
    assert required <= {c.id for c in policy.categories}
    assert [b.id for b in policy.legal_bases.art6] == ["art6_1_c", "art6_1_e"]
    assert [b.id for b in policy.legal_bases.art9] == ["art9_2_b", "art9_2_g", "art9_2_h"]
    assert all(p.dpo.example for p in policy.parties)
    eaje = next(s for s in policy.structures if s.type == "EAJE")
    assert len(eaje.items) == 7


@pytest.mark.slow
def test_demo_runs_and_leaves_a_workspace_to_explore(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("CTG_WORKSPACE", "CTG_KEY_DIR", "CTG_PASSPHRASE", "CTG_TODAY", "CTG_MEMBER"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CTG_TODAY", "2026-11-27")  # after the shipped convention ended
    target = tmp_path / "demo"
    result = CliRunner().invoke(cli, ["demo", "--dir", str(target)], catch_exceptions=False)

    assert result.exit_code == 0, result.output
    assert "ended on 2025-12-31" in result.stderr
    assert "both parties adopt a new convention" in " ".join(result.stderr.split())
    assert "Pre-screening warns: ALGORITHMIC_DECISION, QF_PER_FAMILY_CHANNEL" in " ".join(
        result.stderr.split()
    )
    said = " ".join(result.stderr.split())
    assert "15. audit verify: 35 events verified" in said
    assert "c.agent sends DX-2026-0001-1" in said and "v.agent receives it" in said
    assert "deletes the received copy and attests it" in said
    assert "c.dpo verifies the log and cosigns it for the Caf" in said
    # the shipped policy's DPO contacts are examples: the demo shows the finding, never hides it
    said = " ".join(result.stderr.split())
    assert (
        "register check flags 6 finding(s) to resolve before real use — PLACEHOLDER_CONTACT: "
        "ville_sceaux dpo, caf92 dpo; PLACEHOLDER_VALUE: VS-ALSH processors[0].name," in said
    )
    export = next(line.strip() for line in result.stdout.splitlines() if "export " in line)
    env = dict(item.split("=", 1) for item in export.removeprefix("export ").split())
    env["CTG_TODAY"] = "2026-11-27"
    shown = CliRunner().invoke(cli, ["--json", "request", "show", "DX-2026-0001"], env=env)
    request = json.loads(shown.stdout)
    assert request["status"] == "exchanged"
    assert request["conditions"][0]["kind"] == "max_retention_days"
    convention = CliRunner().invoke(cli, ["--json", "convention", "show"], env=env)
    assert json.loads(convention.stdout)["status"] == "in_force"
    again = CliRunner().invoke(cli, ["demo", "--dir", str(target)])
    assert again.exit_code == 1
    assert "a workspace already exists" in again.stderr
