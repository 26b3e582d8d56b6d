"""``ctg-exchange member``."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ..domain.states import Role
from ..i18n import _, pgettext, short_date
from ..labels import label
from ..notify import PREFERENCES
from . import complete
from .common import (
    common_options,
    emit_json,
    is_dash,
    one_on_stdout,
    options,
    say,
    table,
    write_output,
)
from .listing import DATE
from .texts import text_option

if TYPE_CHECKING:
    from ..domain.models import Member


def member_json(member: Member) -> dict[str, Any]:
    return {
        "id": member.id,
        "name": member.name,
        "party": member.party,
        "roles": [role.value for role in member.roles],
        "status": "active" if member.active else "revoked",
        "fingerprint": member.fingerprint,
        "public_key": member.public_key,
        "added_by": member.added_by,
        "added_at": member.added_at,
        "revoked_at": member.revoked_at,
        "revoked_by": member.revoked_by,
        "until": None if member.until is None else member.until.isoformat(),
    }


def _listed_json(member: dict[str, Any]) -> dict[str, Any]:
    """:func:`member_json` of a member as stored (:func:`..services.reading.members`)."""
    status = "active" if member["revoked_at"] is None else "revoked"
    keys = ("fingerprint", "public_key", "added_by", "added_at", "revoked_at", "revoked_by",
            "until")  # fmt: skip
    return {
        **{key: member[key] for key in ("id", "name", "party", "roles")},
        "status": status,
        **{key: member[key] for key in keys},
    }


@click.group()
def member() -> None:
    """Add, list and revoke the members of the workspace (admins of each party)."""


@member.command()
@click.argument("member_id", metavar="ID")
@click.option("--name", required=True, help="The member's name.")
@click.option(
    "--party",
    required=True,
    help="The member's party (ville_sceaux, caf92).",
    shell_complete=complete.parties,
)
@click.option(
    "--role",
    "roles",
    required=True,
    multiple=True,
    type=click.Choice([r.value for r in Role]),
    help="A role; repeat for several.",
)
@click.option(
    "--public-key",
    type=click.Path(path_type=Path, dir_okay=False),
    help="The member's OpenSSH public key (default: ID.pub in the key directory).",
)
@click.option(
    "--until",
    type=DATE,
    metavar="YYYY-MM-DD",
    help="The last day the member may act or read (an auditor for a limited period).",
)
@click.option("--email", metavar="ADDRESS", help="Where the member is told what waits on them.")
@click.option(
    "--notify",
    type=click.Choice(PREFERENCES),
    help="With --email: an e-mail at each step (immediate, the default), a daily digest, none.",
)
@common_options
def add(
    member_id: str,
    name: str,
    party: str,
    roles: tuple[str, ...],
    public_key: Path | None,
    until: datetime | None,
    email: str | None,
    notify: str | None,
) -> None:
    """Register a member and their public key (an admin of the member's party).

    Any admin may add the first admin of a party that never had one. An auditor (--role
    auditor, and no other role) reads and verifies everything a member of its party reads,
    and takes no step; after --until, it can no longer even read. With --email, the
    member's address is set as `member set` does (a second signed step, taken with the
    addition or not at all: only an admin of the member's own party sets it).

    \b
    Example:
      ctg-exchange --as v.admin member add v.agent --name "Agent Exemple" \\
          --party ville_sceaux --role staff --public-key v.agent.pub
    """
    from ..crypto.keys import read_public_key
    from ..services.contacts import check_contact
    from ..services.members import add_member_key

    opts = options()
    if email is not None or notify is not None:
        if email is None:
            raise click.UsageError(_("--notify goes with --email"))
        check_contact(email, False, notify)  # a bad address refuses before anything is read
    key = read_public_key(public_key or opts.keys().public_path(member_id))
    roles_given = [Role(r) for r in roles]
    term = None if until is None else until.date()
    session = opts.session()
    added = add_member_key(
        session, member_id, name, party, roles_given, key.openssh, term, email, notify
    )
    if opts.json:
        emit_json(member_json(added))
        return
    say(
        "[green]✓[/] "
        + _("{id} added to {party} as {roles} (key {fingerprint})").format(
            id=added.id,
            party=added.party,
            roles=", ".join(label("role", r) for r in added.roles),
            fingerprint=added.fingerprint,
        )
    )


@member.command(name="list")
@common_options
def list_() -> None:
    """List members: party, roles, status, key fingerprint, and who added them.

    \b
    Example:
      ctg-exchange member list
    """
    from ..services.reading import members
    from .markup import shown

    opts = options()
    found = members(opts.reader())
    if opts.json:
        emit_json([_listed_json(m) for m in found])
        return
    out = table(
        _("Members"),
        pgettext("member", "id"),
        _("party"),
        _("roles"),
        _("status"),
        _("added by"),
        _("name"),
        wrap=_("name"),
    )
    for m in found:
        status = (
            pgettext("member", "active")
            if m["revoked_at"] is None
            else "[red]"
            + pgettext("member", "revoked {date}").format(date=short_date(m["revoked_at"][:10]))
            + "[/]"
        )
        roles = ", ".join(label("role", r) for r in m["roles"])
        if m["until"] is not None:
            roles += " " + pgettext("member", "(until {date})").format(date=short_date(m["until"]))
        out.add_row(m["id"], m["party"], roles, status, m["added_by"], shown(m["name"]))
    out.print()


@member.command()
@click.argument("member_id", metavar="ID", shell_complete=complete.members)
@text_option("--reason", required=True, help="Why the member is revoked.")
@click.option(
    "--successor",
    metavar="MEMBER",
    shell_complete=complete.members,
    help="Hand the member's open requests and pending deletions over to this member.",
)
@common_options
def revoke(member_id: str, reason: str, successor: str | None) -> None:
    """Revoke a member (an admin of the same party). A revoked member can do nothing.

    Their past signatures stay verifiable. The last active admin of a party cannot be revoked.
    With --successor, the open requests the member follows (and the files they received and
    have not deleted) are handed over to the successor in the same signed step.

    \b
    Example:
      ctg-exchange --as v.admin member revoke v.agent --reason "A quitté le service"
    """
    from ..services.members import revoke_member

    opts = options()
    revoked = revoke_member(opts.session(), member_id, reason, successor)
    if opts.json:
        emit_json(member_json(revoked))
        return
    say("[green]✓[/] " + _("{id} revoked").format(id=revoked.id))


@member.command(name="set")
@click.argument("member_id", metavar="ID", shell_complete=complete.members)
@click.option("--email", metavar="ADDRESS", help="The member's e-mail address.")
@click.option("--no-email", "remove_email", is_flag=True, help="Remove the member's address.")
@click.option(
    "--notify",
    type=click.Choice(PREFERENCES),
    help="An e-mail at each step that waits on them, a daily digest, or none.",
)
@common_options
def set_(member_id: str, email: str | None, remove_email: bool, notify: str | None) -> None:
    """Set a member's e-mail address and notification preference (an admin of their party).

    A signed step: the log records that the address was set, changed or removed, and the
    preference, never the address itself.

    \b
    Example:
      ctg-exchange --as v.admin member set v.dpo --email dpo@ville.example --notify digest
    """
    from ..services.contacts import set_contact

    opts = options()
    changed = set_contact(
        opts.session(), member_id, email=email, remove_email=remove_email, notify=notify
    )
    if opts.json:
        said = "removed" if remove_email else "kept" if email is None else "set"
        emit_json({"member": changed.id, "email": said, "notify": notify})
        return
    say("[green]✓[/] " + _("{id}: contact updated").format(id=changed.id))


@member.command(name="allowed-signers")
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write to this file instead of stdout (-: stdout).",
)
@common_options
def allowed_signers(out: Path | None) -> None:
    """Print an OpenSSH allowed_signers file so ssh-keygen can check any signature.

    \b
    Example:
      ctg-exchange member allowed-signers --out allowed_signers
      ssh-keygen -Y verify -f allowed_signers -I v.agent \\
          -n ctg-exchange/event@v1 -s event.sig < event.bin
    """
    from ..services.members import allowed_signers as build

    opts = options()
    one_on_stdout(("--out", out))
    text = build(opts.reading_workspace())
    if out is not None and not is_dash(out):
        write_output(out, text.encode())
        say("[green]✓[/] " + _("allowed signers written to {path}").format(path=out))
    elif opts.json:
        emit_json({"allowed_signers": text})
    else:
        click.echo(text, nl=False)
