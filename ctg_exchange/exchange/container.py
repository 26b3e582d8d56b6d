"""The package container (docs/spec/package.md §2): a ustar archive of three members.

The writer streams ``payload.age`` first (its header is patched with the final size once the
payload is written, so nothing is buffered), then appends the manifest and its signature. The
reader parses the three headers itself, without reading payload data, and refuses anything but
the exact layout (an extension header included: a tar library would read its data whole).
"""

from __future__ import annotations

import tarfile
import time
from dataclasses import dataclass
from typing import BinaryIO

from ..errors import IntegrityError
from ..i18n import N_, _

PAYLOAD, MANIFEST, SIGNATURE = "payload.age", "manifest.json", "manifest.sig"
MEMBERS = (PAYLOAD, MANIFEST, SIGNATURE)
BLOCK = 512
MAX_PAYLOAD = 8**11 - 1  # the ustar size field: 11 octal digits
MAX_TAIL = 20 * 512  # one tar record: tools may pad the end-of-archive to it
MAX_SMALL = 1 << 20  # manifest and signature


class PackageError(IntegrityError):
    """A package that is malformed, tampered with, or not for this workspace. Exit code 3."""

    code = "package"


def _header(name: str, size: int, mtime: int) -> bytes:
    info = tarfile.TarInfo(name)
    info.size = size
    info.mode = 0o600
    info.mtime = mtime
    info.type = tarfile.REGTYPE
    return info.tobuf(format=tarfile.USTAR_FORMAT)


def _pad(size: int) -> bytes:
    return b"\0" * (-size % BLOCK)


class PackageWriter:
    """Writes a package to a seekable binary file."""

    def __init__(self, out: BinaryIO) -> None:
        self._out = out
        self._mtime = int(time.time())
        self._payload_at: int | None = None

    def begin_payload(self) -> BinaryIO:
        """Reserve the payload's header; the caller then writes the payload to the file."""
        self._payload_at = self._out.tell()
        self._out.write(_header(PAYLOAD, 0, self._mtime))
        return self._out

    def end_payload(self, size: int) -> None:
        if self._payload_at is None:
            raise RuntimeError("begin_payload was not called")
        if size > MAX_PAYLOAD:
            raise PackageError(_("the payload exceeds the 8 GiB a package can hold"))
        self._out.write(_pad(size))
        end = self._out.tell()
        self._out.seek(self._payload_at)
        self._out.write(_header(PAYLOAD, size, self._mtime))
        self._out.seek(end)

    def add(self, name: str, data: bytes) -> None:
        self._out.write(_header(name, len(data), self._mtime) + data + _pad(len(data)))

    def close(self) -> None:
        self._out.write(b"\0" * (2 * BLOCK))


@dataclass(frozen=True)
class Member:
    offset: int
    size: int


NOT_TAR = N_("the package is not a valid tar archive (truncated?)")


BAD_END = N_("the package does not end as the format says (data after the end)")


def _unexpected(name: str) -> str:
    return _("unexpected member {name!r} in the package").format(name=name)


def _truncated(name: str) -> str:
    return _("the package is truncated in {name}").format(name=name)


def read_header(block: bytes) -> tuple[str, int] | None:
    """A member's name and size from its 512-byte ustar header (None: a block of zeros, the
    end of the archive). Only what a package holds is read: a plain ustar header of a regular
    file, no extension header (pax, GNU long names), whose data a reader would have to hold."""
    if len(block) != BLOCK:
        raise PackageError(_(NOT_TAR))
    if not block.strip(b"\0"):
        return None
    try:
        checksum = int(block[148:156].rstrip(b"\0 ").decode("ascii"), 8)
        size = int(block[124:136].rstrip(b"\0 ").decode("ascii") or "0", 8)
    except (UnicodeDecodeError, ValueError):
        raise PackageError(_(NOT_TAR)) from None
    if checksum != sum(block[:148]) + 8 * 32 + sum(block[156:]) or block[257:263] != b"ustar\0":
        raise PackageError(_(NOT_TAR))
    name = block[:100].rstrip(b"\0").decode("utf-8", "replace")
    if block[345:500].strip(b"\0") or name not in MEMBERS:
        raise PackageError(_unexpected(name[:100]))
    if block[156:157] not in (b"0", b"\0"):
        raise PackageError(_("{name} is not a regular file in the package").format(name=name))
    return name, size


class PackageReader:
    """The three members of a package file, checked for layout and truncation; its headers
    are read by hand, a block each, so that a crafted one costs nothing to refuse."""

    def __init__(self, file: BinaryIO, file_size: int) -> None:
        self._file = file
        members: dict[str, Member] = {}
        offset = 0
        while len(members) < len(MEMBERS) and offset + BLOCK <= file_size:
            file.seek(offset)
            header = read_header(file.read(BLOCK))
            if header is None:
                break
            name, size = header
            if name in members:
                raise PackageError(_unexpected(name))
            if name != MEMBERS[len(members)]:
                raise PackageError(
                    _(
                        "{name} is out of order in the package: "
                        "the members are {members}, in this order"
                    ).format(name=name, members=", ".join(MEMBERS))
                )
            members[name] = Member(offset + BLOCK, size)
            offset += BLOCK + size + len(_pad(size))
        if not members and file_size < BLOCK:
            raise PackageError(_(NOT_TAR))
        missing = [name for name in MEMBERS if name not in members]
        if missing:
            raise PackageError(
                _("the package lacks {members} (truncated?)").format(members=", ".join(missing))
            )
        for name, member in members.items():
            if member.offset + member.size > file_size:
                raise PackageError(_truncated(name))
        for name in (MANIFEST, SIGNATURE):
            if members[name].size > MAX_SMALL:
                raise PackageError(_("{name} is too large").format(name=name))
        last = members[MEMBERS[-1]]
        self._check_end(last.offset + last.size + len(_pad(last.size)), file_size)
        self.members = members

    def _check_end(self, end: int, file_size: int) -> None:
        """After the last member: the end-of-archive blocks of zeros, and nothing else (a tar
        reader would ignore what follows; a package carries nothing unsigned)."""
        tail = file_size - end
        if tail < 2 * BLOCK or tail > MAX_TAIL:
            raise PackageError(_(BAD_END))
        self._file.seek(end)
        if self._file.read(tail).strip(b"\0"):
            raise PackageError(_(BAD_END))

    def read(self, name: str) -> bytes:
        member = self.members[name]
        self._file.seek(member.offset)
        data = self._file.read(member.size)
        if len(data) != member.size:
            raise PackageError(_truncated(name))
        return data

    @property
    def payload(self) -> Member:
        return self.members[PAYLOAD]
