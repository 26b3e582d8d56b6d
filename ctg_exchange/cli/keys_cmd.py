"""``ctg-exchange keys``."""

from __future__ import annotations

import click

from ..i18n import _, pgettext, short_date
from . import complete
from .common import common_options, emit_json, options, say, table


@click.group()
def keys() -> None:
    """Members' signing keys and parties' decryption keys."""


@keys.command()
@click.option("--member", "member_id", metavar="ID", help="Make a member's signing key pair.")
@click.option(
    "--party",
    metavar="PARTY",
    help="With --encryption: the party whose key it is.",
    shell_complete=complete.parties,
)
@click.option(
    "--encryption",
    is_flag=True,
    help="Make a party's decryption identity (age X25519) and register it (admin).",
)
@click.option(
    "--replaces",
    metavar="age1…",
    help="With --encryption: retire this recipient (it still opens old packages).",
)
@common_options
def generate(
    member_id: str | None, party: str | None, encryption: bool, replaces: str | None
) -> None:
    """Make a member's signing key, or a party's decryption identity.

    --member ID writes ID (private, 0600, bcrypt-pbkdf encrypted) and ID.pub into the key
    directory and prints the public key: give it to your party's admin, who registers it with
    `member add`. The passphrase is asked twice (or read from CTG_PASSPHRASE).

    --party P --encryption (an admin of P) writes P.age1….age, an age identity encrypted to a
    passphrase of its own (CTG_IDENTITY_PASSPHRASE, else asked; never your key's), and
    registers its recipient: packages for P are encrypted to it. Give the file to P's agents
    who receive data; `age -d` recovers it in an emergency.

    \b
    Example:
      ctg-exchange keys generate --member v.agent
      ctg-exchange --as v.admin keys generate --party ville_sceaux --encryption
    """
    from ..errors import InvalidInput

    if encryption:
        if not party or member_id:
            raise InvalidInput(_("--encryption makes a party's key: give --party, not --member"))
        _party_key(party, replaces)
    elif member_id and not party and not replaces:
        _member_key(member_id)
    else:
        raise InvalidInput(_("give --member ID, or --party P --encryption"))


def _member_key(member_id: str) -> None:
    from ..crypto.keys import check_name
    from .common import ask_passphrase

    opts = options()
    key_dir = opts.keys()
    check_name(member_id)
    passphrase = ask_passphrase(
        _("New passphrase for {member}'s key").format(member=member_id), confirm=True
    )
    public = key_dir.generate(member_id, passphrase)
    if opts.json:
        emit_json(
            {
                "member": member_id,
                "public_key": public.openssh,
                "fingerprint": public.fingerprint,
                "private_key_file": str(key_dir.private_path(member_id)),
                "public_key_file": str(key_dir.public_path(member_id)),
            }
        )
        return
    say(
        "[green]✓[/] "
        + _("Key pair written to {path} (+ .pub)").format(path=key_dir.private_path(member_id))
    )
    click.echo(f"{public.openssh} {member_id}")
    say(_("Fingerprint: {fingerprint}").format(fingerprint=public.fingerprint))


def _party_key(party: str, replaces: str | None) -> None:
    from ..services.party_keys import generate_encryption_key, identity_file

    opts = options()
    session = opts.session()
    added = generate_encryption_key(session, party, replaces)
    path = identity_file(session.keyring.key_dir, party, added.recipient)
    if opts.json:
        emit_json({**added.model_dump(mode="json"), "identity_file": str(path)})
        return
    click.echo(added.recipient)
    say(
        "[green]✓[/] "
        + _("{party}'s decryption identity written to {path} and its recipient registered").format(
            party=party, path=path
        )
        + (_("; {key} retired").format(key=replaces) if replaces else "")
    )


@keys.command(name="list")
@common_options
def list_() -> None:
    """List the parties' encryption recipients (active ones receive new packages).

    \b
    Example:
      ctg-exchange keys list
    """
    from ..services.party_keys import list_recipients

    opts = options()
    recipients = list_recipients(opts.reading_workspace())
    if opts.json:
        emit_json([r.model_dump(mode="json") for r in recipients])
        return
    out = table(
        _("Encryption recipients"),
        _("party"),
        _("status"),
        pgettext("column", "added"),
        _("by"),
        _("recipient"),
        wrap=_("recipient"),
    )
    for r in recipients:
        status = (
            pgettext("recipient", "active")
            if r.active
            else pgettext("recipient", "retired {date}").format(
                date=short_date((r.retired_at or "")[:10])
            )
        )
        out.add_row(r.party, status, short_date(r.added_at[:10]), r.added_by, r.recipient)
    out.print()
    if not recipients:
        say(_("No encryption key yet: an admin runs `keys generate --party P --encryption`."))
