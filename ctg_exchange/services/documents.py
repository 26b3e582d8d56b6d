"""Requests as documents: the JSON every command prints, and Markdown for an audit bundle."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..domain.exchange import Delivery, Reception
from ..domain.models import ExchangeRequest, RequestContent, Step
from ..i18n import date_text, in_language
from ..labels import french
from ..textsafe import for_markdown as md

Deliveries = list[tuple[Delivery, Reception | None]]


def owners(filed_by: str, handovers: Any, steps: Any) -> dict[str, str | None]:
    """Who follows the request now for each side (issue 19): the filer or the controller who
    studied it, unless handed over."""
    from ..domain.handover import SIDES, owner

    taken = [(step.action, step.actor) for step in steps]
    handed = [(h.side, h.successor) for h in handovers]
    return {side: owner(side, filed_by, handed, taken) for side in SIDES}


def request_document(
    request: ExchangeRequest, steps: list[Step] | None = None, deliveries: Deliveries | None = None
) -> dict[str, Any]:
    def dump(value: Any) -> Any:
        return value.model_dump(mode="json") if value is not None else None

    out: dict[str, Any] = {
        "id": request.id,
        "status": request.status.value,
        "from": request.from_party,
        **request.content.model_dump(mode="json"),
        "filed_by": request.filed_by,
        "filed_on": request.filed_on.isoformat(),
        "filed_at": request.filed_at,
        "updated_at": request.updated_at,
        "policy_version": request.policy_version,
        "triage": request.triage.value,
        "findings": [f.model_dump(mode="json") for f in request.findings],
        "dpia_required": request.dpia_required,
        "submitted_on": request.submitted_on and request.submitted_on.isoformat(),
        "opinion": dump(request.opinion),
        "decision": dump(request.decision),
        "approved_against_dpo_opinion": request.approved_against_dpo_opinion,
        "conditions": [c.model_dump(mode="json") for c in request.conditions],
        "acceptance": dump(request.acceptance),
        "annotations": [a.model_dump(mode="json") for a in request.annotations],
        "advices": [a.model_dump(mode="json") for a in request.advices],
        "suspension": dump(request.suspension),
        "reviews": [r.model_dump(mode="json") for r in request.reviews],
        "handovers": [h.model_dump(mode="json") for h in request.handovers],
    }
    if steps is not None:
        out["history"] = [step.model_dump(mode="json") for step in steps]
        out["owners"] = owners(request.filed_by, request.handovers, steps)
    if deliveries is not None:
        out["deliveries"] = [
            {
                "id": d.id,
                **d.model_dump(mode="json"),
                "received": r.model_dump(mode="json") if r else None,
            }
            for d, r in deliveries
        ]
    return out


_DECISIONS = {
    "assisted": "prises par un agent, aidé du calcul",
    "solely_automated": "prises sur le seul fondement du calcul",
}


def _declarations(c: RequestContent) -> list[str]:
    """What the requester declared of counts, decisions, processors and recipients."""
    flags = [
        label
        for label, on in (
            ("profilage ou notation", c.profiling),
            ("décide de l'accès à un service ou à un droit", c.decides_access),
            ("technologie innovante", c.new_technology),
        )
        if on
    ]
    if c.combines_with_own_files is not None:
        flags.append(
            f"croisement avec ses fichiers : {'oui' if c.combines_with_own_files else 'non'}"
        )
    lines = []
    if c.aggregates_of:
        lines.append(f"- Effectifs de : {', '.join(c.aggregates_of)}")
    if c.automated_decision != "none":
        lines.append(f"- Décisions individuelles : {_DECISIONS[c.automated_decision.value]}")
    if flags:
        lines.append(f"- Déclaré : {' ; '.join(flags)}")
    lines += [
        f"- Sous-traitant (RGPD art. 28) : {md(p.name)} — {md(p.contract or 'sans contrat')}"
        for p in c.processors
    ]
    lines += [f"- Transmis ensuite à : {md(r)}" for r in c.onward_recipients]
    if c.necessity:
        lines.append(f"- Stricte nécessité (CRPA L114-8 II) : {md(c.necessity)}")
    if c.right_to_object:
        lines.append(f"- Droit d'opposition : {md(c.right_to_object)}")
    return lines


def _day(day: object) -> str:
    with in_language("fr"):
        return date_text(day)


def _moment(at: str) -> str:
    """A stored UTC time in Paris time, French style: ``07/12/2026 10:41 (+01:00)``."""
    from datetime import datetime

    from ..domain.dates import PARIS

    try:
        local = datetime.fromisoformat(at.replace("Z", "+00:00")).astimezone(PARIS)
    except ValueError:
        return at
    return f"{local:%d/%m/%Y %H:%M} ({local.isoformat()[-6:]})"


def request_markdown(
    request: ExchangeRequest,
    steps: list[Step],
    deliveries: Deliveries,
    purposes: Mapping[str, str] | None = None,
) -> str:
    """A request as a DPO or an auditor reads it, in French; its purpose kind by its label in
    ``purposes`` (the policy's)."""
    kind = (purposes or {}).get(request.content.purpose_kind, request.content.purpose_kind)
    c = request.content
    lines = [
        f"# Demande {request.id}",
        "",
        f"- Statut : {french('status', request.status)}",
        f"- Demandeur → détenteur : {request.from_party} → {c.to}",
        f"- Champ d'intervention : {c.field} ; nature de la finalité : {md(kind)}",
        f"- Finalité : {md(c.purpose)}",
        f"- Catégories de données : {', '.join(c.categories)}",
        f"- Personnes concernées : {md(c.subjects)}",
        f"- Base légale : {c.legal_basis or '—'}"
        + (f" + {c.art9_condition}" if c.art9_condition else "")
        + f" — {md('; '.join([*c.legal_refs, *filter(None, [c.legal_text])]) or 'aucun texte')}",
        f"- Durée de conservation demandée : {c.retention_days} jours"
        + (f", puis {c.archive_days} jours d'archivage intermédiaire" if c.archive_days else "")
        + f" ; fréquence : {french('frequency', c.frequency)}",
        *_declarations(c),
        f"- Déposée le {_day(request.filed_on)} par {request.filed_by} (politique v"
        f"{request.policy_version}) ; {french('triage', request.triage)} ; "
        f"AIPD requise : {'oui' if request.dpia_required else 'non'}",
    ]
    if request.findings:
        lines += ["", "## Pré-examen", ""]
        lines += [
            f"- {f.code} ({french('severity', f.severity)}) : {md(f.message)}"
            for f in request.findings
        ]
    if request.opinion:
        o = request.opinion
        lines += [
            "",
            f"## Avis du DPO ({o.by}, {_day(o.on)}) : {french('verdict', o.verdict)}",
            "",
            md(o.note),
        ]
        lines += [f"- {r.label} : {md(r.text)}" for r in o.recommendations]
    if request.decision:
        d = request.decision
        lines += [
            "",
            f"## Décision ({d.by}, {_day(d.on)}) : demande {french('status', d.outcome)}"
            + (" — contre l'avis du DPO" if d.against_opinion else ""),
            "",
        ]
        if d.text:
            lines.append(md(d.text))
        lines += [
            f"- R{a.number} : " + ("adoptée" if a.adopted else f"écartée — {md(a.reason or '')}")
            for a in d.answers
        ]
    if request.conditions:
        lines += ["", "## Conditions de la transmission", ""]
        lines += [f"- {c.label} : {md(c.text)}" for c in request.conditions]
    if request.acceptance:
        a = request.acceptance
        lines += [
            "",
            f"## Acceptation des conditions ({a.by}, {_day(a.on)})"
            + (f" — AIPD : {md(a.dpia_ref)}" if a.dpia_ref else ""),
        ]
        if a.information:
            lines.append(f"- Information des personnes (RGPD art. 14) : {md(a.information)}")
        if a.l311_mention:
            lines.append(f"- Mention CRPA L311-3-1 : {md(a.l311_mention)}")
    lines += [
        f"- Avis du DPO du demandeur ({v.by}, {_day(v.on)}) : {md(v.note)}" for v in request.advices
    ]
    if request.suspension:
        held = request.suspension
        lines += ["", f"## Suspendue ({held.by}, {_day(held.on)})", "", md(held.reason)]
    if request.reviews:
        lines += ["", "## Revues annuelles", ""]
        lines += [
            f"- {_day(r.on)} ({r.by}) : {french('review', r.outcome)} — {md(r.note)}"
            for r in request.reviews
        ]
    if deliveries:
        lines += ["", "## Transmissions", ""]
        lines += [
            f"- {d.id} : envoyée le {_day(d.sent_on)} par {d.sent_by}, {d.rows} "
            f"{'ligne' if d.rows < 2 else 'lignes'}, "
            f"à détruire au plus tard le {_day(d.retention_deadline)}"
            + (f" ; reçue le {_day(r.received_on)} par {r.received_by}" if r else "")
            + (
                f" ; envoi anticipé sur la fréquence, motif : {md(d.justification or '')}"
                if d.early
                else ""
            )
            for d, r in deliveries
        ]
    lines += ["", "## Historique", ""]
    for step in steps:
        moved = f" → {french('status', step.to_status)}" if step.to_status else ""
        lines.append(
            f"- #{step.seq} {_moment(step.at)}, {step.actor} ({french('role', step.role)}) : "
            f"{french('action', step.action)}{moved}" + (f" — {md(step.text)}" if step.text else "")
        )
    return "\n".join(lines) + "\n"
