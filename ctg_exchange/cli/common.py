"""What every command shares: global options, the passphrase prompt, and output helpers.

Data goes to stdout (rich tables, or one JSON document with ``--json``); messages go to stderr.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, BinaryIO, TypeVar, cast

import click

from ..errors import InvalidInput, KeyFileError
from ..i18n import _
from . import complete

if TYPE_CHECKING:
    from pathlib import Path

    from rich.table import Table

    from ..crypto.keys import KeyDir, Signer
    from ..remote.session import RemoteSession
    from ..services.reading import Reader
    from ..services.session import Keyring, Session
    from ..services.workspace import Workspace
    from .console import InertConsole

F = TypeVar("F", bound=Callable[..., Any])


class Options:
    """The global options of one command (a plain class: ``dataclasses`` costs ``--help``)."""

    def __init__(
        self,
        *,
        workspace: Path | None,
        key_dir: Path | None,
        actor: str | None,
        json: bool,
        verbose: bool,
    ) -> None:
        self.workspace = workspace
        self.key_dir = key_dir
        self.actor = actor
        self.json = json
        self.verbose = verbose
        self._opened: Workspace | None = None
        self._reader: Reader | None = None
        self._keys: KeyDir | None = None

    @property
    def workspace_dir(self) -> Path:
        from pathlib import Path

        return self.workspace if self.workspace is not None else Path.cwd()

    def keys(self) -> KeyDir:
        """The key directory (one object per command: a key opened ahead is found there)."""
        if self._keys is None:
            from ..crypto.keys import KeyDir, default_key_dir

            self._keys = KeyDir(self.key_dir if self.key_dir is not None else default_key_dir())
        return self._keys

    def open_key_ahead(self) -> None:
        """Start unlocking the acting member's key now, when its passphrase is in the
        environment (a prompt is never moved earlier): a command that signs once its work is
        done then finds it open instead of waiting for bcrypt-pbkdf."""
        passphrase = os.environ.get("CTG_PASSPHRASE")
        if passphrase is not None and self.actor:
            self.keys().open_ahead(self.actor, passphrase)

    def remote(self) -> RemoteSession | None:
        """The remote session, when the workspace directory is a remote workspace."""
        from ..services.opening import is_remote

        if not is_remote(self.workspace_dir):
            return None
        from ..remote.session import RemoteSession
        from ..services.clock import Clock
        from ..services.workspace import open_remote

        keyring = self.keyring()
        config = open_remote(self.workspace_dir)
        clock = Clock.for_workspace(config.simulated)
        from ..remote.client import accepts

        def signer_of(member_id: str) -> Signer:
            return keyring.signer_by_id(member_id, lambda signer: accepts(config, signer))

        return RemoteSession(config, self.actor, signer_of, clock, keyring)

    def reading_workspace(self) -> Workspace:
        """The workspace a reading command reads: a local one as it is; for a remote
        workspace, this party's own copy of the served log (``copy/``), brought up to date
        first, which the command then reads (and ``audit verify`` verifies) on this machine."""
        remote = self.remote()
        if remote is None:
            from ..services.session import may_read_as

            opened = self.open_workspace()
            may_read_as(opened, self.actor)
            return opened
        if self._opened is None:
            from ..remote.copy import pull
            from ..services.workspace import Workspace

            pulled = pull(remote.config, remote.client())
            self._opened = Workspace.open(pulled.root)
        return self._opened

    def reader(self) -> Reader:
        """The workspace a light read command reads (:mod:`..services.reading`), as
        :meth:`reading_workspace` chooses it: a local one, or a remote one's verified copy,
        brought up to date first."""
        if self._reader is None:
            from ..services.reading import Reader

            root = self.workspace_dir
            remote = self.remote()
            if remote is not None:
                from ..remote.copy import pull

                root = pull(remote.config, remote.client()).root
            from ..services.reading import may_read

            reader = Reader.open(root)
            try:
                clock = reader.clock()  # CTG_TODAY only where the workspace allows it
                may_read(reader, self.actor, clock.today())
            except BaseException:
                reader.close()
                raise
            self._reader = reader
        return self._reader

    def reading_session(self) -> Session:
        """A session over :meth:`reading_workspace` (which refuses any change)."""
        from ..services.session import Session

        workspace = self.reading_workspace()
        return Session(workspace, self.keyring(), workspace.clock(), self.actor)

    def open_workspace(self) -> Workspace:
        """The workspace; ``CTG_TODAY`` is refused here unless it was created as a simulation.

        A remote workspace gives its remote session instead, which every remotable service
        takes in place of a workspace or a session (and which refuses the others in one line).
        """
        remote = self.remote()
        if remote is not None:
            return cast("Workspace", remote)
        if self._opened is None:
            from ..services.workspace import Workspace

            opened = Workspace.open(self.workspace_dir)
            try:
                opened.clock()
            except BaseException:
                opened.close()
                raise
            self._opened = opened
        return self._opened

    def keyring(self) -> Keyring:
        from ..services.session import Keyring

        return Keyring(self.keys(), ask_passphrase, ask_identity_passphrase)

    def require_actor(self) -> str:
        if not self.actor:
            raise InvalidInput(_("who is acting? pass --as MEMBER or set CTG_MEMBER"))
        return self.actor

    def session(self) -> Session:
        from ..services.session import Session

        remote = self.remote()
        if remote is not None:
            return cast("Session", remote)
        workspace = self.open_workspace()
        return Session(
            workspace=workspace,
            keyring=self.keyring(),
            clock=workspace.clock(),
            actor_id=self.actor,
        )

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        if self._opened is not None:
            self._opened.close()
            self._opened = None


def ask_passphrase(prompt: str, *, confirm: bool = False) -> str:
    """``CTG_PASSPHRASE`` if set, else a hidden prompt on the terminal."""
    value = os.environ.get("CTG_PASSPHRASE")
    if value is not None:
        return value
    if not sys.stdin.isatty():
        raise KeyFileError(_("no passphrase: set CTG_PASSPHRASE or run the command in a terminal"))
    entered: str = click.prompt(prompt, hide_input=True, confirmation_prompt=confirm, err=True)
    return entered


def ask_identity_passphrase(prompt: str, *, confirm: bool = False) -> str:
    """A party identity's own passphrase: ``CTG_IDENTITY_PASSPHRASE``, else a hidden prompt.

    Never the member's signing-key passphrase (``CTG_PASSPHRASE``): the identity decrypts the
    party's data and is shared by its staff; a key passphrase does not open it by default.
    """
    value = os.environ.get("CTG_IDENTITY_PASSPHRASE")
    if value is not None:
        return value
    if not sys.stdin.isatty():
        raise KeyFileError(
            _(
                "no passphrase for the party's decryption identity: set "
                "CTG_IDENTITY_PASSPHRASE or run the command in a terminal"
            )
        )
    entered: str = click.prompt(prompt, hide_input=True, confirmation_prompt=confirm, err=True)
    return entered


def common_options(func: F) -> F:
    """``--json`` and ``--as`` on the command itself, as well as before the group."""

    @click.option(
        "--json",
        "as_json",
        is_flag=True,
        default=None,
        help="Print one JSON document instead of tables.",
    )
    @click.option(
        "--as",
        "actor",
        metavar="MEMBER",
        default=None,
        help="The member acting (env CTG_MEMBER).",
        shell_complete=complete.members,
    )
    @functools.wraps(func)
    def wrapper(*args: Any, as_json: bool | None, actor: str | None, **kwargs: Any) -> Any:
        options = click.get_current_context().find_object(Options)
        assert options is not None
        if as_json:
            options.json = True
        if actor:
            options.actor = actor
        return func(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def options() -> Options:
    found = click.get_current_context().find_object(Options)
    assert found is not None
    return found


def emit_json(data: Any) -> None:
    import json

    from ..textsafe import json_inert

    click.echo(json_inert(json.dumps(data, ensure_ascii=False, indent=2, default=str)))


def stdout() -> InertConsole:
    """The console data is printed to: rich on a terminal, plain on a pipe or a file."""
    from .console import console

    return console()


class Listing:
    """Rows to print: a rich table on a terminal (every column on one line except ``wrap``,
    which takes the rest of the width); on a pipe or a file, a header line then one line per
    row, the cells separated by tabs, without title, colour, wrapping or padding."""

    def __init__(self, title: str, columns: tuple[str, ...], wrap: str | None) -> None:
        self.title, self.columns, self.wrap = title, columns, wrap
        self.rows: list[tuple[str, ...]] = []

    def add_row(self, *cells: str) -> None:
        """A row; its cells are rich markup (typed text already put through ``shown``)."""
        self.rows.append(cells)

    def print(self) -> None:
        from .tty import is_terminal

        if not is_terminal(sys.stdout):  # plain, without loading rich
            for line in (self.columns, *self.rows):
                click.echo("\t".join(tsv_cell(cell) for cell in line))
            return
        stdout().print(self._rich())

    def _rich(self) -> Table:
        from rich.table import Table

        made = Table(
            title=self.title,
            title_justify="left",
            title_style="bold",
            box=None,
            padding=(0, 2, 0, 0),
            header_style="bold underline",
        )
        for column in self.columns:
            if column == self.wrap:
                made.add_column(column, ratio=1, overflow="fold")
            else:
                made.add_column(column, no_wrap=True)
        for row in self.rows:
            made.add_row(*row)
        return made


def tsv_cell(markup: str) -> str:
    """A cell of a tab-separated row: its plain text, with a tab or a line break in it written
    out (``\\t``, ``\\n``, as control characters are) so that each row stays one line of as
    many cells as the header."""
    from ..textsafe import visible_controls
    from .markup import plain_text

    text = visible_controls(plain_text(markup))
    return text.replace("\t", "\\t").replace("\n", "\\n")


def table(title: str, *columns: str, wrap: str | None = None) -> Listing:
    """A compact table; every column stays on one line except ``wrap``, which takes the rest."""
    return Listing(title, columns, wrap)


def say(message: str) -> None:
    """A message for the person at the terminal (stderr), never data; on a pipe or a file it is
    one line, never wrapped."""
    from .console import console

    console(stderr=True).print(message)


# ``--out -``: stdout, wherever a command writes one file a person may want in a pipe. A file
# named ``-`` is never written (``./-`` is the same path to Python, so it is stdout too).
T = TypeVar("T")


def is_dash(path: Path | None) -> bool:
    """Whether an output option was given as ``-`` (stdout)."""
    return path is not None and os.fspath(path) == "-"


def refuse_dash(path: Path | None, option: str, why: str) -> None:
    """Refuse ``-`` for an output that cannot go to stdout, saying why, before anything is done."""
    if is_dash(path):
        raise InvalidInput(
            _("{option} - cannot write to stdout: {why}").format(option=option, why=why)
        )


def binary_stdout() -> BinaryIO:
    """stdout for bytes, after whatever text was written to it."""
    sys.stdout.flush()
    return sys.stdout.buffer


def write_stdout(data: bytes) -> None:
    stream = binary_stdout()
    stream.write(data)
    stream.flush()


def write_output(path: Path, data: bytes, mode: int = 0o644) -> None:
    """``data`` to stdout (``-``) or to a new file written atomically."""
    if is_dash(path):
        write_stdout(data)
        return
    from ..fsutil import write_atomic

    write_atomic(path, data, mode=mode)


def through_stdout(name: str, write: Callable[[Path], T]) -> T:
    """Let ``write`` make its file (``name``) in a private temporary directory, then copy it to
    stdout: what a service writes as a whole file is written to a pipe only once complete."""
    import shutil
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory(prefix="ctg-out-") as private:  # 0700
        made = Path(private) / name
        result = write(made)
        with made.open("rb") as source:
            stream = binary_stdout()
            shutil.copyfileobj(source, stream)
            stream.flush()
    return result


def refuse_binary_on_terminal(what: str) -> None:
    """A binary file is not printed on a terminal, where it would only garble the screen."""
    from .console import is_terminal

    if is_terminal(sys.stdout):
        raise InvalidInput(
            _(
                "{what} is binary and stdout is a terminal: redirect it (> FILE) or give --out FILE"
            ).format(what=what)
        )


def one_on_stdout(*outputs: tuple[str, Path | None]) -> bool:
    """Whether one of a command's outputs goes to stdout (``-``), which then carries only it:
    two of them, or one with ``--json``, are refused."""
    dashed = [option for option, path in outputs if is_dash(path)]
    if len(dashed) > 1:
        raise InvalidInput(
            _("{options} cannot both write to stdout: give one a file").format(
                options=_(" and ").join(dashed)
            )
        )
    if dashed and options().json:
        raise InvalidInput(
            _("--json and {option} - would both write to stdout: give one").format(option=dashed[0])
        )
    return bool(dashed)
