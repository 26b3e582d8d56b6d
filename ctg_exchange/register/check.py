"""Completeness of the register: what a CNIL auditor would find missing or unfinished (Art. 30).

Each finding has a code, the fiche (or the party) it is about, the field, and a message naming
the article it rests on. Fiches are linted one by one (:func:`problems`); the register as a
whole is linted against the policy (:func:`register_problems`): the DPO contacts it holds,
the special-category data its structures collect, and a fiche for this tool's own processing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from ..i18n import N_, _
from ..policy.model import Contact, Policy, Sensitivity
from .model import RegisterEntry, SensitiveKind

# A value left for the DPO to fill in: the shipped fiches write "à compléter" where a fact
# (a software vendor, a contract reference) is not known; example contacts and addresses too.
PLACEHOLDER = re.compile(
    r"\b[àa] compl[ée]ter|\b[àa] remplacer|\.example\b|\.invalid\b|\bTODO\b|\bTBD\b|\bXXX+\b"
    r"|\b0\d(?:[ .]?00){4}\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Finding:
    """One thing `register check` flags."""

    subject: str  # the fiche's reference, or the party's id
    field: str
    code: str
    message: str

    def __str__(self) -> str:
        return f"{self.subject}: {self.field}: {self.code}: {self.message}"


def problems(entry: RegisterEntry) -> list[Finding]:
    """What a fiche lacks, on its own; empty when it is complete."""
    found: list[Finding] = []

    def missing(field: str, code: str, message: str) -> None:
        found.append(Finding(entry.ref, field, code, message))

    if not entry.data and not entry.sensitive:
        missing("data", "NO_DATA_CATEGORY", _("no category of personal data (Art. 30(1)(c))"))
    for i, category in enumerate(entry.data):
        if not category.retention:
            missing(
                f"data[{i}].retention",
                "RETENTION_UNSET",
                _("retention period unset (Art. 30(1)(f))"),
            )
    for i, item in enumerate(entry.sensitive):
        if not item.retention:
            missing(
                f"sensitive[{i}].retention",
                "RETENTION_UNSET",
                _("retention period unset (Art. 30(1)(f))"),
            )
    art9 = [s for s in entry.sensitive if s.kind is not SensitiveKind.INFRACTIONS]
    if art9 and entry.legal_basis.art9 is None:
        missing(
            "legal_basis.art9",
            "ART9_CONDITION_MISSING",
            _("special-category data without an Art. 9(2) condition"),
        )
    if entry.dpia_required and not entry.dpia_ref:
        missing(
            "dpia_ref",
            "DPIA_REF_MISSING",
            _("a DPIA is required and no DPIA reference is recorded (Art. 35)"),
        )
    for i, recipient in enumerate(entry.recipients):
        if recipient.type is None:
            missing(
                f"recipients[{i}].type",
                "RECIPIENT_TYPE_MISSING",
                _("recipient {name!r} has no type").format(name=recipient.name),
            )
    if not entry.recipients:
        missing(
            "recipients",
            "NO_RECIPIENT",
            _("no recipient, not even an internal service (Art. 30(1)(d))"),
        )
    for i, processor in enumerate(entry.processors):
        if not processor.contract:
            missing(
                f"processors[{i}].contract",
                "PROCESSOR_CONTRACT_MISSING",
                _("processor {name!r} has no contract reference (Art. 28(3))").format(
                    name=processor.name
                ),
            )
    if not entry.security:
        missing("security", "NO_SECURITY_MEASURE", _("no security measure (Art. 30(1)(g))"))
    if not entry.source:
        missing("source", "SOURCE_MISSING", _("the source of the data is not stated"))
    for field, value in _texts(entry.model_dump(mode="json")):
        if PLACEHOLDER.search(value):
            missing(
                field,
                "PLACEHOLDER_VALUE",
                _("{value} is a placeholder to replace with the fact (Art. 30(1))").format(
                    value=_quoted(value)
                ),
            )
    return found


def register_problems(
    entries: Iterable[RegisterEntry], policy: Policy, controller: str | None = None
) -> list[Finding]:
    """Every fiche's problems, then what the register as a whole lacks, for one controller or
    for every party of the policy."""
    entries = [e for e in entries if controller is None or e.controller == controller]
    parties = [p for p in policy.parties if controller is None or p.id == controller]
    found = [finding for entry in entries for finding in problems(entry)]
    by_ref = {e.ref: e for e in entries}
    for party in parties:
        found += _contact_problems(party.id, party.dpo)
        for structure in policy.structures:
            ref = structure.fiche
            if ref is None or not ref.startswith(f"{party.register_prefix or party.id.upper()}-"):
                continue
            entry = by_ref.get(ref)
            if entry is None:
                found.append(
                    Finding(
                        ref,
                        "ref",
                        "STRUCTURE_FICHE_MISSING",
                        _(
                            "the policy's {structure} structures are recorded in {ref}, which is "
                            "not in the register (Art. 30(1))"
                        ).format(structure=structure.type, ref=ref),
                    )
                )
                continue
            found += _undeclared(entry, structure.type, structure.collects, policy)
        if not any(e.ctg_exchange_tool and e.controller == party.id for e in entries):
            found.append(
                Finding(
                    party.id,
                    "register",
                    "TOOL_FICHE_MISSING",
                    _(
                        "no fiche records the processing of ctg-exchange itself (members, keys, "
                        "audit log; GDPR art. 5(2) and 30): add one with `ctg_exchange_tool: true`"
                    ),
                )
            )
    return found


# a contact detail of the DPO that is an example, by field
_PLACEHOLDER_CONTACT = {
    "name": N_("the DPO's name {value} is a placeholder (Art. 30(1)(a), Art. 37(7))"),
    "email": N_("the DPO's email {value} is a placeholder (Art. 30(1)(a), Art. 37(7))"),
    "phone": N_("the DPO's phone {value} is a placeholder (Art. 30(1)(a), Art. 37(7))"),
}


def _contact_problems(party: str, dpo: Contact) -> Iterator[Finding]:
    if dpo.example:
        yield Finding(
            party,
            "dpo",
            "PLACEHOLDER_CONTACT",
            _(
                "the policy's DPO contact is an example (`example: true`): the register must "
                "name the DPO and their contact details (Art. 30(1)(a), Art. 37(7))"
            ),
        )
        return
    for field in _PLACEHOLDER_CONTACT:
        value = getattr(dpo, field)
        if value and PLACEHOLDER.search(value):
            yield Finding(
                party,
                f"dpo.{field}",
                "PLACEHOLDER_CONTACT",
                _(_PLACEHOLDER_CONTACT[field]).format(value=_quoted(value)),
            )


def _undeclared(
    entry: RegisterEntry, structure: str, collects: tuple[str, ...], policy: Policy
) -> Iterator[Finding]:
    """Special-category or offence data a structure collects that its fiche does not declare."""
    kinds = {s.kind for s in entry.sensitive}
    for category_id in collects:
        category = policy.category(category_id)
        if category is None:
            continue
        if category.sensitivity is Sensitivity.SPECIAL_ART9:
            declared = bool(kinds - {SensitiveKind.INFRACTIONS})
            article = N_("GDPR art. 9")
        elif category.sensitivity is Sensitivity.OFFENCE_ART10:
            declared = SensitiveKind.INFRACTIONS in kinds
            article = N_("GDPR art. 10")
        else:
            continue
        if not declared:
            yield Finding(
                entry.ref,
                "sensitive",
                "SENSITIVE_UNDECLARED",
                _(
                    "the policy says {structure} collects {category!r} ({label}), data of "
                    "{article}, and the fiche declares none (Art. 30(1)(c))"
                ).format(
                    structure=structure,
                    category=category_id,
                    label=category.label,
                    article=_(article),
                ),
            )


def _texts(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """Every text value of a fiche, with its field path (``processors[0].contract``)."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _texts(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _texts(item, f"{path}[{index}]")


def _quoted(value: str) -> str:
    return repr(value if len(value) <= 60 else value[:57] + "…")
