"""Pre-screening: what the policy can decide about a request before a person reads it.

:func:`screen` returns findings, each with a rule code, a severity, a message naming the GDPR or
CTG article, and where one exists the proper channel. A ``blocking`` finding refuses the filing;
a ``warning`` is shown to the controller and the DPO. Screening also triages the request
(anonymous aggregates only -> ``non_personal``) and decides whether a DPIA is required: two or
more of the EDPB's criteria that the tool can derive, or a processing on the CNIL's list.

The rules are pure functions of the policy and the request; each is listed in ``_RULES`` (those
on what the requester declares are in :mod:`.declarations`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from ..domain.models import Finding, RequestContent, Severity, Triage
from ..i18n import _, is_french
from . import declarations, dpia
from .model import Policy, Sensitivity
from .request_view import ScreenedRequest, ids

BLOCKING, WARNING = Severity.BLOCKING, Severity.WARNING


@dataclass(frozen=True)
class Screening:
    findings: tuple[Finding, ...]
    triage: Triage
    dpia_required: bool
    dpia_criteria: tuple[str, ...]

    @property
    def blocking(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity is BLOCKING)

    @property
    def codes(self) -> set[str]:
        return {f.code for f in self.findings}


Rule = Callable[[ScreenedRequest], Iterator[Finding]]


def _convention(r: ScreenedRequest) -> Iterator[Finding]:
    if r.convention_problem:
        yield Finding(
            code="CONVENTION_NOT_IN_FORCE", severity=BLOCKING, message=r.convention_problem
        )


def _legal_basis(r: ScreenedRequest) -> Iterator[Finding]:
    if not r.personal:
        return
    allowed = ", ".join(b.id for b in r.policy.legal_bases.art6)
    basis = r.content.legal_basis
    if basis is None or r.policy.legal_basis(basis) is None:
        message = (
            _(
                "no GDPR art. 6 basis is given: between these public bodies the basis is "
                "{allowed} (GDPR art. 6(1); the CTG itself is not a legal basis)"
            )
            if basis is None
            else _(
                "{basis!r} is not allowed: between these public bodies the basis is {allowed} "
                "(GDPR art. 6(1); the CTG itself is not a legal basis)"
            )
        )
        yield Finding(
            code="LEGAL_BASIS_NOT_ALLOWED",
            severity=BLOCKING,
            message=message.format(basis=basis, allowed=allowed),
        )
    if r.policy.legal_texts:
        yield from _legal_texts(r)
    elif not r.content.legal_text:
        yield Finding(
            code="NO_LEGAL_TEXT",
            severity=BLOCKING,
            message=_(
                "no French legal text is cited: a basis under art. 6(1)(c) or (e) must be "
                "laid down by law (GDPR art. 6(3))"
            ),
        )


def _legal_texts(r: ScreenedRequest) -> Iterator[Finding]:
    """The texts cited come from the policy's list and serve the request's purpose."""
    fitting = [t.id for t in r.policy.legal_texts if r.content.purpose_kind in t.purpose_kinds]
    if not r.content.legal_refs:
        yield Finding(
            code="LEGAL_TEXT_NOT_LISTED",
            severity=BLOCKING,
            message=(
                _(
                    "no legal text of the convention's list is cited: a basis under art. "
                    "6(1)(c) or (e) must be laid down by law (GDPR art. 6(3)), and a circular or "
                    "an instruction is not law; free text only adds to a listed text (for this "
                    "purpose: {texts})"
                )
                if fitting
                else _(
                    "no legal text of the convention's list is cited: a basis under art. "
                    "6(1)(c) or (e) must be laid down by law (GDPR art. 6(3)), and a circular or "
                    "an instruction is not law; free text only adds to a listed text"
                )
            ).format(texts=", ".join(fitting)),
        )
    for ref in r.content.legal_refs:
        text = r.policy.legal_text(ref)
        if text is None:
            yield Finding(
                code="LEGAL_TEXT_NOT_LISTED",
                severity=BLOCKING,
                message=_(
                    "{ref!r} is not a legal text of the convention's list "
                    "(GDPR art. 6(3): a text laid down by law)"
                ).format(ref=ref),
            )
        elif r.content.purpose_kind not in text.purpose_kinds:
            yield Finding(
                code="LEGAL_TEXT_PURPOSE",
                severity=BLOCKING,
                message=(
                    _("{ref!r} ({label}) does not ground a {kind!r} purpose; for it: {texts}")
                    if fitting
                    else _("{ref!r} ({label}) does not ground a {kind!r} purpose")
                ).format(
                    ref=ref, label=text.label, kind=r.content.purpose_kind, texts=", ".join(fitting)
                ),
            )


def _field(r: ScreenedRequest) -> Iterator[Finding]:
    if r.policy.field(r.content.field) is None:
        known = ", ".join(f.id for f in r.policy.fields)
        yield Finding(
            code="FIELD_NOT_IN_CONVENTION",
            severity=BLOCKING,
            message=_(
                "{field!r} is not an intervention field of the convention "
                "(CTG préambule and art. 4: {known})"
            ).format(field=r.content.field, known=known),
        )


def _holders(r: ScreenedRequest) -> Iterator[Finding]:
    for category in r.asked:
        if r.content.to not in category.holders:
            yield Finding(
                code="CATEGORY_NOT_HELD",
                severity=BLOCKING,
                message=_(
                    "{party} does not hold {category!r} (held by {holders}): the study and the "
                    "DPO's opinion belong to the party that holds the data (CTG art. 7)"
                ).format(
                    party=r.content.to, category=category.id, holders=", ".join(category.holders)
                ),
            )


def _channel(
    r: ScreenedRequest, channels: dict[str, str] | None, default: str | None
) -> str | None:
    """The proper channel for the requesting party, or None when the right is not its own."""
    return default if channels is None else channels.get(r.requester)


def _no_channel(r: ScreenedRequest, channels: dict[str, str] | None) -> str:
    if channels is None or r.requester in channels:
        return ""
    return _("; {party} has no channel to obtain them").format(party=r.requester)


def _forbidden(r: ScreenedRequest) -> Iterator[Finding]:
    for category in r.asked:
        if category.held_for is not None and category.exchange == "allowed":
            yield Finding(
                code="HELD_FOR_ANOTHER_BODY",
                severity=BLOCKING,
                message=_(
                    "{category!r} is held for {body} ({source}), which did not sign the CTG: no "
                    "exchange under it without that body"
                ).format(
                    category=category.id,
                    body=category.held_for.body,
                    source=category.held_for.source,
                ),
            )
        if category.exchange != "forbidden":
            continue
        if category.sensitivity is Sensitivity.OFFENCE_ART10:
            yield Finding(
                code="OFFENCE_DATA",
                severity=BLOCKING,
                message=_(
                    "{category!r} is offence data, outside the CTG (GDPR art. 10): {reason}"
                    "{no_channel}"
                ).format(
                    category=category.id,
                    reason=category.reason,
                    no_channel=_no_channel(r, category.channel_for),
                ),
                channel=_channel(
                    r,
                    category.channel_for,
                    category.channel or "droit de communication (CSS L114-19 et L114-20)",
                ),
            )
        else:
            yield Finding(
                code="CATEGORY_NOT_ALLOWED",
                severity=BLOCKING,
                message=_(
                    "{category!r} is never exchanged under the CTG: {reason}{no_channel}"
                ).format(
                    category=category.id,
                    reason=category.reason,
                    no_channel=_no_channel(r, category.channel_for),
                ),
                channel=_channel(r, category.channel_for, category.channel),
            )


def _nir(r: ScreenedRequest) -> Iterator[Finding]:
    for category in r.of(Sensitivity.RESTRICTED_IDENTIFIER):
        case = r.content.nir_case
        if case is None or r.policy.nir_case(case) is None:
            yield Finding(
                code="NIR_NOT_AUTHORISED",
                severity=BLOCKING,
                message=_(
                    "{category!r} may only be used in the cases of décret n° 2019-341 "
                    "(loi Informatique et Libertés art. 30), and none is established here"
                ).format(category=category.id),
                channel=_("the numéro allocataire identifies a family without the NIR"),
            )


def _art9(r: ScreenedRequest) -> Iterator[Finding]:
    special = r.of(Sensitivity.SPECIAL_ART9)
    if not special:
        return
    condition = r.content.art9_condition
    conditions = ", ".join(b.id for b in r.policy.legal_bases.art9)
    if condition is None or r.policy.art9_condition(condition) is None:
        message = (
            _(
                "{categories} is special-category data: it needs a GDPR art. 9(2) condition "
                "({conditions}); none is given"
            )
            if condition is None
            else _(
                "{categories} is special-category data: it needs a GDPR art. 9(2) condition "
                "({conditions}); {condition!r} is not one of them"
            )
        )
        yield Finding(
            code="ART9_CONDITION_MISSING",
            severity=BLOCKING,
            message=message.format(
                categories=ids(special), conditions=conditions, condition=condition
            ),
        )
    if r.policy.legal_texts:
        grounded = {
            category
            for ref in r.content.legal_refs
            if (text := r.policy.legal_text(ref)) is not None
            for category in text.art9_categories
        }
        for category in special:
            if category.id not in grounded:
                texts = [t.id for t in r.policy.legal_texts if category.id in t.art9_categories]
                yield Finding(
                    code="ART9_TEXT_MISSING",
                    severity=BLOCKING,
                    message=(
                        _(
                            "{category!r} is special-category data: its art. 9(2) condition "
                            "needs a text of its own that provides for it (GDPR art. 9(2)(b), "
                            "(g), (h): 'Union or Member State law'); cite {texts}"
                        )
                        if texts
                        else _(
                            "{category!r} is special-category data: its art. 9(2) condition "
                            "needs a text of its own that provides for it (GDPR art. 9(2)(b), "
                            "(g), (h): 'Union or Member State law'); none is listed"
                        )
                    ).format(category=category.id, texts=", ".join(texts)),
                )
    yield Finding(
        code="SPECIAL_CATEGORY",
        severity=WARNING,
        message=_(
            "{categories} is special-category data (GDPR art. 9): receiving AEEH or AAH "
            "reveals a disability"
        ).format(categories=ids(special)),
    )


def _retention(r: ScreenedRequest) -> Iterator[Finding]:
    days, archive = r.content.retention_days, r.content.archive_days
    for category in r.allowed:
        if days > category.max_retention_days:
            yield Finding(
                code="RETENTION_EXCEEDS_MAX",
                severity=BLOCKING,
                message=_(
                    "a retention of {days} days exceeds the {most} days allowed for "
                    "{category!r} (GDPR art. 5(1)(e))"
                ).format(days=days, most=category.max_retention_days, category=category.id),
            )
        if archive > category.max_archive_days:
            yield Finding(
                code="ARCHIVE_EXCEEDS_MAX",
                severity=BLOCKING,
                message=(
                    _(
                        "an intermediate archiving of {days} days exceeds the {most} days "
                        "allowed for {category!r} (GDPR art. 5(1)(e); Code du patrimoine L212-3)"
                    )
                    if category.max_archive_days
                    else _(
                        "an intermediate archiving of {days} days is asked, and {category!r} is "
                        "not to be archived at all (GDPR art. 5(1)(e); Code du patrimoine L212-3)"
                    )
                ).format(days=archive, most=category.max_archive_days, category=category.id),
            )


def _purpose(r: ScreenedRequest) -> Iterator[Finding]:
    kind = r.policy.purpose_kind(r.content.purpose_kind)
    if kind is None:
        return
    if kind.incompatible:
        yield Finding(
            code="INCOMPATIBLE_PURPOSE",
            severity=BLOCKING,
            # {name}: the label as the policy writes it, for a translation that quotes it
            message=_(
                "a {label} purpose is incompatible with the purposes the data were collected "
                "for (GDPR art. 5(1)(b) and 6(4))"
            ).format(label=kind.label.lower(), name=kind.label),
        )
    outside = kind.outside_ctg
    if outside is not None:
        yield Finding(
            code=outside.code,
            severity=BLOCKING,
            message=_(
                "a {label} purpose is outside the CTG: {reason} ({source}){no_channel}"
            ).format(
                label=kind.label.lower(),
                name=kind.label,
                reason=outside.reason,
                source=outside.source,
                no_channel=_no_channel(r, outside.channel_for),
            ),
            channel=outside.channel_for.get(r.requester),
        )
    if kind.no_nominative_data and r.personal:
        yield Finding(
            code="BULK_OUTREACH_LIST",
            severity=BLOCKING,
            message=_(
                "a nominative list ({categories}) for outreach goes beyond what the purpose "
                "needs (GDPR art. 5(1)(c))"
            ).format(categories=ids(r.personal)),
            channel=_(
                "the holder writes to its own users on the requester's behalf; to tell people "
                "of benefits they may be entitled to, the purpose of CRPA L114-8 II"
            ),
        )
    if kind.informs_of_rights and r.personal:
        yield from declarations.informs_of_rights(r)


def _transfer(r: ScreenedRequest) -> Iterator[Finding]:
    if r.content.transfer_outside_eu:
        yield Finding(
            code="NON_EU_TRANSFER",
            severity=BLOCKING,
            message=_(
                "data exchanged under the CTG do not leave the European Union (GDPR chapter V)"
            ),
        )


def _perceived(r: ScreenedRequest) -> Iterator[Finding]:
    perceived = r.of(Sensitivity.PERCEIVED_SENSITIVE)
    if perceived:
        yield Finding(
            code="PERCEIVED_SENSITIVE",
            severity=WARNING,
            message=_(
                "{categories} is perceived as sensitive (CNIL: financial situation, minima "
                "sociaux, housing, social difficulties): minimise and secure"
            ).format(categories=ids(perceived)),
        )


def _minors(r: ScreenedRequest) -> Iterator[Finding]:
    if dpia.concerns_minors(r):
        yield Finding(
            code="MINORS",
            severity=WARNING,
            message=_(
                "the request concerns children, who merit specific protection (GDPR recital 38)"
            ),
        )


def _matching(r: ScreenedRequest) -> Iterator[Finding]:
    keys = dpia.matching_keys(r)
    if keys:
        yield Finding(
            code="MATCHING_DATASETS",
            severity=WARNING,
            message=_(
                "{categories} lets the requester match the data with its own files "
                "(EDPB WP248 criterion 6: matching or combining datasets)"
            ).format(categories=ids(keys)),
        )


_RULES: tuple[Rule, ...] = (
    _convention,
    _field,
    _legal_basis,
    _holders,
    _forbidden,
    _nir,
    _art9,
    _retention,
    _purpose,
    declarations.decisions,
    declarations.declared,
    declarations.recipients,
    declarations.alternatives,
    _transfer,
    _perceived,
    _minors,
    _matching,
)


# every code a rule of this module may yield (the policy adds its own: see screening_codes)
CODES: tuple[str, ...] = (
    "ALGORITHMIC_DECISION", "ARCHIVE_EXCEEDS_MAX", "ART9_CONDITION_MISSING",
    "ART9_TEXT_MISSING", "AUTOMATED_DECISION_ART9", "BULK_OUTREACH_LIST",
    "CATEGORY_NOT_ALLOWED", "CATEGORY_NOT_HELD", "CONVENTION_NOT_IN_FORCE", "COUNTS_UNDECLARED",
    "DPIA_REQUIRED", "FIELD_NOT_IN_CONVENTION", "HELD_FOR_ANOTHER_BODY", "INCOMPATIBLE_PURPOSE",
    "LEGAL_BASIS_NOT_ALLOWED", "LEGAL_TEXT_NOT_LISTED", "LEGAL_TEXT_PURPOSE",
    "MATCHING_DATASETS", "MATCHING_UNDECLARED", "MINORS", "NIR_NOT_AUTHORISED",
    "NON_EU_TRANSFER", "NO_LEGAL_TEXT", "OFFENCE_DATA", "ONWARD_RECIPIENT",
    "OUTREACH_NECESSITY_MISSING", "OUTREACH_OBJECTION_MISSING", "OUTREACH_RIGHTS",
    "PERCEIVED_SENSITIVE", "PROCESSOR_WITHOUT_CONTRACT", "RETENTION_EXCEEDS_MAX",
    "SPECIAL_CATEGORY",
)  # fmt: skip


def screening_codes(policy: Policy) -> tuple[str, ...]:
    """Every code screening under ``policy`` may yield: the module's and the policy's own."""
    own = [k.outside_ctg.code for k in policy.purpose_kinds if k.outside_ctg is not None]
    own += [a.code for a in policy.alternatives]
    return CODES + tuple(dict.fromkeys(own))


def screen(policy: Policy, content: RequestContent, convention_problem: str | None) -> Screening:
    """Screen ``content`` against ``policy``; its categories must exist in the catalogue."""
    categories = tuple(c for c in map(policy.category, content.categories) if c is not None)
    request = ScreenedRequest(policy, content, categories, convention_problem)
    findings = [finding for rule in _RULES for finding in rule(request)]
    criteria, on_list = dpia.dpia_criteria(request)
    required = len(criteria) >= 2 or on_list
    if required:
        findings.append(
            Finding(
                code="DPIA_REQUIRED",
                severity=WARNING,
                message=_(
                    "a DPIA is required before any transfer (GDPR art. 35): {criteria}"
                ).format(criteria=(" ; " if is_french() else "; ").join(criteria)),
            )
        )
    triage = Triage.PERSONAL if request.personal else Triage.NON_PERSONAL
    return Screening(tuple(findings), triage, required, tuple(criteria))
