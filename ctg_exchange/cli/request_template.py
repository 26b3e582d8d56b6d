"""The commented YAML ``request template`` prints: every field of a request, with the values the
policy allows, ready to fill in and pass to ``request check --from-file``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..i18n import _

if TYPE_CHECKING:
    from ..policy.model import Policy


def _choices(values: list[str]) -> str:
    return ", ".join(values) if values else _("(none listed)")


def template(policy: Policy, source: str) -> str:
    """A request file whose every line says what goes there and which values are allowed (its
    keys and values as a request file takes them, its comments in the current language)."""
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
        "# " + _("A request for data under {title}.").format(title=policy.title),
        "# "
        + _(
            "Values from {source}; `ctg-exchange policy show` lists them with their labels."
        ).format(source=source),
        "# " + _("Check it with `ctg-exchange request check --from-file FILE`, file it with"),
        "# " + _("`ctg-exchange --as MEMBER request new --from-file FILE`."),
        "",
        f"to: {parties[-1]}  # "
        + _("the party that holds the data: {choices}").format(choices=_choices(parties)),
        f"field: {fields[0]}  # "
        + _("intervention field: {choices}").format(choices=_choices(fields)),
        "purpose: |  # " + _("what the data are for, precisely"),
        "  …",
        f"purpose_kind: {kinds[0]}  # {_choices(kinds)}",
        "categories:  # "
        + _("the data categories, each held by `to` (those never exchanged left out):"),
        *[f"#   {p}: {_choices(ids)}" for p, ids in held.items()],
        "  - …",
        "subjects: …  # " + _("the persons concerned"),
        f"legal_basis: {policy.legal_bases.art6[-1].id}  # "
        + _("GDPR art. 6: {choices}").format(choices=_choices(allowed["legal_basis"])),
        "legal_refs:  # " + _("French texts of the convention's list, for this purpose_kind:"),
        *[f"#   {text}" for text in texts],
        "  - …",
        "legal_text:  # "
        + _("optional free text that adds to the listed texts (a circular is not law)"),
        "retention_days: 365  # " + _("days of active use by the recipient"),
        "archive_days: 0  # "
        + _("then intermediate archiving (billing, accounting), within the ceiling"),
        f"frequency: monthly  # {_choices([f.value for f in Frequency])}",
        "volume:  # " + _("estimated number of persons"),
        "recipients:  # " + _("who receives it at the requester (service)"),
        "art9_condition:  # "
        + _("for special-category data: {choices}").format(
            choices=_choices(allowed["art9_condition"])
        ),
        "combines_with_own_files:  # " + _("true or false: will you match it with your own files?"),
        f"automated_decision: none  # {_choices([a.value for a in AutomatedDecision])}",
        "profiling: false  # " + _("are the persons evaluated or scored?"),
        "decides_access: false  # " + _("does the result open or bar a service or a right?"),
        "new_technology: false",
        "processors: []  # " + _("each {name: …, contract: …} (GDPR art. 28)"),
        "onward_recipients: []  # " + _("other bodies the data would be passed on to"),
        "aggregates_of: []  # " + _("for anonymous counts: the categories they count"),
        "necessity:  # "
        + _("informing people of their rights (CRPA L114-8 II): why each is needed"),
        "right_to_object:  # " + _("… and how the persons are told they may object"),
        "transfer_outside_eu: false",
        "nir_case:",
        "",
    ]
    return "\n".join(lines)
