"""``ctg-exchange remind``: for each member, what waits on them (issue 18), for cron or a
systemd timer; with ``--send``, one digest e-mail per member and day at most.

What waits, by role and party (the rules of :mod:`ctg_exchange.notify.recipients`):

- the holder's controllers: requests to study, and to decide once the DPO gave an opinion (a
  non-personal request: once studied);
- the holder's DPO: opinions due, overdue past the policy's deadline (as ``dpo inbox``);
- the requester's controllers: conditions to accept;
- the holder's staff: deliveries due by the request's frequency (``exchange send``'s calendar);
- the requester's staff: requests returned to amend, deliveries to receive, received files to
  delete within :data:`DELETION_NOTICE` days or overdue (as ``retention list``);
- each party's admins: the convention's end within :data:`END_NOTICE` days; a renewal or an
  avenant of the other party awaiting their countersignature.

It reads only, needs no passphrase, and records nothing but the digests sent (``reminders_sent``,
and the queued ``digest`` notifications they carried marked sent): no audit event.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from email.message import EmailMessage
from typing import Any

from ..audit.events import utc_timestamp
from ..domain.frequency import next_allowed
from ..domain.models import ExchangeRequest, Frequency, Status, Triage
from ..errors import InvalidInput, NotFound, cut
from ..i18n import N_, _
from ..notify import settings as notify_settings
from ..store.base import Tx
from ..store.sql_notify import Contact
from .clock import Clock
from .retention import retention_items
from .workspace import Workspace

END_NOTICE = 90  # days before the convention's last day its admins are reminded of it
DELETION_NOTICE = 30  # days before a received file's deadline its deletion is reminded

KINDS = {
    "study": N_("to study"),
    "decide": N_("to decide"),
    "opinion": N_("opinion due"),
    "accept_conditions": N_("conditions to accept"),
    "send": N_("delivery due"),
    "amend": N_("returned: to amend or withdraw"),
    "receive": N_("delivery to receive"),
    "delete": N_("deletion due"),
    "convention_end": N_("the convention ends"),
    "countersign": N_("change to countersign"),
}
HOLDER, REQUESTER = "holder", "requester"


@dataclass(frozen=True)
class Item:
    kind: str  # a key of KINDS
    subject: str  # a request id, a delivery id (DX-…-n), or "convention" / "change #seq"
    due: date | None = None
    overdue: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "subject": self.subject,
            "due": None if self.due is None else self.due.isoformat(),
            "overdue": self.overdue,
        }


@dataclass
class MemberReminders:
    member: str
    party: str
    email: bool  # has an address
    notify: str
    items: list[Item] = field(default_factory=list)
    queued: list[dict[str, Any]] = field(default_factory=list)  # digest notifications waiting

    def to_json(self) -> dict[str, Any]:
        return {
            "member": self.member,
            "party": self.party,
            "email": self.email,
            "notify": self.notify,
            "items": [item.to_json() for item in self.items],
            "queued_notifications": len(self.queued),
        }


def _request_items(
    request: ExchangeRequest, deadline_days: int, last_sent: date | None, today: date
) -> Iterator[tuple[str, str, Item]]:
    """(side, role, item) of what ``request`` waits for."""
    status, rid = request.status, request.id
    if status is Status.FILED:
        yield HOLDER, "controller", Item("study", rid)
    elif status is Status.UNDER_STUDY:
        personal = request.triage is not Triage.NON_PERSONAL
        yield HOLDER, "controller", Item("study" if personal else "decide", rid)
    elif status is Status.AWAITING_DPO:
        due = request.opinion_due(deadline_days)
        yield HOLDER, "dpo", Item("opinion", rid, due, due < today)
    elif status is Status.OPINION_GIVEN:
        yield HOLDER, "controller", Item("decide", rid)
    elif status is Status.RETURNED:
        yield REQUESTER, "staff", Item("amend", rid)
    elif status is Status.APPROVED:
        yield REQUESTER, "controller", Item("accept_conditions", rid)
    elif status is Status.CONDITIONS_ACCEPTED:
        yield HOLDER, "staff", Item("send", rid)
    elif status is Status.EXCHANGED and last_sent is not None:
        allowed = next_allowed(Frequency(request.content.frequency), last_sent)
        if allowed is not None and allowed <= today:
            yield HOLDER, "staff", Item("send", rid, allowed, allowed < today)


def _waiting(tx: Tx, workspace: Workspace, today: date) -> list[tuple[str, str, Item]]:
    """(party, role, item) of everything that waits in the workspace on ``today``."""
    deadline_days = workspace.current_policy(tx).policy.opinion_deadline_days
    requests = {r.id: r for r in tx.list_requests()}
    deliveries = tx.deliveries()
    last_sent: dict[str, date] = {}
    for delivery in deliveries:
        last_sent[delivery.request_id] = max(
            delivery.sent_on, last_sent.get(delivery.request_id, delivery.sent_on)
        )
    found = []
    for request in requests.values():
        sides = {HOLDER: request.to_party, REQUESTER: request.from_party}
        for side, role, item in _request_items(
            request, deadline_days, last_sent.get(request.id), today
        ):
            found.append((sides[side], role, item))
    received = {(r.request_id, r.number) for r in tx.receptions()}
    for delivery in deliveries:
        sent_for = requests.get(delivery.request_id)
        if sent_for is not None and (delivery.request_id, delivery.number) not in received:
            subject = f"{delivery.request_id}-{delivery.number}"
            found.append((sent_for.from_party, "staff", Item("receive", subject)))
    for kept in retention_items(tx, today):
        deadline = kept.reception.retention_deadline
        kept_for = requests.get(kept.reception.request_id)
        if kept.destruction is None and kept_for is not None:
            if deadline <= today + timedelta(days=DELETION_NOTICE):
                item = Item("delete", kept.reception.id, deadline, kept.overdue)
                found.append((kept_for.from_party, "staff", item))
    state = workspace.convention(tx)
    left = state.days_left(today)
    parties = state.policy.party_ids
    if left is not None and left <= END_NOTICE:
        end = Item("convention_end", "convention", state.last_day)
        found.extend((party, "admin", end) for party in parties)
    pending = state.pending
    if pending is not None:
        change = Item("countersign", f"#{pending.seq}")
        found.extend((party, "admin", change) for party in parties if party != pending.party)
    return found


def reminders(
    workspace: Workspace, clock: Clock, member: str | None = None
) -> list[MemberReminders]:
    """What waits on each active member (``member``: on that one), in a read transaction."""
    today = clock.today()
    with workspace.store.transaction() as tx:
        if member is not None and tx.get_member(member) is None:
            raise NotFound(_("unknown member {id!r}").format(id=cut(member)))
        waiting = _waiting(tx, workspace, today)
        contacts = [c for c in tx.contacts() if c.on(today.isoformat()) and member in (None, c.id)]
        queued = tx.queued(mode="digest")
    return [_of(contact, waiting, queued) for contact in contacts]


def _of(
    contact: Contact, waiting: list[tuple[str, str, Item]], queued: list[Any]
) -> MemberReminders:
    mine = MemberReminders(contact.id, contact.party, contact.email is not None, contact.notify)
    for party, role, item in waiting:
        if party == contact.party and role in contact.roles:
            mine.items.append(item)
    mine.items.sort(key=lambda i: (not i.overdue, i.due or date.max, i.subject))
    mine.queued = [{"id": q.id, **q.facts} for q in queued if q.target == contact.id]
    return mine


@dataclass(frozen=True)
class Sent:
    sent: list[str]  # members e-mailed now
    already: list[str]  # members e-mailed earlier today
    failed: dict[str, str]  # member -> what failed


def _digest(
    settings: notify_settings.NotifySettings, workspace_id: str, to: str, day: str,
    mine: MemberReminders,
) -> EmailMessage:  # fmt: skip
    from ..notify import mail

    lines = [
        mail.DigestLine(
            i.subject, _(KINDS[i.kind]), None if i.due is None else i.due.isoformat(), i.overdue
        )
        for i in mine.items
    ]
    return mail.digest(settings, workspace_id, to, day, lines, mine.queued)


def send_digests(workspace: Workspace, clock: Clock, member: str | None = None) -> Sent:
    """E-mail each member (``member``: that one) with an address and a preference other than
    ``none`` their digest, once a day: those with something waiting, or notifications queued for
    the digest."""
    from ..notify import mail
    from ..notify.outbox import dropped

    day = clock.today().isoformat()
    everyone = reminders(workspace, clock, member)
    with workspace.store.transaction(write=True) as tx:
        settings = notify_settings.load(tx)
        if settings.smtp is None:
            raise InvalidInput(
                _("no SMTP server is configured: nothing can be sent"),
                hint="ctg-exchange notify smtp --host HOST --sender ADDRESS",
            )
        people = {c.id: c for c in tx.contacts()}
        addresses = {c.id: c.email for c in people.values()}
        for waiting in tx.queued(mode="digest"):  # for a member who will get no digest any more
            why = dropped(people.get(waiting.target), day)
            if why is not None:
                tx.message_dropped(waiting.id, utc_timestamp(), why)
        done = tx.reminded(day)
        due = [
            m for m in everyone
            if addresses.get(m.member) and m.notify != "none" and (m.items or m.queued)
        ]  # fmt: skip
        failed: dict[str, str] = {}
        messages = []  # (member, e-mail) of each digest built
        for mine in (m for m in due if m.member not in done):
            address = addresses[mine.member]
            assert address is not None
            try:  # built before it is claimed: a row edited behind the tool's back fails alone
                made = _digest(settings, workspace.id, address, day, mine)
            except (ValueError, TypeError) as exc:
                failed[mine.member] = type(exc).__name__
                continue
            messages.append((mine, made))
        # claimed before it is sent: a second run meanwhile sends nothing (at most one a day)
        for mine, _made in messages:
            tx.record_reminder(mine.member, day, utc_timestamp(), len(mine.items))
    results: dict[int, str | None] | None = None
    sent = []
    try:
        emails = list(enumerate(made for _mine, made in messages))
        results = mail.send_all(settings.smtp, emails) if emails else {}
    finally:  # a claim whose e-mail the server did not take is released: the next run sends it
        with workspace.store.transaction(write=True) as tx:
            at = utc_timestamp()
            for number, (mine, _made) in enumerate(messages):
                error = _("not sent") if results is None else results.get(number)
                if error is not None:
                    failed[mine.member] = error
                    tx.forget_reminder(mine.member, day)
                    continue
                for queued in mine.queued:
                    tx.message_sent(int(queued["id"]), at)
                sent.append(mine.member)
    return Sent(sent, [m.member for m in due if m.member in done], failed)
