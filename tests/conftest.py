"""Fixtures: a workspace with synthetic members of both parties, driven through the real CLI.

Generating and encrypting keys costs ~0.15 s each (bcrypt-pbkdf), so one template workspace is
built per test session with the CLI itself, and every test works on its own copy of it.
All names and values are synthetic.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from ctg_exchange.cli.app import cli

SHIPPED_POLICY = Path(__file__).resolve().parents[1] / "policies" / "ctg-sceaux-caf92.yaml"
PASSPHRASE = "synthetic-test-passphrase"
TODAY = "2025-06-02"  # inside the shipped convention's validity (2021-01-01 -> 2025-12-31)

# id, party, roles, the admin who adds them (v.admin creates the workspace)
MEMBERS: tuple[tuple[str, str, tuple[str, ...], str], ...] = (
    ("v.agent", "ville_sceaux", ("staff",), "v.admin"),
    ("v.controller", "ville_sceaux", ("controller",), "v.admin"),
    ("v.dpo", "ville_sceaux", ("dpo",), "v.admin"),
    ("c.admin", "caf92", ("admin",), "v.admin"),
    ("c.agent", "caf92", ("staff",), "c.admin"),
    ("c.controller", "caf92", ("controller",), "c.admin"),
    ("c.dpo", "caf92", ("dpo",), "c.admin"),
    ("c.both", "caf92", ("staff", "controller"), "c.admin"),
)

REQUEST = (
    "request", "new", "--to", "caf92", "--field", "petite_enfance",
    "--purpose", "Tarifer les crèches au barème national (demande de test synthétique)",
    "--purpose-kind", "pricing",
    "--category", "numero_allocataire", "--category", "quotient_familial",
    "--subjects", "Familles fictives inscrites en EAJE (jeu de test)",
    "--legal-basis", "art6_1_e", "--legal-text", "Texte de référence fictif pour les tests",
    "--retention-days", "365", "--frequency", "monthly",
)  # fmt: skip


# what c.both (caf92) asks of the town hall: data the town hall holds
REQUEST_TO_VILLE = (
    "request", "new", "--to", "ville_sceaux", "--field", "petite_enfance",
    "--purpose", "Suivre l'occupation des places financées (demande de test synthétique)",
    "--purpose-kind", "statistics", "--category", "frequentation_eaje_alsh",
    "--subjects", "Enfants fictifs accueillis en EAJE (jeu de test)",
    "--legal-basis", "art6_1_e", "--legal-text", "Texte de référence fictif pour les tests",
    "--retention-days", "365", "--frequency", "yearly",
)  # fmt: skip


def add_args(member_id: str, party: str, *roles: str, name: str = "") -> tuple[str, ...]:
    """``member add`` arguments for a synthetic member."""
    role_args = [arg for role in roles for arg in ("--role", role)]
    return (
        "member",
        "add",
        member_id,
        "--name",
        name or f"{member_id} (fictif)",
        "--party",
        party,
        *role_args,
    )


def env_for(root: Path) -> dict[str, str]:
    return {
        "CTG_WORKSPACE": str(root / "ws"),
        "CTG_KEY_DIR": str(root / "keys"),
        "CTG_PASSPHRASE": PASSPHRASE,
        "CTG_TODAY": TODAY,
        "CTG_DEBUG": "1",  # an unexpected exception fails the test with its traceback
        "XDG_CONFIG_HOME": str(root / "config"),
    }


@dataclass
class Ctg:
    """Runs ``ctg-exchange`` in-process against one workspace."""

    root: Path

    @property
    def workspace(self) -> Path:
        return self.root / "ws"

    @property
    def keys(self) -> Path:
        return self.root / "keys"

    @property
    def db(self) -> Path:
        return self.workspace / "ctg.sqlite3"

    def __call__(
        self,
        *args: str,
        as_: str | None = None,
        env: dict[str, str] | None = None,
        input: str | None = None,
    ) -> Result:
        argv = (["--as", as_] if as_ else []) + list(args)
        return CliRunner().invoke(cli, argv, env=env, input=input, catch_exceptions=False)

    def ok(self, *args: str, as_: str | None = None, env: dict[str, str] | None = None) -> Result:
        result = self(*args, as_=as_, env=env)
        assert result.exit_code == 0, result.output
        return result

    def json(self, *args: str, as_: str | None = None) -> Any:
        result = self(*args, "--json", as_=as_)
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    def file_request(self, *extra: str, as_: str = "v.agent") -> str:
        base = REQUEST_TO_VILLE if as_.startswith("c.") else REQUEST
        return str(self.json(*base, *extra, as_=as_)["id"])

    def show(self, request_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self.json("request", "show", request_id)
        return result

    def advance(self, request_id: str, until: str) -> None:
        """Move a filed request (to caf92) along the happy path up to ``until``."""
        steps = [
            (
                "under_study",
                ("study", "accept", request_id, "--note", "Étude engagée"),
                "c.controller",
            ),
            ("awaiting_dpo", ("study", "submit", request_id), "c.controller"),
            (
                "opinion_given",
                ("dpo", "opinion", request_id, "--verdict", "favourable", "--note", "Avis de test"),
                "c.dpo",
            ),
            ("approved", ("decide", "approve", request_id), "c.controller"),
        ]
        for status, args, actor in steps:
            self.ok(*args, as_=actor)
            if status == until:
                return
        raise AssertionError(f"unknown status {until}")

    def snapshot(self) -> dict[str, str]:
        """SHA-256 of every file in the workspace and the key directory."""
        files = {}
        for base in (self.workspace, self.keys):
            for path in sorted(base.rglob("*")):
                if path.is_file():
                    files[str(path.relative_to(self.root))] = hashlib.sha256(
                        path.read_bytes()
                    ).hexdigest()
        return files

    def refused(
        self,
        *args: str,
        as_: str | None = None,
        contains: str,
        code: int = 1,
        env: dict[str, str] | None = None,
        lines: int = 1,
    ) -> Result:
        """Run a command that must be refused: exit code, error line(s), nothing changed.

        ``contains`` must be in the first error line; a file with several problems has
        ``lines`` of them, one per problem.
        """
        before = self.snapshot()
        result = self(*args, as_=as_, env=env)
        assert result.exit_code == code, result.output
        error_lines = [
            line for line in result.stderr.splitlines() if line.startswith("ctg-exchange: error:")
        ]
        assert len(error_lines) == lines, result.stderr
        assert contains in error_lines[0], error_lines[0]
        assert "Traceback" not in result.output
        assert self.snapshot() == before, "a refused command changed the workspace"
        return result


def _build_template(root: Path) -> None:
    ctg = Ctg(root)
    init = ctg(
        "init",
        "--admin",
        "v.admin",
        "--admin-name",
        "Admin Test (Ville, fictif)",
        "--admin-party",
        "ville_sceaux",
    )
    assert init.exit_code == 0, init.output
    for member_id, party, roles, adder in MEMBERS:
        generated = ctg("keys", "generate", "--member", member_id)
        assert generated.exit_code == 0, generated.output
        added = ctg(*add_args(member_id, party, *roles), as_=adder)
        assert added.exit_code == 0, added.output


@pytest.fixture(scope="session")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("template")
    with pytest.MonkeyPatch.context() as mp:
        for key, value in env_for(root).items():
            mp.setenv(key, value)
        mp.delenv("CTG_MEMBER", raising=False)
        _build_template(root)
    return root


@pytest.fixture
def ctg(template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Ctg]:
    root = tmp_path / "ctg"
    shutil.copytree(template, root, symlinks=True)
    for key, value in env_for(root).items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("CTG_MEMBER", raising=False)
    yield Ctg(root)


@pytest.fixture
def fresh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Ctg:
    """An empty place for a new workspace (nothing initialised)."""
    root = tmp_path / "fresh"
    root.mkdir()
    for key, value in env_for(root).items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("CTG_MEMBER", raising=False)
    return Ctg(root)


# -- a run in which no test passed is a failure, not a green run (.ci/run relies on it) --------
_passed = 0


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    global _passed
    if report.when == "call" and report.passed:
        _passed += 1


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if exitstatus == 0 and _passed == 0:
        session.exitstatus = 1
