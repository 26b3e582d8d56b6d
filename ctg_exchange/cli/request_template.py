"""The commented YAML ``request template`` prints: every field of a request, with the values the
policy allows, ready to fill in and pass to ``request check --from-file``."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..policy.model import Policy


def _choices(values: list[str]) -> str:
    return ", ".join(values) if values else "(none listed)"


def template(policy: Policy, source: str) -> str:
    """A request file whose every line says what goes there and which values are allowed."""
    from ..domain.models import AutomatedDecision, Frequency
    from ..policy.request_input import allowed_values

    allowed = allowed_values(policy)  # what the errors of a request file list too
    parties = allowed["to"]
    kinds = [k.id for k in policy.purpose_kinds if not (k.incompatible or k.outside_ctg)]
    open_ = [c for c in policy.categories if c.exchange == "allowed" and c.held_for is None]
    held = {p: [c.id for c in open_ if p in c.holders] for p in parties}
    fields = allowed["field"]
    texts = [f"{t.id} ({', '.join(t.purpose_kinds)})" for t in policy.legal_texts]
    lines = [
        f"# A request for data under {policy.title}.",
        f"# Values from {source}; `ctg-exchange policy show` lists them with their labels.",
        "# Check it with `ctg-exchange request check --from-file FILE`, file it with",
        "# `ctg-exchange --as MEMBER request new --from-file FILE`.",
        "",
        f"to: {parties[-1]}  # the party that holds the data: {_choices(parties)}",
        f"field: {fields[0]}  # intervention field: {_choices(fields)}",
        "purpose: |  # what the data are for, precisely",
        "  …",
        f"purpose_kind: {kinds[0]}  # {_choices(kinds)}",
        "categories:  # the data categories, each held by `to` (those never exchanged left out):",
        *[f"#   {p}: {_choices(ids)}" for p, ids in held.items()],
        "  - …",
        "subjects: …  # the persons concerned",
        f"legal_basis: {policy.legal_bases.art6[-1].id}  # GDPR art. 6: "
        f"{_choices(allowed['legal_basis'])}",
        "legal_refs:  # French texts of the convention's list, for this purpose_kind:",
        *[f"#   {text}" for text in texts],
        "  - …",
        "legal_text:  # optional free text that adds to the listed texts (a circular is not law)",
        "retention_days: 365  # days of active use by the recipient",
        "archive_days: 0  # then intermediate archiving (billing, accounting), within the ceiling",
        f"frequency: monthly  # {_choices([f.value for f in Frequency])}",
        "volume:  # estimated number of persons",
        "recipients:  # who receives it at the requester (service)",
        f"art9_condition:  # for special-category data: {_choices(allowed['art9_condition'])}",
        "combines_with_own_files:  # true or false: will you match it with your own files?",
        f"automated_decision: none  # {_choices([a.value for a in AutomatedDecision])}",
        "profiling: false  # are the persons evaluated or scored?",
        "decides_access: false  # does the result open or bar a service or a right?",
        "new_technology: false",
        "processors: []  # each {name: …, contract: …} (GDPR art. 28)",
        "onward_recipients: []  # other bodies the data would be passed on to",
        "aggregates_of: []  # for anonymous counts: the categories they count",
        "necessity:  # informing people of their rights (CRPA L114-8 II): why each is needed",
        "right_to_object:  # … and how the persons are told they may object",
        "transfer_outside_eu: false",
        "nir_case:",
        "",
    ]
    return "\n".join(lines)
