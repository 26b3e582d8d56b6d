"""Pre-screening: what the policy can decide about a request before a person reads it.

:func:`screen` returns findings, each with a rule code, a severity, a message naming the GDPR or
CTG article, and where one exists the proper channel. A ``blocking`` finding refuses the filing;
a ``warning`` is shown to the controller and the DPO. Screening also triages the request
(anonymous aggregates only -> ``non_personal``) and decides whether a DPIA is required: two or
more of the EDPB's criteria that the tool can derive, or a processing on the CNIL's list.

The rules are pure functions of the policy and the request; each is listed in ``_RULES``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from ..domain.models import Finding, RequestContent, Severity, Triage
from .model import Category, Policy, Sensitivity

BLOCKING, WARNING = Severity.BLOCKING, Severity.WARNING
_SENSITIVE = {
    Sensitivity.PERCEIVED_SENSITIVE,
    Sensitivity.SPECIAL_ART9,
    Sensitivity.OFFENCE_ART10,
    Sensitivity.RESTRICTED_IDENTIFIER,
}


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


@dataclass(frozen=True)
class _Request:
    """The request with its catalogue entries looked up once."""

    policy: Policy
    content: RequestContent
    categories: tuple[Category, ...]
    convention_problem: str | None

    @property
    def personal(self) -> tuple[Category, ...]:
        return tuple(c for c in self.categories if c.sensitivity is not Sensitivity.NOT_PERSONAL)

    @property
    def allowed(self) -> tuple[Category, ...]:
        return tuple(c for c in self.categories if c.exchange == "allowed")

    @property
    def exchangeable(self) -> tuple[Category, ...]:
        """Personal data that may be exchanged at all: what warnings and the DPIA weigh."""
        return tuple(c for c in self.personal if c.exchange == "allowed")

    def of(self, *sensitivities: Sensitivity) -> tuple[Category, ...]:
        return tuple(c for c in self.allowed if c.sensitivity in sensitivities)


def _ids(categories: tuple[Category, ...]) -> str:
    return ", ".join(c.id for c in categories)


Rule = Callable[[_Request], Iterator[Finding]]


def _convention(r: _Request) -> Iterator[Finding]:
    if r.convention_problem:
        yield Finding(
            code="CONVENTION_NOT_IN_FORCE", severity=BLOCKING, message=r.convention_problem
        )


def _legal_basis(r: _Request) -> Iterator[Finding]:
    if not r.personal:
        return
    allowed = ", ".join(b.id for b in r.policy.legal_bases.art6)
    basis = r.content.legal_basis
    if basis is None or r.policy.legal_basis(basis) is None:
        given = "no GDPR art. 6 basis is given" if basis is None else f"{basis!r} is not allowed"
        yield Finding(
            code="LEGAL_BASIS_NOT_ALLOWED",
            severity=BLOCKING,
            message=f"{given}: between these public bodies the basis is {allowed} "
            "(GDPR art. 6(1); the CTG itself is not a legal basis)",
        )
    if not r.content.legal_text:
        yield Finding(
            code="NO_LEGAL_TEXT",
            severity=BLOCKING,
            message="no French legal text is cited: a basis under art. 6(1)(c) or (e) must be "
            "laid down by law (GDPR art. 6(3))",
        )


def _field(r: _Request) -> Iterator[Finding]:
    if r.policy.field(r.content.field) is None:
        known = ", ".join(f.id for f in r.policy.fields)
        yield Finding(
            code="FIELD_NOT_IN_CONVENTION",
            severity=BLOCKING,
            message=f"{r.content.field!r} is not an intervention field of the convention "
            f"(CTG préambule and art. 4: {known})",
        )


def _holders(r: _Request) -> Iterator[Finding]:
    for category in r.categories:
        if r.content.to not in category.holders:
            yield Finding(
                code="CATEGORY_NOT_HELD",
                severity=BLOCKING,
                message=f"{r.content.to} does not hold {category.id!r} (held by "
                f"{', '.join(category.holders)}): the study and the DPO's opinion belong "
                "to the party that holds the data (CTG art. 7)",
            )


def _forbidden(r: _Request) -> Iterator[Finding]:
    for category in r.categories:
        if category.exchange != "forbidden":
            continue
        if category.sensitivity is Sensitivity.OFFENCE_ART10:
            yield Finding(
                code="OFFENCE_DATA",
                severity=BLOCKING,
                message=f"{category.id!r} is offence data, outside the CTG (GDPR art. 10): "
                f"{category.reason}",
                channel=category.channel or "droit de communication (CSS L114-19 et L114-20)",
            )
        else:
            yield Finding(
                code="CATEGORY_NOT_ALLOWED",
                severity=BLOCKING,
                message=f"{category.id!r} is never exchanged under the CTG: {category.reason}",
                channel=category.channel,
            )


def _nir(r: _Request) -> Iterator[Finding]:
    for category in r.of(Sensitivity.RESTRICTED_IDENTIFIER):
        case = r.content.nir_case
        if case is None or r.policy.nir_case(case) is None:
            yield Finding(
                code="NIR_NOT_AUTHORISED",
                severity=BLOCKING,
                message=f"{category.id!r} may only be used in the cases of décret n° 2019-341 "
                "(loi Informatique et Libertés art. 30), and none is established here",
                channel="the numéro allocataire identifies a family without the NIR",
            )


def _art9(r: _Request) -> Iterator[Finding]:
    special = r.of(Sensitivity.SPECIAL_ART9)
    if not special:
        return
    condition = r.content.art9_condition
    conditions = ", ".join(b.id for b in r.policy.legal_bases.art9)
    if condition is None or r.policy.art9_condition(condition) is None:
        given = "none is given" if condition is None else f"{condition!r} is not one of them"
        yield Finding(
            code="ART9_CONDITION_MISSING",
            severity=BLOCKING,
            message=f"{_ids(special)} is special-category data: it needs a GDPR art. 9(2) "
            f"condition ({conditions}); {given}",
        )
    yield Finding(
        code="SPECIAL_CATEGORY",
        severity=WARNING,
        message=f"{_ids(special)} is special-category data (GDPR art. 9): receiving AEEH or AAH "
        "reveals a disability",
    )


def _retention(r: _Request) -> Iterator[Finding]:
    days = r.content.retention_days
    for category in r.allowed:
        if days > category.max_retention_days:
            yield Finding(
                code="RETENTION_EXCEEDS_MAX",
                severity=BLOCKING,
                message=f"a retention of {days} days exceeds the {category.max_retention_days} "
                f"days allowed for {category.id!r} (GDPR art. 5(1)(e))",
            )


def _purpose(r: _Request) -> Iterator[Finding]:
    kind = r.policy.purpose_kind(r.content.purpose_kind)
    if kind is None:
        return
    if kind.incompatible:
        yield Finding(
            code="INCOMPATIBLE_PURPOSE",
            severity=BLOCKING,
            message=f"a {kind.label.lower()} purpose is incompatible with the purposes the data "
            "were collected for (GDPR art. 5(1)(b) and 6(4))",
        )
    if kind.no_nominative_data and r.personal:
        yield Finding(
            code="BULK_OUTREACH_LIST",
            severity=BLOCKING,
            message=f"a nominative list ({_ids(r.personal)}) for outreach goes beyond what the "
            "purpose needs (GDPR art. 5(1)(c))",
            channel="the holder writes to its own users on the requester's behalf",
        )


def _transfer(r: _Request) -> Iterator[Finding]:
    if r.content.transfer_outside_eu:
        yield Finding(
            code="NON_EU_TRANSFER",
            severity=BLOCKING,
            message="data exchanged under the CTG do not leave the European Union (GDPR chapter V)",
        )


def _perceived(r: _Request) -> Iterator[Finding]:
    perceived = r.of(Sensitivity.PERCEIVED_SENSITIVE)
    if perceived:
        yield Finding(
            code="PERCEIVED_SENSITIVE",
            severity=WARNING,
            message=f"{_ids(perceived)} is perceived as sensitive (CNIL: financial situation, "
            "minima sociaux, housing, social difficulties): minimise and secure",
        )


def _minors(r: _Request) -> Iterator[Finding]:
    if _concerns_minors(r):
        yield Finding(
            code="MINORS",
            severity=WARNING,
            message="the request concerns children, who merit specific protection "
            "(GDPR recital 38)",
        )


def _matching(r: _Request) -> Iterator[Finding]:
    keys = _matching_keys(r)
    if keys:
        yield Finding(
            code="MATCHING_DATASETS",
            severity=WARNING,
            message=f"{_ids(keys)} lets the requester match the data with its own files "
            "(EDPB WP248 criterion 6: matching or combining datasets)",
        )


def _concerns_minors(r: _Request) -> bool:
    screening = r.policy.screening
    return bool(r.exchangeable) and (
        r.content.field in screening.minors_fields
        or any(c.id in screening.minors_categories for c in r.exchangeable)
    )


def _matching_keys(r: _Request) -> tuple[Category, ...]:
    return tuple(c for c in r.exchangeable if c.id in r.policy.screening.matching_categories)


def _dpia_criteria(r: _Request) -> tuple[list[str], bool]:
    """The EDPB criteria the request meets, and whether it is on the CNIL's list."""
    screening = r.policy.screening
    criteria = []
    if any(c.sensitivity in _SENSITIVE for c in r.exchangeable):
        criteria.append("sensitive or highly personal data")
    if _concerns_minors(r) or any(c.id in screening.vulnerable_categories for c in r.exchangeable):
        criteria.append("vulnerable data subjects")
    if _matching_keys(r):
        criteria.append("matching or combining datasets")
    volume = r.content.volume
    if volume is not None and volume >= screening.large_scale_volume:
        criteria.append(f"large scale ({volume} persons)")
    on_list = bool(r.exchangeable) and r.content.purpose_kind in screening.cnil_list_purpose_kinds
    if on_list:
        criteria.append("social or medico-social support (CNIL list)")
    return criteria, on_list


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
    _transfer,
    _perceived,
    _minors,
    _matching,
)


def screen(policy: Policy, content: RequestContent, convention_problem: str | None) -> Screening:
    """Screen ``content`` against ``policy``; its categories must exist in the catalogue."""
    categories = tuple(c for c in map(policy.category, content.categories) if c is not None)
    request = _Request(policy, content, categories, convention_problem)
    findings = [finding for rule in _RULES for finding in rule(request)]
    criteria, on_list = _dpia_criteria(request)
    dpia = len(criteria) >= 2 or on_list
    if dpia:
        findings.append(
            Finding(
                code="DPIA_REQUIRED",
                severity=WARNING,
                message="a DPIA is required before any transfer (GDPR art. 35): "
                + "; ".join(criteria),
            )
        )
    triage = Triage.PERSONAL if request.personal else Triage.NON_PERSONAL
    return Screening(tuple(findings), triage, dpia, tuple(criteria))
