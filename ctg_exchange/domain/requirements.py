"""What a step must carry besides who takes it and where the request stands (DESIGN §4).

The services refuse a step that lacks it, and ``audit verify`` refuses an event that lacks it
(:mod:`ctg_exchange.audit.replay`), with these very functions and rule codes. Each requirement
applies from the rules version a log's genesis gives (``RULES``): a log written before it keeps
verifying.

- Approving after an ``unfavourable`` opinion takes written reasons and is flagged as against
  the opinion; from rules 3, after an ``out_of_scope`` one too (the DPO found the request not
  personal data, or for another statutory channel: the controller departs from it).
- Accepting the conditions of a personal request records, from rules 3, how and when the
  persons concerned are told which data came from the other party (GDPR art. 14, CRPA L114-8);
  and, when screening found the data feed individual decisions (``ALGORITHMIC_DECISION``),
  where those decisions state they rest on an algorithmic processing (CRPA L311-3-1).
"""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING

from ..errors import Refused, ReplayError
from ..i18n import _
from ..labels import label
from .models import Triage, Verdict

if TYPE_CHECKING:
    from .facts import RequestFacts
    from .step_payloads import RequestStep

REASONS_REQUIRED = "REASONS_REQUIRED"
ART14_INFORMATION = "ART14_INFORMATION"
L311_MENTION = "L311_MENTION"
ALGORITHMIC_DECISION = "ALGORITHMIC_DECISION"  # a screening finding's code (DOMAIN §2)
AGAINST_OPINION = "AGAINST_OPINION"  # an approval's flag is not what its opinion makes it
RECOMMENDATION_UNANSWERED = "RECOMMENDATION_UNANSWERED"
DPIA_REF_MISSING = "DPIA_REF_MISSING"


def check_answered(
    request_id: str, count: int, adopted: Collection[int], set_aside: Collection[int]
) -> None:
    """Approving answers each of the DPO's ``count`` recommendations, once: adopted (a
    condition) or set aside with reasons (DESIGN §4)."""
    answered = [*adopted, *set_aside]
    missing = [f"R{n}" for n in range(1, count + 1) if n not in answered]
    if missing or sorted(answered) != list(range(1, count + 1)):
        if missing:
            message = _("approving {request} answers every recommendation: {labels} unanswered")
        else:
            message = _(
                "approving {request} answers every recommendation: an answer is repeated or "
                "names no recommendation"
            )
        raise Refused(
            RECOMMENDATION_UNANSWERED,
            message.format(request=request_id, labels=", ".join(missing)),
            hint=_(
                'adopt it (--adopt {label}) or set it aside with reasons (--set-aside {label}="…")'
            ).format(label=missing[0] if missing else "R1"),
        )


def check_dpia(request_id: str, dpia_required: bool, dpia_ref: bool) -> None:
    """A request whose screening found a DPIA necessary is accepted with its reference."""
    if dpia_required and not dpia_ref:
        raise Refused(
            DPIA_REF_MISSING,
            _(
                "{request} needs a DPIA (GDPR art. 35) before any transfer: give its reference "
                "with --dpia-ref"
            ).format(request=request_id),
        )


def departs_from(verdict: str | None, rules: int) -> bool:
    """Whether approving after an opinion of ``verdict`` departs from the DPO's opinion."""
    against = {Verdict.UNFAVOURABLE.value}
    if rules >= 3:
        against.add(Verdict.OUT_OF_SCOPE.value)
    return verdict in against


def check_approval(request_id: str, verdict: str | None, reasons: bool, rules: int) -> bool:
    """Whether the approval is against the opinion; refused if it is and gives no reasons."""
    against = departs_from(verdict, rules)
    if against and not reasons:
        raise Refused(
            REASONS_REQUIRED,
            _(
                "the DPO's opinion on {request} is {verdict}: approving needs written reasons in "
                "--justification"
            ).format(request=request_id, verdict=label("verdict", verdict or "")),
            hint=_(
                "the DPO advises, the controller decides; departing from the opinion is reasoned "
                "in writing (Article 7)"
            ),
        )
    return against


def check_acceptance(
    request_id: str,
    triage: Triage,
    findings: Collection[str],
    *,
    information: bool,
    l311_mention: bool,
    rules: int,
) -> None:
    """Refuse accepting the conditions of a personal request without the Art. 14 information,
    or, where its data feed individual decisions, without the L311-3-1 mention (rules 3)."""
    if rules < 3 or triage is not Triage.PERSONAL:
        return
    if not information:
        raise Refused(
            ART14_INFORMATION,
            _(
                "accepting the conditions of {request} records how and when the persons "
                "concerned are told which data came from the other party (GDPR art. 14, CRPA "
                "L114-8): give it with --information"
            ).format(request=request_id),
        )
    if ALGORITHMIC_DECISION in findings and not l311_mention:
        raise Refused(
            L311_MENTION,
            _(
                "the data of {request} feed individual decisions ({finding}): accepting its "
                "conditions records where those decisions state they were taken on the basis of "
                "an algorithmic processing (CRPA L311-3-1): give it with --l311-mention"
            ).format(request=request_id, finding=ALGORITHMIC_DECISION),
        )


def check_recorded(payload: RequestStep, request: RequestFacts, rules: int) -> None:
    """What a logged step must carry, as the services require it under the log's ``rules``
    (``audit verify``); ``request`` is as the log had it before the step."""
    from .step_payloads import AcceptConditions, Approve

    if isinstance(payload, Approve):
        if rules >= 2:
            count = 0 if request.opinion is None else len(request.opinion.recommendations)
            numbers = [s.number for s in payload.set_aside]
            check_answered(request.id, count, payload.adopted, numbers)
        verdict = None if request.opinion is None else request.opinion.verdict
        against = check_approval(request.id, verdict, payload.text_sha256 is not None, rules)
        if rules >= 2 and payload.against_opinion is not against:
            raise ReplayError(
                _(
                    "{rule}: the approval says against_opinion {flag} after a {verdict} opinion"
                ).format(
                    rule=AGAINST_OPINION,
                    flag=str(payload.against_opinion).lower(),
                    verdict=label("verdict", verdict or "None"),
                ),
                rule=AGAINST_OPINION,
            )
    elif isinstance(payload, AcceptConditions):
        if rules >= 2:
            check_dpia(request.id, request.dpia_required, payload.dpia_ref_sha256 is not None)
        check_acceptance(
            request.id,
            request.triage,
            request.findings,
            information=payload.information_sha256 is not None,
            l311_mention=payload.l311_mention_sha256 is not None,
            rules=rules,
        )
