"""Issue 16: the refusals of the procedure's rules (role, status, separation of duties,
recommendations, frequency), the payloads' validation and the findings of `register check` are
French under a French locale (``CTG_LANG=fr``), English otherwise; the rule and finding codes,
ids, commands and options stay as they are, and what the log records does not change.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest

from ctg_exchange.domain.actions import Action
from ctg_exchange.domain.catalogue import parse_payload
from ctg_exchange.domain.frequency import DELIVERY_TOO_EARLY, check_timing
from ctg_exchange.domain.lifecycle import next_status
from ctg_exchange.domain.models import Frequency, Status, Triage
from ctg_exchange.domain.payloads import PayloadInvalid
from ctg_exchange.domain.recommendations import parse_answers, parse_recommendation
from ctg_exchange.domain.rules import RULE_SEPARATION, separate_duties
from ctg_exchange.errors import InvalidInput, InvalidTransition, NotAuthorised, Refused
from ctg_exchange.policy import load_policy, shipped_policy_path
from ctg_exchange.register.check import register_problems
from ctg_exchange.register.loader import load_entries, registry_files
from ctg_exchange.register.model import Processor

from conftest import Ctg

REGISTRY = Path(__file__).resolve().parents[1] / "registry"
RID = "DX-2026-0001"


@dataclass(frozen=True)
class _Standing:
    """A request where it stands, as the state machine reads it."""

    status: Status
    id: str = RID
    triage: Triage = Triage.PERSONAL
    filed_by: str = "v.agent"
    from_party: str = "ville_sceaux"
    to_party: str = "caf92"
    suspended_from: Status | None = None


@pytest.fixture
def french(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CTG_LANG", "fr")


def _refusal(call: object, error: type[Exception] = Exception) -> Exception:
    with pytest.raises(error) as caught:
        call()  # type: ignore[operator]
    return caught.value


def test_a_step_refused_for_its_status_names_the_statuses_in_french(french: None) -> None:
    error = _refusal(lambda: next_status(Action.STUDY_SUBMIT, _Standing(Status.FILED)))
    assert isinstance(error, InvalidTransition)
    assert error.message == (
        f"le statut de {RID} est « déposée » ; `study submit` n'est possible qu'au statut : "
        "à l'étude"
    )
    error = _refusal(lambda: next_status(Action.WITHDRAW, _Standing(Status.APPROVED)))
    assert isinstance(error, InvalidTransition)
    assert error.message == (
        f"le statut de {RID} est « approuvée » ; `request withdraw` n'est possible qu'au statut : "
        "en attente de l'avis du DPO ou déposée ou avis rendu ou renvoyée pour modification ou "
        "à l'étude"
    )


def test_a_step_refused_for_its_status_in_english(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CTG_LANG", "en")
    error = _refusal(lambda: next_status(Action.STUDY_SUBMIT, _Standing(Status.FILED)))
    assert isinstance(error, InvalidTransition)
    assert error.message == f"{RID} is filed: `study submit` needs under_study"


def _too_early() -> None:
    check_timing(
        RID, Frequency.MONTHLY, (1, date(2026, 6, 1)), date(2026, 6, 20),
        early=False, justified=False,
    )  # fmt: skip


def test_a_delivery_too_early_gives_its_dates_in_french(french: None) -> None:
    error = _refusal(_too_early, Refused)
    assert isinstance(error, Refused)
    assert error.rule == DELIVERY_TOO_EARLY
    assert error.message == (
        f"{RID} a une fréquence de transmission mensuelle et sa dernière transmission "
        f"({RID}-1) date du 1er juin 2026 : la suivante est permise à partir du 1er juillet 2026"
    )
    assert error.hint == (
        "pour transmettre plus tôt, indiquez --early avec --justification TEXTE (les deux sont "
        "consignés)"
    )


def test_a_delivery_too_early_in_english(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CTG_LANG", "en")
    error = _refusal(_too_early, Refused)
    assert error.args[0] == (
        f"{RID} is delivered monthly and its last delivery ({RID}-1) was on 2026-06-01: the "
        "next is allowed from 2026-07-01"
    )


def test_a_recommendation_typo_is_met_with_did_you_mean_in_french(french: None) -> None:
    error = _refusal(lambda: parse_recommendation(2, "max_retention:180"), InvalidInput)
    assert isinstance(error, InvalidInput)
    assert error.message == (
        'R2 : "max_retention:" n\'est pas un type vérifiable ; vouliez-vous dire '
        '"max_retention_days:" ?'
    )
    assert error.hint is not None and error.hint.startswith("un texte libre qui commence")
    rec = parse_recommendation(1, "limit_columns:a,b")
    error = _refusal(lambda: parse_answers((rec,), ["R1", "r1"], []), InvalidInput)
    assert str(error) == "R1 reçoit deux réponses"


def test_a_recommendation_typo_in_english(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CTG_LANG", "en")
    error = _refusal(lambda: parse_recommendation(2, "max_retention:180"), InvalidInput)
    assert str(error) == (
        'R2: "max_retention:" is not a checkable kind; did you mean "max_retention_days:"?'
    )


def test_separation_of_duties_keeps_its_code_first(french: None) -> None:
    taken = [(Action.STUDY_ACCEPT.value, "c.both")]
    error = _refusal(lambda: separate_duties(Action.APPROVE, "c.both", RID, taken), NotAuthorised)
    assert isinstance(error, NotAuthorised)
    # ``audit verify`` names the rule once when the message starts with it
    assert error.message.startswith(f"{RULE_SEPARATION}: c.both a étudié {RID} : ")
    assert error.hint == "un autre membre de la partie, ayant ce rôle, accomplit cette étape"


def test_a_payload_problem_names_its_field_in_french(french: None) -> None:
    error = _refusal(
        lambda: parse_payload(
            Action.MEMBER_REVOKE, {"member": "v.agent", "reason_sha256": "0" * 64, "extra": 1}
        ),
        PayloadInvalid,
    )
    assert str(error) == "extra: clé inattendue"


def test_register_check_findings_are_french_with_their_codes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    policy = load_policy(shipped_policy_path()).policy
    fiches = [f.entry for f in load_entries(registry_files(REGISTRY), policy)]
    eaje = next(e for e in fiches if e.ref == "VS-EAJE")
    eaje = eaje.model_copy(update={"processors": (Processor(name="Éditeur", service="Logiciel"),)})

    def finding(lang: str) -> str:
        monkeypatch.setenv("CTG_LANG", lang)
        found = register_problems([eaje], policy, "ville_sceaux")
        return next(str(f) for f in found if f.field == "processors[0].contract")

    assert finding("fr") == (
        "VS-EAJE: processors[0].contract: PROCESSOR_CONTRACT_MISSING: le sous-traitant "
        "'Éditeur' n'a pas de référence de contrat (RGPD art. 28(3))"
    )
    assert finding("en") == (
        "VS-EAJE: processors[0].contract: PROCESSOR_CONTRACT_MISSING: processor 'Éditeur' has "
        "no contract reference (Art. 28(3))"
    )


def test_a_refusal_on_the_command_line_is_french_and_the_log_still_verifies(ctg: Ctg) -> None:
    fr = {"CTG_LANG": "fr"}
    rid = ctg.file_request()
    refused = ctg("study", "submit", rid, as_="c.analyst", env=fr)
    assert refused.exit_code == 1, refused.output
    expected = (
        f"le statut de {rid} est « déposée » ; `study submit` n'est possible qu'au statut : "
        "à l'étude"
    )
    assert expected in refused.stderr
    ctg.ok("study", "accept", rid, "--note", "Étude engagée", as_="c.analyst", env=fr)
    ctg.ok("study", "submit", rid, as_="c.analyst", env=fr)
    # the steps taken in French recorded what the English ones would: the replay agrees
    ctg.ok("audit", "verify", env=fr)
    ctg.ok("audit", "verify", env={"CTG_LANG": "en"})
