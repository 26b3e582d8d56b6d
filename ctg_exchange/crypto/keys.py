"""Members' signing keys at rest (DESIGN §3).

A member's key is an OpenSSH Ed25519 key. The private file is encrypted with bcrypt-pbkdf under
the member's passphrase (OpenSSH's own format, so ``ssh-keygen`` reads it), created ``0600`` with
``O_EXCL|O_NOFOLLOW`` in a ``0700`` key directory that lives outside the workspace database. As
OpenSSH does, a private key readable by anyone else is refused. ``NAME`` is the key's file name
(the member id); ``NAME.pub`` holds the public key in ``authorized_keys`` form.
"""

from __future__ import annotations

import os
import re
import stat
import threading
from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import InvalidInput, KeyFileError, cut
from ..fsutil import ensure_private_dir, fsync_dir, write_exclusive
from ..i18n import _
from . import sshsig
from .publickey import PublicKey

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

MIN_PASSPHRASE = 8
# bcrypt-pbkdf rounds of a new key file: what ssh-keygen makes by default (its -a); a key file
# states its own rounds, so a file made with more (or fewer) opens all the same
KDF_ROUNDS = 16
_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")


def default_key_dir() -> Path:
    """``$XDG_CONFIG_HOME/ctg-exchange/keys``, else ``~/.config/ctg-exchange/keys``."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "ctg-exchange" / "keys"


class Signer:
    """A decrypted private key, held in memory only while a command runs."""

    def __init__(self, name: str, private_key: Ed25519PrivateKey, public_key: PublicKey) -> None:
        self.name = name
        self._private_key = private_key
        self.public_key = public_key

    def sign(self, namespace: str, message: bytes) -> str:
        return sshsig.sign(self._private_key, self.public_key, namespace, message)

    def ed25519_key(self) -> Ed25519PrivateKey:
        """The key itself, for HTTP message signatures (RFC 9421) of this member's calls: a
        signature base never begins with the SSHSIG magic an event signature signs."""
        return self._private_key


def check_name(name: str) -> str:
    if not _NAME.match(name):
        raise InvalidInput(
            _("invalid id {id!r}: use 1-64 lower-case letters, digits, '.', '_' or '-'").format(
                id=cut(name)
            )
        )
    return name


class KeyDir:
    """The directory holding a person's private keys (``0700``)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        # keys being opened ahead of their use (:meth:`open_ahead`), by name and passphrase
        self._ahead: dict[tuple[str, str], Future[Signer]] = {}

    def private_path(self, name: str) -> Path:
        return self.path / check_name(name)

    def public_path(self, name: str) -> Path:
        return self.path / f"{check_name(name)}.pub"

    def generate(self, name: str, passphrase: str, *, rounds: int = KDF_ROUNDS) -> PublicKey:
        """Create ``NAME`` and ``NAME.pub``; refuses to replace an existing key.

        ``rounds`` of bcrypt-pbkdf protect the file; the command line always uses the default.
        """
        return self._make(self.private_path(name), name, passphrase, rounds).public_key

    def _make(self, private_path: Path, name: str, passphrase: str, rounds: int) -> Signer:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        if len(passphrase) < MIN_PASSPHRASE:
            raise InvalidInput(
                _("the passphrase must have at least {count} characters").format(
                    count=MIN_PASSPHRASE
                )
            )
        public_path = private_path.with_name(private_path.name + ".pub")
        ensure_private_dir(self.path)
        self._check_dir()
        for path in (private_path, public_path):
            if path.exists() or path.is_symlink():
                raise KeyFileError(
                    _("a key already exists at {path}").format(path=path),
                    hint=_("use it as it is, or move it away to make a new one"),
                )
        private_key = Ed25519PrivateKey.generate()
        public = PublicKey(private_key.public_key().public_bytes_raw())
        openssh = serialization.PrivateFormat.OpenSSH
        encryption = openssh.encryption_builder().kdf_rounds(rounds).build(passphrase.encode())
        pem = private_key.private_bytes(serialization.Encoding.PEM, openssh, encryption)
        try:
            write_exclusive(private_path, pem, mode=0o600)
            write_exclusive(public_path, f"{public.openssh} {name}\n".encode(), mode=0o644)
        except FileExistsError as exc:
            raise KeyFileError(
                _("a key already exists at {path}").format(path=exc.filename or private_path)
            ) from None
        return Signer(name, private_key, public)

    # -- issue 19: a member's key replaced by a new one ---------------------------------------
    def staged_path(self, name: str) -> Path:
        """Where a rotation makes the new key before the log registers it (``~`` is in no
        member id, so no other key is ever named so)."""
        return self.path / f"{check_name(name)}~new"

    def stage(self, name: str, passphrase: str, *, rounds: int = KDF_ROUNDS) -> Signer:
        """Make ``NAME~new`` (and ``.pub``), the key a rotation registers, dropping one that a
        rotation which never reached the log left behind."""
        self.discard_staged(name)
        return self._make(self.staged_path(name), name, passphrase, rounds)

    def discard_staged(self, name: str) -> None:
        staged = self.staged_path(name)
        for path in (staged, staged.with_name(staged.name + ".pub")):
            path.unlink(missing_ok=True)

    def promote(self, name: str, stamp: str) -> Path | None:
        """The rotation is in the log: ``NAME~new`` becomes ``NAME``; the key it replaces is
        kept as ``NAME~retired-STAMP`` (it no longer signs anything: delete it when you wish).
        The retired key's path, if there was one."""
        staged, current = self.staged_path(name), self.private_path(name)
        retired, n = self.path / f"{name}~retired-{stamp}", 1
        while retired.exists() or retired.with_name(retired.name + ".pub").exists():
            n += 1  # two rotations within a second: the first one's retired key is kept too
            retired = self.path / f"{name}~retired-{stamp}-{n}"
        kept = None
        if current.exists():
            os.rename(current, retired)
            kept = retired
        pub = self.public_path(name)
        if pub.exists():
            os.rename(pub, retired.with_name(retired.name + ".pub"))
        os.rename(staged.with_name(staged.name + ".pub"), pub)
        os.rename(staged, current)
        fsync_dir(self.path)
        return kept

    def finish_rotation(self, name: str, registered: str, stamp: str) -> bool:
        """A rotation the log holds, whose files were not swapped (the command stopped between
        the two): swap them now, if the staged key is the one registered."""
        staged, current = self.staged_path(name), self.private_path(name)
        staged_public = staged.with_name(staged.name + ".pub")
        if staged.exists() and not staged_public.exists() and not current.exists():
            # stopped within promote, after the public files moved: the private key is left
            try:
                done = read_public_key(self.public_path(name)).openssh == registered
            except (KeyFileError, InvalidInput):
                return False
            if done:
                os.rename(staged, current)
                fsync_dir(self.path)
            return done
        try:
            public = read_public_key(staged_public)
        except (KeyFileError, InvalidInput):
            return False
        if public.openssh != registered or not staged.exists():
            return False
        self.promote(name, stamp)
        return True

    def read_public(self, name: str) -> PublicKey:
        return read_public_key(self.public_path(name))

    def open_ahead(self, name: str, passphrase: str) -> None:
        """Start decrypting ``NAME`` on a thread, for a later :meth:`open_signer` with the same
        passphrase to take (its errors too, raised there). bcrypt-pbkdf releases the GIL: a
        command that signs at its end unlocks its key while it imports and reads."""
        if (name, passphrase) in self._ahead or not _NAME.match(name):
            return
        opening: Future[Signer] = Future()

        def run() -> None:
            try:
                opening.set_result(self._open(name, passphrase))
            except BaseException as exc:  # raised by open_signer, where it was before
                opening.set_exception(exc)

        self._ahead[(name, passphrase)] = opening
        # not a daemon: the interpreter waits for it at exit (ending it inside the KDF's Rust
        # code aborts the process)
        threading.Thread(target=run, name="ctg-unlock-ahead").start()

    def open_signer(self, name: str, passphrase: str) -> Signer:
        """Decrypt ``NAME`` with ``passphrase``; refuses a key file others can read."""
        ahead = self._ahead.pop((name, passphrase), None)
        if ahead is not None:
            return ahead.result()
        return self._open(name, passphrase)

    def open_staged(self, name: str, passphrase: str) -> Signer:
        """Decrypt ``NAME~new``, the key a rotation made (registered or not)."""
        return self._open(name, passphrase, self.staged_path(name))

    def _open(self, name: str, passphrase: str, path: Path | None = None) -> Signer:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        path = path or self.private_path(name)
        data = read_private_file(path)
        try:
            key = serialization.load_ssh_private_key(data, passphrase.encode("utf-8"))
        except TypeError:
            raise KeyFileError(
                _("the key {path} is not encrypted").format(path=path),
                hint=_("protect it with a passphrase: ssh-keygen -p -f {path}").format(path=path),
            ) from None
        except ValueError as exc:
            if "checksum" in str(exc) or "decrypt" in str(exc).lower():
                raise KeyFileError(
                    _("wrong passphrase for the key {path}").format(path=path)
                ) from None
            raise KeyFileError(
                _("the key {path} is not an OpenSSH private key").format(path=path)
            ) from None
        if not isinstance(key, Ed25519PrivateKey):
            raise KeyFileError(_("the key {path} is not an Ed25519 key").format(path=path))
        public = PublicKey(key.public_key().public_bytes_raw())
        return Signer(name, key, public)

    def _check_dir(self) -> None:
        mode = stat.S_IMODE(self.path.stat().st_mode)
        if mode & 0o077:
            raise KeyFileError(
                _("the key directory {path} is accessible by others (mode {mode})").format(
                    path=self.path, mode=f"{mode:04o}"
                ),
                hint=f"chmod 700 {self.path}",
            )


