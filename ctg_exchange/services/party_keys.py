"""Parties' decryption keys: age X25519 identities, kept passphrase-encrypted in key directories.

The identity file is an age file encrypted to a passphrase (scrypt), whose plaintext is what
``age-keygen`` writes, so ``age -d`` recovers it in an emergency. Only its recipient (``age1…``)
enters the workspace, registered by an admin of the party, signed and audited. Rotating keeps
the old identity able to open old packages; new packages go to active recipients only.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Future
from pathlib import Path

from ..crypto.age import AgeError, Identity, NoIdentityMatched, Recipient
from ..crypto.agestream import decrypt_bytes, encrypt_bytes
from ..crypto.keys import MIN_PASSPHRASE, KeyDir, read_private_file
from ..domain.actions import Action
from ..domain.exchange import PartyRecipient
from ..domain.models import Member, Role
from ..domain.payloads import EncryptionKey
from ..domain.rules import RULE_OWN_PARTY_ADMIN, ensure_acting
from ..errors import InvalidInput, KeyFileError, NotAuthorised, cut
from ..fsutil import ensure_private_dir, write_exclusive
from ..i18n import _
from ..labels import label
from ..store.base import Tx
from .remoting import RemoteTarget, remotable
from .session import Keyring, Recorder, Session, background, perform
from .workspace import Workspace

# scrypt 2^14: 16 MiB and ~0.1 s here, so that receiving stays under 64 MiB of memory (age's
# own default, 2^18, takes 256 MiB). `age -d` opens any work factor; the file also sits, 0600,
# in a 0700 key directory. A strong passphrase matters more than the factor.
IDENTITY_LOG_N = 14


def identity_file(key_dir: KeyDir, party: str, recipient: str) -> Path:
    return key_dir.path / f"{party}.{recipient}.age"


def _identity_text(identity: Identity, created: str) -> bytes:
    return (f"# created: {created}\n# public key: {identity.recipient}\n{identity}\n").encode()


def generate_encryption_key(
    session: Session, party: str, replaces: str | None = None
) -> PartyRecipient:
    """Make a party identity in the key directory and register its recipient (admin only)."""
    keyring = session.keyring
    passphrase = keyring.identity_passphrase(
        _("New passphrase for {party}'s decryption identity").format(party=party), confirm=True
    )
    if len(passphrase) < MIN_PASSPHRASE:
        raise InvalidInput(
            _("the passphrase must have at least {count} characters").format(count=MIN_PASSPHRASE)
        )
    identity = Identity.generate()
    recipient = str(identity.recipient)
    sealed = encrypt_bytes(
        _identity_text(identity, session.clock.now()), passphrase=passphrase, log_n=IDENTITY_LOG_N
    )
    path = identity_file(keyring.key_dir, party, recipient)

    def keep() -> None:  # the file first: a registered key nobody holds would be worse
        ensure_private_dir(keyring.key_dir.path)
        write_exclusive(path, sealed, mode=0o600)

    if not isinstance(session, RemoteTarget):
        return perform(session, _registration(session, party, recipient, replaces, keep))
    keep()
    try:
        return register_recipient(session, party, recipient, replaces)
    except BaseException:
        path.unlink(missing_ok=True)
        raise


def _registration(
    session: Session,
    party: str,
    recipient: str,
    replaces: str | None,
    keep: Callable[[], None] | None,
) -> Callable[[Tx, Member, Recorder], PartyRecipient]:
    def operation(tx: Tx, actor: Member, recorder: Recorder) -> PartyRecipient:
        ensure_acting(actor)
        if session.workspace.current_policy(tx).policy.party(party) is None:
            raise InvalidInput(_("unknown party {party!r}").format(party=cut(party)))
        if not actor.has(Role.ADMIN) or actor.party != party:
            raise NotAuthorised(
                RULE_OWN_PARTY_ADMIN,
                _(
                    "only an admin of {party} makes its decryption keys: {member} is {roles} of "
                    "{own}"
                ).format(
                    party=party,
                    member=actor.id,
                    roles="/".join(label("role", role) for role in actor.roles),
                    own=actor.party,
                ),
            )
        if any(r.recipient == recipient for r in tx.recipients()):
            raise InvalidInput(_("{recipient} is already registered").format(recipient=recipient))
        active = {r.recipient for r in tx.recipients(party) if r.active}
        if replaces is not None and replaces not in active:
            raise InvalidInput(
                _("{recipient} is not an active recipient of {party}").format(
                    recipient=replaces, party=party
                )
            )
        if keep is not None and not recorder.dry_run:
            keep()
        payload = EncryptionKey(party=party, recipient=recipient, replaces=replaces)
        event = recorder.record(actor, Role.ADMIN, party, payload)
        tx.add_recipient(recipient, party, event.seq)
        if replaces is not None:
            tx.retire_recipient(replaces, event.seq)
        return next(r for r in tx.recipients(party) if r.recipient == recipient)

    return operation


@remotable(
    Action.ENCRYPTION_KEY,
    expect=lambda a: {"party": a["party"], "recipient": a["recipient"], "replaces": a["replaces"]},
)
def register_recipient(
    session: Session, party: str, recipient: str, replaces: str | None = None
) -> PartyRecipient:
    """Register a party's age recipient, whose identity the admin made on their own machine
    (a hosted workspace: the identity never leaves it)."""
    Recipient.parse(recipient)
    return perform(session, _registration(session, party, recipient, replaces, None))


def list_recipients(workspace: Workspace) -> list[PartyRecipient]:
    with workspace.store.transaction() as tx:
        return tx.recipients()


def load_identities(
    keyring: Keyring, party: str, recipients: Sequence[str], *, some: bool = False
) -> list[Identity]:
    """Open the party identities in the key directory that match ``recipients`` (``some``:
    those the passphrase opens, at least one; a replaced identity may have had another)."""
    return identities_future(keyring, party, recipients, some=some).result()


def identities_future(
    keyring: Keyring, party: str, recipients: Sequence[str], *, some: bool = False
) -> Future[list[Identity]]:
    """Find the identity files and ask the passphrase now; decrypt them in the background."""
    files = [identity_file(keyring.key_dir, party, r) for r in recipients]
    present = [f for f in files if f.exists()]
    if not present:
        raise KeyFileError(
            _("no decryption identity of {party} for this package in {path}").format(
                party=party, path=keyring.key_dir.path
            ),
            hint=_("copy the party's identity file ({file}) into your key directory").format(
                file=files[0].name
            ),
        )
    passphrase = keyring.identity_passphrase(
        _("Passphrase for {party}'s decryption identity").format(party=party)
    )
    return background(_open_identities, present, passphrase, some)


def _open_identities(present: list[Path], passphrase: str, some: bool) -> list[Identity]:
    identities, locked = [], []
    for path in present:
        try:
            text = decrypt_bytes(read_private_file(path), passphrase=passphrase).decode()
        except NoIdentityMatched:
            locked.append(
                KeyFileError(_("wrong passphrase for the identity {path}").format(path=path))
            )
            if some:
                continue
            raise locked[0] from None
        except (AgeError, UnicodeDecodeError):
            raise KeyFileError(
                _("{path} is not an age-encrypted identity").format(path=path)
            ) from None
        lines = [line for line in text.splitlines() if line.startswith("AGE-SECRET-KEY-1")]
        try:
            identity = Identity.parse(lines[0])
        except (IndexError, InvalidInput):
            raise KeyFileError(_("{path} holds no age identity").format(path=path)) from None
        if not path.name.endswith(f".{identity.recipient}.age"):
            raise KeyFileError(
                _("{path} holds the identity of another recipient").format(path=path)
            )
        identities.append(identity)
    if locked and not identities:
        raise locked[0]
    return identities
