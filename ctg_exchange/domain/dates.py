"""The procedure's dates are the events' dates (DESIGN §10).

An event carries its UTC time (``2026-11-27T03:33:11.123456Z``); the procedure's calendar day
is that time read in France. Two machines' clocks differ a little: an event may be dated up to
:data:`CLOCK_SKEW` before the one it follows, never more.
"""

from __future__ import annotations

import functools
import re
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

PARIS = ZoneInfo("Europe/Paris")
CLOCK_SKEW = timedelta(minutes=5)
# exactly as the log writes it: strptime alone also takes 2026-2-2T1:2:3.4Z
_WRITTEN = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z")


def parse_timestamp(timestamp: str) -> datetime:
    """An event's time; ``ValueError`` unless it is written as the log writes times."""
    if not isinstance(timestamp, str):
        raise ValueError(f"not a log time: {str(timestamp)[:40]!r}")
    return _parsed(timestamp)


# the replay reads each event's time several times (its order, its day, the law's checks)
@functools.lru_cache(maxsize=1024)
def _parsed(timestamp: str) -> datetime:
    if not _WRITTEN.fullmatch(timestamp):
        raise ValueError(f"not a log time: {timestamp[:40]!r}")
    return datetime.fromisoformat(timestamp[:-1]).replace(tzinfo=UTC)  # as strptime, faster


def procedure_date(timestamp: str) -> date:
    """The calendar day in France of an event's time (23:30 UTC on the 27th of November is
    the 28th in Paris)."""
    return _day(parse_timestamp(timestamp))


@functools.lru_cache(maxsize=1024)
def _day(moment: datetime) -> date:
    return moment.astimezone(PARIS).date()


def before_predecessor(time: str, previous: str) -> bool:
    """Whether an event dated ``time`` is dated too long before the one it follows."""
    return parse_timestamp(time) < parse_timestamp(previous) - CLOCK_SKEW


def day_of(timestamp: str) -> str:
    """The procedure's day (in France) of an event's time, as ``YYYY-MM-DD``."""
    return procedure_date(timestamp).isoformat()


def dated(on: date | str, at: str | None) -> str:
    """A stored record's day, as the log gives it: the day in France of its event's time
    ``at``. A day taken just before midnight, its event recorded just after (the member
    at the passphrase prompt), is that day too; any other day is itself, and differs."""
    shown = str(on)
    if at is None:  # its row points to no event: the replay names that
        return shown
    logged = procedure_date(at)
    tolerated = (logged.isoformat(), (logged - timedelta(days=1)).isoformat())
    return logged.isoformat() if shown in tolerated else shown
