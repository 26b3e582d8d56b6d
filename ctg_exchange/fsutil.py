"""Writing files so that a crash leaves the old file or the new one, never a mix.

``write_atomic`` writes a temporary file beside the target, fsyncs it, renames it into place and
fsyncs the directory. ``write_exclusive`` does the same but refuses to replace an existing file
(``os.link`` fails atomically if the target exists), which is what key files need: created
``0600`` with ``O_EXCL|O_NOFOLLOW``, never over an existing key.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

_CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


def fsync_dir(directory: Path) -> None:
    """Make a rename or link in ``directory`` durable."""
    fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_temp(target: Path, data: bytes, mode: int) -> Path:
    tmp = target.with_name(f".{target.name}.tmp-{secrets.token_hex(6)}")
    fd = os.open(tmp, _CREATE_FLAGS, mode)
    try:
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        tmp.unlink(missing_ok=True)
        raise
    os.close(fd)
    return tmp


def write_atomic(target: Path, data: bytes, *, mode: int = 0o644) -> None:
    """Replace ``target`` with ``data`` atomically."""
    tmp = _write_temp(target, data, mode)
    try:
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(target.parent)


def write_exclusive(target: Path, data: bytes, *, mode: int = 0o600) -> None:
    """Create ``target`` with ``data`` atomically; ``FileExistsError`` if it already exists."""
    tmp = _write_temp(target, data, mode)
    try:
        os.link(tmp, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    fsync_dir(target.parent)


def ensure_private_dir(directory: Path) -> None:
    """Create ``directory`` as ``0700`` if missing (parents included)."""
    if not directory.exists():
        directory.mkdir(parents=True, mode=0o700)
        os.chmod(directory, 0o700)  # mkdir's mode is filtered by the umask


class NewFile:
    """A file that appears at ``target`` only on :meth:`commit`, complete and fsynced.

    On Linux it is an unnamed ``O_TMPFILE`` in the target's directory, linked into place at the
    end: a crash or SIGKILL at any moment leaves nothing at all. Elsewhere it is a temporary
    file in a private (``0700``) directory beside the target. An existing target is never
    replaced (``FileExistsError``).
    """

    def __init__(self, target: Path, mode: int = 0o600) -> None:
        self.target = target
        if target.exists() or target.is_symlink():
            raise FileExistsError(target)
        self._tmpdir: Path | None = None
        self._path: Path | None = None
        self.committed = False
        flags = os.O_WRONLY | getattr(os, "O_CLOEXEC", 0)
        try:
            self.fd = os.open(target.parent, flags | os.O_TMPFILE, mode)
        except (AttributeError, OSError):
            import tempfile

            self._tmpdir = Path(tempfile.mkdtemp(prefix=".ctg-", dir=target.parent))
            self._path = self._tmpdir / "partial"
            self.fd = os.open(self._path, flags | os.O_CREAT | os.O_EXCL, mode)
        self.file = os.fdopen(self.fd, "wb", buffering=0, closefd=True)

    def commit(self) -> None:
        os.fsync(self.fd)
        try:
            if self._path is None:
                # a dir fd makes CPython call linkat(..., AT_SYMLINK_FOLLOW), which follows
                # the /proc link to the unnamed file (plain link() would not)
                dir_fd = os.open(self.target.parent, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
                try:
                    os.link(
                        f"/proc/self/fd/{self.fd}",
                        self.target.name,
                        dst_dir_fd=dir_fd,
                        follow_symlinks=True,
                    )
                finally:
                    os.close(dir_fd)
            else:
                os.link(self._path, self.target)
        finally:
            self._close()
        self.committed = True
        fsync_dir(self.target.parent)

    def discard(self) -> None:
        """Drop the file; once committed, remove it (the transaction it belonged to failed)."""
        self._close()
        if self.committed:
            self.target.unlink(missing_ok=True)
            self.committed = False

    def _close(self) -> None:
        if not self.file.closed:
            self.file.close()
        if self._path is not None:
            self._path.unlink(missing_ok=True)
        if self._tmpdir is not None:
            with contextlib.suppress(OSError):
                self._tmpdir.rmdir()
