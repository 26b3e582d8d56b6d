"""The law, re-applied to the log (DESIGN §10: no client is trusted).

A member with their own valid key and a modified copy of the tool can sign any event. The
replay already refuses one whose actor lacked the role or that the state machine forbids; this
re-runs what the services check besides, at each event's own date (its time, in Paris) and under
the policy version and the convention as the log had them then:

- a filing or an amendment: the screening of the content it files (kept by its digest, which
  the event binds; a content missing or altered is itself a failure) under the policy version
  then in force, with the convention's state that day: a blocking finding
  (``NIR_NOT_AUTHORISED``, ``OFFENCE_DATA``, ``RETENTION_EXCEEDS_MAX``,
  ``CONVENTION_NOT_IN_FORCE``…) refuses the event, and the findings, triage and DPIA flag it
  records must be the screening's;
- an approval, an acceptance of the conditions, a delivery: the convention in force that day;
  an approval under the period the request was filed in, an acceptance, a delivery or a
  resumption under the period it was approved in (``PERIOD_CHANGED``);
- a delivery: a retention deadline no later than the request's retention allows; no sooner
  than the request's frequency allows after the previous one, unless marked early with a
  justification (rules 3: ``DELIVERY_TOO_EARLY``, ``EARLY_FLAG``), and never a second one of a
  one-off request (``ONE_OFF_DELIVERED``);
- the convention's life: a renewal within its term, an avenant to a convention neither ended
  (rules 3) nor terminated, a successor convention only once it has ended and starting no
  earlier than it was proposed (rules 3), a termination in a case of Article 12, by the party
  the case allows, after its notice, dated within the period (rules 3).

The same functions serve the services and the replay (:func:`~ctg_exchange.policy.screening.
screen`, :class:`~ctg_exchange.policy.convention.ConventionState`), so they cannot drift.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import MutableMapping
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import TYPE_CHECKING, Protocol

from ..domain import payloads as p
from ..domain import step_payloads as s
from ..domain.actions import Action
from ..domain.dates import procedure_date
from ..domain.frequency import EARLY_FLAG, check_timing
from ..domain.models import Frequency
from ..domain.recommendations import APPLIED_KINDS, Recommendation, RecommendationKind
from ..errors import ExchangeError, Refused, ReplayError
from ..i18n import N_, _, date_text, pgettext
from ..policy.convention import (
    AVENANT_NOT_ALLOWED,
    CONVENTION_NOT_IN_FORCE,
    ChangeKind,
    ConventionChange,
    ConventionState,
    Refusal,
)
from ..policy.screening import Screening, screen
from ..policy.termination import why_not_terminated

if TYPE_CHECKING:
    from ..domain.models import RequestContent
    from ..policy.model import Policy
    from .events import Event

# what is done, in the messages (translated where shown)
IN_FORCE_FOR = {
    Action.APPROVE: N_("approval"),
    Action.ACCEPT_CONDITIONS: N_("accepting the conditions"),
    Action.SEND: N_("sending"),
}
# rules 3 (no successor convention before): a request is served under the period it was
# approved in, and approved under the one it was filed in
SAME_PERIOD_FOR = {
    **IN_FORCE_FOR,
    Action.RESUME: N_("resuming"),
}
RETENTION_DEADLINE = "RETENTION_DEADLINE"
POLICY_VERSION = "POLICY_VERSION"
SCREENING_RECORDED = "SCREENING_RECORDED"
CONTENT_MISSING = "CONTENT_MISSING"
LAPSE_IN_FORCE = "LAPSE_IN_FORCE"
ARCHIVES_APPROVAL_REQUIRED = "ARCHIVES_APPROVAL_REQUIRED"
CONDITIONS_NOT_APPLIED = "CONDITIONS_NOT_APPLIED"
COLUMNS_NOT_APPROVED = "COLUMNS_NOT_APPROVED"
MAX_DAYS = RecommendationKind.MAX_RETENTION_DAYS
EMPTY_TEXT_SHA256 = hashlib.sha256(b"").hexdigest()


class Law(Protocol):
    """What the log binds by digest and the law needs in full, read from the store."""

    def policy(self, version: int) -> Policy | None:
        """The policy of that version, if its stored text is the one the log binds."""

    def content(self, request_id: str, digest: str) -> RequestContent | None:
        """The content the request was filed or amended with whose digest the log binds, if it
        is stored unaltered."""

    def recommendations(self, request_id: str) -> tuple[Recommendation, ...] | None:
        """The DPO's recommendations on the request as stored (the replay compares their
        digests with the log's: a record edited behind the tool's back is found there)."""


def refused(rule: str, message: str) -> ReplayError:
    return ReplayError(_("{rule}: {message}").format(rule=rule, message=message), rule=rule)


def _refuse(why: Refusal | None) -> None:
    if why is not None:
        raise refused(why.rule, why.message)


@dataclass(slots=True)
class RequestLaw:
    """What the law needs to remember of one request from its earlier events."""

    filed: date | None = None  # the day it was filed (in France)
    approved: date | None = None  # the day it was approved
    frequency: Frequency | None = None  # as filed or amended
    retention: int | None = None  # days, active use then archiving, as filed or amended
    content_sha256: str | None = None  # the content last screened, found as the log binds it
    adopted: tuple[int, ...] = ()  # R numbers
    last_sent: tuple[int, date] | None = None  # its last delivery: number, day in France


CONTENTS_KEPT = 256  # screened contents kept in memory; the others are read again when needed


@dataclass
class LawCheck:
    law: Law
    version: int = 1  # the policy version in force, as the log's avenants moved it
    changes: list[ConventionChange] = field(default_factory=list)
    rules: int = 2  # the log's, from its genesis
    # what the law knows of each request (a large log's are spilled to disk: audit/spill.py)
    requests: MutableMapping[str, RequestLaw] = field(default_factory=dict)
    # contents as last screened, by request: the few most recent (the others are read again)
    _contents: OrderedDict[str, RequestContent] = field(default_factory=OrderedDict)
    # screenings this verification made: screening is a function of the policy version, the
    # content (by its digest, checked) and the convention's state that day; not remembered
    _screenings: OrderedDict[tuple[int, str, str | None], Screening] = field(
        default_factory=OrderedDict
    )

    # why the convention was not in force on a day (None: it was), by its state: asked at each
    # filing, approval and delivery
    _in_force: dict[tuple[object, ...], str | None] = field(default_factory=dict)

    def __getstate__(self) -> dict[str, object]:
        return {**self.__dict__, "_screenings": None, "_in_force": None}

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state, _screenings=OrderedDict(), _in_force={})

    def _why_not_in_force(self, state: ConventionState, day: date) -> str | None:
        key = (state.policy_version, state.changes, state.rules, day)
        if key in self._in_force:
            return self._in_force[key]
        if len(self._in_force) >= CONTENTS_KEPT:
            self._in_force.clear()
        why = self._in_force[key] = state.why_not_in_force(day)
        return why

    def _of(self, request_id: str) -> RequestLaw:
        found = self.requests.get(request_id)
        if found is None:
            found = self.requests[request_id] = RequestLaw()
        return found

    def _content(self, request_id: str) -> RequestContent | None:
        """The content the request was last screened with (None: not stored as the log binds
        it, which the filing's check named)."""
        content = self._contents.get(request_id)
        if content is not None:
            self._contents.move_to_end(request_id)
            return content
        known = self.requests.get(request_id)
        if known is None or known.content_sha256 is None:
            return None
        content = self.law.content(request_id, known.content_sha256)
        if content is not None:
            self._remember(request_id, content)
        return content

    def _remember(self, request_id: str, content: RequestContent) -> None:
        self._contents[request_id] = content
        self._contents.move_to_end(request_id)
        if len(self._contents) > CONTENTS_KEPT:
            self._contents.popitem(last=False)

    def convention(self) -> ConventionState | None:
        policy = self.law.policy(self.version)
        if policy is None:
            return None
        return ConventionState(policy, self.version, tuple(self.changes), self.rules)

    def check(self, event: Event, payload: p.Payload) -> None:
        """Refuse ``event`` if a rule of the procedure would have: ``ReplayError`` with its code."""
        day = procedure_date(event.time)
        if isinstance(payload, s.RequestFile):
            self._of(payload.request).filed = day
        if isinstance(payload, s.RequestFile | s.RequestAmend):
            self._of(payload.request).frequency = payload.frequency
            self._screened(payload, day)
            return
        if isinstance(payload, p.Amendment) or (
            isinstance(payload, p.Countersignature) and payload.kind == "amendment"
        ):
            self._amendable(payload, day)
        renewal = payload.effective if isinstance(payload, p.Renewal) else None
        if isinstance(payload, p.Countersignature) and payload.kind == "renewal":
            renewal = payload.effective
        if renewal is not None:
            self._renewable(renewal, day)
        if isinstance(payload, p.Successor):
            self._succeeded(payload.effective, payload.until, day, day)
        if isinstance(payload, p.Countersignature) and payload.kind == "successor":
            proposal = next((c for c in self.changes if c.seq == payload.proposal), None)
            proposed = None if proposal is None else procedure_date(proposal.at)
            self._succeeded(payload.effective, payload.until, day, proposed)
        if isinstance(payload, p.Termination):
            self._terminable(event, payload, day)
        if payload.action is Action.LAPSE:
            state = self.convention()
            if state is not None and self._why_not_in_force(state, day) is None:
                raise refused(
                    LAPSE_IN_FORCE,
                    _(
                        "a request lapses when the convention is no longer in force; on {date} "
                        "it is"
                    ).format(date=date_text(day)),
                )
        if payload.action in IN_FORCE_FOR:
            state = self.convention()
            why = None if state is None else self._why_not_in_force(state, day)
            if why is not None:
                doing = _(IN_FORCE_FOR[payload.action])
                raise refused(
                    CONVENTION_NOT_IN_FORCE,
                    _("{doing} on {date}: {why}").format(doing=doing, date=date_text(day), why=why),
                )
        if payload.action in SAME_PERIOD_FOR and isinstance(payload, s.RequestStep):
            self._same_period(payload, _(SAME_PERIOD_FOR[payload.action]))
        if (
            isinstance(payload, s.Destroy)
            and self._archived(payload.request)
            and payload.archives_approval_sha256 is None
        ):
            raise refused(
                ARCHIVES_APPROVAL_REQUIRED,
                _(
                    "delivery {delivery} was kept in intermediate archiving: public archives are "
                    "eliminated only with the archives service's approval (Code du patrimoine "
                    "L212-3)"
                ).format(delivery=payload.delivery),
            )
        if isinstance(payload, s.Approve):
            known = self._of(payload.request)
            known.adopted, known.approved = payload.adopted, day
        if isinstance(payload, s.Send):
            self._timed(payload, day)
            self._sent(payload, day)

    def _timed(self, payload: s.Send, day: date) -> None:
        """A delivery no sooner than its request's frequency allows after the one before,
        unless marked early with a justification (rules 3; before, only a one-off request's
        second delivery is refused)."""
        known = self.requests.get(payload.request)
        frequency = None if known is None else known.frequency
        if known is None or frequency is None:
            return  # a request never filed: the replay names it
        previous = known.last_sent
        if self.rules < 3 and frequency is not Frequency.ONCE:
            previous = None
        # a justification is a text: the digest of nothing typed justifies nothing
        justified = payload.text_sha256 not in (None, EMPTY_TEXT_SHA256)
        early = payload.early is True
        if justified and not early:
            raise refused(
                EARLY_FLAG,
                _("delivery {delivery} carries a justification but is not marked early").format(
                    delivery=payload.delivery
                ),
            )
        try:
            check_timing(
                payload.request, frequency, previous, day, early=early, justified=justified
            )
        except Refused as exc:
            raise refused(exc.rule, exc.message) from None

    def _same_period(self, payload: s.RequestStep, doing: str) -> None:
        """An approval in the period the request was filed in; an acceptance, a delivery or a
        resumption in the period it was approved in (a successor convention needs a new
        request)."""
        known = self.requests.get(payload.request)
        state, filed = self.convention(), None if known is None else known.filed
        if state is None or known is None or filed is None:
            return  # a policy the log does not bind (compared elsewhere), or never filed
        approved = None if payload.action is Action.APPROVE else known.approved
        since = filed if approved is None else approved
        _refuse(state.period_refusal(since, doing, approved is not None))

    def _sent(self, payload: s.Send, day: date) -> None:
        """A delivery within the request's retention and approved columns, with each adopted
        condition the tool applies (DESIGN §4: what the DPO recommended and the controller
        adopted binds the file)."""
        conditions = self._conditions(payload.request)
        known = self.requests.get(payload.request)
        days = None if known is None else known.retention
        limits = [c.value for c in conditions if c.kind is MAX_DAYS and c.value]
        if days is not None:
            days = min([days, *limits])
            if payload.retention_deadline > day + timedelta(days=days):
                raise refused(
                    RETENTION_DEADLINE,
                    _(
                        "delivery {delivery} is to be deleted by {deadline}, later than the "
                        "{days} days the request and its conditions allow from {date}"
                    ).format(
                        delivery=payload.delivery,
                        deadline=date_text(payload.retention_deadline),
                        days=days,
                        date=date_text(day),
                    ),
                )
        wanted = sorted(
            f"R{c.number} {c.kind.value}" for c in conditions if c.kind in APPLIED_KINDS
        )
        if sorted(payload.conditions) != wanted:
            none = pgettext("conditions", "none")
            raise refused(
                CONDITIONS_NOT_APPLIED,
                _(
                    "delivery {delivery} applies {applied} of the adopted conditions {wanted}"
                ).format(
                    delivery=payload.delivery,
                    applied=", ".join(payload.conditions) or none,
                    wanted=", ".join(wanted) or none,
                ),
            )
        content, state = self._content(payload.request), self.convention()
        if content is None or state is None:
            return  # a content or a policy the log does not bind: compared elsewhere
        approved = [
            column
            for category in map(state.policy.category, content.categories)
            if category is not None
            for column in category.columns
        ]
        for condition in conditions:
            if condition.kind is RecommendationKind.LIMIT_COLUMNS:
                approved = [c for c in approved if c in condition.columns]
        outside = [c for c in payload.columns if c not in approved]
        if outside:
            raise refused(
                COLUMNS_NOT_APPROVED,
                _("delivery {delivery} carries {columns}, outside the approved columns").format(
                    delivery=payload.delivery, columns=", ".join(outside)
                ),
            )

    def _archived(self, request_id: str) -> bool:
        """Whether the request's deliveries are kept in intermediate archiving after use."""
        content = self._content(request_id)
        if content is None:
            return False
        conditions = self._conditions(request_id)
        active, total = content.kept(c.value for c in conditions if c.kind is MAX_DAYS and c.value)
        return total > active

    def _conditions(self, request_id: str) -> list[Recommendation]:
        known = self.requests.get(request_id)
        adopted = set(() if known is None else known.adopted)
        if not adopted:
            return []
        stored = self.law.recommendations(request_id) or ()
        return [r for r in stored if r.number in adopted]

    def _renewable(self, until: date, day: date) -> None:
        """A renewal until ``until`` proposed or countersigned on ``day``: within the term."""
        state = self.convention()  # None: the stored policy differs from the log (compared)
        _refuse(None if state is None else state.renewal_refusal(until, day))

    def _succeeded(self, start: date, until: date | None, day: date, proposed: date | None) -> None:
        """A successor convention proposed or countersigned on ``day``: once the one it follows
        has ended, for a period after it that starts no earlier than it was ``proposed``."""
        state = self.convention()
        if state is not None:
            _refuse(state.why_no_successor(start, until or start, day, proposed))

    def _terminable(self, event: Event, payload: p.Termination, day: date) -> None:
        """A termination in a case of Article 12, by a party that case allows, after its
        notice (rules 3)."""
        state = self.convention()
        if state is not None:
            party = state.policy.party(event.party)
            kind = None if party is None else party.kind
            notice, effective = payload.notice_date, payload.effective
            _refuse(why_not_terminated(state, payload.case, kind, notice, effective, day))

    def _amendable(self, payload: p.Amendment | p.Countersignature, day: date) -> None:
        """An avenant of a convention neither ended (rules 3) nor terminated that day, keeping
        its id and parties."""
        state = self.convention()
        if state is None:
            return  # the stored policy differs from the log: the comparison names it
        _refuse(state.avenant_refusal(day))
        if isinstance(payload, p.Amendment):
            new = self.law.policy(payload.policy.version)
            if new is not None and new.party_ids != state.policy.party_ids:
                raise refused(
                    AVENANT_NOT_ALLOWED,
                    _("an avenant keeps the parties ({parties})").format(
                        parties=", ".join(state.policy.party_ids)
                    ),
                )

    def _screened(self, payload: s.RequestFile | s.RequestAmend, day: date) -> None:
        if payload.policy_version != self.version:
            raise refused(
                POLICY_VERSION,
                _(
                    "screened under policy v{version}; the convention's version then was v{then}"
                ).format(version=payload.policy_version, then=self.version),
            )
        known = self._of(payload.request)
        content = self.law.content(payload.request, payload.content_sha256)
        if content is None:
            raise refused(
                CONTENT_MISSING,
                _("the content it files (sha256 {digest}…) is not stored, or not as filed").format(
                    digest=payload.content_sha256[:16]
                ),
            )
        # active use, then the intermediate archiving the content asks for
        known.retention, known.content_sha256 = content.kept_days, payload.content_sha256
        self._remember(payload.request, content)
        state = self.convention()
        if state is None:
            return  # the stored policy differs from the log: the comparison names it
        why = self._why_not_in_force(state, day)
        key = (self.version, payload.content_sha256, why)
        screening = self._screenings.get(key)
        if screening is None:
            try:
                screening = screen(state.policy, content, why)
            except ExchangeError as exc:  # a category the policy does not know
                raise refused("UNKNOWN_REFERENCE", exc.message) from None
            self._screenings[key] = screening
            if len(self._screenings) > CONTENTS_KEPT:
                self._screenings.popitem(last=False)
        if screening.blocking:
            first = screening.blocking[0]
            raise refused(first.code, first.message)
        recorded = (payload.findings, payload.triage, payload.dpia_required)
        if recorded != (tuple(sorted(screening.codes)), screening.triage, screening.dpia_required):
            raise refused(
                SCREENING_RECORDED,
                _("the findings, triage or DPIA flag it records are not the screening's"),
            )

    def follow(self, event: Event, payload: p.Payload) -> None:
        """What the event changes in the convention's state, once applied: a renewal or an
        avenant once countersigned, a termination at once; and a delivery's day, which the next
        one is timed from (whatever a check found of it)."""
        if isinstance(payload, s.Send):
            self._of(payload.request).last_sent = (payload.delivery, procedure_date(event.time))
            return
        if isinstance(payload, p.ConventionChange):
            version = payload.policy.version if isinstance(payload, p.Amendment) else None
            self.changes.append(change_of(event, payload, version, bilateral=True))
            return
        if not isinstance(payload, p.Countersignature | p.Withdrawal):
            return
        for index, change in enumerate(self.changes):
            if change.seq != payload.proposal or not change.pending:
                continue
            if isinstance(payload, p.Withdrawal):
                self.changes[index] = replace(change, withdrawn_seq=event.seq)
                return
            self.changes[index] = replace(change, agreed_seq=event.seq)
            if change.policy_version is not None:
                self.version = change.policy_version
            return


def change_of(
    event: Event, payload: p.ConventionChange, version: int | None, *, bilateral: bool
) -> ConventionChange:
    """The convention change an event records: a termination in effect at once; a renewal or
    an avenant pending the other party's countersignature (``bilateral``, rules 2), else at
    once (a 0.1.0 log)."""
    kind = ChangeKind(payload.change_kind)
    at_once = kind is ChangeKind.TERMINATION or not bilateral
    return ConventionChange(
        seq=event.seq,
        kind=kind,
        effective=payload.effective,
        reference="",
        by=event.actor,
        at=event.time,
        party=event.party,
        policy_version=version,
        agreed_seq=event.seq if at_once else None,
        until=payload.until if isinstance(payload, p.Successor) else None,
    )
