"""Writing files so that a crash leaves the old file or the new one, never a mix.

``write_atomic`` writes a temporary file beside the target, fsyncs it, renames it into place and
fsyncs the directory. ``write_exclusive`` does the same but refuses to replace an existing file
(``os.link`` fails atomically if the target exists), which is what key files need: created
``0600`` with ``O_EXCL|O_NOFOLLOW``, never over an existing key.
"""

from __future__ import annotations

import contextlib
import functools
import os
import secrets
import threading
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

RESERVE_STEP = 16 << 20


@functools.cache
def _fallocate() -> Callable[[int, int, int, int], int] | None:
    """The fallocate(2) system call, where the C library has it (loaded on first use): never
    glibc's posix_fallocate, whose emulation writes zero bytes into the file and would race
    with the writer."""
    import ctypes

    try:
        function = ctypes.CDLL(None, use_errno=True).fallocate64
    except (AttributeError, OSError):
        return None
    function.argtypes = (ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64)
    function.restype = ctypes.c_int
    return function


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
        self._reserving: threading.Thread | None = None
        self._stop_reserving = threading.Event()

    def reopen(self) -> BinaryIO:
        """The file as written so far, opened anew for reading from its start (the writer's
        position is left alone): through ``/proc`` for the unnamed file. Space reserved
        beyond what was written is given back first."""
        self._end_reserve()
        os.ftruncate(self.fd, os.lseek(self.fd, 0, os.SEEK_CUR))
        if self._path is not None:
            return open(self._path, "rb")  # noqa: SIM115
        return open(f"/proc/self/fd/{self.fd}", "rb")  # noqa: SIM115

    def reserve(self, size: int) -> None:
        """Allocate space for ``size`` bytes ahead of the writer, on a background thread.

        Writing then mostly copies into space that exists (a disk's blocks, a tmpfs's pages)
        while the allocating runs on another core. It is only a hint: steps of
        ``RESERVE_STEP`` let the writer in between, a file system without ``fallocate`` is
        written as usual, and any error is left for the writes themselves to meet. The file is
        cut to what was written when it is committed.
        """
        fallocate = _fallocate()
        if fallocate is None or size <= 0:
            return
        self._reserving = threading.Thread(
            target=self._reserve, args=(fallocate, size), name="ctg-reserve", daemon=True
        )
        self._reserving.start()

    def _reserve(self, fallocate: Callable[[int, int, int, int], int], size: int) -> None:
        offset = 0
        while offset < size and not self._stop_reserving.is_set():
            step = min(RESERVE_STEP, size - offset)
            if fallocate(self.fd, 0, offset, step) != 0:
                return
            offset += step

    def _end_reserve(self) -> None:
        if self._reserving is not None:
            self._stop_reserving.set()
            self._reserving.join()
            self._reserving = None

    def commit(self) -> None:
        self._end_reserve()
        os.ftruncate(self.fd, os.lseek(self.fd, 0, os.SEEK_CUR))  # drop what was reserved beyond
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
        self._end_reserve()
        if not self.file.closed:
            self.file.close()
        if self._path is not None:
            self._path.unlink(missing_ok=True)
        if self._tmpdir is not None:
            with contextlib.suppress(OSError):
                self._tmpdir.rmdir()


STAGING_LOCK = ".lock"
UNLOCKED_STALE_SECONDS = 600  # a staging directory without its lock file yet: a crash at birth


class StagingDir:
    """A private directory beside ``target`` that becomes ``target`` by :meth:`publish`.

    The process that stages holds an exclusive ``flock`` on a lock file inside it for as long
    as it lives, so a SIGKILL at any moment leaves a directory that is *known* abandoned: the
    next run sweeps such leftovers (:func:`sweep_staging`) and says which, while a directory
    another run is still writing keeps its lock and is left alone.
    """

    def __init__(self, target: Path, prefix: str) -> None:
        import fcntl
        import tempfile

        self.target = target
        self.path = Path(tempfile.mkdtemp(prefix=prefix, dir=target.parent))
        self._lock = os.open(
            self.path / STAGING_LOCK, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600
        )
        fcntl.flock(self._lock, fcntl.LOCK_EX)
        self.published = False

    def publish(self) -> None:
        """Rename the staged directory to ``target`` (its lock file is removed first)."""
        (self.path / STAGING_LOCK).unlink(missing_ok=True)
        self.path.rename(self.target)
        self.published = True
        fsync_dir(self.target.parent)

    def discard(self) -> None:
        import shutil

        shutil.rmtree(self.target if self.published else self.path, ignore_errors=True)

    def close(self) -> None:
        os.close(self._lock)

    def __enter__(self) -> StagingDir:
        return self

    def __exit__(self, kind: object, error: object, trace: object) -> None:
        """Leaving the block: whatever was not published goes (and, on a failure, what was)."""
        try:
            if error is not None or not self.published:
                self.discard()
        finally:
            self.close()


def sweep_staging(parent: Path, prefix: str) -> list[str]:
    """Remove the staging directories under ``parent`` whose writer is gone; their names."""
    import fcntl
    import shutil
    import time

    swept = []
    for path in sorted(parent.glob(f"{prefix}*")):
        if not path.is_dir() or path.is_symlink():
            continue
        try:
            lock = os.open(path / STAGING_LOCK, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
        except FileNotFoundError:
            if time.time() - path.stat().st_mtime < UNLOCKED_STALE_SECONDS:
                continue  # maybe just created, its lock not yet made
        except OSError:
            continue
        else:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # another run is writing it
            finally:
                os.close(lock)
        shutil.rmtree(path, ignore_errors=True)
        swept.append(path.name)
    return swept
