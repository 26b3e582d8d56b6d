"""The convention as data (DESIGN §5): parties, validity, fields, catalogue, legal bases.

Every model is frozen and forbids unknown keys, so a typo in a policy file is an error with its
line, not a silently ignored setting. Cross-references (a category held by an unknown party, a
duplicate id) are checked by :func:`reference_problems` once the shapes are valid.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from ..i18n import N_, _

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

Id = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]
ColumnName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
DISPLAY_ZONE = "Europe/Paris"


def _known_zone(name: str) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(
            _("unknown time zone {name!r}: an IANA name such as {zone}").format(
                name=name[:80], zone=DISPLAY_ZONE
            )
        ) from None
    return name


TimeZoneName = Annotated[str, StringConstraints(max_length=64), AfterValidator(_known_zone)]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Sensitivity(StrEnum):
    """DOMAIN §3: the classes a DPO reasons with."""

    NOT_PERSONAL = "not_personal"
    ORDINARY = "ordinary"
    PERCEIVED_SENSITIVE = "perceived_sensitive"
    SPECIAL_ART9 = "special_art9"
    OFFENCE_ART10 = "offence_art10"
    RESTRICTED_IDENTIFIER = "restricted_identifier"


class CnilGroup(StrEnum):
    """The CNIL register's groups of personal data (DOMAIN §4)."""

    IDENTITE = "etat_civil_identite"
    VIE_PERSONNELLE = "vie_personnelle"
    ECONOMIQUE = "economique_financier"
    CONNEXION = "connexion"
    LOCALISATION = "localisation"
    NIR = "nir"
    SENSIBLE = "sensible"
    NON_PERSONNEL = "non_personnel"


class Address(_Model):
    street: Text
    postcode: Annotated[str, StringConstraints(pattern=r"^\d{5}$")]
    city: Text


class Representative(_Model):
    name: Text
    title: Text


class Contact(_Model):
    """A DPO's contact. ``example: true`` marks a placeholder the parties must replace."""

    name: Text
    email: Text
    phone: Text | None = None
    address: Address | None = None
    example: bool = False


class Party(_Model):
    id: Id
    kind: Literal["commune", "caf"]
    name: Text
    short_name: Text
    address: Address
    representative: Representative
    signatories: tuple[Representative, ...] = ()
    dpo: Contact
    register_prefix: Annotated[str, StringConstraints(pattern=r"^[A-Z0-9]{2,12}$")] | None = None


class Signature(_Model):
    place: Text
    date: date
    note: Text | None = None


class Validity(_Model):
    start: date
    end: date
    renewal: Literal["express"] = "express"


class InterventionField(_Model):
    id: Id
    label: Text


class StructureItem(_Model):
    name: Text
    operator: Text | None = None
    operator_kind: Literal["party", "association", "unknown"] = "unknown"


class StructureType(_Model):
    type: Annotated[str, StringConstraints(pattern=r"^[A-Z]+$")]
    label: Text
    field: Id
    items: tuple[StructureItem, ...] = ()
    # the fiche of the party's own activity for this structure type, and the catalogue
    # categories that activity collects: `register check` flags special-category or offence
    # data collected but not declared in that fiche (SENSITIVE_UNDECLARED)
    fiche: Annotated[str, StringConstraints(pattern=r"^[A-Z0-9][A-Z0-9-]{1,40}$")] | None = None
    collects: tuple[Id, ...] = ()


class HeldFor(_Model):
    """Data a party holds on behalf of a body outside the convention (the RSA: the
    Département's benefit, paid by the Caf for it): no CTG exchange without that body."""

    body: Text
    source: Text


