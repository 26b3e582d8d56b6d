"""The convention's life: validity, express renewals, avenants, termination (Articles 10-12).

The policy file states the original validity; what happened since (renewals, avenants,
termination) is recorded in the workspace as signed events. :class:`ConventionState` combines
them and answers the one question the procedure keeps asking: is the convention in force today?
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from typing import Any

from ..errors import NotAuthorised, Refused
from .model import Policy

CONVENTION_NOT_IN_FORCE = "CONVENTION_NOT_IN_FORCE"
# Articles 10 and 11: a renewal (express decision) and an avenant bind both parties, so one
# party's admin proposes and the other's countersigns; one proposal at a time
BOTH_PARTIES = "BOTH_PARTIES"
PROPOSAL_PENDING = "PROPOSAL_PENDING"


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
    party: str  # the party of the admin who recorded it (proposed it)
    policy_version: int | None = None
    reason: str | None = None
    # what made it take effect: a termination's own event (unilateral), a renewal's or an
    # avenant's countersignature by the other party; until then it is pending (or withdrawn)
    agreed_seq: int | None = None
    agreed_reference: str | None = None
    withdrawn_seq: int | None = None
    withdrawn_reason: str | None = None

    @property
    def in_effect(self) -> bool:
        return self.agreed_seq is not None

    @property
    def pending(self) -> bool:
        return self.agreed_seq is None and self.withdrawn_seq is None

    @property
    def status(self) -> str:
        """``in_effect``, ``pending`` (awaiting the other party's countersignature) or
        ``withdrawn``."""
        if self.in_effect:
            return "in_effect"
        return "pending" if self.pending else "withdrawn"

    def to_json(self) -> dict[str, Any]:
        """As `convention show --json` and the audit bundle give it."""
        return {
            "seq": self.seq,
            "kind": self.kind.value,
            "effective": self.effective.isoformat(),
            "reference": self.reference,
            "by": self.by,
            "at": self.at,
            "party": self.party,
            "policy_version": self.policy_version,
            "reason": self.reason,
            "status": self.status,
            "countersigned_seq": self.agreed_seq if self.agreed_seq != self.seq else None,
            "countersigned_reference": self.agreed_reference,
            "withdrawn_seq": self.withdrawn_seq,
            "withdrawn_reason": self.withdrawn_reason,
        }

    def describe(self) -> str:
        what = "avenant" if self.kind is ChangeKind.AMENDMENT else self.kind.value
        return f"the {what} #{self.seq} proposed by {self.by} ({self.party})"


def ensure_none_pending(changes: Iterable[ConventionChange]) -> None:
    """One renewal or avenant awaits countersignature at a time."""
    pending = next((c for c in changes if c.pending), None)
    if pending is not None:
        raise Refused(
            PROPOSAL_PENDING,
            f"{PROPOSAL_PENDING}: {pending.describe()} awaits the other party's countersignature",
            hint=f"the other party countersigns it, or either withdraws it: `convention "
            f"withdraw {pending.seq} --reason …`",
        )


def ensure_countersigner(change: ConventionChange, party: str) -> None:
    """Only an admin of the other party countersigns a renewal or an avenant."""
    if party == change.party:
        raise NotAuthorised(
            BOTH_PARTIES,
            f"{BOTH_PARTIES}: {change.describe()} takes effect when an admin of the other "
            "party countersigns it (Articles 10 and 11)",
        )


@dataclass(frozen=True)
class ConventionState:
    """The convention under ``policy`` (the version in effect) and its recorded changes, of
    which only those in effect count: a renewal or an avenant awaiting the other party's
    countersignature changes nothing."""

    policy: Policy
    policy_version: int
    changes: tuple[ConventionChange, ...] = ()

    @property
    def in_effect(self) -> tuple[ConventionChange, ...]:
        return tuple(c for c in self.changes if c.in_effect)

    @property
    def pending(self) -> ConventionChange | None:
        """The renewal or avenant awaiting countersignature (one at a time), if any."""
        return next((c for c in self.changes if c.pending), None)

    @property
    def start(self) -> date:
        return self.policy.validity.start

    @property
    def end(self) -> date:
        """The last day of validity, renewals in effect included (termination aside)."""
        renewals = [c.effective for c in self.in_effect if c.kind is ChangeKind.RENEWAL]
        return max([self.policy.validity.end, *renewals])

    @property
    def termination(self) -> ConventionChange | None:
        return next((c for c in self.in_effect if c.kind is ChangeKind.TERMINATION), None)

    def why_not_amended(self, today: date) -> str | None:
        """Why an avenant cannot be proposed or take effect on ``today``: once a termination
        has taken effect there is nothing left to amend (during its notice, there is)."""
        termination = self.termination
        if termination is not None and today >= termination.effective:
            return (
                f"the convention was terminated with effect from {termination.effective} "
                "(Article 12): a terminated convention is not amended, a new one is signed"
            )
        return None

    def why_not_renewed(self, until: date, today: date) -> str | None:
        """Why a renewal until ``until`` cannot be proposed or take effect on ``today``."""
        if self.termination is not None:
            return (
                f"the convention was terminated with effect from {self.termination.effective} "
                "(Article 12): a terminated convention is not renewed, a new one is signed"
            )
        if until <= self.end:
            return f"--until {until} must be after the current end, {self.end}"
        if until < today:
            return f"--until {until} is already past"
        return None

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
