"""How often an approved request's data may be delivered: its frequency, as a calendar.

The request's ``frequency`` is part of what the DPO gave an opinion on and the controller
approved: a delivery sooner than it allows is refused with the date of the next allowed one,
unless the sender marks it early and says why (``exchange send --early --justification``),
which the send event records (the flag, and the digest of the reasons). The services and
``audit verify`` (:mod:`ctg_exchange.audit.law`, rules 3) apply the same function.

The calendar counts from the previous delivery's date in France (its event's day, as every
date of the procedure), whatever the time of day:

- ``once``: one delivery, never a second (``ONE_OFF_DELIVERED``; no ``--early`` for it);
- ``daily``: from the next day;
- ``weekly``: from 7 days later, the same weekday;
- ``monthly``: from the same day of the next month; a day the month lacks is its last day
  (sent on 31 January: from 28 or 29 February; on 30 April: from 30 May);
- ``quarterly``: the same, 3 months later (31 August: from 30 November);
- ``yearly``: the same, 12 months later (29 February: from 28 February).

The day the calendar gives is allowed: monthly, sent on 2 June, the next may go on 2 July.
"""

from __future__ import annotations

from calendar import monthrange
from datetime import date, timedelta

from ..errors import Refused
from ..i18n import _, date_text
from ..labels import label
from .models import Frequency

ONE_OFF_DELIVERED = "ONE_OFF_DELIVERED"
DELIVERY_TOO_EARLY = "DELIVERY_TOO_EARLY"
EARLY_FLAG = "EARLY_FLAG"  # marked early, though the frequency allowed it that day

_DAYS = {Frequency.DAILY: 1, Frequency.WEEKLY: 7}
_MONTHS = {Frequency.MONTHLY: 1, Frequency.QUARTERLY: 3, Frequency.YEARLY: 12}


def add_months(day: date, months: int) -> date:
    """``day`` moved ``months`` later, on the same day of the month or that month's last."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, monthrange(year, month)[1]))


def next_allowed(frequency: Frequency, previous: date) -> date | None:
    """The first day a delivery may follow one made on ``previous`` (None: never, ``once``)."""
    if frequency in _DAYS:
        return previous + timedelta(days=_DAYS[frequency])
    if frequency in _MONTHS:
        return add_months(previous, _MONTHS[frequency])
    return None


def check_timing(
    request_id: str,
    frequency: Frequency,
    previous: tuple[int, date] | None,
    today: date,
    *,
    early: bool,
    justified: bool,
) -> None:
    """Refuse a delivery of ``request_id`` on ``today`` that its frequency does not allow:
    ``previous`` is the last delivery's number and day (None: this is the first). Sooner than
    the calendar allows, it goes only marked ``early`` with a justification; marked early, it
    must be sooner."""
    due = None if previous is None else next_allowed(frequency, previous[1])
    if previous is not None and due is None:
        raise Refused(
            ONE_OFF_DELIVERED,
            _("{request} asks for a one-off transfer, already made ({delivery})").format(
                request=request_id, delivery=f"{request_id}-{previous[0]}"
            ),
        )
    if previous is not None and due is not None and today < due:
        if early and justified:
            return
        raise Refused(
            DELIVERY_TOO_EARLY,
            _(
                "{request} is delivered {frequency} and its last delivery ({delivery}) was on "
                "{previous}: the next is allowed from {due}"
            ).format(
                request=request_id,
                frequency=label("frequency", frequency.value),
                delivery=f"{request_id}-{previous[0]}",
                previous=date_text(previous[1]),
                due=date_text(due),
            ),
            hint=_("to send sooner, give --early with --justification TEXT (both are recorded)"),
        )
    if early:
        if due is None:
            message = _(
                "a delivery of {request} on {today} is its first delivery: --early is only for "
                "a delivery sooner than its frequency allows"
            )
        else:
            message = _(
                "a delivery of {request} on {today} is allowed since {due}: --early is only for "
                "a delivery sooner than its frequency allows"
            )
        raise Refused(
            EARLY_FLAG,
            message.format(request=request_id, today=date_text(today), due=date_text(due)),
            hint=_("send it without --early and --justification"),
        )
