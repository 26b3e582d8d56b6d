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
