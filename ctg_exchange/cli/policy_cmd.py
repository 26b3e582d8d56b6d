"""``ctg-exchange policy``: what the convention's policy allows a request to name."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from .common import common_options, emit_json, options, say, table

if TYPE_CHECKING:
    from ..policy.model import Policy

WHAT = ("categories", "fields", "purposes", "legal-bases", "legal-texts", "rules")


def policy_in_use() -> tuple[Policy, str]:
    """The workspace's policy in force, or, with no workspace yet, the shipped one; and where
    it came from, in words."""
    from ..errors import WorkspaceError

    opts = options()
    try:
        workspace = opts.reading_workspace()
    except WorkspaceError:
        from ..policy import load_policy, shipped_policy_path

        path = shipped_policy_path()
        return load_policy(path).policy, f"the shipped policy {path.name} (no workspace)"
    with workspace.store.transaction() as tx:
        current = workspace.current_policy(tx)
    return current.policy, f"the workspace's policy, version {current.version}"


def rows(policy: Policy, what: str) -> tuple[tuple[str, ...], list[dict[str, Any]]]:
    """The columns and the rows that list ``what`` the policy knows."""
    if what == "categories":
        return ("id", "label", "holders", "sensitivity", "retention", "exchange"), [
            {
                "id": c.id,
                "label": c.label,
                "holders": list(c.holders),
                "columns": list(c.columns),
                "sensitivity": c.sensitivity.value,
                "retention": f"{c.max_retention_days}+{c.max_archive_days}",
                "exchange": "forbidden" if c.exchange == "forbidden" else
                ("held for " + c.held_for.body if c.held_for else "allowed"),
            }
            for c in policy.categories
        ]  # fmt: skip
    if what == "fields":
        return ("id", "label"), [{"id": f.id, "label": f.label} for f in policy.fields]
    if what == "purposes":
        return ("id", "label", "regime"), [
            {"id": k.id, "label": k.label, "regime": _regime(k)} for k in policy.purpose_kinds
        ]
    if what == "legal-bases":
        bases = [
            {"id": b.id, "label": b.label, "article": article}
            for article, listed in (("6", policy.legal_bases.art6), ("9", policy.legal_bases.art9))
            for b in listed
        ]
        return ("id", "article", "label"), bases
    if what == "legal-texts":
        return ("id", "purposes", "art9_for", "label"), [
            {
                "id": t.id,
                "purposes": list(t.purpose_kinds),
                "art9_for": list(t.art9_categories),
                "label": t.label,
            }
            for t in policy.legal_texts
        ]
    return ("code", "effect", "source"), [
        {"code": r.code, "effect": r.effect, "source": r.source, "text": r.text}
        for r in policy.rules
    ]


def _regime(kind: Any) -> str:
    if kind.incompatible:
        return "refused: incompatible (GDPR art. 6(4))"
    if kind.outside_ctg is not None:
        return f"refused: outside the CTG ({kind.outside_ctg.code})"
    if kind.no_nominative_data:
        return "no nominative list"
    if kind.informs_of_rights:
        return "nominative list with necessity and right to object (CRPA L114-8 II)"
    if kind.algorithmic_decisions:
        return "computed decisions: CRPA L311-3-1 mention"
    return "Article 7 procedure"


@click.group()
def policy() -> None:
    """List what the convention's policy allows: categories, fields, purposes, legal texts."""


@policy.command()
@click.argument("what", type=click.Choice(WHAT), required=False)
@common_options
def show(what: str | None) -> None:
    """List the data categories, intervention fields, purpose kinds, legal bases, legal texts
    or rules a request may name (all of them without WHAT), from the workspace's policy in
    force, or the shipped policy before a workspace exists.

    \b
    Example:
      ctg-exchange policy show categories
      ctg-exchange policy show legal-texts --json
    """
    the_policy, source = policy_in_use()
    chosen = (what,) if what else WHAT
    if options().json:
        emit_json({name: rows(the_policy, name)[1] for name in chosen})
        return
    for name in chosen:
        columns, listed = rows(the_policy, name)
        out = table(name, *columns, wrap=columns[-1])
        for row in listed:
            out.add_row(*(_cell(row[c]) for c in columns))
        out.print()
    say(f"From {source}.")


def _cell(value: Any) -> str:
    from .console import shown

    return shown(", ".join(value) if isinstance(value, list) else str(value))