class Category(_Model):
    id: Id
    label: Text
    holders: tuple[Id, ...] = Field(min_length=1)
    columns: tuple[ColumnName, ...] = Field(min_length=1)
    sensitivity: Sensitivity
    cnil_group: CnilGroup
    max_retention_days: int = Field(ge=0, le=3650)  # active use by the recipient
    # intermediate archiving after active use (Code du patrimoine L212-3 and following)
    max_archive_days: int = Field(default=0, ge=0, le=3650)
    count_columns: tuple[ColumnName, ...] = ()  # cells that count persons (aggregate checks)
    exchange: Literal["allowed", "forbidden"] = "allowed"
    reason: Text | None = None
    source: Text | None = None  # the legal text the category's rule rests on
    channel: Text | None = None  # the proper channel, whoever asks
    # the proper channel by requesting party; a party absent here has none (the right is
    # another body's), and the refusal says so instead of sending it to a channel not its own
    channel_for: dict[Id, Text] | None = None
    held_for: HeldFor | None = None


class LegalBasis(_Model):
    id: Id
    label: Text


class LegalText(_Model):
    """A French text that lays down a basis under GDPR art. 6(3), valid for some purposes.

    ``art9`` marks a text specific enough to ground an art. 9(2) condition for the categories
    it lists. A circular or an instruction is not law: it never appears here.
    """

    id: Id
    label: Text
    purpose_kinds: tuple[Id, ...] = Field(min_length=1)
    art9_categories: tuple[Id, ...] = ()


class LegalBases(_Model):
    art6: tuple[LegalBasis, ...] = Field(min_length=1)
    art9: tuple[LegalBasis, ...] = ()


class OutsideCtg(_Model):
    """A purpose that exists in law but not under the CTG: refused with its proper channel."""

    code: Annotated[str, StringConstraints(pattern=r"^[A-Z][A-Z0-9_]*$", max_length=64)]
    reason: Text
    source: Text
    channel_for: dict[Id, Text] = {}  # the requesting party's own channel, if it has one


class PurposeKind(_Model):
    id: Id
    label: Text
    incompatible: bool = False  # electoral, commercial, staff evaluation (GDPR art. 6(4))
    no_nominative_data: bool = False  # outreach: the holder writes to its own users instead
    outside_ctg: OutsideCtg | None = None
    # CRPA L114-8 II: telling people of the benefits they may be entitled to; a nominative
    # list is lawful with a statement of strict necessity and the right to object
    informs_of_rights: bool = False
    # the individual decisions these data feed are taken by an algorithmic processing
    # (a tariff computed from the quotient familial): CRPA L311-3-1
    algorithmic_decisions: bool = False


class Alternative(_Model):
    """A per-family channel the requester should know of before asking for a whole file."""

    code: Annotated[str, StringConstraints(pattern=r"^[A-Z][A-Z0-9_]*$", max_length=64)]
    purpose_kinds: tuple[Id, ...] = Field(min_length=1)
    categories: tuple[Id, ...] = Field(min_length=1)
    message: Text
    source: Text


class Aggregates(_Model):
    min_cell: int = Field(ge=1)
    min_cell_sensitive: int = Field(ge=1)  # counts of a sensitive category (DOMAIN §3)
    round_to: int = Field(ge=1)
    total_group_by: tuple[ColumnName, ...] = ()  # no cell may equal its group's total
    # anonymous counts name the categories they count (``aggregates_of``)
    counted_required: bool = False


class Screening(_Model):
    """What lets pre-screening derive the EDPB criteria a request meets (DOMAIN §3)."""

    minors_fields: tuple[Id, ...] = ()
    minors_categories: tuple[Id, ...] = ()
    vulnerable_categories: tuple[Id, ...] = ()
    matching_categories: tuple[Id, ...] = ()
    cnil_list_purpose_kinds: tuple[Id, ...] = ()
    large_scale_volume: int = Field(default=5000, ge=1)
    # the EDPB's nine criteria (WP248 rev.01); off, the screen keeps its first four and counts
    # any direct identifier as matching (how policies written before it read)
    all_edpb_criteria: bool = False
    # systematic monitoring: these categories sent at least this often
    monitoring_categories: tuple[Id, ...] = ()


class Rule(_Model):
    """One rule the tool applies, as a French DPO reads it, with its legal source."""

    code: Annotated[str, StringConstraints(pattern=r"^[A-Za-z][A-Za-z0-9_-]*$", max_length=64)]
    effect: Literal["blocking", "warning", "refusal", "register"]
    text: Text
    source: Text


