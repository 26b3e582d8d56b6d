"""The convention's life: validity, express renewals, avenants, termination (Articles 10-12).

The policy file states the original validity; what happened since (renewals, avenants,
termination) is recorded in the workspace as signed events. :class:`ConventionState` combines
them and answers the one question the procedure keeps asking: is the convention in force today?
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from ..errors import Refused
from .model import Policy

CONVENTION_NOT_IN_FORCE = "CONVENTION_NOT_IN_FORCE"


class ChangeKind(StrEnum):
    RENEWAL = "renewal"  # Article 10: express renewal, until a date
    AMENDMENT = "amendment"  # Article 11: an avenant, a new policy version
    TERMINATION = "termination"  # Article 12: no longer in force from a date


class ConventionStatus(StrEnum):
    NOT_YET = "not_yet_in_force"
    IN_FORCE = "in_force"
    EXPIRED = "expired"
    TERMINATED = "terminated"


@dataclass(frozen=True)
class ConventionChange:
    """One recorded renewal, avenant or termination."""

    seq: int
    kind: ChangeKind
    effective: date  # renewal: the new last day; avenant: its date; termination: first day out
    reference: str
    by: str
    at: str
    policy_version: int | None = None
    reason: str | None = None


@dataclass(frozen=True)
class ConventionState:
    policy: Policy
    policy_version: int
    changes: tuple[ConventionChange, ...] = ()

    @property
    def start(self) -> date:
        return self.policy.validity.start

    @property
    def end(self) -> date:
        """The last day of validity, renewals included (termination aside)."""
        renewals = [c.effective for c in self.changes if c.kind is ChangeKind.RENEWAL]
        return max([self.policy.validity.end, *renewals])

    @property
    def termination(self) -> ConventionChange | None:
        return next((c for c in self.changes if c.kind is ChangeKind.TERMINATION), None)

    @property
    def last_day(self) -> date:
        """The last day in force: the end, or the day before the termination takes effect."""
        if self.termination is not None:
            return min(self.end, self.termination.effective - timedelta(days=1))
        return self.end

    def status(self, today: date) -> ConventionStatus:
        if self.termination is not None and today >= self.termination.effective:
            return ConventionStatus.TERMINATED
        if today < self.start:
            return ConventionStatus.NOT_YET
        if today > self.end:
            return ConventionStatus.EXPIRED
        return ConventionStatus.IN_FORCE

    def days_left(self, today: date) -> int | None:
        if self.status(today) is not ConventionStatus.IN_FORCE:
            return None
        return (self.last_day - today).days

    def why_not_in_force(self, today: date) -> str | None:
        """Why the convention is not in force on ``today`` (naming date and article), or None."""
        status = self.status(today)
        name = f"the convention {self.policy.id}"
        if status is ConventionStatus.TERMINATED:
            assert self.termination is not None
            return (
                f"{name} was terminated with effect from {self.termination.effective} (Article 12)"
            )
        if status is ConventionStatus.EXPIRED:
            return f"{name} ended on {self.end} and renews only by express decision (Article 10)"
        if status is ConventionStatus.NOT_YET:
            return f"{name} takes effect on {self.start} (Article 10)"
        return None

    def ensure_in_force(self, today: date, doing: str) -> None:
        """Refuse ``doing`` (e.g. "approval") when the convention is not in force."""
        why = self.why_not_in_force(today)
        if why is not None:
            raise Refused(
                CONVENTION_NOT_IN_FORCE,
                f"{CONVENTION_NOT_IN_FORCE}: {doing} refused on {today}: {why}",
                hint="open requests lapse: an admin records it with `convention lapse`",
            )
