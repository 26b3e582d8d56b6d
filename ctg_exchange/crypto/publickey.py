"""An Ed25519 public key in OpenSSH's forms: the one-line text, the wire blob, the fingerprint.

Its own module, below both the key files (:mod:`.keys`) and the signatures (:mod:`.sshsig`),
which each need it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass

from ..errors import InvalidInput
from ..i18n import _
from . import sshwire

KEY_TYPE = "ssh-ed25519"


@dataclass(frozen=True)
class PublicKey:
    """An Ed25519 public key: 32 raw bytes, read and written in OpenSSH's one-line form."""

    raw: bytes

    @classmethod
    def parse(cls, text: str) -> PublicKey:
        """Parse ``ssh-ed25519 AAAA… [comment]``; anything else is ``InvalidInput``."""
        parts = text.strip().split()
        if len(parts) < 2 or parts[0] != KEY_TYPE:
            raise InvalidInput(_("not an OpenSSH ssh-ed25519 public key"))
        try:
            reader = sshwire.Reader(base64.b64decode(parts[1], validate=True))
            key_type = reader.string()
            raw = reader.string()
            complete = reader.done()
        except (binascii.Error, ValueError):
            raise InvalidInput(_("not an OpenSSH ssh-ed25519 public key")) from None
        if key_type != KEY_TYPE.encode() or len(raw) != 32 or not complete:
            raise InvalidInput(_("not an OpenSSH ssh-ed25519 public key"))
        return cls(raw)

    @property
    def blob(self) -> bytes:
        return sshwire.string(KEY_TYPE) + sshwire.string(self.raw)

    @property
    def openssh(self) -> str:
        return f"{KEY_TYPE} {base64.b64encode(self.blob).decode('ascii')}"

    @property
    def fingerprint(self) -> str:
        """As ``ssh-keygen -l`` prints it: ``SHA256:`` and unpadded base64."""
        digest = base64.b64encode(hashlib.sha256(self.blob).digest()).decode("ascii")
        return "SHA256:" + digest.rstrip("=")
