"""Record a workspace in which every audited action was taken, as a release wrote it.

    python tools/record_release_log.py tests/vectors/release/0.1.0

A later release must still verify what an earlier one wrote (the audit log is evidence kept for
years). This drives the real command line of the release it runs on through every action of the
catalogue — the workspace, members and a revocation, both parties' decryption keys and a
rotation, a renewal, an avenant and a termination with its lapses, requests returned, amended,
withdrawn, rejected, approved against the opinion, non-personal, sent, received, purged and
attested, the register imported, edited and exported as an audit bundle — and writes:

- ``export.jsonl``: the complete audit export (docs/audit-format.md §8);
- ``allowed_signers``: the members' keys, for ``docs/verify_audit_export.py``;
- ``workspace.sql`` and ``workspace.json``: the SQLite workspace itself, as a text dump;
- ``RECORDED``: the version and commit that wrote them.

Keys, the workspace id and the clock are those of a real run: the files are a recording, kept
as they were written, never edited and never rewritten; a new release records a new directory.
Every value is synthetic.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from click.testing import CliRunner  # noqa: E402

from ctg_exchange import __version__  # noqa: E402
from ctg_exchange.cli.app import cli  # noqa: E402

PASSPHRASE = "synthetic-release-passphrase"  # noqa: S105 (synthetic keys)
MEMBERS = (  # id, party, role, who adds them
    ("v.agent", "ville_sceaux", "staff", "v.admin"),
    ("v.controller", "ville_sceaux", "controller", "v.admin"),
    ("v.dpo", "ville_sceaux", "dpo", "v.admin"),
    ("c.admin", "caf92", "admin", "v.admin"),
    ("c.agent", "caf92", "staff", "c.admin"),
    ("c.controller", "caf92", "controller", "c.admin"),
    ("c.dpo", "caf92", "dpo", "c.admin"),
    ("c.temp", "caf92", "staff", "c.admin"),
)
QF = (
    "--to", "caf92", "--field", "petite_enfance",
    "--purpose", "Tarifer les crèches au barème national (enregistrement synthétique)",
    "--purpose-kind", "pricing",
    "--category", "numero_allocataire", "--category", "quotient_familial",
    "--subjects", "Familles fictives inscrites en EAJE",
    "--legal-basis", "art6_1_e", "--legal-text", "Texte de référence fictif",
    "--retention-days", "365", "--frequency", "monthly",
)  # fmt: skip
AGGREGATES = (
    "--to", "caf92", "--field", "parentalite",
    "--purpose", "Effectifs communaux pour le diagnostic (enregistrement synthétique)",
    "--purpose-kind", "diagnostic", "--category", "statistiques_agregees",
    "--subjects", "Aucune", "--retention-days", "1000", "--frequency", "yearly",
)  # fmt: skip


class Recorder:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.env = {
            "CTG_WORKSPACE": str(root / "ws"),
            "CTG_KEY_DIR": str(root / "keys"),
            "CTG_PASSPHRASE": PASSPHRASE,
            "CTG_DEBUG": "1",
            "XDG_CONFIG_HOME": str(root / "config"),
        }

    def __call__(self, *args: str, as_: str | None = None, today: str = "2025-06-02") -> object:
        argv = (["--as", as_] if as_ else []) + ["--json", *args]
        env = {**self.env, "CTG_TODAY": today}
        result = CliRunner().invoke(cli, argv, env=env, catch_exceptions=False)
        if result.exit_code != 0:
            raise SystemExit(f"{' '.join(args)}: exit {result.exit_code}\n{result.output}")
        return json.loads(result.stdout) if result.stdout.strip() else None

    def file(self, *content: str) -> str:
        made = self("request", "new", *content, as_="v.agent")
        assert isinstance(made, dict)
        return str(made["id"])


def _record(run: Recorder, work: Path) -> None:
    run("init", "--admin", "v.admin", "--admin-name", "Admin (fictif)",
        "--admin-party", "ville_sceaux")  # fmt: skip
    for member, party, role, adder in MEMBERS:
        run("keys", "generate", "--member", member)
        run("member", "add", member, "--name", f"{member} (fictif)", "--party", party,
            "--role", role, as_=adder)  # fmt: skip
    run("member", "revoke", "c.temp", "--reason", "Départ (fictif)", as_="c.admin")
    run("keys", "generate", "--party", "ville_sceaux", "--encryption", as_="v.admin")
    first = run("keys", "generate", "--party", "caf92", "--encryption", as_="c.admin")
    assert isinstance(first, dict)
    run("keys", "generate", "--party", "caf92", "--encryption", "--replaces",
        str(first["recipient"]), as_="c.admin")  # fmt: skip
    run("convention", "renew", "--until", "2029-12-31",
        "--reference", "Délibérations fictives de renouvellement", as_="v.admin")  # fmt: skip
    for party, dpo in (("ville_sceaux", "v.dpo"), ("caf92", "c.dpo")):
        run("register", "import", str(ROOT / "registry" / party), as_=dpo)

    # a request returned, amended, studied, opined with every kind of recommendation, approved
    # answering each, its conditions accepted, sent twice, received, purged and attested
    rid = run.file(*QF)
    run("study", "accept", rid, "--note", "Étude engagée (fictif)", as_="c.controller")
    run("study", "return", rid, "--reason", "Préciser la durée (fictif)", as_="c.controller")
    run("request", "amend", rid, "--retention-days", "300", as_="v.agent")
    run("study", "accept", rid, "--note", "Besoin établi (fictif)", as_="c.controller")
    run("study", "submit", rid, "--note", "Étude favorable (fictif)", as_="c.controller")
    run("dpo", "opinion", rid, "--verdict", "favourable_with_recommendations",
        "--note", "Avis fictif", "--recommend", "max_retention_days:180",
        "--recommend", "pseudonymise:numero_allocataire",
        "--recommend", "limit_columns:numero_allocataire,quotient_familial",
        "--recommend", "Informer les familles (fictif)", as_="c.dpo")  # fmt: skip
    run("decide", "approve", rid, "--adopt", "R1", "--adopt", "R2", "--adopt", "R3",
        "--set-aside", "R4=Déjà fait (fictif)", as_="c.controller")  # fmt: skip
    run("dpo", "annotate", rid, "--note", "Note de suivi (fictif)", as_="v.dpo")
    run("conditions", "accept", rid, "--dpia-ref", "AIPD-FICTIVE-1", as_="v.controller")
    dataset = work / "qf.csv"
    dataset.write_text(
        "numero_allocataire,quotient_familial\n9000001,410\n9000002,655\n", encoding="utf-8"
    )
    for number in (1, 2):
        package = work / f"{rid}-{number}.ctgx"
        run("exchange", "send", rid, "--dataset", str(dataset), "--out", str(package),
            as_="c.agent")  # fmt: skip
        run("exchange", "receive", str(package), "--out", str(work / f"in-{number}.csv"),
            as_="v.agent")  # fmt: skip
    (work / "in-2.csv").unlink()
    run("retention", "attest", f"{rid}-2", "--note", "Copie supprimée (fictif)", as_="v.agent")
    run("retention", "purge", as_="v.agent", today="2025-12-01")

    # withdrawn; rejected; approved against an unfavourable opinion; non-personal
    withdrawn = run.file(*QF)
    run("request", "withdraw", withdrawn, "--reason", "Doublon (fictif)", as_="v.agent")
    for outcome in ("reject", "approve"):
        other = run.file(*QF)
        run("study", "accept", other, "--note", "Étude (fictif)", as_="c.controller")
        run("study", "submit", other, as_="c.controller")
        run("dpo", "opinion", other, "--verdict", "unfavourable", "--note", "Avis (fictif)",
            as_="c.dpo")  # fmt: skip
        if outcome == "reject":
            run("decide", "reject", other, "--reason", "Refus (fictif)", as_="c.controller")
        else:
            run("decide", "approve", other, "--justification", "Motifs (fictifs)",
                as_="c.controller")  # fmt: skip
    aggregates = run.file(*AGGREGATES)
    run("study", "accept", aggregates, "--note", "Agrégats (fictif)", as_="c.controller")
    run("decide", "approve", aggregates, as_="c.controller")

    # the register edited and exported; an avenant; a termination that lapses what is open
    fiche = (ROOT / "registry" / "ville_sceaux" / "VS-RAM.yaml").read_text(encoding="utf-8")
    edited = work / "VS-RAM.yaml"
    edited.write_text(
        fiche.replace("2 ans après le dernier contact", "18 mois après le dernier contact"),
        encoding="utf-8",
    )
    run("register", "edit", "--from-file", str(edited), "--reason", "Revue (fictif)", as_="v.dpo")
    run("register", "export", "--audit-bundle", str(work / "bundle"), as_="c.dpo")
    policy = (ROOT / "policies" / "ctg-sceaux-caf92.yaml").read_text(encoding="utf-8")
    avenant = work / "avenant-1.yaml"
    avenant.write_text(
        policy.replace("opinion_deadline_days: 30", "opinion_deadline_days: 45"), encoding="utf-8"
    )
    run("convention", "amend", "--policy", str(avenant), "--reference", "Avenant n° 1 (fictif)",
        as_="c.admin", today="2025-12-01")  # fmt: skip
    run.file(*QF)  # left open: the termination lapses it
    run("convention", "terminate", "--on", "2025-12-01", "--reason", "Accord (fictif)",
        as_="v.admin", today="2025-12-01")  # fmt: skip
    run("audit", "checkpoint", as_="c.dpo", today="2025-12-01")
    run("audit", "cosign", as_="v.dpo", today="2025-12-01")


def _commit() -> str:
    done = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True, check=False
    )
    dirty = subprocess.run(
        ["git", "-C", str(ROOT), "status", "--porcelain", "--", "ctg_exchange"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return done.stdout.strip() + (" (with uncommitted changes)" if dirty else "")


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    target = Path(argv[0])
    if target.exists():
        print(f"{target} exists: a recording is never rewritten", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="ctg-record-") as tmp:
        root = Path(tmp)
        work = root / "work"
        work.mkdir()
        run = Recorder(root)
        _record(run, work)
        target.mkdir(parents=True)
        run("audit", "export", "--out", str(target / "export.jsonl"), as_="c.dpo",
            today="2025-12-01")  # fmt: skip
        run("member", "allowed-signers", "--out", str(target / "allowed_signers"))
        workspace = root / "ws"
        config = json.loads((workspace / "workspace.json").read_text())
        (target / "workspace.json").write_text(json.dumps(config, indent=2) + "\n")
        with sqlite3.connect(workspace / "ctg.sqlite3") as db:
            dump = "\n".join(db.iterdump()) + "\n"
        (target / "workspace.sql").write_text(dump, encoding="utf-8")
        (target / "RECORDED").write_text(
            f"ctg-exchange {__version__}, commit {_commit()}, by tools/record_release_log.py\n"
        )
    os.sync()
    print(f"recorded {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
