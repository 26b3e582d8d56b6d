"""``ctg-exchange request``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from ..domain.models import AutomatedDecision, Frequency, RequestContent, Status
from ..i18n import _
from ..labels import label
from . import complete
from .choices import Coded
from .common import common_options, emit_json, options, say, stdout, table
from .texts import text_option

if TYPE_CHECKING:
    from ..policy.request_input import Problem
    from ..yamlsrc import YamlDocument

F = TypeVar("F", bound=Callable[..., Any])

CONTENT_FIELDS = tuple(RequestContent.model_fields)  # each has its option
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


def _given(values: dict[str, Any]) -> dict[str, Any]:
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


def _from_file(path: Path) -> tuple[dict[str, Any], Any]:
    from ..errors import PolicyError
    from ..yamlsrc import load_yaml

    doc = load_yaml(path)
    if not isinstance(doc.data, dict):
        raise PolicyError([f"{path}:1: a request file is a mapping of fields to values"])
    return dict(doc.data), doc


def _content(from_file: Path | None, values: dict[str, Any]) -> RequestContent:
    """The request's content from the file and the options (options win).

    Every problem is reported at once: shapes and, with the policy in use, unknown references;
    those in values that came from the file point at their lines.
    """
    from ..policy.request_input import content_problems

    merged, doc = _from_file(from_file) if from_file else ({}, None)
    given = _given(values)
    merged.update(given)
    # a sound shape from options alone goes straight on: the service checks the references
    if doc is not None or content_problems(merged):
        from .policy_cmd import policy_in_use

        problems = content_problems(merged, policy_in_use()[0])
        if problems:
            raise _refusal(problems, doc, set(given))
    return RequestContent.model_validate(merged)


def _refusal(problems: list[Problem], doc: YamlDocument | None, given: set[str]) -> Exception:
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


@click.group()
def request() -> None:
    """Check, file, amend, withdraw, list and show exchange requests."""


@request.command()
@common_options
def template() -> None:
    """Print a request file to fill in: every field, with the values the policy allows.

    \b
    Example:
      ctg-exchange request template > request.yaml
      ctg-exchange request check --from-file request.yaml
    """
    from .policy_cmd import policy_in_use
    from .request_template import template as request_template

    click.echo(request_template(*policy_in_use()), nl=False)


@request.command()
@content_options
@common_options
def check(from_file: Path | None, **values: Any) -> None:
    """Pre-screen a request without filing it: print the findings; exit 1 if any blocks.

    Nothing is written and no key is needed. The same screening runs at filing and at every
    amendment: a blocking finding refuses them, a warning goes to the controller and the DPO.

    \b
    Example:
      ctg-exchange request check --from-file request.yaml
    """
    from ..services.requests import check_request
    from .views import render_findings

    opts = options()
    screening = check_request(opts.session(), _content(from_file, values))
    blocking = [f.code for f in screening.blocking]
    if opts.json:
        emit_json(
            {
                "findings": [f.model_dump(mode="json") for f in screening.findings],
                "blocking": bool(blocking),
                "triage": screening.triage.value,
                "dpia_required": screening.dpia_required,
            }
        )
    else:
        console = stdout()
        console.print(
            f"[bold]triage[/] {screening.triage.value}"
            + ("   [bold]DPIA[/] required" if screening.dpia_required else "")
        )
        render_findings(console, screening.findings, indent="")
        if not screening.findings:
            console.print("no findings")
    if blocking:
        if not opts.json:
            # one line, never wrapped, as every error (cli/app.py)
            from ..i18n import _
            from .localise import error_prefix

            refused = _("filing would be refused: {codes}").format(codes=", ".join(blocking))
            click.echo(f"{error_prefix()} {refused}", err=True)
        click.get_current_context().exit(1)


@request.command()
@content_options
@common_options
def new(from_file: Path | None, **values: Any) -> None:
    """File a request for personal data held by the other party (its staff).

    \b
    Example:
      ctg-exchange --as v.agent request new --to caf92 --field petite_enfance \\
          --purpose "Tarifer les crèches selon le barème national" --purpose-kind pricing \\
          --category numero_allocataire --category quotient_familial \\
          --subjects "Familles inscrites en EAJE" --legal-basis art6_1_e \\
          --legal-ref loi_98_657_art147 --retention-days 365 --archive-days 1825 \\
          --frequency monthly
      ctg-exchange --as v.agent request new --from-file request.yaml
    """
    from ..services.requests import file_request
    from .views import request_json

    opts = options()
    filed = file_request(opts.session(), _content(from_file, values))
    if opts.json:
        emit_json(request_json(filed))
        return
    click.echo(filed.id)
    warnings = ", ".join(f.code for f in filed.findings)
    say(
        "[green]✓[/] "
        + _("Filed {id}: {source} → {holder}, status {status}").format(
            id=filed.id,
            source=filed.from_party,
            holder=filed.to_party,
            status=label("status", filed.status.value),
        )
        + (f", {label('triage', filed.triage.value)}" if filed.triage != "personal" else "")
        + (_("; warnings: {codes}").format(codes=warnings) if warnings else "")
        + _(". Next: {party}'s controller studies it (`study accept`).").format(
            party=filed.to_party
        )
    )


@request.command()
@click.argument("request_id", metavar="ID", shell_complete=complete.requests)
@content_options
@common_options
def amend(request_id: str, from_file: Path | None, **values: Any) -> None:
    """Change a filed or returned request (the requesting party's staff); it is filed again.

    \b
    Example:
      ctg-exchange --as v.agent request amend DX-2025-0001 --retention-days 180
    """
    from ..services.requests import amend_request
    from .views import request_json

    opts = options()
    from ..errors import InvalidRequest

    changes, doc = _from_file(from_file) if from_file else ({}, None)
    given = _given(values)
    changes.update(given)
    try:
        amended = amend_request(opts.session(), request_id, changes)
    except InvalidRequest as exc:
        raise _refusal(list(exc.problems), doc, set(given)) from None
    if opts.json:
        emit_json(request_json(amended))
        return
    say(
        "[green]✓[/] "
        + _("{id} amended, status {status}").format(
            id=amended.id, status=label("status", amended.status.value)
        )
    )


@request.command()
@click.argument("request_id", metavar="ID", shell_complete=complete.requests)
@text_option("--reason", required=True, help="Why the request is withdrawn.")
@common_options
def withdraw(request_id: str, reason: str) -> None:
    """Withdraw a request before it is decided (the requesting party's staff).

    \b
    Example:
      ctg-exchange --as v.agent request withdraw DX-2025-0001 --reason "need met otherwise"
    """
    from ..services.requests import withdraw_request
    from .views import request_json

    opts = options()
    withdrawn = withdraw_request(opts.session(), request_id, reason)
    if opts.json:
        emit_json(request_json(withdrawn))
        return
    say("[green]✓[/] " + _("{id} withdrawn").format(id=withdrawn.id))


@request.command(name="list")
@click.option("--status", type=Coded("status", [s.value for s in Status]), help="Only this status.")
@common_options
def list_(status: str | None) -> None:
    """List requests, oldest first.

    \b
    Example:
      ctg-exchange request list --status awaiting_dpo
    """
    from ..services.requests import list_requests
    from .views import request_json, status_text

    opts = options()
    requests = list_requests(opts.reading_workspace(), Status(status) if status else None)
    if opts.json:
        emit_json([request_json(r) for r in requests])
        return
    out = table(
        _("Requests"),
        _("id"),
        _("filed"),
        _("status"),
        _("to"),
        _("categories"),
        wrap=_("categories"),
    )
    for r in requests:
        out.add_row(
            r.id,
            r.filed_on.isoformat(),
            status_text(r.status.value),
            r.to_party,
            ", ".join(r.content.categories),
        )
    out.print()
    if not requests:
        say(
            _("No requests with status {status}.").format(status=label("status", status))
            if status
            else _("No requests yet.")
        )


@request.command()
@click.argument("request_id", metavar="ID", shell_complete=complete.requests)
@common_options
def show(request_id: str) -> None:
    """Show a request: its content, opinion, decision, annotations and history.

    \b
    Example:
      ctg-exchange request show DX-2025-0001
      ctg-exchange request show DX-2025-0001 --json
    """
    from ..services.requests import get_request
    from .views import display_zone, render_request, request_json

    opts = options()
    workspace = opts.reading_workspace()
    view = get_request(workspace, request_id)
    if opts.json:
        document = request_json(view.request, view.steps, view.deliveries)
        emit_json({**document, "simulated_clock": workspace.simulated})
        return
    console = stdout()
    render_request(console, view.request, view.steps, view.deliveries, display_zone(workspace))
    if workspace.simulated:
        console.print(_("[yellow]simulated clock[/]: a rehearsal (init --simulated-clock)"))
