"""``ctg-exchange policy``: what the convention's policy allows a request to name."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from ..i18n import N_, _, pgettext
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
        return load_policy(path).policy, _("the shipped policy {name} (no workspace)").format(
            name=path.name
        )
    with workspace.store.transaction() as tx:
        current = workspace.current_policy(tx)
    return current.policy, _("the workspace's policy, version {version}").format(
        version=current.version
    )


def _as_written(text: str) -> str:
    return text


def rows(
    policy: Policy, what: str, text: Callable[[str], str] = _as_written
) -> tuple[tuple[str, ...], list[dict[str, Any]]]:
    """The columns and the rows that list ``what`` the policy knows; ``text`` gives the words of
    a cell (English as written for --json, translated for a table)."""
    if what == "categories":
        return ("id", "label", "holders", "sensitivity", "retention", "exchange"), [
            {
                "id": c.id,
                "label": c.label,
                "holders": list(c.holders),
                "columns": list(c.columns),
                "sensitivity": c.sensitivity.value,
                "retention": f"{c.max_retention_days}+{c.max_archive_days}",
                "exchange": text(N_("forbidden")) if c.exchange == "forbidden" else
                (text(N_("held for {body}")).format(body=c.held_for.body) if c.held_for
                 else text(N_("allowed"))),
            }
            for c in policy.categories
        ]  # fmt: skip
    if what == "fields":
        return ("id", "label"), [{"id": f.id, "label": f.label} for f in policy.fields]
    if what == "purposes":
        return ("id", "label", "regime"), [
            {"id": k.id, "label": k.label, "regime": _regime(k, text)} for k in policy.purpose_kinds
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


def _regime(kind: Any, text: Callable[[str], str]) -> str:
    if kind.incompatible:
        return text(N_("refused: incompatible (GDPR art. 6(4))"))
    if kind.outside_ctg is not None:
        return text(N_("refused: outside the CTG ({code})")).format(code=kind.outside_ctg.code)
    if kind.no_nominative_data:
        return text(N_("no nominative list"))
    if kind.informs_of_rights:
        return text(N_("nominative list with necessity and right to object (CRPA L114-8 II)"))
    if kind.algorithmic_decisions:
        return text(N_("computed decisions: CRPA L311-3-1 mention"))
    return text(N_("Article 7 procedure"))


def _titles() -> dict[str, str]:
    """The heading of each list, in the current language."""
    return {
        "categories": _("categories"),
        "fields": _("fields"),
        "purposes": _("purpose kinds"),
        "legal-bases": _("legal bases"),
        "legal-texts": _("legal texts"),
        "rules": _("rules"),
    }


def _headings() -> dict[str, str]:
    """The heading of each column (its --json key), in the current language."""
    return {
        "id": pgettext("policy column", "id"),
        "label": pgettext("policy column", "label"),
        "holders": pgettext("policy column", "holders"),
        "sensitivity": pgettext("policy column", "sensitivity"),
        "retention": pgettext("policy column", "retention"),
        "exchange": pgettext("policy column", "exchange"),
        "regime": pgettext("policy column", "regime"),
        "article": pgettext("policy column", "article"),
        "purposes": pgettext("policy column", "purposes"),
        "art9_for": pgettext("policy column", "art9_for"),
        "code": pgettext("policy column", "code"),
        "effect": pgettext("policy column", "effect"),
        "source": pgettext("policy column", "source"),
    }


# the codes a table shows in words: a category's sensitivity, a rule's effect
_WORDS = {
    "sensitivity": {
        "not_personal": N_("not personal"),
        "ordinary": N_("ordinary"),
        "perceived_sensitive": N_("perceived as sensitive"),
        "special_art9": N_("special category (GDPR art. 9)"),
        "offence_art10": N_("offences (GDPR art. 10)"),
        "restricted_identifier": N_("restricted identifier"),
    },
    "effect": {
        "blocking": N_("blocking"),
        "warning": N_("warning"),
        "refusal": N_("refusal"),
        "register": N_("register"),
    },
}


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
    titles, headings = _titles(), _headings()
    for name in chosen:
        columns, listed = rows(the_policy, name, _)
        shown_columns = [headings[c] for c in columns]
        out = table(titles[name], *shown_columns, wrap=shown_columns[-1])
        for row in listed:
            out.add_row(*(_cell(c, row[c]) for c in columns))
        out.print()
    say(_("From {source}.").format(source=source))


def _cell(column: str, value: Any) -> str:
    from .console import shown

    if column in _WORDS and value in _WORDS[column]:
        value = _(_WORDS[column][value])
    return shown(", ".join(value) if isinstance(value, list) else str(value))