def read_public_key(path: Path) -> PublicKey:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise KeyFileError(
            _("no public key at {path}").format(path=path),
            hint=_(
                "generate one with `ctg-exchange keys generate --member ID`, or pass --public-key"
            ),
        ) from None
    except (OSError, UnicodeDecodeError):
        raise KeyFileError(_("cannot read the public key {path}").format(path=path)) from None
    try:
        return PublicKey.parse(text)
    except InvalidInput:
        raise InvalidInput(
            _("{path} is not an OpenSSH ssh-ed25519 public key").format(path=path)
        ) from None


def read_private_file(path: Path) -> bytes:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise KeyFileError(
            _("no private key at {path}").format(path=path),
            hint=_("set --key-dir or CTG_KEY_DIR to the directory holding your key"),
        ) from None
    except OSError as exc:
        raise KeyFileError(
            _("cannot open the key {path}: {reason}").format(path=path, reason=exc.strerror)
        ) from None
    try:
        info = os.fstat(fd)
        mode = stat.S_IMODE(info.st_mode)
        if mode & 0o077:
            raise KeyFileError(
                _("permissions {mode} for the key {path} are too open").format(
                    mode=f"{mode:04o}", path=path
                ),
                hint=f"chmod 600 {path}",
            )
        if info.st_uid != os.getuid():
            raise KeyFileError(_("the key {path} belongs to another user").format(path=path))
        chunks = []
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)
