"""French under a French locale (or CTG_LANG=fr), English otherwise (issue 16, item 1).

The help of every command and option, click's own words in it, the error prefix and the
generic error lines, and the labels of statuses, verdicts and frequencies in human output are
French; ``--json`` keeps the codes. The catalog is never stale and every message has French.
"""

from __future__ import annotations

import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from ctg_exchange.cli.app import cli
from ctg_exchange.i18n import language
from ctg_exchange.labels import label

from conftest import Ctg, compiler_present

ROOT = Path(__file__).resolve().parents[1]
EXT_SUFFIX = sysconfig.get_config_var("EXT_SUFFIX")
FRENCH = {"CTG_LANG": "fr"}
# English words of the current help texts that a French help page must not contain
ENGLISH = (" the ", " and ", " of ", " with ", " your ", " which ", " a request", " when ",
           "Usage:", "Example:", "Examples:", "Commands:", "Show this message", "[required]",
           "[default:", "Given alone on a terminal", "repeat for several")  # fmt: skip


def _paths(group: click.Group = cli, above: tuple[str, ...] = ()) -> list[list[str]]:
    """Every command's path, the root's first (as ``docs/cli-reference.md`` lists them)."""
    found = [list(above)]
    for name in group.list_commands(click.Context(group)):
        command = group.get_command(click.Context(group), name)
        if isinstance(command, click.Group):
            found += _paths(command, (*above, name))
        else:
            found.append([*above, name])
    return found


def _help(path: list[str], env: dict[str, str | None]) -> str:
    result = CliRunner(env=env).invoke(cli, [*path, "--help"], prog_name="ctg-exchange")
    assert result.exit_code == 0, result.output
    return result.stdout


def test_the_catalog_is_current_and_every_message_has_french() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "catalog.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize(
    "env",
    [FRENCH, {"CTG_LANG": None, "LC_ALL": None, "LC_MESSAGES": None, "LANG": "fr_FR.UTF-8"}],
    ids=["CTG_LANG=fr", "LANG=fr_FR.UTF-8"],
)
def test_every_help_page_is_french(env: dict[str, str | None]) -> None:
    for path in _paths():
        text = _help(path, env)
        assert text.startswith("Utilisation : ctg-exchange"), text
        found = [word for word in ENGLISH if word in text]
        assert not found, f"ctg-exchange {' '.join(path)} --help: {found}\n{text}"
    root = _help([], env)
    assert "Commandes :" in root
    assert "Déposer une demande" in _help(["request", "new"], env)
    assert "Rendre l'avis préalable" in _help(["dpo", "opinion"], env)


def test_english_under_the_c_locale_and_by_default() -> None:
    envs: list[dict[str, str | None]] = [
        {"CTG_LANG": None, "LC_ALL": None, "LC_MESSAGES": None, "LANG": "C"},
        {"CTG_LANG": "en", "LANG": "fr_FR.UTF-8"},
    ]
    for env in envs:
        text = _help(["study", "accept"], env)
        assert text.startswith("Usage: ctg-exchange study accept"), text
        assert "Take a filed request into study" in text
        assert "[required]" in text
        assert "Show this message and exit." in text


def test_the_language_follows_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in ("CTG_LANG", "LC_ALL", "LC_MESSAGES", "LANG"):
        monkeypatch.delenv(variable, raising=False)
    assert language() == "en"
    monkeypatch.setenv("LANG", "fr_CA.UTF-8")
    assert language() == "fr"
    monkeypatch.setenv("LC_ALL", "C")  # LC_ALL first, as POSIX reads them
    assert language() == "en"
    monkeypatch.setenv("CTG_LANG", "fr")  # CTG_LANG over the locale
    assert language() == "fr"
    monkeypatch.setenv("CTG_LANG", "de")  # neither: the locale decides
    assert language() == "en"


def test_an_error_line_is_french(tmp_path: Path) -> None:
    missing = str(tmp_path / "nowhere")
    result = CliRunner(env=FRENCH).invoke(cli, ["-w", missing, "member", "list"])
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert lines[0].startswith("ctg-exchange : erreur : "), result.stderr
    assert lines[1].startswith("ctg-exchange : conseil : "), result.stderr
    english = CliRunner(env={"CTG_LANG": "en"}).invoke(cli, ["-w", missing, "member", "list"])
    assert english.stderr.startswith("ctg-exchange: error: "), english.stderr
    assert not (tmp_path / "nowhere").exists()


def test_labels_of_codes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CTG_LANG", "fr")
    assert label("status", "awaiting_dpo") == "en attente de l'avis du DPO"
    assert label("verdict", "favourable_with_recommendations") == (
        "avis favorable assorti de recommandations"
    )
    assert label("frequency", "monthly") == "mensuelle"
    monkeypatch.setenv("CTG_LANG", "en")
    assert label("status", "awaiting_dpo") == "awaiting_dpo"


def test_request_show_labels_in_french_codes_in_json(ctg: Ctg) -> None:
    filed = ctg.file_request()
    shown = ctg("request", "show", filed, env=FRENCH)
    assert shown.exit_code == 0, shown.output
    assert "déposée" in shown.stdout
    assert "mensuelle" in shown.stdout
    as_json = ctg("--json", "request", "show", filed, env=FRENCH)
    assert '"status": "filed"' in as_json.stdout
    assert '"frequency": "monthly"' in as_json.stdout


@pytest.mark.slow
def test_the_wheel_ships_the_compiled_catalog(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path), str(ROOT)],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("ctg_exchange-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "ctg_exchange/locale/fr/LC_MESSAGES/ctg_exchange.mo" in names
    # the tests import the module pip left in the source tree: the wheel must carry it too
    compiled = [name for name in names if name.startswith("ctg_exchange/_native.")]
    compiled.remove("ctg_exchange/_native.pyi")  # its types; the C source stays in the sdist
    assert compiled == (["ctg_exchange/_native" + EXT_SUFFIX] if compiler_present() else [])
