"""The root command: global options, lazy command groups, and the one error handler.

Groups are imported only when used, so ``ctg-exchange --help`` loads click and nothing else.
Every :class:`~ctg_exchange.errors.ExchangeError` becomes ``ctg-exchange: error: …`` (and
``ctg-exchange: hint: …``) on stderr with the error's exit code; anything unexpected is reported
in one line too, with ``--verbose`` (or ``CTG_DEBUG=1``) showing the traceback.
"""

from __future__ import annotations

import importlib
import os
from typing import Any

import click

from .. import __version__
from ..errors import ExchangeError
from ..i18n import _, click_gettext
from . import complete
from .common import Options
from .localise import error_prefix, hint_prefix, localise, translate_click

translate_click()

# name -> (module, attribute); ``--help`` reads each one's summary from its docstring
COMMANDS: dict[str, tuple[str, str]] = {
    "init": ("init_cmd", "init"),
    "keys": ("keys_cmd", "keys"),
    "member": ("member_cmd", "member"),
    "convention": ("convention_cmd", "convention"),
    "policy": ("policy_cmd", "policy"),
    "request": ("request_cmd", "request"),
    "study": ("study_cmd", "study"),
    "dpo": ("dpo_cmd", "dpo"),
    "decide": ("decide_cmd", "decide"),
    "conditions": ("conditions_cmd", "conditions"),
    "exchange": ("exchange_cmd", "exchange"),
    "review": ("review_cmd", "review"),
    "retention": ("retention_cmd", "retention"),
    "register": ("register_cmd", "register"),
    "audit": ("audit_cmd", "audit"),
    "report": ("report_cmd", "report"),
    "remind": ("remind_cmd", "remind"),
    "notify": ("notify_cmd", "notify"),
    "serve": ("serve_cmd", "serve"),
    "remote": ("remote_cmd", "remote"),
    "witness": ("witness_cmd", "witness"),
    "demo": ("demo_cmd", "demo"),
}


def summary(module_name: str, attribute: str) -> str:
    """The first line of a command's docstring, read from its source without importing it
    (importing every group would load the whole tool for ``--help``)."""
    with open(os.path.join(os.path.dirname(__file__), f"{module_name}.py"), encoding="utf-8") as f:
        source = f.read()  # os.path, not pathlib: pathlib's imports cost --help
    # found by plain search, not a regular expression: compiling one per group costs --help
    # more than reading the files
    start = source.find(f"\ndef {attribute}(")
    opening = source.find('\n    """', start) if start >= 0 else -1
    if opening < 0:
        raise LookupError(f"no docstring for the command {attribute} in {module_name}")
    text = source[opening + 8 :]
    ends = [end for end in (text.find('"""'), text.find("\n")) if end >= 0]
    return text[: min(ends, default=len(text))].strip()


class CtgGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        module_name, attribute = COMMANDS[cmd_name]
        module = importlib.import_module(f"{__package__}.{module_name}")
        command: click.Command = getattr(module, attribute)
        localise(command)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section(click_gettext("Commands")):
            formatter.write_dl([(name, _(summary(*where))) for name, where in COMMANDS.items()])

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        localise(self)
        return super().make_context(info_name, args, parent, **extra)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        from .texts import shielded

        return super().parse_args(ctx, shielded(args))

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ExchangeError as exc:
            report_error(ctx, exc)
            ctx.exit(exc.exit_code)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except BrokenPipeError:  # `| head`: the reader has what it wanted
            _quiet_stdout()
            ctx.exit(141)
        except KeyboardInterrupt:
            interrupted = _("interrupted")
            click.echo(f"{error_prefix()} {interrupted}", err=True)
            ctx.exit(130)
        except Exception as exc:
            if _debug(ctx):
                raise
            message = _("internal error ({kind}); rerun with --verbose to see the traceback")
            click.echo(f"{error_prefix()} {message.format(kind=type(exc).__name__)}", err=True)
            ctx.exit(1)


def _quiet_stdout() -> None:
    """Point stdout at /dev/null so that exiting does not fail again flushing a closed pipe."""
    import sys

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def _debug(ctx: click.Context) -> bool:
    options = ctx.find_object(Options)
    return bool(os.environ.get("CTG_DEBUG")) or bool(options and options.verbose)


def report_error(ctx: click.Context, exc: ExchangeError) -> None:
    from ..textsafe import visible_controls as inert  # an error may quote what was typed

    for line in exc.lines():
        click.echo(f"{error_prefix()} {inert(line)}", err=True)
    for detail in exc.details:
        click.echo(f"  {inert(detail)}", err=True)
    if exc.hint:
        click.echo(f"{hint_prefix()} {inert(exc.hint)}", err=True)
    options = ctx.find_object(Options)
    if options is not None and options.json:
        from .common import emit_json

        emit_json({"error": exc.to_json()})


@click.group(
    cls=CtgGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.option(
    "--workspace",
    "-w",
    type=click.Path(file_okay=False),
    envvar="CTG_WORKSPACE",
    help="Workspace directory (env CTG_WORKSPACE; default: the current directory).",
)
@click.option(
    "--key-dir",
    type=click.Path(file_okay=False),
    envvar="CTG_KEY_DIR",
    help="Directory of your private keys (env CTG_KEY_DIR; default ~/.config/ctg-exchange/keys).",
)
@click.option(
    "--as",
    "actor",
    metavar="MEMBER",
    envvar="CTG_MEMBER",
    help="The member acting (env CTG_MEMBER).",
    shell_complete=complete.members,
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document instead of tables.")
@click.option("--verbose", "-v", is_flag=True, help="Show tracebacks of internal errors.")
@click.version_option(__version__, prog_name="ctg-exchange")
@click.pass_context
def cli(
    ctx: click.Context,
    workspace: str | None,
    key_dir: str | None,
    actor: str | None,
    as_json: bool,
    verbose: bool,
) -> None:
    """Run the Article 7 personal-data exchange procedure of the CTG Ville de Sceaux / Caf 92.

    A requesting party files a request; the holding party's controller studies it; the holding
    party's DPO gives a prior opinion with recommendations; the controller decides. Every step
    is signed by the member who takes it and recorded in a hash-chained audit log.

    \b
    Exit codes: 0 success, 1 refused or invalid (nothing changed), 2 usage,
                3 integrity failure (audit log, signature).

    \b
    Example:
      ctg-exchange demo
      ctg-exchange --workspace ./ctg --as v.agent request list
    """
    from pathlib import Path

    ctx.obj = Options(
        workspace=Path(workspace) if workspace is not None else None,
        key_dir=Path(key_dir) if key_dir is not None else None,
        actor=actor,
        json=as_json,
        verbose=verbose,
    )
    ctx.call_on_close(ctx.obj.close)
