"""What the policy refuses outright: requests naming things the convention does not know, and
any filing or approval outside the convention's validity (Article 10)."""

from __future__ import annotations

from datetime import date

from ..domain.models import RequestContent
from ..errors import InvalidInput, Refused
from .model import Policy

CONVENTION_NOT_IN_FORCE = "CONVENTION_NOT_IN_FORCE"


def _unknown(what: str, value: str, known: list[str]) -> InvalidInput:
    return InvalidInput(f"unknown {what} {value!r}: the convention knows {', '.join(known)}")


def check_references(policy: Policy, content: RequestContent) -> None:
    """Every id in ``content`` must exist in the policy."""
    if policy.party(content.to) is None:
        raise _unknown("party", content.to, list(policy.party_ids))
    if policy.field(content.field) is None:
        raise _unknown("intervention field", content.field, [f.id for f in policy.fields])
    if policy.purpose_kind(content.purpose_kind) is None:
        raise _unknown("purpose kind", content.purpose_kind, [k.id for k in policy.purpose_kinds])
    if policy.legal_basis(content.legal_basis) is None:
        raise _unknown("legal basis", content.legal_basis, [b.id for b in policy.legal_bases.art6])
    for category in content.categories:
        if policy.category(category) is None:
            raise _unknown("data category", category, [c.id for c in policy.categories])


def ensure_in_force(policy: Policy, today: date, doing: str) -> None:
    """Refuse ``doing`` (e.g. "filing") outside the convention's validity."""
    validity = policy.validity
    if today > validity.end:
        raise Refused(
            CONVENTION_NOT_IN_FORCE,
            f"{CONVENTION_NOT_IN_FORCE}: {doing} refused on {today}: the convention {policy.id} "
            f"ended on {validity.end} and renews only by express decision (Article 10)",
        )
    if today < validity.start:
        raise Refused(
            CONVENTION_NOT_IN_FORCE,
            f"{CONVENTION_NOT_IN_FORCE}: {doing} refused on {today}: the convention {policy.id} "
            f"takes effect on {validity.start} (Article 10)",
        )
