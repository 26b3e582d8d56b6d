"""Issue 16, item 1 (second slice): the demo's narration, ``request show``, the ``dpo inbox`` and
``request list`` tables and the one-line confirmations of each step are French under a French
locale (or ``CTG_LANG=fr``), and unchanged in English.

Each list of English words below is taken from the English messages of that output; a French
output must contain none of them. The pre-screening findings' own messages are stored with the
request as the screening wrote them, and are left out of the check (their lines start with the
finding's code).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from ctg_exchange.cli.app import cli

from conftest import Ctg

FRENCH = {"CTG_LANG": "fr"}
ENGLISH = {"CTG_LANG": "en"}
INFO = ("--information", "Lettre aux familles à l'inscription (test)")
MENTION = ("--l311-mention", "Mention sur chaque facture (test)")

# words of the English messages, as they may appear in each output (spaces around short ones)
COMMON = (" the ", " and ", " of ", " with ", " its ", " by ", " on ", " to ", " from ", " is ")
SHOW = (*COMMON, "status:", "from → to", "(holder)", "triage:", "field:", "purpose", "subjects:",
        "legal basis", "retention:", " days", "frequency:", "declared:", "combined with",
        "recipients:", "filed:", "(policy", "Pre-screening", "(warning)", "DPO opinion",
        "Decision", "adopted", "set aside", "Conditions of", "Conditions accepted",
        "persons informed", "algorithmic decision mention", "Yearly review", "Deliveries",
        " sent ", " rows", "delete by", "received ", "not received", "Requester's",
        "DPO annotation",
        "History", "simulated clock", "rehearsal", "required", "favourable", "approved",
        " filed", "under_study", "continue")  # fmt: skip
CONFIRMATIONS = (*COMMON, "Filed ", "status ", "warnings", "Next:", "studies it", "under study",
                 "submitted", "opinion on", "recommendation", "approved", "condition(s);",
                 "accepts them next", "accepted", "recorded", "amended", "withdrawn", "returned",
                 "rejected", "suspended", "resumed", "review of", "favourable")  # fmt: skip
TABLES = ("Awaiting your opinion", "Nothing awaits", "findings", "due", "Requests", "No requests",
          "categories", "status", " yet", "filed", "yes")  # fmt: skip
DEMO = (*COMMON, "Each ", "creates", "becomes", "generates", "registers", "loads", "baseline",
        "ended on", "renews only", "takes effect", "days left", "proposes", "countersigns",
        "files ", "Pre-screening", "studies", "submits", "gives", "prior opinion", "approves",
        "adopting", "advises", "accepts", "register check", "flags", "finding(s)", "examples",
        "records", "a review", "reviewed", "continues", "sends", "receives", "checked", "deletes",
        "attests", "attestation came", "verifies", "cosigns", "verified", "events", "signed by",
        "Explore the", "workspace it left", "demo[/]")  # fmt: skip


def _english_in(text: str, words: tuple[str, ...]) -> list[str]:
    return [word for word in words if word in text]


def _without_findings(text: str) -> str:
    """``request show``'s text without the findings' stored messages (``  CODE (…) message``)."""
    return "\n".join(line for line in text.splitlines() if not re.match(r"\s+[A-Z0-9_]{3,} ", line))


def _step(ctg: Ctg, *args: str, as_: str, env: dict[str, str] = FRENCH) -> str:
    """Run one step in ``env`` and give its confirmation line (the ✓ line on stderr)."""
    result = ctg.ok(*args, as_=as_, env=env)
    (line,) = [line for line in result.stderr.splitlines() if line.startswith("✓")]
    return line


def test_the_steps_confirm_in_french(ctg: Ctg) -> None:
    filed = ctg.ok(*_request(), as_="v.agent", env=FRENCH)
    rid = filed.stdout.strip()
    lines = [line for line in filed.stderr.splitlines() if line.startswith("✓")]
    lines.append(_step(ctg, "study", "accept", rid, "--note", "Étude engagée", as_="c.analyst"))
    lines.append(_step(ctg, "study", "return", rid, "--reason", "Préciser", as_="c.analyst"))
    lines.append(_step(ctg, "request", "amend", rid, "--retention-days", "300", as_="v.agent"))
    lines.append(_step(ctg, "study", "accept", rid, "--note", "Reprise", as_="c.analyst"))
    lines.append(_step(ctg, "study", "submit", rid, as_="c.analyst"))
    lines.append(
        _step(ctg, "dpo", "opinion", rid, "--verdict", "favourable_with_recommendations",
              "--note", "Avis", "--recommend", "max_retention_days:180", as_="c.dpo")
    )  # fmt: skip
    lines.append(_step(ctg, "decide", "approve", rid, "--adopt", "R1", as_="c.controller"))
    lines.append(
        _step(ctg, "conditions", "accept", rid, "--dpia-ref", "AIPD-1", *INFO, *MENTION,
              as_="v.controller")
    )  # fmt: skip
    lines.append(_step(ctg, "dpo", "annotate", rid, "--note", "Registre à jour", as_="v.dpo"))
    lines.append(_step(ctg, "dpo", "advise", rid, "--note", "Conseil", as_="v.dpo"))
    lines.append(_step(ctg, "exchange", "suspend", rid, "--reason", "Contrôle", as_="c.controller"))
    lines.append(_step(ctg, "exchange", "resume", rid, "--note", "Reprise", as_="c.controller"))
    lines.append(
        _step(ctg, "review", "record", rid, "--outcome", "close", "--note", "Fin",
              as_="c.controller")
    )  # fmt: skip
    said = "\n".join(lines)
    assert len(lines) == 14, said
    assert not _english_in(said, CONFIRMATIONS), said
    assert f"✓ Demande {rid} déposée : ville_sceaux → caf92, statut déposée" in said
    assert f"✓ {rid} renvoyée pour modification à ville_sceaux" in said
    assert f"✓ avis sur {rid} : avis favorable assorti de recommandations" in said
    assert f"✓ {rid} approuvée avec 1 condition(s)" in said

    other = ctg.file_request()
    for args, as_ in ((("request", "withdraw", other, "--reason", "Besoin couvert"), "v.agent"),):
        line = _step(ctg, *args, as_=as_)
        assert line == f"✓ {other} retirée", line
    rejected = ctg.file_request()
    ctg.advance(rejected, "opinion_given")
    line = _step(ctg, "decide", "reject", rejected, "--reason", "Non", as_="c.controller")
    assert line == f"✓ {rejected} rejetée", line


def test_the_confirmations_are_unchanged_in_english(ctg: Ctg) -> None:
    filed = ctg.ok(*_request(), as_="v.agent", env=ENGLISH)
    rid = filed.stdout.strip()
    assert f"✓ Filed {rid}: ville_sceaux → caf92, status filed; warnings: " in filed.stderr
    assert "Next: caf92's controller studies it (`study accept`)." in filed.stderr
    line = _step(ctg, "study", "accept", rid, "--note", "Étude", as_="c.analyst", env=ENGLISH)
    assert line == f"✓ {rid} under study"
    line = _step(ctg, "study", "submit", rid, as_="c.analyst", env=ENGLISH)
    assert line == f"✓ {rid} submitted to caf92's DPO"
    line = _step(ctg, "dpo", "opinion", rid, "--verdict", "favorable", "--note", "Avis",
                 as_="c.dpo", env=ENGLISH)  # fmt: skip
    assert line == f"✓ opinion on {rid}: favourable"


def test_request_show_is_french(ctg: Ctg) -> None:
    rid = ctg.file_request()
    ctg.ok("study", "accept", rid, "--note", "Étude engagée", as_="c.analyst")
    ctg.ok("study", "submit", rid, as_="c.analyst")
    ctg.ok("dpo", "opinion", rid, "--verdict", "favourable_with_recommendations", "--note",
           "Avis", "--recommend", "max_retention_days:180", "--recommend", "free:Informer",
           as_="c.dpo")  # fmt: skip
    ctg.ok("decide", "approve", rid, "--adopt", "R1", "--set-aside", "R2=Déjà fait",
           as_="c.controller")  # fmt: skip
    ctg.ok("conditions", "accept", rid, "--dpia-ref", "AIPD-1", *INFO, *MENTION,
           as_="v.controller")  # fmt: skip
    ctg.ok("dpo", "annotate", rid, "--note", "Registre à jour", as_="v.dpo")
    ctg.ok("dpo", "advise", rid, "--note", "Conseil", as_="v.dpo")
    ctg.ok("exchange", "suspend", rid, "--reason", "Contrôle", as_="c.controller")

    shown = ctg.ok("request", "show", rid, env=FRENCH).stdout
    text = _without_findings(shown)
    assert not _english_in(text, SHOW), shown
    for french in ("statut : suspendue", "de → à : ville_sceaux → caf92 (détentrice)",
                   "durée de conservation : 365 jours", "fréquence : mensuelle",
                   "Avis du DPO (c.dpo, ", "avis favorable assorti de recommandations",
                   "R1 retenue", "R2 écartée : Déjà fait", "Conditions de l'échange",
                   "Conditions acceptées par v.controller le ", "Annotation du DPO (v.dpo, ",
                   "Conseil du DPO du demandeur", "Suspendue par c.controller le ",
                   "(était conditions acceptées) : Contrôle", "Historique",
                   "→ en attente de l'avis du DPO", "dépôt : le "):  # fmt: skip
        assert french in shown, (french, shown)
    english = ctg.ok("request", "show", rid, env=ENGLISH).stdout
    for words in ("status: suspended", "retention: 365 days", "R2 set aside: Déjà fait",
                  "Conditions accepted by v.controller on ", "History",
                  "(was conditions_accepted): Contrôle", "→ awaiting_dpo"):  # fmt: skip
        assert words in english, (words, english)
    assert english == ctg.ok("request", "show", rid).stdout  # conftest's CTG_LANG=en


def test_the_inbox_and_the_list_are_french(ctg: Ctg) -> None:
    empty = ctg.ok("dpo", "inbox", as_="c.dpo", env=FRENCH)
    assert "Aucune demande n'attend votre avis." in empty.stderr
    assert "Aucune demande pour l'instant." in ctg.ok("request", "list", env=FRENCH).stderr
    rid = ctg.file_request()
    ctg.advance(rid, "awaiting_dpo")
    inbox = ctg.ok("dpo", "inbox", as_="c.dpo", env=FRENCH)
    listed = ctg.ok("request", "list", env=FRENCH)
    none = ctg.ok("request", "list", "--status", "rejected", env=FRENCH)
    said = "\n".join([inbox.output, listed.output, none.output])
    assert not _english_in(said, TABLES), said
    assert inbox.stdout.splitlines()[0].split("\t") == ["n°", "échéance", "de", "AIPD", "constats"]
    assert f"{rid}\t" in inbox.stdout and "\toui\t" in inbox.stdout
    assert "en attente de l'avis du DPO" in listed.stdout
    assert "Aucune demande au statut rejetée." in none.stderr
    english = ctg.ok("dpo", "inbox", as_="c.dpo", env=ENGLISH)
    assert english.stdout.splitlines()[0].split("\t") == ["id", "due", "from", "DPIA", "findings"]
    assert (
        "No requests with status rejected."
        in ctg.ok("request", "list", "--status", "rejected", env=ENGLISH).stderr
    )


@pytest.mark.slow
def test_the_demo_narrates_in_french(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("CTG_WORKSPACE", "CTG_KEY_DIR", "CTG_PASSPHRASE", "CTG_TODAY", "CTG_MEMBER"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CTG_TODAY", "2026-11-27")  # after the shipped convention ended
    target = tmp_path / "demo"
    result = CliRunner(env=FRENCH).invoke(cli, ["demo", "--dir", str(target)])
    assert result.exit_code == 0, result.output
    said = " ".join(result.stderr.split())
    assert not _english_in(said, DEMO), said
    assert said.startswith("Démonstration de ctg-exchange dans ")
    assert "la convention ctg-sceaux-caf92 a pris fin le 31 décembre 2025" in said
    assert "Le pré-examen signale : ALGORITHMIC_DECISION, QF_PER_FAMILY_CHANNEL" in said
    assert "le contrôle du registre relève 6 point(s) à régler" in said
    assert "15. audit verify : 35 événements vérifiés" in said
    assert "Explorez l'espace de travail qu'elle a laissé :" in said
    assert "ctg-exchange request show DX-2026-0001" in result.stdout  # commands stay commands

    export = next(line.strip() for line in result.stdout.splitlines() if "export " in line)
    env = dict(item.split("=", 1) for item in export.removeprefix("export ").split())
    env.update(CTG_TODAY="2026-11-27", **FRENCH)
    shown = CliRunner(env=env).invoke(cli, ["request", "show", "DX-2026-0001"])
    assert shown.exit_code == 0, shown.output
    assert not _english_in(_without_findings(shown.stdout), SHOW), shown.stdout
    assert "Envois" in shown.stdout and "3 lignes" in shown.stdout
    assert "Revue annuelle (c.controller, 27 novembre 2026) : poursuite" in shown.stdout


def _request() -> tuple[str, ...]:
    from conftest import REQUEST

    return REQUEST


def test_findings_are_shown_in_the_readers_language(ctg: Ctg) -> None:
    """Filed in English, the findings read French in French; the codes stay what was stored."""
    rid = ctg.file_request()  # the tests run in English
    french = ctg.ok("request", "show", rid, env=FRENCH).stdout
    english = ctg.ok("request", "show", rid, env=ENGLISH).stdout
    assert "MINORS (avertissement) la demande concerne des enfants" in french
    assert "MINORS (warning) the request concerns children" in english
    assert "the request concerns children" not in french


def test_findings_not_screened_again_alike_are_shown_as_stored(ctg: Ctg) -> None:
    from ctg_exchange.domain.models import Finding, Severity
    from ctg_exchange.i18n import in_language
    from ctg_exchange.services.requests import findings_as_read, load_request
    from ctg_exchange.services.workspace import Workspace

    rid = ctg.file_request()
    workspace = Workspace.open(ctg.workspace)
    try:
        with workspace.store.transaction() as tx:
            stored = load_request(tx, rid)
            edited = stored.model_copy(
                update={
                    "findings": (
                        Finding(code="MINORS", severity=Severity.BLOCKING, message="as stored"),
                    )
                }  # fmt: skip
            )
            with in_language("fr"):
                assert findings_as_read(workspace, tx, edited) == edited
                shown = findings_as_read(workspace, tx, stored)
    finally:
        workspace.close()
    assert [f.code for f in shown.findings] == [f.code for f in stored.findings]
    minors = {f.code: f.message for f in shown.findings}["MINORS"]
    assert minors.startswith("la demande concerne des enfants"), minors
