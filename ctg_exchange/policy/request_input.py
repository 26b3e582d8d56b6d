"""What is wrong with a request's values: every problem at once, in plain words.

A request is written by a person, in a file or as options. Its shape (pydantic) and its
references to the policy (party, purpose kind, data category) are checked together, and each
problem is one ``(location, message)`` that says what is expected, with the policy's values
where the field refers to the policy: ``legal_basis: one of: art6_1_c, art6_1_e``. The command
line prefixes each with its file and line (or prints ``field: message`` for options).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from difflib import get_close_matches
from typing import TYPE_CHECKING, Any

from ..errors import Loc, cut
from ..i18n import N_, _

if TYPE_CHECKING:
    from pydantic import ValidationError

    from .model import Policy

Problem = tuple[Loc, str]
ID_SHAPE = N_("an id: lower-case letters, digits and _")


@dataclass(frozen=True)
class _Field:
    """How a request field is described: its kind and, for ids, what it names."""

    kind: str  # text, days, count, flag, id, ids, choice, processors, names
    what: str = ""  # for ids: the thing named ("category"); for numbers: the words (both N_)
    example: str = ""


_FIELDS = {
    "to": _Field("id", N_("party"), "caf92"),
    "field": _Field("id", N_("intervention field"), "petite_enfance"),
    "purpose": _Field("text"),
    "purpose_kind": _Field("id", N_("purpose kind"), "pricing"),
    "categories": _Field("ids", N_("category"), "quotient_familial"),
    "subjects": _Field("text"),
    "legal_basis": _Field("id", N_("GDPR art. 6 basis"), "art6_1_e"),
    "legal_text": _Field("text"),
    "retention_days": _Field("days", N_("a whole number of days from 1 to 3650, e.g. 365")),
    "archive_days": _Field("days", N_("a whole number of days from 0 to 3650, e.g. 0")),
    "frequency": _Field("choice"),
    "recipients": _Field("text"),
    "volume": _Field("count", N_("a whole number of persons, e.g. 1200")),
    "art9_condition": _Field("id", N_("GDPR art. 9(2) condition"), "art9_2_b"),
    "transfer_outside_eu": _Field("flag"),
    "nir_case": _Field("id", N_("décret 2019-341 case"), ""),
    "legal_refs": _Field("ids", N_("legal text"), "loi_98_657_art147"),
    "aggregates_of": _Field("ids", N_("category"), "quotient_familial"),
    "automated_decision": _Field("choice"),
    "profiling": _Field("flag"),
    "decides_access": _Field("flag"),
    "new_technology": _Field("flag"),
    "combines_with_own_files": _Field("flag"),
    "processors": _Field("processors"),
    "onward_recipients": _Field("names"),
    "necessity": _Field("text"),
    "right_to_object": _Field("text"),
}


def allowed_values(policy: Policy) -> dict[str, list[str]]:
    """The ids the policy knows for each request field that names one (``policy show`` lists
    them with their labels; ``request template`` offers them)."""
    return {
        "to": [p.id for p in policy.parties],
        "field": [f.id for f in policy.fields],
        "purpose_kind": [k.id for k in policy.purpose_kinds],
        "categories": [c.id for c in policy.categories],
        "aggregates_of": [c.id for c in policy.categories],
        "legal_basis": [b.id for b in policy.legal_bases.art6],
        "art9_condition": [b.id for b in policy.legal_bases.art9],
        "legal_refs": [t.id for t in policy.legal_texts],
        "nir_case": [c.id for c in policy.nir_authorised_cases],
    }


def _choices(name: str) -> list[str]:
    from ..domain.models import AutomatedDecision, Frequency

    enum = {"frequency": Frequency, "automated_decision": AutomatedDecision}[name]
    return [member.value for member in enum]


def expected(name: str, policy: Policy | None, *, item: bool = False) -> str:
    """What field ``name`` (one item of it with ``item``) takes, in plain words."""
    spec = _FIELDS.get(name, _Field("text"))
    known = allowed_values(policy).get(name) if policy is not None else None
    if spec.kind in ("id", "ids") and (spec.kind == "id" or item):
        if known:
            return _("one of: {values}").format(values=", ".join(known))
        if policy is not None:  # the policy lists none: nothing is accepted
            return _("none: the convention lists no {what}").format(what=_(spec.what))
        if spec.example:
            return _("{shape}, e.g. {example}").format(shape=_(ID_SHAPE), example=spec.example)
        return _(ID_SHAPE)
    if spec.kind == "ids":
        example = known[0] if known and spec.example not in known else spec.example
        return _("a list of {what} ids, e.g. [{example}]").format(
            what=_(spec.what), example=example
        )
    if spec.kind == "choice":
        return _("one of: {values}").format(values=", ".join(_choices(name)))
    if spec.kind in ("days", "count"):
        return _(spec.what)
    if spec.kind == "flag":
        return _("true or false")
    if spec.kind == "processors":
        if item:
            return _("a processor: {name: …, contract: …}")
        return _("a list of processors, each {name: …, contract: …}")
    if spec.kind == "names" and not item:
        return _("a list of names")
    return _("a text")


def content_problems(values: Mapping[str, Any], policy: Policy | None = None) -> list[Problem]:
    """Every problem of a request's ``values``; with ``policy``, unknown references too and the
    policy's values in the messages."""
    from pydantic import ValidationError

    from ..domain.models import RequestContent

    try:
        RequestContent.model_validate(values)
        problems: list[Problem] = []
    except ValidationError as exc:
        problems = shape_problems(exc, policy)
    if policy is not None:
        taken = {loc for loc, _ in problems}
        problems += [
            (loc, message)
            for loc, message in reference_problems(values, policy)
            if loc not in taken and loc[:1] not in taken
        ]
    order = {name: index for index, name in enumerate(_FIELDS)}
    return sorted(problems, key=lambda p: order.get(str(p[0][0]), len(order)) if p[0] else -1)


