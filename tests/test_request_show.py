"""``request show`` read light (issue 17): the same screen from the stored rows as from the
models, its findings screened again in the reader's language or read from this machine's cache,
and neither pydantic, nor the cryptography, nor rich loaded once they are cached."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from conftest import Ctg, State

if TYPE_CHECKING:
    from ctg_exchange.cli.console import InertConsole

ROOT = Path(__file__).resolve().parents[1]
FRENCH = {"CTG_LANG": "fr"}
ENGLISH = {"CTG_LANG": "en"}
TYPED = "Note [bold]pas du gras[/] \\[x] fin\\"  # markup and backslashes, shown as typed


def _shown(ctg: Ctg) -> None:
    """A filed request (DX-2025-0001); one through every step to an early second delivery
    (DX-2025-0002); one refused by the DPO and rejected (DX-2025-0003)."""
    from test_exchange import EARLY, _make_party_keys, accepted, qf_csv, receive, send

    ctg.file_request()
    _make_party_keys(ctg)
    rid = accepted(ctg, "max_retention_days:180", f"free:{TYPED}", adopt=("R1", "R2"))
    ctg.ok("dpo", "annotate", rid, "--note", TYPED, as_="v.dpo")
    dataset = qf_csv(ctg.root / "qf.csv")
    sent = send(ctg, rid, dataset)
    ctg.ok(*receive(sent["package"], ctg.root / "in.csv"), as_="v.agent")
    (ctg.root / "second").mkdir()
    send(ctg, rid, qf_csv(ctg.root / "second" / "qf.csv", rows=1), *EARLY)
    third = ctg.file_request()
    ctg.advance(third, "awaiting_dpo")
    ctg.ok("dpo", "opinion", third, "--verdict", "unfavourable", "--note", TYPED, as_="c.dpo")
    ctg.ok("decide", "reject", third, "--reason", "Refus (test)", as_="c.controller")


@pytest.fixture
def shown(state: State) -> Ctg:
    return state("shown", _shown)


def _by_the_models(ctg: Ctg, request_id: str, terminal: bool) -> str:
    """What ``request show`` printed before it read light: the models, and views.render_request."""
    from reference_screen import render_request

    from ctg_exchange.i18n import _, is_french
    from ctg_exchange.services.requests import get_request
    from ctg_exchange.services.workspace import Workspace

    out = io.StringIO()
    console = _console(out, terminal)
    workspace = Workspace.open(ctg.workspace)
    try:
        view = get_request(workspace, request_id)
        with workspace.store.transaction() as tx:
            policy = workspace.current_policy(tx).policy
        purposes = {kind.id: kind.label for kind in policy.purpose_kinds} if is_french() else {}
        render_request(
            console, view.request, view.steps, view.deliveries, policy.display_zone, purposes
        )
        if workspace.simulated:
            console.print(_("[yellow]simulated clock[/]: a rehearsal (init --simulated-clock)"))
    finally:
        workspace.close()
    return out.getvalue()


def _console(out: io.StringIO, terminal: bool) -> InertConsole:

    from ctg_exchange.cli.console import InertConsole

    if terminal:
        made = InertConsole(file=out, force_terminal=True, width=120, color_system="truecolor",
                            highlight=False, emoji=False)  # fmt: skip
    else:
        made = InertConsole(file=out, soft_wrap=True, color_system=None, force_terminal=False,
                            highlight=False, emoji=False)  # fmt: skip
        made.plain = True
    return made


def _read_light(ctg: Ctg, request_id: str, terminal: bool, monkeypatch: pytest.MonkeyPatch) -> str:
    """``request show`` as the command prints it now, to a pipe or (``terminal``) a terminal."""
    from ctg_exchange.cli import listing

    if not terminal:
        return ctg.ok("request", "show", request_id).stdout
    out = io.StringIO()
    monkeypatch.setattr(listing.Out, "__init__", _terminal_out(out))
    result = ctg.ok("request", "show", request_id)
    assert result.stdout == ""
    return out.getvalue()


def _terminal_out(out: io.StringIO) -> object:
    def init(self: object) -> None:
        self.plain = False  # type: ignore[attr-defined]
        self._lines = []  # type: ignore[attr-defined]
        self._console = _console(out, terminal=True)  # type: ignore[attr-defined]

    return init


@pytest.mark.parametrize("terminal", [False, True], ids=["pipe", "terminal"])
@pytest.mark.parametrize("lang", ["en", "fr"])
def test_the_screen_is_the_one_the_models_gave(
    shown: Ctg, lang: str, terminal: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ctg_exchange.i18n import in_language

    monkeypatch.setenv("CTG_LANG", lang)
    for request_id in ("DX-2025-0001", "DX-2025-0002", "DX-2025-0003"):
        with in_language(lang):
            expected = _by_the_models(shown, request_id, terminal)
        assert _read_light(shown, request_id, terminal, monkeypatch) == expected, request_id
    if not terminal:
        text = shown.ok("request", "show", "DX-2025-0002").stdout
        assert TYPED in text  # markup typed is shown as typed
        assert ("Envois" if lang == "fr" else "Deliveries") in text


def _cached(ctg: Ctg) -> list[Path]:
    return sorted((ctg.root / "cache" / "ctg-exchange" / "findings").glob("*.json"))


def test_a_cached_screening_gives_the_same_screen(shown: Ctg) -> None:
    assert _cached(shown) == []
    missed = shown.ok("request", "show", "DX-2025-0001", env=FRENCH).stdout
    [entry] = _cached(shown)
    assert oct(entry.stat().st_mode & 0o777) == "0o600"
    hit = shown.ok("request", "show", "DX-2025-0001", env=FRENCH).stdout
    assert hit == missed
    assert "MINORS (avertissement) la demande concerne des enfants" in hit
    english = shown.ok("request", "show", "DX-2025-0001", env=ENGLISH).stdout
    assert "MINORS (warning) the request concerns children" in english
    assert len(_cached(shown)) == 2  # one per language


@pytest.mark.parametrize("garbage", [b"", b"not json", b'{"key": [], "value": []}',
                                     b'{"key": null, "value": [{"code": 1}]}'])  # fmt: skip
def test_a_corrupt_cache_entry_is_screened_again(shown: Ctg, garbage: bytes) -> None:
    screen = shown.ok("request", "show", "DX-2025-0001").stdout
    [entry] = _cached(shown)
    good = entry.read_bytes()
    entry.write_bytes(garbage)
    assert shown.ok("request", "show", "DX-2025-0001").stdout == screen
    assert entry.read_bytes() == good  # written anew


def test_an_entry_of_the_right_key_but_wrong_shape_is_screened_again(shown: Ctg) -> None:
    screen = shown.ok("request", "show", "DX-2025-0001").stdout
    [entry] = _cached(shown)
    kept = json.loads(entry.read_bytes())
    kept["value"][0]["severity"] = "fatal"
    entry.write_text(json.dumps(kept))
    assert shown.ok("request", "show", "DX-2025-0001").stdout == screen


def test_codes_other_than_the_stored_ones_show_the_stored_findings(shown: Ctg) -> None:
    """Screened again (or cached) findings whose codes differ from the stored ones are not
    shown: the stored ones are, as stored (``audit verify`` names the row)."""
    shown.ok("request", "show", "DX-2025-0001")  # cached
    with_minors = json.loads(_doc(shown, "DX-2025-0001"))
    with_minors["findings"] = [{"code": "MINORS", "severity": "blocking", "message": "as stored"}]
    shown.sql("UPDATE requests SET doc = ? WHERE id = 'DX-2025-0001'",
              params=(json.dumps(with_minors),))  # fmt: skip
    text = shown.ok("request", "show", "DX-2025-0001").stdout
    assert "  MINORS (blocking) as stored\n" in text
    assert "the request concerns children" not in text


def test_a_cache_entry_of_other_codes_shows_the_stored_findings(shown: Ctg) -> None:
    screen = shown.ok("request", "show", "DX-2025-0001").stdout
    [entry] = _cached(shown)
    kept = json.loads(entry.read_bytes())
    kept["value"] = [{"code": "NOT_A_RULE", "severity": "warning", "message": "m", "channel": None}]
    entry.write_text(json.dumps(kept))
    stored = {f["code"]: f["message"] for f in json.loads(_doc(shown, "DX-2025-0001"))["findings"]}
    text = shown.ok("request", "show", "DX-2025-0001").stdout
    assert "NOT_A_RULE" not in text
    assert f"MINORS (warning) {stored['MINORS']}" in text
    assert text == screen  # the stored messages were written in English, as read here


def _doc(ctg: Ctg, request_id: str) -> str:
    db = ctg.connect()
    try:
        return str(db.execute("SELECT doc FROM requests WHERE id = ?", (request_id,)).fetchone()[0])
    finally:
        db.close()


def test_an_unknown_request_is_refused(shown: Ctg) -> None:
    shown.refused("request", "show", "DX-2025-0099", code=1, contains="no request 'DX-2025-0099'")


HEAVY = ("pydantic", "cryptography", "rich")


def test_a_cached_screen_loads_no_models_no_crypto_no_rich(shown: Ctg) -> None:
    if shown.backend == "postgres":
        pytest.skip("psycopg is what a PostgreSQL workspace needs; the count is the same")
    shown.ok("request", "show", "DX-2025-0002")  # the findings and the policy's facts cached
    probe = (
        "import sys\n"
        "from ctg_exchange.cli import main\n"
        "sys.argv = ['ctg-exchange', 'request', 'show', 'DX-2025-0002']\n"
        "try:\n    main()\nexcept SystemExit as exc:\n    assert not exc.code, exc.code\n"
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & {set(HEAVY)!r}), "
        "file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=False, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip().splitlines()[-1] == "[]", done.stderr
    assert "Pre-screening" in done.stdout
