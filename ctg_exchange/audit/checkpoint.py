"""Signed checkpoints of the audit log (docs/audit-format.md §6).

A checkpoint is a C2SP ``tlog-checkpoint``: a signed note whose text is the log's origin, its tree
size and the base64 root of the RFC 9162 tree over the first ``size`` events::

    ctg-exchange/4f0c…-…
    24
    q2V0Y…=

    — c.dpo AbCdEf…
    — v.dpo GhIjKl…

Each signature line is ``— <member id> base64(key ID ‖ SSHSIG)``: the member's SSHSIG of the note
text under the namespace ``ctg-exchange/checkpoint@v1``, so ``ssh-keygen -Y verify`` checks it.
The key ID follows the signed-note recommendation with the ``0xff`` signature type and the
identifier ``ctg-exchange/sshsig@v1``. A second party's signature on the same note is a
*cosignature*: neither party can then rewrite the log up to that size unseen.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass, field

from ..crypto import sshsig
from ..errors import InvalidInput
from ..i18n import _

ORIGIN_PREFIX = "ctg-exchange/"
SIGNATURE_TYPE = b"\xffctg-exchange/sshsig@v1"
EM_DASH = "\u2014"
MAX_SIGNATURES = 32

CHECKPOINT_EVERY = 1000  # events; sends, receptions, deletions and exports checkpoint too


def origin_of(log_id: str) -> str:
    return ORIGIN_PREFIX + log_id


def note_text(origin: str, size: int, root: bytes) -> str:
    return f"{origin}\n{size}\n{base64.b64encode(root).decode('ascii')}\n"


def key_id(name: str, key_blob: bytes) -> bytes:
    return hashlib.sha256(name.encode("utf-8") + b"\n" + SIGNATURE_TYPE + key_blob).digest()[:4]


def signature_line(name: str, key_blob: bytes, armored: str) -> str:
    encoded = base64.b64encode(key_id(name, key_blob) + sshsig.dearmor(armored)).decode("ascii")
    return f"{EM_DASH} {name} {encoded}\n"


@dataclass(frozen=True)
class NoteSignature:
    name: str
    key_id: bytes
    blob: bytes  # the binary SSHSIG

    @property
    def armored(self) -> str:
        return sshsig.armor(self.blob)


@dataclass(frozen=True)
class Checkpoint:
    """A parsed checkpoint note: what it commits to, and who signed it."""

    text: str
    origin: str
    size: int
    root: bytes
    signatures: tuple[NoteSignature, ...] = field(default=())

    @property
    def root_hex(self) -> str:
        return self.root.hex()

    def note(self, lines: list[str]) -> str:
        return self.text + "\n" + "".join(lines)


def parse_text(text: str) -> Checkpoint:
    """The checkpoint a note text states; InvalidInput when it is not one."""
    lines = text.split("\n")
    if len(lines) < 4 or lines[-1] != "" or any(not line for line in lines[:-1]):
        raise InvalidInput(_("not a checkpoint: expected origin, tree size and root hash lines"))
    origin, size_text, root_text = lines[0], lines[1], lines[2]
    if not size_text.isdigit() or (size_text.startswith("0") and size_text != "0"):
        raise InvalidInput(_("not a checkpoint: bad tree size {size!r}").format(size=size_text))
    try:
        root = base64.b64decode(root_text, validate=True)
    except (binascii.Error, ValueError):
        root = b""
    if len(root) != 32:
        raise InvalidInput(_("not a checkpoint: the root hash is not 32 bytes of base64"))
    return Checkpoint(text=text, origin=origin, size=int(size_text), root=root)


_CONTROL = re.compile("[\x00-\x09\x0b-\x1f]")  # any control character but a line feed


def parse_note(note: str) -> Checkpoint:
    """A signed checkpoint note, split into its text and signature lines (not yet verified)."""
    if _CONTROL.search(note):
        raise InvalidInput(_("not a signed note: it holds control characters"))
    split = note.rfind("\n\n")
    if split < 0:
        raise InvalidInput(_("not a signed note: no blank line before the signatures"))
    text, signature_block = note[: split + 1], note[split + 2 :]
    signature_lines = signature_block.split("\n")
    if signature_lines[-1] != "":
        raise InvalidInput(_("not a signed note: it must end with a newline"))
    signatures = []
    for line in signature_lines[:-1]:
        parts = line.split(" ")
        if len(parts) != 3 or parts[0] != EM_DASH or not parts[1] or "+" in parts[1]:
            raise InvalidInput(_("not a signed note: malformed signature line"))
        try:
            raw = base64.b64decode(parts[2], validate=True)
        except (binascii.Error, ValueError):
            raise InvalidInput(_("not a signed note: a signature is not base64")) from None
        if len(raw) < 5:
            raise InvalidInput(_("not a signed note: a signature is too short"))
        signatures.append(NoteSignature(name=parts[1], key_id=raw[:4], blob=raw[4:]))
    if not signatures:
        raise InvalidInput(_("not a signed note: no signature"))
    if len(signatures) > MAX_SIGNATURES:
        raise InvalidInput(
            _("not a signed note: more than {count} signatures").format(count=MAX_SIGNATURES)
        )
    parsed = parse_text(text)
    return Checkpoint(
        text=text,
        origin=parsed.origin,
        size=parsed.size,
        root=parsed.root,
        signatures=tuple(signatures),
    )


@dataclass(frozen=True)
class CheckpointSigner:
    """One signature on a stored checkpoint, with who made it and when (not part of the note)."""

    signer: str
    party: str
    role: str
    signed_at: str
    cosign: bool
    line: str  # the note's signature line, newline included


@dataclass(frozen=True)
class StoredCheckpoint:
    id: int
    size: int
    root_hex: str
    text: str
    created_at: str
    signers: tuple[CheckpointSigner, ...] = ()

    @property
    def note(self) -> str:
        """The signed note, as any signed-note reader takes it."""
        return self.text + "\n" + "".join(s.line for s in self.signers)

    @property
    def parties(self) -> list[str]:
        return list(dict.fromkeys(s.party for s in self.signers))
