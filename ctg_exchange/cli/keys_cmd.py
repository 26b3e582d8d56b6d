"""``ctg-exchange keys``."""

from __future__ import annotations

import click

from .common import common_options, emit_json, options, say


@click.group()
def keys() -> None:
    """Generate signing keys (OpenSSH Ed25519, encrypted with your passphrase)."""


@keys.command()
@click.option("--member", "member_id", required=True, metavar="ID", help="The member's id.")
@common_options
def generate(member_id: str) -> None:
    """Write ID (private, 0600, bcrypt-pbkdf encrypted) and ID.pub into the key directory.

    The passphrase is asked twice (or read from CTG_PASSPHRASE); it must have at least 8
    characters. The public key is printed: give it (or ID.pub) to your party's admin, who
    registers it with `member add`. The private key never leaves your key directory.

    \b
    Example:
      ctg-exchange --key-dir ~/.config/ctg-exchange/keys keys generate --member v.agent
    """
    from ..crypto.keys import check_name
    from .common import ask_passphrase

    opts = options()
    key_dir = opts.keys()
    check_name(member_id)
    passphrase = ask_passphrase(f"New passphrase for {member_id}'s key", confirm=True)
    public = key_dir.generate(member_id, passphrase)
    result = {
        "member": member_id,
        "public_key": public.openssh,
        "fingerprint": public.fingerprint,
        "private_key_file": str(key_dir.private_path(member_id)),
        "public_key_file": str(key_dir.public_path(member_id)),
    }
    if opts.json:
        emit_json(result)
        return
    say(f"[green]✓[/] Key pair written to {key_dir.private_path(member_id)} (+ .pub)")
    click.echo(f"{public.openssh} {member_id}")
    say(f"Fingerprint: {public.fingerprint}")
