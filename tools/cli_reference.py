"""Write docs/cli-reference.md from the click command tree (STYLE §8).

    python tools/cli_reference.py            # rewrite the file
    python tools/cli_reference.py --check    # exit 1 if it is stale

``tests/test_docs.py`` runs the check, so the reference cannot drift from ``--help``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
from click.testing import CliRunner

ROOT = Path(__file__).resolve().parents[1]
TARGET = ROOT / "docs" / "cli-reference.md"
sys.path.insert(0, str(ROOT))

from ctg_exchange.cli.app import cli  # noqa: E402


def _paths() -> list[list[str]]:
    ctx = click.Context(cli)
    paths: list[list[str]] = [[]]
    for name in cli.list_commands(ctx):
        command = cli.get_command(ctx, name)
        paths.append([name])
        if isinstance(command, click.Group):
            paths += [[name, sub] for sub in command.list_commands(ctx)]
    return paths


def render() -> str:
    runner = CliRunner()
    parts = [
        "# ctg-exchange command reference\n",
        "Generated from `--help` by `tools/cli_reference.py`; do not edit by hand.\n",
    ]
    for path in _paths():  # CliRunner renders help 80 columns wide, whatever the terminal
        result = runner.invoke(cli, [*path, "--help"], prog_name="ctg-exchange")
        title = " ".join(["ctg-exchange", *path])
        parts.append(f"## `{title}`\n\n```\n{result.stdout.rstrip()}\n```\n")
    return "\n".join(parts)


def main() -> int:
    text = render()
    if "--check" in sys.argv[1:]:
        if TARGET.read_text(encoding="utf-8") != text:
            print(
                "docs/cli-reference.md is stale: run python tools/cli_reference.py", file=sys.stderr
            )
            return 1
        return 0
    TARGET.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
