"""Documentation that cannot drift from the code."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    "generator",
    [
        "tools/cli_reference.py",  # docs/cli-reference.md, from the commands' help
        "tools/audit_catalogue.py",  # the payload table of docs/audit-format.md, from the models
        "tools/rules_page.py",  # docs/regles.md, the rules and their sources, from the policy
    ],
)
def test_generated_documentation_is_up_to_date(generator: str) -> None:
    result = subprocess.run(
        [sys.executable, generator, "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_the_register_formats_offered_are_the_exporters() -> None:
    from ctg_exchange.cli.register_cmd import FORMATS
    from ctg_exchange.register.export import EXPORTERS

    assert FORMATS == tuple(EXPORTERS)


def test_readme_test_command_is_what_ci_runs() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    command = next(line.strip() for line in readme.splitlines() if "[test]" in line)
    assert command in ci
