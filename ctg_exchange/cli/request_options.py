"""The request's content from the command line: its fields as options, or from a YAML file
(options win), every problem reported at once."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from ..domain.states import AutomatedDecision, Frequency
from ..i18n import _
from ..services.stored import CONTENT
from . import complete
from .choices import Coded

if TYPE_CHECKING:
    from ..domain.models import RequestContent
    from ..policy.request_input import Problem
    from ..yamlsrc import YamlDocument

F = TypeVar("F", bound=Callable[..., Any])

CONTENT_FIELDS = tuple(name for name, _default, _shape in CONTENT)  # each has its option
_LISTS = {"categories", "legal_refs", "aggregates_of", "onward_recipients"}


def content_options(func: F) -> F:
    """The request's fields as options; any of them may come from ``--from-file`` instead."""
    decorators = [
        click.option(
            "--to",
            metavar="PARTY",
            help="The party holding the data (ville_sceaux, caf92).",
            shell_complete=complete.parties,
        ),
        click.option(
            "--field", metavar="FIELD", help="CTG intervention field, e.g. petite_enfance."
        ),
        click.option("--purpose", metavar="TEXT", help="What the data is for, precisely."),
        click.option(
            "--purpose-kind", metavar="KIND", help="e.g. pricing, statistics, service_delivery."
        ),
        click.option(
            "--category",
            "categories",
            multiple=True,
            metavar="CATEGORY",
            help="A category of the data catalogue; repeat for several.",
        ),
        click.option("--subjects", metavar="TEXT", help="The persons concerned."),
        click.option(
            "--legal-basis", metavar="BASIS", help="GDPR Art. 6 basis: art6_1_c or art6_1_e."
        ),
        click.option(
            "--legal-ref",
            "legal_refs",
            multiple=True,
            metavar="TEXT_ID",
            help="A French text of the convention's list that grounds it (Art. 6(3)), e.g. "
            "loi_98_657_art147; repeat for several (`convention show` lists them).",
        ),
        click.option(
            "--legal-text",
            metavar="TEXT",
            help="Free text that adds to the listed texts (articles, deliberation).",
        ),
        click.option(
            "--retention-days",
            type=click.IntRange(min=1),
            metavar="N",
            help="How long the recipient uses the data (active use).",
        ),
        click.option(
            "--archive-days",
            type=click.IntRange(min=0),
            metavar="N",
            help="Intermediate archiving after active use, if the recipient keeps records "
            "(billing, accounting) longer; default 0.",
        ),
        click.option("--frequency", type=Coded("frequency", [f.value for f in Frequency])),
        click.option("--recipients", metavar="TEXT", help="Who receives it at the requester."),
        click.option(
            "--volume", type=click.IntRange(min=0), metavar="N", help="Estimated number of persons."
        ),
        click.option(
            "--art9-condition",
            metavar="CONDITION",
            help="GDPR Art. 9(2) condition for special-category data: art9_2_b, _g or _h.",
        ),
        click.option(
            "--transfer-outside-eu/--no-transfer-outside-eu",
            default=None,
            help="Whether the data would leave the European Union (default: no).",
        ),
        click.option("--nir-case", metavar="CASE", help="The décret 2019-341 case for the NIR."),
        click.option(
            "--aggregates-of",
            "aggregates_of",
            multiple=True,
            metavar="CATEGORY",
            help="For anonymous counts: the category they count (a sensitive one raises the "
            "smallest cell); repeat for several.",
        ),
        click.option(
            "--automated-decision",
            type=click.Choice([a.value for a in AutomatedDecision]),
            help="Whether the data feed individual decisions computed by an algorithm "
            "(assisted: an agent decides; solely_automated: the computation decides).",
        ),
        click.option(
            "--profiling/--no-profiling",
            default=None,
            help="Whether the persons are evaluated or scored (e.g. points for a crèche place).",
        ),
        click.option(
            "--decides-access/--no-decides-access",
            default=None,
            help="Whether the result opens or bars a service or a right to the persons.",
        ),
        click.option(
            "--new-technology/--no-new-technology",
            default=None,
            help="Whether the processing uses an innovative technology.",
        ),
        click.option(
            "--combines-with-own-files/--no-combines-with-own-files",
            default=None,
            help="Whether the requester will match the data with its own files.",
        ),
        click.option(
            "--processor",
            "processors",
            multiple=True,
            metavar="NAME=CONTRACT",
            help="A processor acting for the requester (software vendor, host) and the "
            "reference of its GDPR art. 28 contract; repeat for several.",
        ),
        click.option(
            "--onward-recipient",
            "onward_recipients",
            multiple=True,
            metavar="NAME",
            help="Another body the requester would pass the data on to; repeat for several.",
        ),
        click.option(
            "--necessity",
            metavar="TEXT",
            help="Informing people of their rights (CRPA L114-8 II): why each person's data "
            "are strictly needed.",
        ),
        click.option(
            "--right-to-object",
            metavar="TEXT",
            help="Informing people of their rights: how they are told they may object.",
        ),
        click.option(
            "--from-file",
            type=click.Path(path_type=Path, dir_okay=False),
            help="A YAML file with the same fields (options given override it).",
        ),
    ]
    for decorate in reversed(decorators):
        func = decorate(func)
    return func


def given_fields(values: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in CONTENT_FIELDS:
        value = values.get(key)
        if value is None or value == ():
            continue
        if key == "processors":
            value = [_processor(text) for text in value]
        out[key] = list(value) if key in _LISTS else value
    return out


def _processor(text: str) -> dict[str, str]:
    """``NAME=CONTRACT`` (the contract after the last ``=``), or a bare ``NAME``."""
    name, sep, contract = text.rpartition("=")
    if not sep:
        return {"name": text}
    return {"name": name, "contract": contract}


def read_request_file(path: Path) -> tuple[dict[str, Any], Any]:
    from ..errors import PolicyError
    from ..yamlsrc import load_yaml

    doc = load_yaml(path)
    if not isinstance(doc.data, dict):
        raise PolicyError(
            [_("{path}:1: a request file is a mapping of fields to values").format(path=path)]
        )
    return dict(doc.data), doc


def content_from(from_file: Path | None, values: dict[str, Any]) -> RequestContent:
    """The request's content from the file and the options (options win).

    Every problem is reported at once: shapes and, with the policy in use, unknown references;
    those in values that came from the file point at their lines.
    """
    from ..domain.models import RequestContent
    from ..policy.request_input import content_problems

    merged, doc = read_request_file(from_file) if from_file else ({}, None)
    given = given_fields(values)
    merged.update(given)
    # a sound shape from options alone goes straight on: the service checks the references
    if doc is not None or content_problems(merged):
        from .policy_cmd import policy_in_use

        problems = content_problems(merged, policy_in_use()[0])
        if problems:
            raise refusal(problems, doc, set(given))
    return RequestContent.model_validate(merged)


def refusal(problems: list[Problem], doc: YamlDocument | None, given: set[str]) -> Exception:
    """The problems as one error: ``file:line: field: message`` for what came from the file,
    ``field: message`` for what came from options."""
    from ..errors import InvalidRequest, PolicyError
    from ..yamlsrc import located

    if doc is None:
        return InvalidRequest(problems)
    from_options = [p for p in problems if p[0][:1] and str(p[0][0]) in given]
    in_file = [p for p in problems if p not in from_options]
    return PolicyError(
        InvalidRequest(from_options).lines() * bool(from_options) + located(in_file, doc)
    )
