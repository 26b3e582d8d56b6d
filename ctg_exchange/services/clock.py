"""Where time comes from (DESIGN §10: the procedure's dates are the events' dates).

The procedure's dates (filing day, convention validity, deadlines) are calendar days in France,
and they are the dates of the events that record them: an event's UTC time, read in
Europe/Paris. ``audit verify`` re-derives every date from the event that carries it.

A clock override exists only in a workspace created as a simulation (``init --simulated-clock``,
and the demo), which its genesis event records and every output shows: there ``CTG_TODAY=
YYYY-MM-DD`` sets the day, and the events are dated that day at the real time of day, so the log
stays ordered and its dates are the rehearsal's. Anywhere else ``CTG_TODAY`` is refused (exit 2).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date, datetime

from ..audit.events import utc_timestamp
from ..domain.dates import PARIS, before_predecessor, procedure_date
from ..errors import ClockRefused, InvalidInput
from ..i18n import _

__all__ = ["PARIS", "Clock", "before_predecessor", "override", "procedure_date"]

OVERRIDE = "CTG_TODAY"


def override() -> date | None:
    """The day ``CTG_TODAY`` names, if it is set."""
    value = os.environ.get(OVERRIDE)
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        shown = value[:80]
        raise InvalidInput(
            _("CTG_TODAY must be a date like 2025-06-02, not {value!r}").format(value=shown)
        ) from None


@dataclass(frozen=True)
class Clock:
    """The real clock, or a simulated day (``fixed_today``) in a simulated workspace."""

    fixed_today: date | None = None
    # a remote change's commit: the very time its dry run gave the events the member signed
    fixed_now: str | None = None

    @classmethod
    def for_workspace(cls, simulated: bool) -> Clock:
        """The clock a workspace allows: ``CTG_TODAY`` only in a simulated one."""
        day = override()
        if day is not None and not simulated:
            raise ClockRefused(
                _(
                    "CTG_TODAY sets the date only in a workspace created as a simulation "
                    "(init --simulated-clock); here the procedure's dates are the real ones"
                )
            )
        return cls(day)

    @classmethod
    def from_env(cls) -> Clock:
        """For a new simulated workspace (``init --simulated-clock``, the demo)."""
        return cls(override())

    def today(self) -> date:
        if self.fixed_now is not None:
            return procedure_date(self.fixed_now)
        return self.fixed_today or datetime.now(PARIS).date()

    def now(self) -> str:
        """The UTC time an event carries: now, or the simulated day at the real time of day
        in Paris (so the event's date in Paris is the simulated day)."""
        if self.fixed_now is not None:
            return self.fixed_now
        if self.fixed_today is None:
            return utc_timestamp()
        clock_time = datetime.now(PARIS).time()
        return utc_timestamp(datetime.combine(self.fixed_today, clock_time, tzinfo=PARIS))
