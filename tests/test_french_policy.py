"""The policy's messages in French (issue 16): screening findings, the convention's refusals and
a request file's errors, as a DPO or an agent reads them under ``CTG_LANG=fr``; English under
``CTG_LANG=en``. Codes, ids, options and the policy's own texts stay as they are."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from test_convention import RENEWAL
from test_screening import POLICY, request

from ctg_exchange.errors import PolicyError
from ctg_exchange.policy.convention import ConventionState
from ctg_exchange.policy.loader import parse_policy
from ctg_exchange.policy.screening import screen
from ctg_exchange.policy.termination import why_not_terminated

from conftest import SHIPPED_POLICY, Ctg

ART9 = request(
    field="handicap",
    purpose_kind="service_delivery",
    legal_refs=["casf_l114_1_1"],
    categories=["handicap_droit_flag"],
)
AFTER = {"CTG_TODAY": "2026-01-05"}  # the shipped convention ended on 2025-12-31


def _messages(lang: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.setenv("CTG_LANG", lang)
    state = ConventionState(POLICY, 1)
    found = screen(POLICY, ART9, state.why_not_in_force(date(2026, 1, 5))).findings
    return {f.code: f.message for f in found}


def test_the_screening_of_art9_data_reads_french(monkeypatch: pytest.MonkeyPatch) -> None:
    french = _messages("fr", monkeypatch)
    assert french["CONVENTION_NOT_IN_FORCE"] == (
        "la convention ctg-sceaux-caf92 a pris fin le 31 décembre 2025 et n'est renouvelée que "
        "par reconduction expresse (article 10)"
    )
    assert french["ART9_CONDITION_MISSING"] == (
        "handicap_droit_flag : données sensibles (RGPD art. 9), qui exigent une condition de "
        "l'art. 9(2) du RGPD (art9_2_b, art9_2_g, art9_2_h) ; aucune n'est indiquée"
    )
    assert french["SPECIAL_CATEGORY"] == (
        "handicap_droit_flag : données sensibles (RGPD art. 9) ; percevoir l'AEEH ou l'AAH "
        "révèle un handicap"
    )
    assert french["DPIA_REQUIRED"] == (
        "une AIPD est requise avant tout transfert (RGPD art. 35) : données sensibles ou à "
        "caractère hautement personnel ; personnes concernées vulnérables"
    )
    english = _messages("en", monkeypatch)
    assert english["ART9_CONDITION_MISSING"] == (
        "handicap_droit_flag is special-category data: it needs a GDPR art. 9(2) condition "
        "(art9_2_b, art9_2_g, art9_2_h); none is given"
    )
    assert english["DPIA_REQUIRED"] == (
        "a DPIA is required before any transfer (GDPR art. 35): sensitive or highly personal "
        "data; vulnerable data subjects"
    )


def test_a_forbidden_category_keeps_the_policys_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    """The policy's own text (a category's reason) is shown as the policy gives it."""
    monkeypatch.setenv("CTG_LANG", "fr")
    content = request(to="caf92", purpose_kind="control", categories=["infractions_fraude"])
    offence = next(f for f in screen(POLICY, content, None).findings if f.code == "OFFENCE_DATA")
    reason = next(c.reason for c in POLICY.categories if c.id == "infractions_fraude")
    assert offence.message == (
        "la catégorie 'infractions_fraude' relève des données relatives aux infractions, hors "
        f"CTG (RGPD art. 10) : {reason} ; ville_sceaux n'a aucune voie pour les obtenir"
    )


def test_a_notice_too_short_is_refused_in_french(monkeypatch: pytest.MonkeyPatch) -> None:
    state = ConventionState(POLICY, 1)
    args = (state, "denunciation", "commune", date(2025, 3, 3), date(2025, 6, 2), date(2025, 6, 2))
    monkeypatch.setenv("CTG_LANG", "fr")
    refusal = why_not_terminated(*args)
    assert refusal is not None
    assert refusal.rule == "TERMINATION_NOTICE"
    assert refusal.message.startswith(
        "le délai de la notification du 3 mars 2025 court jusqu'au 3 septembre 2025 : la "
        "résiliation prend effet au plus tôt le 4 septembre 2025, et non le 2 juin 2025 "
        "(article 12 : « dénoncée par l'une ou l'autre"
    ), refusal.message
    monkeypatch.setenv("CTG_LANG", "en")
    english = why_not_terminated(*args)
    assert english is not None
    assert english.message.startswith(
        "the notice of 2025-03-03 runs until 2025-09-03: the termination takes effect on "
        "2025-09-04 at the earliest, not 2025-06-02 (Article 12:"
    ), english.message


def test_a_policy_with_an_unknown_party_is_refused_in_french(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    text = SHIPPED_POLICY.read_text(encoding="utf-8").replace(
        "holders: [caf92]", "holders: [caf75]", 1
    )
    monkeypatch.setenv("CTG_LANG", "fr")
    with pytest.raises(PolicyError) as french:
        parse_policy(text, "p.yaml")
    assert "partie inconnue 'caf75'" in french.value.message, french.value.message
    monkeypatch.setenv("CTG_LANG", "en")
    with pytest.raises(PolicyError) as english:
        parse_policy(text, "p.yaml")
    assert "unknown party 'caf75'" in english.value.message, english.value.message


def test_a_renewal_after_the_end_is_refused_in_french(ctg: Ctg) -> None:
    french = ctg(*RENEWAL, as_="v.admin", env={**AFTER, "CTG_LANG": "fr"})
    assert french.exit_code == 1, french.output
    assert french.stderr.splitlines()[0] == (
        "ctg-exchange : erreur : RENEWAL_AFTER_END: la convention a pris fin le 31 décembre "
        "2025 : elle n'est reconduite que par décision expresse avant son terme (article 10) ; "
        "après lui, les parties adoptent une nouvelle convention sur de nouvelles délibérations "
        "(`convention successor`)"
    ), french.stderr
    english = ctg(*RENEWAL, as_="v.admin", env={**AFTER, "CTG_LANG": "en"})
    assert english.stderr.splitlines()[0].startswith(
        "ctg-exchange: error: RENEWAL_AFTER_END: the convention ended on 2025-12-31: it renews "
        "only by express decision before its end (Article 10)"
    ), english.stderr


def test_a_pending_proposal_is_named_in_french(ctg: Ctg) -> None:
    ctg.ok(*RENEWAL, as_="v.admin")
    french = ctg(*RENEWAL, as_="v.admin", env={"CTG_LANG": "fr"})
    assert french.exit_code == 1, french.output
    error, hint = french.stderr.splitlines()[:2]
    assert error.startswith("ctg-exchange : erreur : PROPOSAL_PENDING: la reconduction n° "), error
    assert error.endswith(" proposée par v.admin (ville_sceaux) attend le contreseing de l'autre "
                          "partie"), error  # fmt: skip
    assert "l'autre partie contresigne la proposition" in hint, hint
    english = ctg(*RENEWAL, as_="v.admin", env={"CTG_LANG": "en"})
    assert "PROPOSAL_PENDING: the renewal #" in english.stderr, english.stderr


THREE_WRONG = """\
to: caf75
field: petite_enfance
purpose: Tarifer les crèches (jeu de test)
purpose_kind: pricing
categories: [quotient_familial]
subjects: Familles fictives
legal_basis: Art 6.1.e
legal_refs: [loi_98_657_art147]
retention_days: many
frequency: monthly
"""


def test_a_request_file_with_three_errors_in_french(ctg: Ctg, tmp_path: Path) -> None:
    source = tmp_path / "request.yaml"
    source.write_text(THREE_WRONG, encoding="utf-8")
    check = ("request", "check", "--from-file", str(source))
    french = ctg(*check, as_="v.agent", env={"CTG_LANG": "fr"})
    assert french.exit_code == 1, french.output
    assert french.stderr.splitlines() == [
        f"ctg-exchange : erreur : {source}:1: to: partie inconnue 'caf75' (vouliez-vous dire "
        "caf92 ?) : la convention connaît ville_sceaux, caf92",
        f"ctg-exchange : erreur : {source}:7: legal_basis: l'une des valeurs : art6_1_c, art6_1_e",
        f"ctg-exchange : erreur : {source}:9: retention_days: un nombre entier de jours de 1 à "
        "3650, par ex. 365",
    ], french.stderr
    english = ctg(*check, as_="v.agent", env={"CTG_LANG": "en"})
    assert english.stderr.splitlines() == [
        f"ctg-exchange: error: {source}:1: to: unknown party 'caf75' (did you mean caf92?): the "
        "convention knows ville_sceaux, caf92",
        f"ctg-exchange: error: {source}:7: legal_basis: one of: art6_1_c, art6_1_e",
        f"ctg-exchange: error: {source}:9: retention_days: a whole number of days from 1 to "
        "3650, e.g. 365",
    ], english.stderr