class Policy(_Model):
    """One convention, as ``policies/<id>.yaml`` states it."""

    id: Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]*$", max_length=64)]
    title: Text
    reference: Text
    signature: Signature
    validity: Validity
    parties: tuple[Party, ...] = Field(min_length=2, max_length=2)
    fields: tuple[InterventionField, ...] = Field(min_length=1)
    structures: tuple[StructureType, ...] = ()
    categories: tuple[Category, ...] = Field(min_length=1)
    legal_bases: LegalBases
    purpose_kinds: tuple[PurposeKind, ...] = Field(min_length=1)
    aggregates: Aggregates
    opinion_deadline_days: int = Field(ge=1, le=365)
    screening: Screening = Screening()
    nir_authorised_cases: tuple[LegalBasis, ...] = ()
    # when given, a request cites texts from this list (free text only as a complement)
    legal_texts: tuple[LegalText, ...] = ()
    alternatives: tuple[Alternative, ...] = ()
    # processors (GDPR art. 28) and onward recipients are declared and screened
    recipients_screened: bool = False
    rules: tuple[Rule, ...] = ()  # docs/regles.md is generated from them
    # the zone times are shown in (display only: the procedure's dates stay the French calendar,
    # domain/dates.py procedure_date, so a log reads the same under any setting)
    time_zone: TimeZoneName = DISPLAY_ZONE

    def party(self, party_id: str) -> Party | None:
        return next((p for p in self.parties if p.id == party_id), None)

    def category(self, category_id: str) -> Category | None:
        return next((c for c in self.categories if c.id == category_id), None)

    def field(self, field_id: str) -> InterventionField | None:
        return next((f for f in self.fields if f.id == field_id), None)

    def purpose_kind(self, kind_id: str) -> PurposeKind | None:
        return next((k for k in self.purpose_kinds if k.id == kind_id), None)

    def legal_basis(self, basis_id: str) -> LegalBasis | None:
        return next((b for b in self.legal_bases.art6 if b.id == basis_id), None)

    def art9_condition(self, condition_id: str) -> LegalBasis | None:
        return next((b for b in self.legal_bases.art9 if b.id == condition_id), None)

    def nir_case(self, case_id: str) -> LegalBasis | None:
        return next((c for c in self.nir_authorised_cases if c.id == case_id), None)

    def legal_text(self, text_id: str) -> LegalText | None:
        return next((t for t in self.legal_texts if t.id == text_id), None)

    def other_party(self, party_id: str) -> Party:
        return next(p for p in self.parties if p.id != party_id)

    @property
    def display_zone(self) -> ZoneInfo:
        """The time zone shown times are in (:attr:`time_zone`)."""
        from zoneinfo import ZoneInfo

        return ZoneInfo(self.time_zone)

    @property
    def party_ids(self) -> tuple[str, ...]:
        return tuple(p.id for p in self.parties)


Problem = tuple[tuple[str | int, ...], str]


