"""A recommendation cannot change kind by a slip of the keyboard (issue 16, case 1).

``max_retention:180`` was stored as free text, adopted, and the deliveries kept the 365 days
requested instead of the 180 the DPO meant. A new recommendation that starts with one word and
a colon, the word not a checkable kind, is refused with the closest kind; ``free:…`` (or
quotes) writes such free text. The opinions already recorded keep verifying.
"""

from __future__ import annotations

import re

import pytest

from ctg_exchange.domain.recommendations import (
    APPLIED_KINDS,
    Recommendation,
    RecommendationKind,
    parse_recommendation,
)
from ctg_exchange.errors import InvalidInput
from ctg_exchange.services import review

from conftest import Ctg

HINT = (
    'ctg-exchange: hint: free text that starts with a word and a colon is written "free:…" '
    "(the prefix is not kept) or in quotes"
)


@pytest.mark.parametrize(
    ("text", "meant"),
    [
        ("max_retention:180", "max_retention_days"),
        ("limit_column:numero_allocataire,quotient_familial", "limit_columns"),
        ("pseudonymize:numero_allocataire", "pseudonymise"),
        ("aggregate_min:11", "aggregate_min_count"),
        ("Max_Retention_Days : 180", "max_retention_days"),
        ("max_retention_day:180", "max_retention_days"),
    ],
)
def test_a_kind_mistyped_is_refused_with_the_kind_meant(text: str, meant: str) -> None:
    word = text.partition(":")[0].strip()
    with pytest.raises(InvalidInput) as refused:
        parse_recommendation(2, text)
    assert refused.value.message == (
        f'R2: "{word}:" is not a checkable kind; did you mean "{meant}:"?'
    )
    assert refused.value.hint is not None and "free:" in refused.value.hint


@pytest.mark.parametrize(
    "text", ["Attention: informer les familles", "Remarque : chiffrer", "R1:x"]
)
def test_any_other_word_and_colon_is_refused_naming_the_kinds(text: str) -> None:
    word = text.partition(":")[0].strip()
    with pytest.raises(InvalidInput) as refused:
        parse_recommendation(1, text)
    assert refused.value.message == (
        f'R1: "{word}:" is not a checkable kind '
        "(limit_columns, max_retention_days, pseudonymise, aggregate_min_count)"
    )


@pytest.mark.parametrize(
    ("text", "stored"),
    [
        ("free:Attention: informer les familles", "Attention: informer les familles"),
        ("FREE :  max_retention:180 au plus tard", "max_retention:180 au plus tard"),
        ('"Attention: informer les familles"', '"Attention: informer les familles"'),
        ("« Remarque : chiffrer »", "« Remarque : chiffrer »"),
        ("Chiffrer le fichier : clé transmise hors bande", None),
        ("CRPA L114-8 : informer les familles", None),
        ("10:30 chaque lundi", None),
    ],
)
def test_free_text_is_written_free_or_quoted(text: str, stored: str | None) -> None:
    parsed = parse_recommendation(1, text)
    assert (parsed.kind, parsed.text) == (RecommendationKind.FREE, stored or text)


def test_free_with_nothing_after_it_is_refused() -> None:
    with pytest.raises(InvalidInput, match="R3 is empty: write the text after free:"):
        parse_recommendation(3, "free:  ")


def test_the_checkable_kinds_still_parse() -> None:
    for kind in APPLIED_KINDS:
        args = "numero_allocataire" if "columns" in kind or kind == "pseudonymise" else "30"
        assert parse_recommendation(1, f"{kind.value}:{args}").kind is kind


def _awaiting_opinion(ctg: Ctg) -> tuple[str, ...]:
    rid = ctg.file_request()
    ctg.advance(rid, "awaiting_dpo")
    return ("dpo", "opinion", rid, "--verdict", "favourable_with_recommendations",
            "--note", "Avis de test")  # fmt: skip


def test_the_dpo_is_refused_a_mistyped_kind(ctg: Ctg) -> None:
    opinion = _awaiting_opinion(ctg)
    refused = ctg.refused(
        *opinion,
        "--recommend",
        "Informer les familles (CRPA L114-8)",
        "--recommend",
        "max_retention:180",
        as_="c.dpo",
        contains='R2: "max_retention:" is not a checkable kind; did you mean '
        '"max_retention_days:"?',
    )
    assert HINT in refused.stderr
    ctg.refused(
        *opinion,
        "--recommend",
        "Attention: informer les familles",
        as_="c.dpo",
        contains='R1: "Attention:" is not a checkable kind (limit_columns, ',
    )


def test_free_text_starting_with_a_word_and_a_colon_is_written_free(ctg: Ctg) -> None:
    opinion = _awaiting_opinion(ctg)
    ctg.ok(*opinion, "--recommend", "max_retention_days:180",
           "--recommend", "free:Attention: informer les familles", as_="c.dpo")  # fmt: skip
    assert _stored(ctg, opinion[2]) == [
        ("max_retention_days", "max_retention_days:180"),
        ("free", "Attention: informer les familles"),
    ]
    assert ctg("audit", "verify").exit_code == 0


def _stored(ctg: Ctg, rid: str) -> list[tuple[str, str]]:
    return [(r["kind"], r["text"]) for r in ctg.show(rid)["opinion"]["recommendations"]]


def _before_issue_16(number: int, text: str) -> Recommendation:
    """The parser of a tool older than issue 16: any other ``word:`` was free text."""
    text = text.strip()
    word = re.match(r"^\s*([a-z_]+)\s*:", text)
    if word is not None and word.group(1) in {k.value for k in APPLIED_KINDS}:
        return parse_recommendation(number, text)
    return Recommendation(number=number, text=text)


def test_an_opinion_recorded_before_keeps_verifying(
    ctg: Ctg, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The check reads new input only: what an older tool stored as free text stays so."""
    opinion = _awaiting_opinion(ctg)
    with monkeypatch.context() as older:
        older.setattr(review, "parse_recommendation", _before_issue_16)
        ctg.ok(*opinion, "--recommend", "max_retention:180",
               "--recommend", "free:Informer", as_="c.dpo")  # fmt: skip
    rid = opinion[2]
    assert _stored(ctg, rid) == [
        ("free", "max_retention:180"),
        ("free", "free:Informer"),
    ]
    ctg.ok("decide", "approve", rid, "--adopt", "R1", "--adopt", "R2", as_="c.controller")
    verified = ctg("audit", "verify")
    assert verified.exit_code == 0, verified.output
