"""A request's errors are all reported at once, in plain words with the allowed values
(issue 16, item 6): ``file:line: field: message`` from a file, ``field: message`` from options;
shapes and unknown references together; exit 1 and nothing changed."""

from __future__ import annotations

from pathlib import Path

import pytest

from ctg_exchange.errors import InvalidRequest
from ctg_exchange.policy import load_policy, shipped_policy_path
from ctg_exchange.policy.checks import check_references
from ctg_exchange.policy.request_input import content_problems
from ctg_exchange.services.requests import parse_content

from conftest import REQUEST, Ctg

POLICY = load_policy(shipped_policy_path()).policy
PARTIES = "ville_sceaux, caf92"
CATEGORIES = ", ".join(c.id for c in POLICY.categories)
KINDS = ", ".join(k.id for k in POLICY.purpose_kinds)
# five mistakes of shape, three unknown references, one unknown key: nine lines, by line
WRONG = """\
to: caf75
field: enfance
purpose: Tarif social de l'ALSH (jeu de test)
purpose_kind: curiosite
categories: quotient_familial
subjects: Familles fictives
legal_basis: Art 6.1.e
legal_refs: [loi_98_657_art147]
retention_days: many
frequency: every month
aggregates_of: [revenus, quotient_familial]
profiling: sometimes
legal_bases: art6_1_e
"""


def _wrong_lines(source: Path) -> list[str]:
    return [
        f"{source}:1: to: unknown party 'caf75' (did you mean caf92?): the convention knows "
        f"{PARTIES}",
        f"{source}:4: purpose_kind: unknown purpose kind 'curiosite': the convention knows {KINDS}",
        f"{source}:5: categories: a list of category ids, e.g. [quotient_familial]",
        f"{source}:7: legal_basis: one of: art6_1_c, art6_1_e",
        f"{source}:9: retention_days: a whole number of days from 1 to 3650, e.g. 365",
        f"{source}:10: frequency: one of: once, daily, weekly, monthly, quarterly, yearly",
        f"{source}:11: aggregates_of[0]: unknown data category 'revenus': the convention knows "
        f"{CATEGORIES}",
        f"{source}:12: profiling: true or false",
        f"{source}:13: legal_bases: unknown key (did you mean legal_basis?)",
    ]


@pytest.mark.parametrize("command", ["check", "new"])
def test_every_problem_of_a_request_file_at_once(ctg: Ctg, tmp_path: Path, command: str) -> None:
    source = tmp_path / "request.yaml"
    source.write_text(WRONG, encoding="utf-8")
    expected = _wrong_lines(source)
    result = ctg.refused(
        "request", command, "--from-file", str(source), as_="v.agent",
        lines=len(expected), contains=expected[0],
    )  # fmt: skip
    assert result.stderr.splitlines() == [f"ctg-exchange: error: {line}" for line in expected]


def test_options_override_the_file_and_their_problems_have_no_line(
    ctg: Ctg, tmp_path: Path
) -> None:
    source = tmp_path / "request.yaml"
    source.write_text(WRONG, encoding="utf-8")
    result = ctg.refused(
        "request", "check", "--from-file", str(source), "--to", "caf92",
        "--legal-basis", "art6_1_e", "--category", "qf", "--purpose", " ",
        as_="v.agent", lines=8, contains="purpose: must not be empty",
    )  # fmt: skip
    lines = result.stderr.splitlines()
    assert lines[1].startswith("ctg-exchange: error: categories[0]: unknown data category 'qf'")
    assert f"{source}:1:" not in result.stderr and f"{source}:7:" not in result.stderr
    assert lines[2] == f"ctg-exchange: error: {source}:4: purpose_kind: unknown purpose kind " \
        f"'curiosite': the convention knows {KINDS}"  # fmt: skip


def test_every_problem_of_options_at_once(ctg: Ctg) -> None:
    result = ctg.refused(
        *REQUEST, "--to", "caf75", "--purpose-kind", "curiosite", "--category", "revenus",
        "--legal-basis", "6.1.e", "--subjects", "",
        as_="v.agent", lines=5, contains="to: unknown party 'caf75'",
    )  # fmt: skip
    assert result.stderr.splitlines() == [
        "ctg-exchange: error: to: unknown party 'caf75' (did you mean caf92?): the convention "
        f"knows {PARTIES}",
        f"ctg-exchange: error: purpose_kind: unknown purpose kind 'curiosite': the convention "
        f"knows {KINDS}",
        "ctg-exchange: error: categories[2]: unknown data category 'revenus': the convention "
        f"knows {CATEGORIES}",
        "ctg-exchange: error: subjects: must not be empty",
        "ctg-exchange: error: legal_basis: one of: art6_1_c, art6_1_e",
    ]


def test_unknown_references_of_a_sound_request_are_all_named(ctg: Ctg) -> None:
    """Options of a sound shape go to the service, which names every unknown reference."""
    result = ctg.refused(
        *REQUEST, "--purpose-kind", "curiosity", "--category", "revenu",
        "--aggregates-of", "quotient_familial", "--aggregates-of", "santee",
        as_="v.agent", lines=3, contains="purpose_kind: unknown purpose kind 'curiosity'",
    )  # fmt: skip
    lines = result.stderr.splitlines()
    assert lines[1].startswith("ctg-exchange: error: categories[2]: unknown data category 'revenu'")
    assert lines[2].startswith("ctg-exchange: error: aggregates_of[1]: unknown data category")
    assert "(did you mean sante_detail?)" in lines[2]


def test_an_amendment_from_a_file_points_at_its_lines(ctg: Ctg, tmp_path: Path) -> None:
    rid = ctg.file_request()
    source = tmp_path / "changes.yaml"
    source.write_text("retention_days: 180\ncategories: [quotient_familial, qf]\n")
    ctg.refused(
        "request", "amend", rid, "--from-file", str(source), as_="v.agent",
        contains=f"{source}:2: categories[1]: unknown data category 'qf'",
    )  # fmt: skip


def test_the_service_reports_every_problem_in_plain_words() -> None:
    values = {"to": "caf92", "categories": "quotient_familial", "retention_days": "365"}
    with pytest.raises(InvalidRequest) as caught:
        parse_content(values, POLICY)
    lines = caught.value.lines()
    assert "categories: a list of category ids, e.g. [quotient_familial]" in lines
    assert "retention_days: a whole number of days from 1 to 3650, e.g. 365" in lines
    assert "field: is required: one of: " + ", ".join(f.id for f in POLICY.fields) in lines
    assert caught.value.to_json()["problems"] == lines
    # without the policy, what an id looks like
    shape = (("legal_basis",), "an id: lower-case letters, digits and _, e.g. art6_1_e")
    assert shape in content_problems({"legal_basis": "6.1.e"})


def test_check_references_names_every_unknown_reference() -> None:
    content = parse_content(
        {
            "to": "caf93", "field": "enfance", "purpose": "Test", "purpose_kind": "pricing",
            "categories": ["qf", "quotient_familial", "revenus"], "subjects": "Familles",
            "retention_days": 365, "frequency": "yearly",
        }
    )  # fmt: skip
    with pytest.raises(InvalidRequest) as caught:
        check_references(POLICY, content)
    assert [line.split(": ")[0] for line in caught.value.lines()] == [
        "to", "categories[0]", "categories[2]"
    ]  # fmt: skip
