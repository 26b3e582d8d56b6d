"""Issue 16: the tables, confirmations and refusals the command modules print themselves
(``member``, ``keys``, ``retention``, ``policy``, ``request template``, the long-text options)
are French under ``CTG_LANG=fr``, dates as French dates, and unchanged in English; ``--json``
keeps its codes and English values whatever the language.

On a pipe a table is its header line then tab-separated rows (``cli/common.py``), so the first
line of stdout is the table's headings.
"""

from __future__ import annotations

import json

import yaml

from conftest import Ctg

FRENCH = {"CTG_LANG": "fr"}
ENGLISH = {"CTG_LANG": "en"}


def _headings(stdout: str) -> list[str]:
    return stdout.splitlines()[0].split("\t")


def test_member_list_in_french_with_a_french_date(ctg: Ctg) -> None:
    revoked = ctg("member", "revoke", "v.agent", "--reason", "A quitté le service",
                  as_="v.admin", env=FRENCH)  # fmt: skip
    assert revoked.exit_code == 0, revoked.output
    assert "v.agent révoqué" in revoked.stderr

    listed = ctg("member", "list", env=FRENCH)
    assert listed.exit_code == 0, listed.output
    assert _headings(listed.stdout) == [
        "identifiant",
        "partie",
        "rôles",
        "statut",
        "ajouté par",
        "nom",
    ]
    rows = {line.split("\t")[0]: line.split("\t") for line in listed.stdout.splitlines()[1:]}
    assert rows["v.agent"][3] == "révoqué le 02/06/2025"
    assert rows["v.dpo"][3] == "actif"

    english = ctg("member", "list", env=ENGLISH).stdout
    assert _headings(english) == ["id", "party", "roles", "status", "added by", "name"]
    assert "\trevoked 2025-06-02\t" in english
    assert json.loads(ctg("--json", "member", "list", env=FRENCH).stdout)[0]["status"] == "active"


def test_keys_and_retention_lists_in_french(ctg: Ctg) -> None:
    keys = ctg("keys", "list", env=FRENCH)
    assert keys.exit_code == 0, keys.output
    assert _headings(keys.stdout) == ["partie", "statut", "ajout", "par", "destinataire"]
    assert keys.stderr.startswith("Aucune clé de chiffrement pour l'instant : un administrateur")
    english = ctg("keys", "list", env=ENGLISH)
    assert _headings(english.stdout) == ["party", "status", "added", "by", "recipient"]
    assert english.stderr.startswith("No encryption key yet: an admin runs `keys generate")

    kept = ctg("retention", "list", as_="v.agent", env=FRENCH)
    assert kept.exit_code == 0, kept.output
    assert _headings(kept.stdout) == ["transmission", "à détruire au plus tard", "statut", "chemin"]
    assert kept.stderr.strip() == "Rien n'a encore été reçu."
    english = ctg("retention", "list", as_="v.agent", env=ENGLISH)
    assert _headings(english.stdout) == ["delivery", "delete by", "status", "path"]
    assert english.stderr.strip() == "Nothing received yet."


def test_policy_show_in_french_and_its_json_unchanged(ctg: Ctg) -> None:
    shown = ctg("policy", "show", "categories", env=FRENCH)
    assert shown.exit_code == 0, shown.output
    assert _headings(shown.stdout) == [
        "identifiant", "libellé", "détenteurs", "sensibilité", "conservation", "échange",
    ]  # fmt: skip
    rsa = next(line for line in shown.stdout.splitlines() if line.startswith("minima_sociaux_rsa"))
    assert rsa.endswith("\tdétenue pour : Département des Hauts-de-Seine")
    assert "D'après la politique de l'espace de travail, version 1." in shown.stderr
    purposes = ctg("policy", "show", "purposes", env=FRENCH).stdout
    assert "refusée : hors de la CTG (CONTROL_PURPOSE)" in purposes

    english = ctg("policy", "show", "categories", env=ENGLISH)
    assert _headings(english.stdout) == [
        "id", "label", "holders", "sensitivity", "retention", "exchange",
    ]  # fmt: skip
    assert "\theld for Département des Hauts-de-Seine" in english.stdout
    assert "From the workspace's policy, version 1." in english.stderr

    listed = json.loads(ctg("--json", "policy", "show", "categories", env=FRENCH).stdout)
    rsa_json = next(c for c in listed["categories"] if c["id"] == "minima_sociaux_rsa")
    assert rsa_json["exchange"] == "held for Département des Hauts-de-Seine"


def test_request_template_comments_in_french_keys_unchanged(ctg: Ctg) -> None:
    french = ctg("request", "template", env=FRENCH)
    assert french.exit_code == 0, french.output
    assert "to: caf92  # la partie qui détient les données : ville_sceaux, caf92" in french.stdout
    english = ctg("request", "template", env=ENGLISH).stdout
    assert "to: caf92  # the party that holds the data: ville_sceaux, caf92" in english
    assert yaml.safe_load(french.stdout) == yaml.safe_load(english)


def test_a_long_text_refusal_in_french(ctg: Ctg) -> None:
    refused = ctg("study", "accept", "DX-2025-0001", "--note", "-", as_="c.analyst", env=FRENCH)
    assert refused.exit_code == 1, refused.output
    assert refused.stderr.splitlines() == [
        "ctg-exchange : erreur : --note - consignerait un tiret, pas le contenu de l'entrée "
        "standard : rien n'est consigné",
        "ctg-exchange : conseil : pour lire le texte sur l'entrée standard, utilisez --note-file -",
    ]
    english = ctg("study", "accept", "DX-2025-0001", "--note", "-", as_="c.analyst", env=ENGLISH)
    assert english.stderr.splitlines()[0] == (
        "ctg-exchange: error: --note - would record a dash, not what standard input holds: "
        "nothing recorded"
    )
