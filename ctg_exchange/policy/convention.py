"""The convention's life: validity, express renewals, avenants, termination (Articles 10-12),
and, once it has ended, the successor convention both parties adopt.

The policy file states the original validity; what happened since (renewals, avenants,
termination, successors) is recorded in the workspace as signed events. :class:`ConventionState`
combines them and answers the one question the procedure keeps asking: is the convention in
force today?

From rules 3 (:data:`~ctg_exchange.domain.payloads.RULES`) a renewal is decided while the
convention runs: once it has ended, the parties sign a new convention, with new deliberations
(a *successor*), and an ended convention takes no avenant either. A log verified by earlier
rules keeps them: there a renewal after the end was accepted.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, timedelta
from enum import StrEnum
from typing import Any

from ..domain.payloads import RULES
from ..errors import NotAuthorised, Refused
from ..i18n import N_, _, date_text
from .model import Policy

CONVENTION_NOT_IN_FORCE = "CONVENTION_NOT_IN_FORCE"
# rules 3 (Article 10): a renewal once the convention has ended is a new convention, with new
# deliberations; an ended convention takes no avenant (Article 11)
RENEWAL_AFTER_END = "RENEWAL_AFTER_END"
AVENANT_AFTER_END = "AVENANT_AFTER_END"
RENEWAL_NOT_ALLOWED = "RENEWAL_NOT_ALLOWED"  # terminated, or not a later end
AVENANT_NOT_ALLOWED = "AVENANT_NOT_ALLOWED"  # terminated, or another convention's
# a successor convention follows one that has ended (expired or terminated), for a new period
SUCCESSOR_WHILE_IN_FORCE = "SUCCESSOR_WHILE_IN_FORCE"
SUCCESSOR_PERIOD = "SUCCESSOR_PERIOD"
# rules 3: a request is filed, approved and served under one period of the convention; once a
# successor convention has opened another, what the old one approved is not carried on
PERIOD_CHANGED = "PERIOD_CHANGED"
# Articles 10 and 11: a renewal (express decision) and an avenant bind both parties, so one
# party's admin proposes and the other's countersigns; one proposal at a time
BOTH_PARTIES = "BOTH_PARTIES"
PROPOSAL_PENDING = "PROPOSAL_PENDING"


def _action(doing: str) -> str:
    """``doing`` (e.g. "approval") in the current language, when its caller marked it with
    ``N_``; as given otherwise."""
    return _(doing) if doing else doing


@dataclass(frozen=True)
class Refusal:
    """Why the procedure refuses a step of the convention's life: the rule's code and a
    message that names the article."""

    rule: str
    message: str

    def error(self, hint: str | None = None) -> Refused:
        """As the services raise it: ``CODE: message``."""
        return Refused(self.rule, f"{self.rule}: {self.message}", hint=hint)


class ChangeKind(StrEnum):
    RENEWAL = "renewal"  # Article 10: express renewal, until a date
    AMENDMENT = "amendment"  # Article 11: an avenant, a new policy version
    TERMINATION = "termination"  # Article 12: no longer in force from a date
    SUCCESSOR = "successor"  # a new convention, adopted by both parties once the last ended


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
    # renewal: the new last day; avenant: its date; termination: first day out; successor: its
    # first day in force
    effective: date
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
    until: date | None = None  # a successor's last day
    deliberation: str | None = None  # a successor's: the proposing party's deliberation
    case: str | None = None  # a termination's case under Article 12 (rules 3)
    notice: date | None = None  # a termination's formal notice (mise en demeure, or dénonciation)

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
            "until": None if self.until is None else self.until.isoformat(),
            "deliberation": self.deliberation,
            "case": self.case,
            "notice_date": None if self.notice is None else self.notice.isoformat(),
        }

    def describe(self) -> str:
        return _(_DESCRIBED[self.kind]).format(seq=self.seq, by=self.by, party=self.party)


_DESCRIBED = {
    ChangeKind.RENEWAL: N_("the renewal #{seq} proposed by {by} ({party})"),
    ChangeKind.AMENDMENT: N_("the avenant #{seq} proposed by {by} ({party})"),
    ChangeKind.TERMINATION: N_("the termination #{seq} proposed by {by} ({party})"),
    ChangeKind.SUCCESSOR: N_("the successor convention #{seq} proposed by {by} ({party})"),
}


def ensure_none_pending(changes: Iterable[ConventionChange]) -> None:
    """One renewal or avenant awaits countersignature at a time."""
    pending = next((c for c in changes if c.pending), None)
    if pending is not None:
        raise Refused(
            PROPOSAL_PENDING,
            f"{PROPOSAL_PENDING}: "
            + _("{change} awaits the other party's countersignature").format(
                change=pending.describe()
            ),
            hint=_(
                "the other party countersigns it, or either withdraws it: `convention withdraw "
                "{seq} --reason …`"
            ).format(seq=pending.seq),
        )


def ensure_countersigner(change: ConventionChange, party: str) -> None:
    """Only an admin of the other party countersigns a renewal or an avenant."""
    if party == change.party:
        raise NotAuthorised(
            BOTH_PARTIES,
            f"{BOTH_PARTIES}: "
            + _(
                "{change} takes effect when an admin of the other party countersigns it "
                "(Articles 10 and 11)"
            ).format(change=change.describe()),
        )


@dataclass(frozen=True)
class ConventionState:
    """The convention under ``policy`` (the version in effect) and its recorded changes, of
    which only those in effect count: a renewal or an avenant awaiting the other party's
    countersignature changes nothing. Once a successor convention is in effect, the period it
    opens is the one in force: the renewals and termination of the period before no longer
    count. ``rules``: those the workspace's log is verified by."""

    policy: Policy
    policy_version: int
    changes: tuple[ConventionChange, ...] = ()
    rules: int = RULES

    @property
    def in_effect(self) -> tuple[ConventionChange, ...]:
        return tuple(c for c in self.changes if c.in_effect)

    @property
    def pending(self) -> ConventionChange | None:
        """The renewal or avenant awaiting countersignature (one at a time), if any."""
        return next((c for c in self.changes if c.pending), None)

    @property
    def successor(self) -> ConventionChange | None:
        """The successor convention in effect that opened the current period, if any."""
        adopted = [c for c in self.in_effect if c.kind is ChangeKind.SUCCESSOR]
        return max(adopted, key=lambda c: c.agreed_seq or 0, default=None)

    @property
    def period(self) -> tuple[ConventionChange, ...]:
        """The changes in effect of the current period: those that took effect after its
        successor convention did (all, before any successor)."""
        successor = self.successor
        if successor is None:
            return self.in_effect
        opened = successor.agreed_seq or 0
        return tuple(c for c in self.in_effect if (c.agreed_seq or 0) > opened)

    @property
    def start(self) -> date:
        successor = self.successor
        return self.policy.validity.start if successor is None else successor.effective

    @property
    def first_end(self) -> date:
        """The last day the current period was signed for, before any renewal."""
        successor = self.successor
        if successor is None or successor.until is None:
            return self.policy.validity.end
        return successor.until

    @property
    def end(self) -> date:
        """The last day of validity, renewals in effect included (termination aside)."""
        renewals = [c.effective for c in self.period if c.kind is ChangeKind.RENEWAL]
        return max([self.first_end, *renewals])

    @property
    def termination(self) -> ConventionChange | None:
        """The termination of the current period: of those recorded, the one with the earliest
        effect (rules 3 lets a later termination with an earlier effect take the place of one
        still running its notice: :func:`~ctg_exchange.policy.termination.why_not_terminated`)."""
        recorded = [c for c in self.period if c.kind is ChangeKind.TERMINATION]
        return min(recorded, key=lambda c: (c.effective, c.seq), default=None)

    def periods(self) -> tuple[tuple[date, date], ...]:
        """Each period of the convention, oldest first, as (first day, last day in force): the
        convention as signed, then each successor convention in effect; the last is the
        current one."""
        opened = sorted(c.agreed_seq or 0 for c in self.in_effect if c.kind is ChangeKind.SUCCESSOR)
        earlier = []
        for limit in opened:
            kept = tuple(c for c in self.in_effect if (c.agreed_seq or 0) < limit)
            before = replace(self, changes=kept)
            earlier.append((before.start, before.last_day))
        return (*earlier, (self.start, self.last_day))

    def period_refusal(self, since: date, doing: str, approved: bool = True) -> Refusal | None:
        """Why ``doing`` is refused for a request approved (``approved``; else filed) on
        ``since``, if that was under an earlier period than the current one: a successor
        convention is a new convention, with its own deliberations, under which requests are
        filed and approved again. (No successor, as in every log of rules 2: no earlier period.)"""
        if self.successor is None or since >= self.start:
            return None
        periods = self.periods()
        start, last = next(((a, b) for a, b in reversed(periods) if a <= since), periods[0])
        message = (
            _(
                "{doing} refused: approved under the convention of {start}–{end}; a new "
                "convention needs a new request (the current one runs from {current})"
            )
            if approved
            else _(
                "{doing} refused: filed under the convention of {start}–{end}; a new "
                "convention needs a new request (the current one runs from {current})"
            )
        )
        return Refusal(
            PERIOD_CHANGED,
            message.format(
                doing=_action(doing),
                start=date_text(start),
                end=date_text(last),
                current=date_text(self.start),
            ),
        )

    def why_not_amended(self, today: date) -> str | None:
        """Why an avenant cannot be proposed or take effect on ``today``: once a termination
        has taken effect there is nothing left to amend (during its notice, there is)."""
        termination = self.termination
        if termination is not None and today >= termination.effective:
            return _(
                "the convention was terminated with effect from {date} (Article 12): a "
                "terminated convention is not amended, a new one is signed"
            ).format(date=date_text(termination.effective))
        return None

    def avenant_too_late(self, today: date) -> Refusal | None:
        """Rules 3: why no avenant is proposed or takes effect on ``today``, the convention
        having ended (Article 11 amends a convention in force; after the end, a new one is
        signed: `convention successor`)."""
        if self.rules < 3 or self.status(today) is not ConventionStatus.EXPIRED:
            return None
        return Refusal(
            AVENANT_AFTER_END,
            _(
                "the convention ended on {date} (Article 10): an ended convention is not "
                "amended (Article 11); the parties adopt a new one (`convention successor`)"
            ).format(date=date_text(self.end)),
        )

    def why_not_renewed(self, until: date, today: date) -> str | None:
        """Why a renewal until ``until`` cannot be proposed or take effect on ``today``."""
        if self.termination is not None:
            return _(
                "the convention was terminated with effect from {date} (Article 12): a "
                "terminated convention is not renewed, a new one is signed"
            ).format(date=date_text(self.termination.effective))
        if until <= self.end:
            return _("--until {until} must be after the current end, {end}").format(
                until=until, end=date_text(self.end)
            )
        if until < today:
            return _("--until {until} is already past").format(until=until)
        return None

    def renewal_refusal(self, until: date, today: date) -> Refusal | None:
        """Why a renewal until ``until`` is not proposed or does not take effect on ``today``."""
        why = self.why_not_renewed(until, today)
        return self.renewal_too_late(today) or (
            None if why is None else Refusal(RENEWAL_NOT_ALLOWED, why)
        )

    def avenant_refusal(self, today: date) -> Refusal | None:
        """Why an avenant is not proposed or does not take effect on ``today``."""
        why = self.why_not_amended(today)
        return self.avenant_too_late(today) or (
            None if why is None else Refusal(AVENANT_NOT_ALLOWED, why)
        )

    def renewal_too_late(self, today: date) -> Refusal | None:
        """Rules 3: why no renewal is proposed or takes effect on ``today``: the convention
        renews by express decision while it runs (Article 10); once its last day is past, what
        the parties adopt is a new convention, with new deliberations."""
        if self.rules < 3 or today <= self.end:
            return None
        return Refusal(
            RENEWAL_AFTER_END,
            _(
                "the convention ended on {date}: it renews only by express decision before "
                "its end (Article 10); after it, the parties adopt a new convention with new "
                "deliberations (`convention successor`)"
            ).format(date=date_text(self.end)),
        )

    def why_no_successor(
        self, start: date, until: date, today: date, proposed: date | None = None
    ) -> Refusal | None:
        """Why a successor convention from ``start`` to ``until`` cannot be proposed or take
        effect on ``today`` (``proposed``: the day it was proposed, when it is countersigned)."""
        if self.rules < 3:
            return Refusal(
                SUCCESSOR_WHILE_IN_FORCE,
                _(
                    "this workspace's log is verified by rules {rules}, which know no successor "
                    "convention: renew it (Article 10)"
                ).format(rules=self.rules),
            )
        status = self.status(today)
        if status in (ConventionStatus.IN_FORCE, ConventionStatus.NOT_YET):
            return Refusal(
                SUCCESSOR_WHILE_IN_FORCE,
                _(
                    "the convention runs until {date}: while it does, the parties renew it by "
                    "express decision (Article 10)"
                ).format(date=date_text(self.last_day)),
            )
        if start <= self.last_day:
            return Refusal(
                SUCCESSOR_PERIOD,
                _(
                    "--start {start} must be after {last}, the last day the convention it "
                    "follows was in force"
                ).format(start=start, last=date_text(self.last_day)),
            )
        if until < start or until < today:
            return Refusal(
                SUCCESSOR_PERIOD,
                _("--end {until} must be on or after --start {start} and today, {today}").format(
                    until=until, start=start, today=date_text(today)
                ),
            )
        proposed = today if proposed is None else proposed
        if start < proposed:
            return Refusal(
                SUCCESSOR_PERIOD,
                _(
                    "--start {start} is before {proposed}, the day it was proposed: a "
                    "convention takes effect no earlier than the parties adopt it, not "
                    "retroactively"
                ).format(start=start, proposed=date_text(proposed)),
            )
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
        if status is ConventionStatus.TERMINATED:
            assert self.termination is not None
            return _(
                "the convention {id} was terminated with effect from {date} (Article 12)"
            ).format(id=self.policy.id, date=date_text(self.termination.effective))
        if status is ConventionStatus.EXPIRED:
            return _(
                "the convention {id} ended on {date} and renews only by express decision "
                "(Article 10)"
            ).format(id=self.policy.id, date=date_text(self.end))
        if status is ConventionStatus.NOT_YET:
            return _("the convention {id} takes effect on {date} (Article 10)").format(
                id=self.policy.id, date=date_text(self.start)
            )
        return None

    def ensure_same_period(self, filed: date, approved: date | None, doing: str) -> None:
        """Refuse ``doing`` for a request filed on ``filed`` and approved on ``approved`` (None:
        not yet) under an earlier period than the current one (``PERIOD_CHANGED``)."""
        since = filed if approved is None else approved
        why = self.period_refusal(since, doing, approved is not None)
        if why is not None:
            raise why.error(hint=_("file a new request under the convention in force"))

    def ensure_in_force(self, today: date, doing: str) -> None:
        """Refuse ``doing`` (e.g. "approval") when the convention is not in force."""
        why = self.why_not_in_force(today)
        if why is not None:
            hint = (
                _(
                    "open requests lapse: an admin records it with `convention lapse`; after its "
                    "end the parties adopt a new convention (`convention successor`)"
                )
                if self.rules >= 3 and self.status(today) is not ConventionStatus.NOT_YET
                else _("open requests lapse: an admin records it with `convention lapse`")
            )
            raise Refused(
                CONVENTION_NOT_IN_FORCE,
                f"{CONVENTION_NOT_IN_FORCE}: "
                + _("{doing} refused on {date}: {why}").format(
                    doing=_action(doing), date=date_text(today), why=why
                ),
                hint=hint,
            )
