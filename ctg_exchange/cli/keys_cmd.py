"""``ctg-exchange keys``."""

from __future__ import annotations

from pathlib import Path

import click

from ..i18n import _, pgettext, short_date
from . import complete
from .common import common_options, emit_json, options, say, table
from .texts import text_option


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


# -- issue 19: key rotation ------------------------------------------------------------------
@keys.command()
@click.option(
    "--member",
    "member_id",
    metavar="ID",
    help="Replace this member's signing key.",
    shell_complete=complete.members,
)
@click.option("--lost", is_flag=True, help="With --member: the key is lost or compromised (admin).")
@text_option(
    "--reason",
    help="With --lost: why the key is replaced (kept in the workspace, its digest in the log; "
    "no personal data).",
)
@click.option(
    "--public-key",
    type=click.Path(path_type=Path, dir_okay=False),
    help="With --lost: the member's new public key (default: ID.pub in the key directory).",
)
@click.option(
    "--party",
    metavar="PARTY",
    help="With --encryption: the party whose decryption identity is replaced.",
    shell_complete=complete.parties,
)
@click.option("--encryption", is_flag=True, help="Replace a party's decryption identity (admin).")
@click.option(
    "--replaces",
    metavar="age1…",
    help="With --encryption: the recipient to retire, when the party has several.",
)
@common_options
def rotate(
    member_id: str | None,
    lost: bool,
    reason: str | None,
    public_key: Path | None,
    party: str | None,
    encryption: bool,
    replaces: str | None,
) -> None:
    """Replace a member's signing key, or a party's decryption identity.

    --member ID (run by the member, --as ID): makes a new key pair, proves it with a
    signature, and registers it by an event signed with the current key. The new key then
    signs everything; events signed before keep verifying under the old one, which is kept as
    ID~retired-DATE in the key directory and signs nothing more. The new passphrase is asked
    twice (or read from CTG_PASSPHRASE).

    --member ID --lost --reason TEXT (an admin of the member's party): the member made a new
    key on their machine (`keys generate --member ID`) and gave you its public half
    (--public-key, default ID.pub in your key directory); your key signs the change.

    --party P --encryption (an admin of P): makes a new decryption identity, as
    `keys generate --party P --encryption` does, and retires the current one: new packages
    go to the new recipient; the old identity still opens the packages sent to it.

    \b
    Example:
      ctg-exchange --as v.agent keys rotate --member v.agent
      ctg-exchange --as v.admin keys rotate --member v.agent --lost \\
          --reason "Poste volé" --public-key v.agent.pub
      ctg-exchange --as v.admin keys rotate --party ville_sceaux --encryption
    """
    from ..errors import InvalidInput

    if encryption:
        if not party or member_id or lost or reason or public_key:
            raise InvalidInput(_("--encryption replaces a party's key: give --party, not --member"))
        _party_key(party, _replaced(party, replaces))
    elif member_id and not party and not replaces:
        _member_rotation(member_id, lost, reason, public_key)
    else:
        raise InvalidInput(_("give --member ID, or --party P --encryption"))


def _replaced(party: str, replaces: str | None) -> str:
    """The recipient a party's rotation retires: its only active one, or the one named."""
    from ..errors import InvalidInput
    from ..services.party_keys import list_recipients

    active = [r.recipient for r in list_recipients(options().reading_workspace())
              if r.party == party and r.active]  # fmt: skip
    if replaces is not None:
        return replaces  # checked with the registration, in its transaction
    if len(active) == 1:
        return active[0]
    if not active:
        raise InvalidInput(
            _("{party} has no decryption identity to replace").format(party=party),
            hint=_("make one with `keys generate --party {party} --encryption`").format(
                party=party
            ),
        )
    raise InvalidInput(
        _("{party} has {count} active recipients: name the one to retire with --replaces").format(
            party=party, count=len(active)
        )
    )


def _member_rotation(
    member_id: str, lost: bool, reason: str | None, public_key: Path | None
) -> None:
    from ..errors import InvalidInput
    from ..services.key_rotation import replace_lost_key, rotate_own_key

    opts = options()
    if not lost:
        if reason or public_key:
            raise InvalidInput(_("--reason and --public-key go with --lost"))
        rotated = rotate_own_key(opts.session(), member_id)
    else:
        key_file = public_key or opts.keys().public_path(member_id)
        rotated = replace_lost_key(opts.session(), member_id, key_file, reason or "")
    member = rotated.member
    if opts.json:
        emit_json(
            {
                "member": member.id,
                "public_key": member.public_key,
                "fingerprint": member.fingerprint,
                "lost": lost,
                "private_key_file": _path(rotated.private_key_file),
                "retired_key_file": _path(rotated.retired_key_file),
            }
        )
        return
    say(
        "[green]✓[/] "
        + _("{member}'s signing key replaced: it is now {fingerprint}").format(
            member=member.id, fingerprint=member.fingerprint
        )
    )
    if rotated.retired_key_file is not None:
        say(
            _(
                "The old key is kept as {path}: it signs nothing more; delete it when you wish."
            ).format(path=rotated.retired_key_file)
        )


def _path(path: Path | None) -> str | None:
    return None if path is None else str(path)


@keys.command(name="list")
@click.option(
    "--member",
    "member_id",
    metavar="ID",
    help="List this member's signing keys and when each was theirs, instead.",
    shell_complete=complete.members,
)
@common_options
def list_(member_id: str | None) -> None:
    """List the parties' encryption recipients (active ones receive new packages), or a
    member's signing keys (--member ID).

    \b
    Example:
      ctg-exchange keys list
      ctg-exchange keys list --member v.agent
    """
    from ..services.party_keys import list_recipients

    opts = options()
    if member_id is not None:
        _member_keys(member_id)
        return
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


def _member_keys(member_id: str) -> None:
    from ..services.key_rotation import key_spans
    from .markup import shown

    opts = options()
    spans = key_spans(opts.reading_workspace(), member_id)
    if opts.json:
        emit_json([{**span.__dict__} for span in spans])
        return
    out = table(
        _("Signing keys of {member}").format(member=member_id),
        _("fingerprint"),
        _("from"),
        _("until"),
        _("retired by"),
        _("reason"),
        wrap=_("reason"),
    )
    for span in spans:
        since = short_date(span.since[:10]) + (
            "" if span.since_seq is None else f" (#{span.since_seq})"
        )
        if span.until is None:
            until = "[green]" + pgettext("key", "current") + "[/]"
        else:
            until = short_date(span.until[:10]) + f" (#{span.until_seq})"
            if span.lost:
                until += " " + pgettext("key", "lost")
        reason = "" if span.reason is None else shown(span.reason)
        out.add_row(span.fingerprint, since, until, span.retired_by or "", reason)
    out.print()
