"""``ctg-exchange remind``."""

from __future__ import annotations

import click

from ..i18n import _, ngettext, short_date
from . import complete
from .common import common_options, emit_json, options, say, table


@click.command()
@click.option(
    "--member", "member_id", metavar="ID", shell_complete=complete.members,
    help="Only this member.",
)  # fmt: skip
@click.option(
    "--send",
    is_flag=True,
    help="E-mail each member their digest (once a day at most) and retry waiting messages.",
)
@common_options
def remind(member_id: str | None, send: bool) -> None:
    """What waits on each member: requests to study or decide, opinions due, conditions to
    accept, deliveries due, files to delete, the convention's end, changes to countersign.

    Meant for cron or a systemd timer (every working day at 7:30: `30 7 * * 1-5`). It reads
    only and needs no passphrase; with --send it records the digests sent, one per member and
    day at most (a second run the same day sends nothing), and no audit event.

    \b
    Example:
      ctg-exchange --workspace /srv/ctg remind --send
    """
    from ..services.reminders import KINDS, reminders, send_digests
    from .notify_cmd import Undelivered, local_workspace

    opts = options()
    workspace = local_workspace()
    clock = workspace.clock()
    found = [m for m in reminders(workspace, clock, member_id) if m.items or m.queued]
    sent = None
    if send:
        from ..notify.outbox import deliver_quietly

        deliver_quietly(workspace)  # the step notifications a failure left waiting
        sent = send_digests(workspace, clock, member_id)
    if opts.json:
        document: dict[str, object] = {
            "day": clock.today().isoformat(),
            "members": [m.to_json() for m in found],
        }
        if sent is not None:
            document["sent"] = {"sent": sent.sent, "already": sent.already, "failed": sent.failed}
        emit_json(document)
        return
    for mine in found:
        out = table(
            _("{member} ({party})").format(member=mine.member, party=mine.party),
            _("what"), _("subject"), _("due"),
        )  # fmt: skip
        for item in mine.items:
            due = "" if item.due is None else short_date(item.due)
            if item.overdue:
                due = "[red]" + _("{date}, overdue").format(date=due) + "[/]"
            out.add_row(_(KINDS[item.kind]), item.subject, due)
        out.print()
    if not found:
        say(_("Nothing waits on anyone."))
    if sent is not None:
        say(
            ngettext("{count} digest sent", "{count} digests sent", len(sent.sent)).format(
                count=len(sent.sent)
            )
            + (
                " — " + _("already sent today: {members}").format(members=", ".join(sent.already))
                if sent.already
                else ""
            )
        )
        for member, error in sorted(sent.failed.items()):
            say(
                "[red]"
                + _("{member}: not sent ({error})").format(member=member, error=error)
                + "[/]"
            )
    if sent is not None and sent.failed:
        raise Undelivered(
            ngettext(
                "{count} digest could not be sent: the next run sends it",
                "{count} digests could not be sent: the next run sends them",
                len(sent.failed),
            ).format(count=len(sent.failed))
        )
