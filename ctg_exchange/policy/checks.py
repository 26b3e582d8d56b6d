"""References a request must get right before it can be screened at all.

An unknown party, purpose kind or data category is a typo, not a finding: the request is invalid
input and names what the convention knows. (An intervention field or legal basis outside the
convention is a finding of pre-screening instead: the request is well-formed but not allowed.)
"""

from __future__ import annotations

from ..domain.models import RequestContent
from ..errors import InvalidInput, cut
from .model import Policy


def _unknown(what: str, value: str, known: list[str]) -> InvalidInput:
    return InvalidInput(f"unknown {what} {cut(value)!r}: the convention knows {', '.join(known)}")


def check_references(policy: Policy, content: RequestContent) -> None:
    if policy.party(content.to) is None:
        raise _unknown("party", content.to, list(policy.party_ids))
    if policy.purpose_kind(content.purpose_kind) is None:
        raise _unknown("purpose kind", content.purpose_kind, [k.id for k in policy.purpose_kinds])
    for category in (*content.categories, *content.aggregates_of):
        if policy.category(category) is None:
            raise _unknown("data category", category, [c.id for c in policy.categories])
