"""Where time comes from.

The procedure's dates (filing day, convention validity, deadlines) are calendar days in France.
They come from the system clock unless ``CTG_TODAY=YYYY-MM-DD`` fixes the day (tests, the demo,
rehearsals). Audit timestamps are always the real UTC time: the log records when things happened.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from ..audit.events import utc_timestamp
from ..errors import InvalidInput, cut

PARIS = ZoneInfo("Europe/Paris")


@dataclass(frozen=True)
class Clock:
    fixed_today: date | None = None

    @classmethod
    def from_env(cls) -> Clock:
        value = os.environ.get("CTG_TODAY")
        if not value:
            return cls()
        try:
            return cls(date.fromisoformat(value))
        except ValueError:
            raise InvalidInput(
                f"CTG_TODAY must be a date like 2025-06-02, not {cut(value)!r}"
            ) from None

    def today(self) -> date:
        return self.fixed_today or datetime.now(PARIS).date()

    def now(self) -> str:
        return utc_timestamp()
