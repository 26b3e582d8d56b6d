"""``ctg-exchange register``."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import click

from ..i18n import N_, _, ngettext, short_date
from . import complete
from .common import (
    common_options,
    emit_json,
    is_dash,
    options,
    refuse_binary_on_terminal,
    refuse_dash,
    say,
    stdout,
    table,
    through_stdout,
)
from .texts import text_option

FORMATS = ("csv", "json", "md", "html", "xlsx")


def _version_json(version: Any) -> dict[str, Any]:
    return {
        **version.entry.model_dump(mode="json"),
        "version": version.version,
        "changed_by": version.author,
        "changed_at": version.at,
        "reason": version.reason,
    }


@click.group()
def register() -> None:
    """The Article 30 register: fiches per controller, versioned, fed by the procedure."""


@register.command(name="import")
@click.argument("path", required=False, type=click.Path(path_type=Path, exists=True))
@common_options
def import_(path: Path | None) -> None:
    """Load your party's fiches from a registry directory (an admin or the DPO).

    Every fiche is validated first (file:line: message). Fiches of the other party are left to
    its own admin or DPO. Importing again changes nothing; a changed fiche gets a new version,
    keeping what the procedure added (recipients, linked exchanges, notes). Without PATH, the
    shipped baseline (registry/) is read.

    \b
    Example:
      ctg-exchange --as v.dpo register import
      ctg-exchange --as c.dpo register import ./registry/caf92
    """
    from ..policy import shipped_dir
    from ..services.register import import_registry

    opts = options()
    result = import_registry(opts.session(), path or shipped_dir("registry"))
    if opts.json:
        emit_json(result.__dict__)
        return
    for heading, refs in (
        (_("added"), result.added),
        (_("updated"), result.updated),
        (_("unchanged"), result.unchanged),
        (_("left to their party"), result.skipped),
    ):
        if refs:
            say(_("{heading}: {refs}").format(heading=heading, refs=", ".join(refs)))


@register.command(name="list")
@click.option(
    "--controller",
    metavar="PARTY",
    help="Only this controller's fiches.",
    shell_complete=complete.parties,
)
@common_options
def list_(controller: str | None) -> None:
    """List the current fiches.

    \b
    Example:
      ctg-exchange register list --controller caf92
    """
    opts = options()
    if opts.json:
        from ..services.register import current_entries

        versions = current_entries(opts.reading_workspace(), controller)
        emit_json([_version_json(v) for v in versions])
        return
    from ..services.reading import fiches
    from .listing import tell
    from .markup import shown

    found = fiches(opts.reader(), controller)
    out = table(
        _("Register"), _("ref"), _("controller"), "v", _("updated"), _("name"), wrap=_("name")
    )
    for fiche in found:
        out.add_row(
            shown(fiche["ref"]),
            shown(fiche["controller"]),
            str(fiche["version"]),
            short_date(fiche["at"][:10]),
            shown(fiche["name"]),
        )
    out.print()
    if not found:
        tell(_("The register is empty: `register import` loads the baseline."))


@register.command()
@click.argument("ref", metavar="REF", shell_complete=complete.fiches)
@common_options
def show(ref: str) -> None:
    """Show a fiche as the CNIL lays it out.

    \b
    Example:
      ctg-exchange register show CAF92-PARTENAIRES
    """
    from ..register.export.base import as_text, sections
    from ..services.register import entry_history
    from ..services.register_export import fiche_view
    from .console import shown

    opts = options()
    if opts.json:
        emit_json(_version_json(entry_history(opts.reading_workspace(), ref)[-1]))
        return
    view = fiche_view(opts.reading_session(), ref)
    console = stdout()
    fiche = view.fiches[0]
    console.print(f"[bold]{shown(fiche.entry.ref)} — {shown(fiche.entry.name)}[/]")
    for heading, pairs in sections(fiche, view):
        console.print(f"[bold]{shown(heading)}[/]")
        for label, value in pairs:
            console.print(f"  {shown(label)} : {shown(as_text(value))}")


@register.command()
@click.argument("ref", metavar="REF", shell_complete=complete.fiches)
@common_options
def history(ref: str) -> None:
    """List a fiche's versions: who changed it, when, and why. Nothing is ever deleted.

    \b
    Example:
      ctg-exchange register history CAF92-PARTENAIRES
    """
    from ..services.register import entry_history
    from .console import shown
    from .views import display_zone, short_time

    opts = options()
    workspace = opts.reading_workspace()
    versions = entry_history(workspace, ref)
    if opts.json:
        emit_json([_version_json(v) for v in versions])
        return
    zone = display_zone(workspace)
    out = table(
        _("History of {ref}").format(ref=ref),
        "v",
        _("when ({zone})").format(zone=zone.key),
        _("by"),
        _("reason"),
        wrap=_("reason"),
    )
    for v in versions:
        out.add_row(str(v.version), short_time(v.at, zone), v.author, shown(reason_shown(v.reason)))
    out.print()


# the reasons the tool itself records for a fiche's version (signed as written, in English)
_REASONS = (
    (re.compile(r"import of (?P<file>\S+)"), N_("import of {file}")),
    (
        re.compile(r"exchange (?P<id>\S+): conditions accepted"),
        N_("exchange {id}: conditions accepted"),
    ),
    (
        re.compile(r"exchange (?P<id>\S+): (?P<party>\S+) added as recipient"),
        N_("exchange {id}: {party} added as recipient"),
    ),
    (re.compile(r"exchange (?P<id>\S+) lapsed"), N_("exchange {id} lapsed")),
)


def reason_shown(reason: str) -> str:
    """A version's reason in the reader's language when the tool wrote it, else as typed."""
    for pattern, message in _REASONS:
        if found := pattern.fullmatch(reason):
            return _(message).format(**found.groupdict())
    return reason


def _save(path: Path, reason: str, new: bool) -> None:
    from ..services.register import save_entry

    opts = options()
    version = save_entry(opts.session(), path, reason, new=new)
    if opts.json:
        emit_json(_version_json(version))
        return
    say(
        "[green]✓[/] "
        + _("{ref} version {version} recorded").format(
            ref=version.entry.ref, version=version.version
        )
    )


@register.command()
@click.option(
    "--from-file",
    "path",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="The fiche, in YAML.",
)
@text_option("--reason", default="new processing activity", help="Why the fiche is added.")
@common_options
def add(path: Path, reason: str) -> None:
    """Add a fiche (an admin or the DPO of its controller).

    \b
    Example:
      ctg-exchange --as v.dpo register add --from-file VS-CCAS.yaml
    """
    _save(path, reason, new=True)


@register.command()
@click.option(
    "--from-file",
    "path",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="The fiche, in YAML.",
)
@text_option("--reason", required=True, help="Why the fiche changes.")
@common_options
def edit(path: Path, reason: str) -> None:
    """Record a new version of a fiche (an admin or the DPO of its controller).

    \b
    Example:
      ctg-exchange --as v.dpo register edit --from-file VS-EAJE.yaml \\
          --reason "AIPD réalisée : ajout de la référence"
    """
    _save(path, reason, new=False)


@register.command()
@click.option(
    "--controller",
    metavar="PARTY",
    help="Only this controller's fiches.",
    shell_complete=complete.parties,
)
@common_options
def check(controller: str | None) -> None:
    """Lint the register for completeness (Art. 30); exit 1 with one line per finding.

    Each line reads `FICHE-OR-PARTY: field: CODE: message`. Besides each fiche's missing
    fields, it flags the policy's example DPO contacts and values left "à compléter"
    (PLACEHOLDER_CONTACT, PLACEHOLDER_VALUE), a processor without its Art. 28 contract
    (PROCESSOR_CONTRACT_MISSING), special-category data a structure collects that its fiche
    does not declare (SENSITIVE_UNDECLARED, STRUCTURE_FICHE_MISSING), and a party with no
    fiche for this tool's own processing (TOOL_FICHE_MISSING).

    \b
    Example:
      ctg-exchange register check --controller ville_sceaux
    """
    from ..services.register import check_register

    opts = options()
    found = check_register(opts.reading_workspace(), controller)
    if opts.json:
        emit_json(
            {
                "ok": not found,
                "problems": [str(f) for f in found],
                "findings": [f.__dict__ for f in found],
            }
        )
    else:
        for finding in found:
            click.echo(str(finding))
        if not found:
            say("[green]✓[/] " + _("the register is complete"))
    if found:
        click.get_current_context().exit(1)


@register.command()
@click.option(
    "--controller",
    metavar="PARTY",
    help="Whose register (default: your party's).",
    shell_complete=complete.parties,
)
@click.option("--format", "fmt", type=click.Choice(FORMATS), help="The export's format.")
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    help="The file to write (- for stdout).",
)
@click.option(
    "--audit-bundle",
    "bundle",
    type=click.Path(path_type=Path, file_okay=False),
    help="Write a signed CNIL audit bundle to this new directory instead.",
)
@click.option(
    "--ref",
    metavar="REF",
    help="With --audit-bundle: only this fiche.",
    shell_complete=complete.fiches,
)
@common_options
def export(
    controller: str | None, fmt: str | None, out: Path | None, bundle: Path | None, ref: str | None
) -> None:
    """Export the register in the CNIL's layout, or a signed CNIL audit bundle.

    CSV (semicolons, UTF-8 with a BOM, for French spreadsheets) follows the CNIL model: the
    Liste des traitements, then the fiche's fields, then the legal basis, the source, the CTG
    exchange and the DPIA reference. XLSX has the list, then a sheet per fiche, each printing on
    A4 landscape; HTML prints on numbered A4 pages; JSON is the full model. --out - writes the
    export to stdout (an XLSX only when stdout is not a terminal).

    --audit-bundle DIR (an admin or the DPO) writes the register in every format, every linked
    exchange's request, opinion, decision and acceptance, the convention's versions, the
    audit-log extract with its verification, and SHA256SUMS signed by you. On a remote
    workspace (or a party's copy of the log) it is made from your copy, verified on your
    machine, and its journal proven against a checkpoint you sign for it.

    \b
    Example:
      ctg-exchange register export --controller caf92 --format xlsx --out registre.xlsx
      ctg-exchange register export --controller caf92 --format csv --out - | grep PARTENAIRES
      ctg-exchange --as c.dpo register export --audit-bundle controle-cnil --controller caf92
    """
    from ..errors import InvalidInput

    opts = options()
    refuse_dash(bundle, "--audit-bundle", _("an audit bundle is a directory of signed files"))
    if bundle is not None:
        from ..services.register_export import audit_bundle

        # on a remote workspace: made here, from this party's copy of the log, verified here
        made = audit_bundle(opts.reading_session(), bundle, controller, ref)
        for name in made.swept:
            say(
                _(
                    "removed {name}, left by an interrupted bundle (nothing in it was published)"
                ).format(name=name)
            )
        if opts.json:
            emit_json(
                {
                    "bundle": str(made.path),
                    "files": made.files,
                    "sha256sums_sha256": made.sums_sha256,
                    "audit_log": made.verified,
                    "swept": list(made.swept),
                }
            )
            return
        say(
            "[green]✓[/] "
            + _("audit bundle written to {path} ({count} files, signed)").format(
                path=made.path, count=made.files
            )
        )
        say(_("audit log: {verified}").format(verified=made.verified))
        return
    if fmt is None or out is None:
        raise InvalidInput(_("give --format and --out, or --audit-bundle DIR"))
    from ..services.register_export import export_register

    session = opts.reading_session()
    if is_dash(out):
        if opts.json:
            raise InvalidInput(_("--json and --out - would both write to stdout: give one"))
        if fmt == "xlsx":
            refuse_binary_on_terminal(_("an XLSX workbook"))
        view = through_stdout(
            f"registre.{fmt}", lambda path: export_register(session, controller, fmt, path)
        )
        say(
            "[green]✓[/] "
            + ngettext(
                "{count} fiche of {controller} exported to stdout",
                "{count} fiches of {controller} exported to stdout",
                len(view.fiches),
            ).format(count=len(view.fiches), controller=view.controller.id)
        )
        return
    view = export_register(session, controller, fmt, out)
    if opts.json:
        emit_json({"out": str(out), "format": fmt, "fiches": len(view.fiches)})
        return
    say(
        "[green]✓[/] "
        + ngettext(
            "{count} fiche of {controller} exported to {path}",
            "{count} fiches of {controller} exported to {path}",
            len(view.fiches),
        ).format(count=len(view.fiches), controller=view.controller.id, path=out)
    )
