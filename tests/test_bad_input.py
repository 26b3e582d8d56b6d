"""Every bad input gets one clear line, the right exit code, no traceback, and changes nothing."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from conftest import INIT, REQUEST, Ctg, add_args

SHIPPED = Path(__file__).resolve().parents[1] / "policies" / "ctg-sceaux-caf92.yaml"
# a request file with nothing wrong in it (retention_days on line 9)
VALID_REQUEST_FILE = """\
to: caf92
field: enfance
purpose: Tarif social de l'ALSH (jeu de test)
purpose_kind: pricing
categories: [quotient_familial]
subjects: Familles fictives
legal_basis: art6_1_e
legal_refs: [loi_98_657_art147]
legal_text: Texte fictif
retention_days: 365
frequency: yearly
"""

DAYS = "retention_days: a whole number of days from 1 to 3650, e.g. 365"


def _policy_with(tmp_path: Path, old: str, new: str) -> Path:
    text = SHIPPED.read_text(encoding="utf-8")
    assert old in text, old
    path = tmp_path / "policy.yaml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


def _line_of(path: Path, needle: str) -> int:
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if needle in line:
            return number
    raise AssertionError(needle)


@pytest.mark.parametrize(
    ("old", "new", "needle", "message"),
    [
        (
            '      postcode: "92380"',
            '      postcod: "92380"',
            "postcod:",
            "parties[0].address.postcod: unknown key",
        ),
        (
            "opinion_deadline_days: 30",
            "opinion_deadline_days: thirty",
            "opinion_deadline_days",
            "opinion_deadline_days: input should be a valid integer",
        ),
        (
            "  end: 2025-12-31",
            "  end: 2025-12-32",
            "end: 2025-12-32",
            "validity.end: input should be a valid date",
        ),
        (
            "  - {id: enfance, label: Enfance}",
            "  - {id: petite_enfance, label: Enfance}",
            "{id: petite_enfance, label: Enfance}",
            "fields[1].id: duplicate id 'petite_enfance'",
        ),
        (
            "    holders: [caf92]\n    columns: [nir]",
            "    holders: [caf93]\n    columns: [nir]",
            "holders: [caf93]",
            "categories[2].holders[0]: unknown party 'caf93'",
        ),
        (
            "minors_categories: [frequentation_eaje_alsh]",
            "minors_categories: [frequentation_eaje]",
            "minors_categories",
            "screening.minors_categories[0]: unknown data category",
        ),
        ("title: Convention", "title: [Convention", "title:", "invalid YAML"),
        (
            "opinion_deadline_days: 30",
            "opinion_deadline_days: 30\nopinion_deadline_days: 20",
            "opinion_deadline_days: 20",
            "opinion_deadline_days: duplicate key",
        ),
    ],
    ids=[
        "unknown-key",
        "wrong-type",
        "bad-date",
        "duplicate-id",
        "unknown-party",
        "unknown-category",
        "yaml-syntax",
        "duplicate-key",
    ],
)
def test_malformed_policy_is_reported_with_its_line(
    fresh: Ctg, tmp_path: Path, old: str, new: str, needle: str, message: str
) -> None:
    policy = _policy_with(tmp_path, old, new)
    line = _line_of(policy, needle)
    if message == "invalid YAML":
        line = line + 1  # the scanner notices the unclosed bracket on the next line

    result = fresh(
        "init",
        "--policy",
        str(policy),
        "--admin",
        "v.admin",
        "--admin-name",
        "Admin (fictif)",
        "--admin-party",
        "ville_sceaux",
    )

    assert result.exit_code == 1
    errors = result.stderr.splitlines()
    assert all(e.startswith(f"ctg-exchange: error: {policy}:") for e in errors), errors
    assert any(
        e.startswith(f"ctg-exchange: error: {policy}:{line}: ") and message in e for e in errors
    ), errors
    assert "Traceback" not in result.output
    assert not fresh.workspace.exists() and not fresh.keys.exists()


def test_unknown_party_for_the_first_admin(fresh: Ctg) -> None:
    result = fresh(
        "init", "--admin", "x.admin", "--admin-name", "Admin (fictif)", "--admin-party", "caf75"
    )
    assert result.exit_code == 1
    assert result.stderr.startswith(
        "ctg-exchange: error: unknown party 'caf75': the "
        "convention's parties are ville_sceaux, caf92"
    )
    assert not fresh.workspace.exists()


def test_init_refuses_an_existing_or_partial_workspace(ctg: Ctg) -> None:
    args = INIT
    ctg.refused(*args, contains=f"a workspace already exists at {ctg.workspace}")
    (ctg.workspace / "workspace.json").unlink()
    if ctg.backend == "sqlite":
        ctg.refused(*args, contains="a partial workspace")
    else:
        ctg.refused(*args, "--database", ctg.database, contains="already holds a ctg-exchange")


def test_wrong_passphrase(ctg: Ctg) -> None:
    ctg.refused(
        *REQUEST,
        as_="v.agent",
        env={"CTG_PASSPHRASE": "not-the-passphrase"},
        contains=f"wrong passphrase for the key {ctg.keys / 'v.agent'}",
    )


def test_missing_passphrase_without_a_terminal(ctg: Ctg) -> None:
    ctg.refused(
        *REQUEST,
        as_="v.agent",
        env={"CTG_PASSPHRASE": None},  # type: ignore[dict-item]
        contains="no passphrase: set CTG_PASSPHRASE",
    )


def test_unknown_member(ctg: Ctg) -> None:
    ctg.refused(*REQUEST, as_="nobody", contains="unknown member 'nobody'")


def test_no_acting_member(ctg: Ctg) -> None:
    ctg.refused(*REQUEST, contains="who is acting? pass --as MEMBER or set CTG_MEMBER")


def test_acting_member_from_the_environment(ctg: Ctg) -> None:
    result = ctg(*REQUEST, env={"CTG_MEMBER": "v.agent"})
    assert result.exit_code == 0, result.output


def test_missing_workspace(fresh: Ctg) -> None:
    result = fresh("request", "list")
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"ctg-exchange: error: no workspace at {fresh.workspace}",
        "ctg-exchange: hint: create one with `ctg-exchange init`, or point --workspace / "
        "CTG_WORKSPACE at it",
    ]


@pytest.mark.sqlite_only
def test_corrupt_database_is_one_line(ctg: Ctg) -> None:
    ctg.db.write_bytes(b"not a database" * 100)
    ctg.refused("request", "list", contains="cannot open the database")


def test_private_key_readable_by_others_is_refused(ctg: Ctg) -> None:
    os.chmod(ctg.keys / "v.agent", 0o644)
    result = ctg.refused(*REQUEST, as_="v.agent", contains="permissions 0644 for the key")
    assert f"hint: chmod 600 {ctg.keys / 'v.agent'}" in result.stderr


def test_a_key_other_than_the_registered_one_is_refused(ctg: Ctg) -> None:
    for suffix in ("", ".pub"):
        (ctg.keys / f"v.agent{suffix}").unlink()
        shutil.copy2(ctg.keys / f"c.agent{suffix}", ctg.keys / f"v.agent{suffix}")
    ctg.refused(*REQUEST, as_="v.agent", contains="is not the key registered for v.agent")


def test_malformed_today(ctg: Ctg) -> None:
    ctg.refused(
        *REQUEST,
        as_="v.agent",
        env={"CTG_TODAY": "27/11/2026"},
        contains="CTG_TODAY must be a date like 2025-06-02",
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--category", "donnees_inconnues"), "unknown data category 'donnees_inconnues'"),
        (("--field", "sport"), "FIELD_NOT_IN_CONVENTION: 'sport' is not an intervention field"),
        (("--legal-basis", "art6_1_f"), "LEGAL_BASIS_NOT_ALLOWED: 'art6_1_f' is not allowed"),
        (("--purpose-kind", "curiosity"), "unknown purpose kind 'curiosity'"),
        (("--to", "caf75"), "unknown party 'caf75'"),
        (("--category", "quotient_familial"), "category listed twice: quotient_familial"),
        (("--purpose", "   "), "purpose: must not be empty"),
        (("--legal-ref", "circulaire_cnaf"), "LEGAL_TEXT_NOT_LISTED: 'circulaire_cnaf' is not"),
    ],
)
def test_invalid_request_fields(ctg: Ctg, args: tuple[str, ...], message: str) -> None:
    ctg.refused(*REQUEST, *args, as_="v.agent", contains=message)


def test_missing_request_fields_are_all_named(ctg: Ctg) -> None:
    result = ctg.refused(
        "request", "new", "--to", "caf92", as_="v.agent", lines=7,
        contains="field: is required: one of: petite_enfance, enfance, jeunesse",
    )  # fmt: skip
    missing = [line.split(": ")[2] for line in result.stderr.splitlines()]
    assert missing == [
        "field", "purpose", "purpose_kind", "categories", "subjects", "retention_days", "frequency"
    ]  # fmt: skip


def test_request_file_errors_carry_their_line(ctg: Ctg, tmp_path: Path) -> None:
    source = tmp_path / "request.yaml"
    source.write_text(
        VALID_REQUEST_FILE.replace("retention_days: 365", "retention_days: many")
        + "colour: blue\n",
        encoding="utf-8",
    )
    result = ctg.refused(
        "request",
        "new",
        "--from-file",
        str(source),
        as_="v.agent",
        lines=2,
        contains=f"{source}:10: {DAYS}",
    )
    assert result.stderr.splitlines()[1] == f"ctg-exchange: error: {source}:12: colour: unknown key"
    source.write_text("to: [caf92\n", encoding="utf-8")
    ctg.refused(
        "request",
        "new",
        "--from-file",
        str(source),
        as_="v.agent",
        contains=f"{source}:2: invalid YAML",
    )


def test_opinion_and_notes_are_checked(ctg: Ctg) -> None:
    rid = ctg.file_request()
    ctg.refused(
        "study",
        "accept",
        rid,
        "--note",
        "  ",
        as_="c.controller",
        contains="--note must not be empty",
    )
    ctg.advance(rid, "awaiting_dpo")
    ctg.refused(
        "dpo",
        "opinion",
        rid,
        "--verdict",
        "favourable",
        "--note",
        "Avis",
        "--recommend",
        "R",
        as_="c.dpo",
        contains="a favourable opinion carries no recommendations",
    )
    ctg.refused(
        "dpo",
        "opinion",
        rid,
        "--verdict",
        "favourable_with_recommendations",
        "--note",
        "Avis",
        as_="c.dpo",
        contains="needs at least one --recommend",
    )


def test_unknown_request_and_event(ctg: Ctg) -> None:
    ctg.refused("request", "show", "DX-2025-0999", contains="no request 'DX-2025-0999'")
    ctg.refused(
        "study",
        "accept",
        "DX-2025-0999",
        "--note",
        "x",
        as_="c.controller",
        contains="no request 'DX-2025-0999'",
    )
    ctg.refused("audit", "show", "999", contains="no event #999")


def test_member_input_is_checked(ctg: Ctg, tmp_path: Path) -> None:
    ctg.refused(
        *add_args("Bad/Id", "ville_sceaux", "staff"), as_="v.admin", contains="invalid id 'Bad/Id'"
    )
    ctg.refused(
        *add_args("v.nokey", "ville_sceaux", "staff"), as_="v.admin", contains="no public key at"
    )
    ctg.refused(
        *add_args("v.other", "caf75", "staff"),
        "--public-key",
        str(ctg.keys / "v.agent.pub"),
        as_="v.admin",
        contains="unknown party 'caf75'",
    )
    bogus = tmp_path / "bogus.pub"
    bogus.write_text("ssh-rsa AAAAB3Nza bogus\n", encoding="utf-8")
    ctg.refused(
        *add_args("v.bogus", "ville_sceaux", "staff"),
        "--public-key",
        str(bogus),
        as_="v.admin",
        contains="is not an OpenSSH ssh-ed25519 public key",
    )
    ctg.refused(
        "member",
        "revoke",
        "v.ghost",
        "--reason",
        "x",
        as_="v.admin",
        contains="unknown member 'v.ghost'",
    )


def test_keys_generate_refuses_to_overwrite_and_short_passphrases(ctg: Ctg) -> None:
    ctg.refused(
        "keys",
        "generate",
        "--member",
        "v.agent",
        contains=f"a key already exists at {ctg.keys / 'v.agent'}",
    )
    ctg.refused(
        "keys",
        "generate",
        "--member",
        "v.short",
        env={"CTG_PASSPHRASE": "short"},
        contains="the passphrase must have at least 8 characters",
    )


def test_json_errors_are_a_document_too(ctg: Ctg) -> None:
    import json

    result = ctg("request", "show", "DX-2025-0999", "--json")
    assert result.exit_code == 1
    assert json.loads(result.stdout)["error"]["code"] == "not_found"


def _laughs(levels: int) -> str:
    """A "billion laughs": each level a list of ten aliases of the one before."""
    lines = ['l0: &l0 "lol"']
    lines += [f"l{n}: &l{n} [{', '.join([f'*l{n - 1}'] * 10)}]" for n in range(1, levels + 1)]
    return "\n".join(lines) + f"\ncategories: *l{levels}\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (_laughs(5), "1: anchors and aliases (& and *) are refused"),
        ("to: caf92\nnote: &n text\nother: *n\n", "2: anchors and aliases (& and *) are refused"),
        ("categories:" + " [" * 40 + " x" + " ]" * 40 + "\n", "nested deeper than 32 levels"),
        ("purpose: " + "x" * (1024 * 1024) + "\n", "1: the file is larger than 1024 KiB"),
        (
            "to: caf92\npurpose: !!python/object/apply:os.system [echo]\n",
            "2: the tag 'python/object/apply:os.system' is refused",
        ),
        ("to: caf92\nretention_days: !!int zz\n", "2: 'zz' is not a value of type int"),
        ("to: caf92\nvolume: !!bool maybe\n", "2: 'maybe' is not a value of type bool"),
        ("to: !!binary Y2FmOTI=\n", "1: the tag 'binary' is refused"),
        ("retention_days: 1" + ":1" * 500_000 + "\n", "1: a number is at most 64 characters"),
        ("? 1" + ":1" * 2600 + "\n: 1\n", "1: a number is at most 64 characters"),
    ],
    ids=[
        "billion laughs",
        "one alias",
        "deep nesting",
        "too large",
        "python tag",
        "bad int",
        "bad bool",
        "binary",
        "base-60 number",
        "base-60 key",
    ],
)
def test_a_hostile_request_file_is_answered_in_one_line(
    ctg: Ctg, tmp_path: Path, text: str, message: str
) -> None:
    source = tmp_path / "request.yaml"
    source.write_text(text, encoding="utf-8")
    expected = f"{source}:{message}" if message[0].isdigit() else message
    for command in ("check", "new"):
        ctg.refused(
            "request", command, "--from-file", str(source), contains=expected, as_="v.agent"
        )


def test_a_policy_with_aliases_is_refused(fresh: Ctg, tmp_path: Path) -> None:
    policy = _policy_with(tmp_path, "\nparties:", "\nanchor: &a [1]\nalias: *a\nparties:")
    result = fresh(*INIT, "--policy", str(policy))
    assert result.exit_code == 1
    assert "anchors and aliases (& and *) are refused" in result.stderr
    assert not fresh.workspace.exists()


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("retention_days: true", DAYS),
        ('retention_days: "365"', DAYS),
        ("retention_days: 365.0", DAYS),
        ("volume: false", "volume: a whole number of persons, e.g. 1200"),
        ('transfer_outside_eu: "no"', "transfer_outside_eu: true or false"),
    ],
)
def test_numbers_in_a_request_file_are_numbers(
    ctg: Ctg, tmp_path: Path, line: str, message: str
) -> None:
    text = VALID_REQUEST_FILE
    text = text.replace("retention_days: 365\n", "") if line.startswith("retention_days") else text
    source = tmp_path / "request.yaml"
    source.write_text(text + line + "\n", encoding="utf-8")
    ctg.refused("request", "new", "--from-file", str(source), as_="v.agent", contains=message)


@pytest.mark.parametrize(
    "command",
    [
        ("request", "show", "{huge}"),
        ("member", "revoke", "{huge}", "--reason", "Test"),
        ("register", "show", "{huge}"),
        ("audit", "log", "--request", "{huge}"),
    ],
)
def test_an_echoed_value_is_cut_to_80_characters(ctg: Ctg, command: tuple[str, ...]) -> None:
    huge = "DX-" + "9" * 100_000
    args = [arg.format(huge=huge) for arg in command]
    result = ctg.refused(*args, as_="v.admin", contains="…")
    assert len(result.stderr) < 400, result.stderr
    assert "9" * 70 in result.stderr and "9" * 80 not in result.stderr
