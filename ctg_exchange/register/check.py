"""Completeness of register fiches: what a CNIL auditor would find missing (Art. 30(1))."""

from __future__ import annotations

from .model import RegisterEntry, SensitiveKind


def problems(entry: RegisterEntry) -> list[str]:
    """One ``REF: field: what is missing`` line per problem; empty when the fiche is complete."""
    found: list[str] = []

    def missing(field: str, message: str) -> None:
        found.append(f"{entry.ref}: {field}: {message}")

    if not entry.data and not entry.sensitive:
        missing("data", "no category of personal data (Art. 30(1)(c))")
    for i, category in enumerate(entry.data):
        if not category.retention:
            missing(f"data[{i}].retention", "retention period unset (Art. 30(1)(f))")
    for i, item in enumerate(entry.sensitive):
        if not item.retention:
            missing(f"sensitive[{i}].retention", "retention period unset (Art. 30(1)(f))")
    art9 = [s for s in entry.sensitive if s.kind is not SensitiveKind.INFRACTIONS]
    if art9 and entry.legal_basis.art9 is None:
        missing("legal_basis.art9", "special-category data without an Art. 9(2) condition")
    if entry.dpia_required and not entry.dpia_ref:
        missing("dpia_ref", "a DPIA is required and no DPIA reference is recorded (Art. 35)")
    for i, recipient in enumerate(entry.recipients):
        if recipient.type is None:
            missing(f"recipients[{i}].type", f"recipient {recipient.name!r} has no type")
    if not entry.recipients:
        missing("recipients", "no recipient, not even an internal service (Art. 30(1)(d))")
    if not entry.security:
        missing("security", "no security measure (Art. 30(1)(g))")
    if not entry.source:
        missing("source", "the source of the data is not stated")
    return found