def shape_problems(error: ValidationError, policy: Policy | None) -> list[Problem]:
    """A ``ValidationError`` of request content as plain-word problems."""
    from ..yamlsrc import pydantic_items

    problems: list[Problem] = []
    for loc, item in pydantic_items(error):
        problems.append((loc, _plain(loc, item, policy)))
    return problems


def _plain(loc: Loc, item: Mapping[str, Any], policy: Policy | None) -> str:
    kind, context = str(item["type"]), item.get("ctx") or {}
    name = str(loc[0]) if loc else ""
    if kind == "missing" and len(loc) == 1:
        return _("is required: {expected}").format(expected=expected(name, policy))
    if kind == "extra_forbidden":
        close = get_close_matches(str(loc[-1]), _FIELDS if len(loc) == 1 else ("name", "contract"))
        if close:
            return _("unknown key (did you mean {key}?)").format(key=close[0])
        return _("unknown key")
    if kind == "value_error":  # the model's validator words it (domain/models.py)
        return str(item["msg"]).removeprefix("Value error, ")
    if kind == "string_too_short":
        return _("must not be empty")
    if kind == "too_short":
        return _("must not be empty: {expected}").format(expected=expected(name, policy))
    if kind == "string_too_long":
        return _("at most {count} characters").format(count=context.get("max_length"))
    if kind == "too_long":
        return _("at most {count} items").format(count=context.get("max_length"))
    if len(loc) == 1 or (len(loc) == 2 and isinstance(loc[1], int)):
        return expected(name, policy, item=len(loc) == 2)
    if kind == "missing":
        return _("is required")
    return _("a text")


def reference_problems(values: Mapping[str, Any], policy: Policy) -> Iterator[Problem]:
    """Each id in ``values`` that names nothing the policy knows (a typo, not a finding: an
    intervention field or legal basis outside the convention is a finding of screening)."""
    known = allowed_values(policy)
    for name, what in (("to", "party"), ("purpose_kind", "purpose kind")):
        value = values.get(name)
        if isinstance(value, str) and value not in known[name]:
            yield (name,), unknown(what, value, known[name])
    for name in ("categories", "aggregates_of"):
        listed = values.get(name)
        if isinstance(listed, list | tuple):
            for index, value in enumerate(listed):
                if isinstance(value, str) and value not in known[name]:
                    yield (name, index), unknown("data category", value, known[name])


# what an unknown reference is, as a whole sentence (the words differ in French by gender)
_UNKNOWN = {
    "party": (
        N_("unknown party {value!r}: the convention knows {known}"),
        N_("unknown party {value!r} (did you mean {guess}?): the convention knows {known}"),
    ),
    "purpose kind": (
        N_("unknown purpose kind {value!r}: the convention knows {known}"),
        N_("unknown purpose kind {value!r} (did you mean {guess}?): the convention knows {known}"),
    ),
    "data category": (
        N_("unknown data category {value!r}: the convention knows {known}"),
        N_("unknown data category {value!r} (did you mean {guess}?): the convention knows {known}"),
    ),
}


def unknown(what: str, value: str, known: list[str]) -> str:
    """``value`` names no ``what`` (a key of :data:`_UNKNOWN`) of the convention's ``known``."""
    close = get_close_matches(value, known, n=1)
    plain, guessed = _UNKNOWN[what]
    return _(guessed if close else plain).format(
        value=cut(value), guess=close[0] if close else "", known=", ".join(known)
    )
