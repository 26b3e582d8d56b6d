"""Rules on what the requester declares: informing people of their rights (CRPA L114-8 II),
decisions computed from the data (CRPA L311-3-1, loi Informatique et Libertés art. 47),
processors and onward recipients (GDPR art. 28), per-family channels, and the declarations the
EDPB criteria and the smallest cell need. Each is a rule of :func:`.screening.screen`.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..domain.models import AutomatedDecision, Finding, Severity
from ..i18n import _, ngettext
from .model import Sensitivity
from .request_view import ScreenedRequest, identifiers, ids

BLOCKING, WARNING = Severity.BLOCKING, Severity.WARNING


def informs_of_rights(r: ScreenedRequest) -> Iterator[Finding]:
    """CRPA L114-8 II (loi 3DS art. 162): a list to tell people of benefits they may be
    entitled to, with strict necessity and a right to object (décret n° 2023-361)."""
    if r.content.necessity is None:
        yield Finding(
            code="OUTREACH_NECESSITY_MISSING",
            severity=BLOCKING,
            message=_(
                "a list to inform people of their rights must be strictly necessary to it "
                "(CRPA L114-8 II): state why the data of each person listed are needed"
            ),
        )
    if r.content.right_to_object is None:
        yield Finding(
            code="OUTREACH_OBJECTION_MISSING",
            severity=BLOCKING,
            message=_(
                "the persons must be told, before the exchange, that they may object to it "
                "(CRPA L114-8 II; décret n° 2023-361): state how"
            ),
        )
    yield Finding(
        code="OUTREACH_RIGHTS",
        severity=WARNING,
        message=_(
            "a list to inform people of benefits they may be entitled to (CRPA L114-8 II): "
            "only what the information needs, used for it alone, objections honoured before the "
            "transfer (CNIL délibération n° 2022-101)"
        ),
    )


def decisions(r: ScreenedRequest) -> Iterator[Finding]:
    """Individual decisions computed from the data (CRPA L311-3-1; loi Informatique et
    Libertés art. 47)."""
    if not r.exchangeable:
        return
    automated = r.automated
    special = r.of(Sensitivity.SPECIAL_ART9)
    if automated is AutomatedDecision.SOLELY_AUTOMATED and special:
        yield Finding(
            code="AUTOMATED_DECISION_ART9",
            severity=BLOCKING,
            message=_(
                "an administrative decision taken solely by an algorithm may not rest on "
                "special-category data ({categories}): loi Informatique et Libertés art. 47; "
                "an agent must decide (declare the decisions 'assisted')"
            ).format(categories=ids(special)),
        )
    if automated is not AutomatedDecision.NONE:
        yield Finding(
            code="ALGORITHMIC_DECISION",
            severity=WARNING,
            message=_(
                "the decisions these data feed are taken on the basis of an algorithmic "
                "processing: each must say so explicitly, and the rules and their main features "
                "are given on request (CRPA L311-3-1); accepting the conditions records where"
            ),
        )


def recipients(r: ScreenedRequest) -> Iterator[Finding]:
    """Processors (GDPR art. 28) and onward recipients, as the requester declares them."""
    if not r.policy.recipients_screened or not r.exchangeable:
        return
    for processor in r.content.processors:
        if processor.contract is None:
            yield Finding(
                code="PROCESSOR_WITHOUT_CONTRACT",
                severity=BLOCKING,
                message=_(
                    "processor {name!r} has no contract reference: a processor acts only under "
                    "a contract or legal act binding it (GDPR art. 28(3))"
                ).format(name=processor.name),
            )
    for recipient in r.content.onward_recipients:
        yield Finding(
            code="ONWARD_RECIPIENT",
            severity=BLOCKING,
            message=_(
                "passing the data on to {recipient!r}, another controller, is a new disclosure "
                "the CTG does not cover (CTG art. 7; GDPR art. 6(1))"
            ).format(recipient=recipient),
            channel=_(
                "that body asks the holder itself, under its own legal basis, or acts as the "
                "requester's processor under an art. 28 contract"
            ),
        )


def alternatives(r: ScreenedRequest) -> Iterator[Finding]:
    asked = {c.id for c in r.allowed}
    for alternative in r.policy.alternatives:
        if r.content.purpose_kind in alternative.purpose_kinds and asked & set(
            alternative.categories
        ):
            yield Finding(
                code=alternative.code,
                severity=WARNING,
                message=f"{alternative.message} ({alternative.source})",
            )


def declared(r: ScreenedRequest) -> Iterator[Finding]:
    """What the nine criteria need the requester to say, and counts that say what they count."""
    if (
        r.policy.screening.all_edpb_criteria
        and identifiers(r)
        and r.content.combines_with_own_files is None
    ):
        yield Finding(
            code="MATCHING_UNDECLARED",
            severity=BLOCKING,
            message=ngettext(
                "{categories} identifies persons directly: say whether the data will be "
                "combined with the requester's own files (EDPB WP248 rev.01 criterion 6: "
                "matching or combining datasets)",
                "{categories} identify persons directly: say whether the data will be combined "
                "with the requester's own files (EDPB WP248 rev.01 criterion 6: matching or "
                "combining datasets)",
                len(identifiers(r)),
            ).format(categories=ids(identifiers(r))),
        )
    if r.policy.aggregates.counted_required and not r.personal and not r.content.aggregates_of:
        yield Finding(
            code="COUNTS_UNDECLARED",
            severity=BLOCKING,
            message=_(
                "anonymous counts must say which data categories they count, so that the "
                "smallest cell fits them (DOMAIN §3: 11 for a sensitive category)"
            ),
        )
