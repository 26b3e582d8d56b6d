"""The packages a hosted workspace keeps (DESIGN §11), under ``<workspace>/packages/``.

An upload is written to ``packages/.incoming/<token>.part`` as it arrives. Once whole, its
digest the one its sender signed and its layout a package's (:class:`PackageReader`), it becomes
``<token>.ctgx`` beside ``<token>.json`` (who sent it, the payload's hash and size, the manifest
and its signature). The delivery's commit publishes it as ``packages/<request>-<n>.ctgx``; only
published packages are ever served. What stays under ``.incoming`` longer than :data:`STALE` (an
upload cut off, or never committed) is removed by the next upload: an interrupted upload leaves
nothing anyone can see.

The server never holds a key that opens a package: they arrive and leave encrypted.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from ..errors import InvalidInput, NotFound
from ..fsutil import fsync_dir, write_atomic
from ..i18n import _
from .container import MANIFEST, SIGNATURE, PackageReader
from .manifest import PackageError

PACKAGES, INCOMING = "packages", ".incoming"
STALE = 3600.0  # seconds an upload may wait for its delivery's commit
_TOKEN = re.compile(r"[0-9a-f]{32}")
_REQUEST = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,63}")


@dataclass(frozen=True)
class Package:
    """What a delivery is recorded from: the manifest as shipped, its signature, and the
    payload as found in the package (hashed by whoever holds the file)."""

    manifest: bytes
    signature: str
    payload_sha256: str
    payload_size: int


def read_package(path: Path, payload_sha256: str) -> Package:
    """The manifest and signature of the package at ``path`` (layout checked), with the
    payload's hash the caller computed."""
    with open(path, "rb") as handle:
        reader = PackageReader(handle, os.fstat(handle.fileno()).st_size)
        manifest = reader.read(MANIFEST)
        try:
            signature = reader.read(SIGNATURE).decode("ascii")
        except UnicodeDecodeError:
            raise PackageError(_("the package's signature is not an armored SSHSIG")) from None
        return Package(manifest, signature, payload_sha256, reader.payload.size)


class Kept:
    """The packages directory of the workspace at ``root``."""

    def __init__(self, root: Path) -> None:
        self.dir = root / PACKAGES
        self.incoming = self.dir / INCOMING

    def ensure(self) -> None:
        for directory in (self.dir, self.incoming):
            directory.mkdir(mode=0o700, exist_ok=True)
            os.chmod(directory, 0o700)

    def new_part(self) -> tuple[str, Path]:
        """A new upload's token and the file it is written to (created ``0600``)."""
        self.ensure()
        token = secrets.token_hex(16)
        part = self.incoming / f"{token}.part"
        os.close(os.open(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600))
        return token, part

    def stage(self, token: str, member: str, payload_sha256: str) -> Package:
        """The whole upload ``token``, checked to be a package, kept for its commit."""
        part = self.incoming / f"{token}.part"
        package = read_package(part, payload_sha256)
        meta = {
            "member": member,
            "payload_sha256": package.payload_sha256,
            "payload_size": package.payload_size,
            "manifest": base64.b64encode(package.manifest).decode("ascii"),
            "signature": package.signature,
        }
        write_atomic(self.incoming / f"{token}.json", json.dumps(meta).encode(), mode=0o600)
        os.rename(part, self.incoming / f"{token}.ctgx")
        fsync_dir(self.incoming)
        return package

    def staged(self, token: str, member: str) -> Package:
        """The package ``member`` uploaded as ``token``, waiting for its delivery's commit."""
        if not _TOKEN.fullmatch(token):
            raise InvalidInput(_("an upload is named by the 32 hexadecimal digits it was given"))
        try:
            meta = json.loads((self.incoming / f"{token}.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            meta = None
        if not isinstance(meta, dict) or meta.get("member") != member:
            raise NotFound(
                _("no upload {token} of yours is waiting (uploads wait an hour)").format(
                    token=token
                )
            )
        return Package(
            base64.b64decode(meta["manifest"]),
            str(meta["signature"]),
            str(meta["payload_sha256"]),
            int(meta["payload_size"]),
        )

    def publish(self, token: str, request_id: str, number: int) -> None:
        """Make the upload the package of ``request_id``'s delivery ``number``; the staged
        names go. Called by the delivery's commit, which has made sure that no delivery of that
        number is recorded: a file already there was left by a commit that failed."""
        target = self.path_of(request_id, number)
        linked = target.with_name(f".{target.name}.{secrets.token_hex(6)}")
        os.link(self.incoming / f"{token}.ctgx", linked)
        os.replace(linked, target)
        fsync_dir(self.dir)
        self.forget(token)

    def forget(self, token: str) -> None:
        for suffix in (".ctgx", ".json", ".part"):
            (self.incoming / f"{token}{suffix}").unlink(missing_ok=True)

    def discard(self, request_id: str, number: int) -> None:
        """Delete a delivery's package (its retention ended, or its deletion was attested)."""
        self.path_of(request_id, number).unlink(missing_ok=True)

    def waiting(self, member: str) -> int:
        """How many uploads of ``member`` wait for their delivery's commit."""
        count = 0
        for path in self.incoming.glob("*.json") if self.incoming.is_dir() else ():
            with contextlib.suppress(OSError, ValueError):
                count += json.loads(path.read_text(encoding="utf-8")).get("member") == member
        return count

    def path_of(self, request_id: str, number: int) -> Path:
        if not _REQUEST.fullmatch(request_id) or number < 1:
            raise NotFound(
                _("no delivery {delivery}").format(delivery=f"{request_id[:80]!r}-{number}")
            )
        return self.dir / f"{request_id}-{number}.ctgx"

    def sweep(self, older_than: float = STALE) -> list[str]:
        """Remove uploads left waiting longer than ``older_than`` seconds; their names."""
        if not self.incoming.is_dir():
            return []
        swept, limit = [], time.time() - older_than
        for path in self.incoming.iterdir():
            with contextlib.suppress(OSError):
                if path.lstat().st_mtime < limit:
                    path.unlink()
                    swept.append(path.name)
        return swept