def reference_problems(policy: Policy) -> Iterator[Problem]:
    """Duplicate ids and references to unknown parties, fields or columns."""
    yield from _duplicates("parties", [p.id for p in policy.parties])
    yield from _duplicates("fields", [f.id for f in policy.fields])
    yield from _duplicates("categories", [c.id for c in policy.categories])
    yield from _duplicates("purpose_kinds", [k.id for k in policy.purpose_kinds])
    yield from _duplicates("legal_bases.art6", [b.id for b in policy.legal_bases.art6])
    yield from _duplicates("legal_bases.art9", [b.id for b in policy.legal_bases.art9])
    if policy.validity.end < policy.validity.start:
        yield ("validity", "end"), _("the end date is before the start date")
    party_ids = set(policy.party_ids)
    field_ids = {f.id for f in policy.fields}
    for i, structure in enumerate(policy.structures):
        if structure.field not in field_ids:
            yield ("structures", i, "field"), _unknown("intervention field", structure.field)
        for j, item in enumerate(structure.items):
            if item.operator_kind == "party" and item.operator not in party_ids:
                yield ("structures", i, "items", j, "operator"), _unknown("party", item.operator)
        for j, category_id in enumerate(structure.collects):
            if policy.category(category_id) is None:
                yield ("structures", i, "collects", j), _unknown("data category", category_id)
    seen_columns: dict[str, str] = {}
    for i, category in enumerate(policy.categories):
        for j, holder in enumerate(category.holders):
            if holder not in party_ids:
                yield ("categories", i, "holders", j), _unknown("party", holder)
        for j, column in enumerate(category.columns):
            owner = seen_columns.setdefault(column, category.id)
            if owner != category.id:
                yield (
                    ("categories", i, "columns", j),
                    _("column {column!r} already in {owner!r}").format(column=column, owner=owner),
                )
        for j, column in enumerate(category.count_columns):
            if column not in category.columns:
                yield (
                    ("categories", i, "count_columns", j),
                    _("{column!r} is not a column of it").format(column=column),
                )
        if category.exchange == "forbidden" and category.reason is None:
            yield ("categories", i, "reason"), _("a forbidden category needs a reason")
    category_ids = {c.id for c in policy.categories}
    screening = policy.screening
    for j, field_id in enumerate(screening.minors_fields):
        if field_id not in field_ids:
            yield ("screening", "minors_fields", j), _unknown("intervention field", field_id)
    for key in ("minors_categories", "vulnerable_categories", "matching_categories"):
        for j, category_id in enumerate(getattr(screening, key)):
            if category_id not in category_ids:
                yield ("screening", key, j), _unknown("data category", category_id)
    for j, category_id in enumerate(screening.monitoring_categories):
        if category_id not in category_ids:
            yield ("screening", "monitoring_categories", j), _unknown("data category", category_id)
    kind_ids = {k.id for k in policy.purpose_kinds}
    for j, kind_id in enumerate(screening.cnil_list_purpose_kinds):
        if kind_id not in kind_ids:
            yield ("screening", "cnil_list_purpose_kinds", j), _unknown("purpose kind", kind_id)
    yield from _duplicates("legal_texts", [t.id for t in policy.legal_texts])
    yield from _duplicates("rules", [r.code for r in policy.rules])
    lists = [("legal_texts", t.purpose_kinds, t.art9_categories) for t in policy.legal_texts]
    lists += [("alternatives", a.purpose_kinds, a.categories) for a in policy.alternatives]
    for i, (where, kinds, categories) in enumerate(lists):
        index = i if where == "legal_texts" else i - len(policy.legal_texts)
        key = "art9_categories" if where == "legal_texts" else "categories"
        for j, kind_id in enumerate(kinds):
            if kind_id not in kind_ids:
                yield (where, index, "purpose_kinds", j), _unknown("purpose kind", kind_id)
        for j, category_id in enumerate(categories):
            if category_id not in category_ids:
                yield (where, index, key, j), _unknown("data category", category_id)
    for i, category in enumerate(policy.categories):
        for party in category.channel_for or {}:
            if party not in party_ids:
                yield ("categories", i, "channel_for", party), _unknown("party", party)
    for i, kind in enumerate(policy.purpose_kinds):
        for party in kind.outside_ctg.channel_for if kind.outside_ctg else {}:
            if party not in party_ids:
                yield (
                    ("purpose_kinds", i, "outside_ctg", "channel_for", party),
                    _unknown("party", party),
                )


# an unknown reference, as a whole sentence (the words differ in French by gender)
_UNKNOWN = {
    "party": N_("unknown party {value!r}"),
    "intervention field": N_("unknown intervention field {value!r}"),
    "data category": N_("unknown data category {value!r}"),
    "purpose kind": N_("unknown purpose kind {value!r}"),
}


def _unknown(what: str, value: object) -> str:
    return _(_UNKNOWN[what]).format(value=value)


def _duplicates(where: str, ids: list[str]) -> Iterator[Problem]:
    seen: set[str] = set()
    base = tuple(where.split("."))
    for index, item in enumerate(ids):
        if item in seen:
            yield (*base, index, "id"), _("duplicate id {id!r}").format(id=item)
        seen.add(item)
