"""The committee's figures, computed from the audit log alone (issue 18).

Pure: the caller streams the events (:class:`Entry`, in the log's order) and says what each
policy version the requests reference sets (:class:`Terms`); nothing here reads a store or a
file, so a party's verified copy of a hosted log gives the same figures as the workspace.
Only a small state per request is kept (its parties, field, a few dates, its received
deliveries), never the events themselves: a log of a million events streams through.

How the period applies (docs/report.md says the same to the committee): every event counts in
the period of its day in France. A request counts in the period of its filing, with its status
at the period's end; an opinion, a decision, a return, a withdrawal, a lapse in the period they
were recorded; a delay in the period of the step that ends it; a delivery in the period of its
sending; a deletion in the period of its deadline. Events after the period's end are not read,
so a past period's figures do not change. "Overdue" is judged on the period's last day, or
today while the period runs (``as_of``).
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from types import SimpleNamespace
from typing import Any

from ..domain.actions import REQUEST_STEPS, Action
from ..domain.dates import procedure_date
from ..domain.states import Status, Verdict

STAGES = (
    "filing_to_opinion",
    "submission_to_opinion",
    "opinion_to_decision",
    "filing_to_decision",
    "decision_to_conditions",
    "conditions_to_first_delivery",
    "filing_to_first_delivery",
)
DELETION_OUTCOMES = ("on_time", "late", "overdue", "not_yet_due")
_STATUSES = frozenset(s.value for s in Status)
_VERDICTS = frozenset(v.value for v in Verdict)


class UnreadableEvent(ValueError):
    """An event whose payload is not what its action writes (a row changed behind the tool's
    back): ``seq`` names it."""

    def __init__(self, seq: int) -> None:
        super().__init__(f"event #{seq}")
        self.seq = seq


@dataclass(frozen=True)
class Entry:
    """One audit event as the report reads it."""

    seq: int
    time: str  # UTC, as the log writes it
    party: str  # the acting member's party
    action: str
    payload: Mapping[str, Any]


@dataclass(frozen=True)
class Terms:
    """What the report reads of one policy version."""

    opinion_deadline_days: int


@dataclass(frozen=True)
class Period:
    """Calendar days in France, both included; ``as_of`` is the day overdue is judged on."""

    start: date
    end: date
    as_of: date

    def __contains__(self, day: object) -> bool:
        return isinstance(day, date) and self.start <= day <= self.end


@dataclass(frozen=True)
class Scope:
    """Only the requests of this field, and/or of which this party is one side."""

    field: str | None = None
    party: str | None = None


@dataclass(frozen=True)
class Delay:
    """The days a stage took, over the steps that ended it in the period."""

    count: int
    median: float | None
    p90: int | None
    maximum: int | None
    due_days: tuple[int, ...]  # the policy's due time(s), for a stage that has one
    within_due: int | None
    late: int | None


@dataclass(frozen=True)
class Figures:
    period: Period
    scope: Scope
    filed: int
    by_status: dict[str, int]
    by_direction: dict[tuple[str, str], int]
    non_personal: int
    findings: dict[str, int]
    delays: dict[str, Delay]
    verdicts: dict[str, int]
    opinions_overdue: int
    approved: int
    rejected: int
    against_opinion: int
    adopted: int
    set_aside: int
    returns: int
    withdrawals: int
    lapses: int
    deliveries: int
    early_deliveries: int
    rows: int
    bytes: int
    deletions: dict[str, int]


class _Request:
    """What the report keeps of one request while the log streams."""

    __slots__ = ("accepted_on", "decided_on", "field", "filed_on", "findings", "first_sent_on",
                 "from_party", "opinion_on", "policy_version", "received", "status",
                 "submitted_on", "to_party", "triage")  # fmt: skip

    def __init__(self, payload: Mapping[str, Any], party: str, day: date) -> None:
        self.from_party, self.filed_on, self.status = party, day, Status.FILED.value
        self.submitted_on: date | None = None
        self.opinion_on: date | None = None
        self.decided_on: date | None = None
        self.accepted_on: date | None = None
        self.first_sent_on: date | None = None
        self.received: dict[int, tuple[date, date | None]] = {}  # delivery -> deadline, deleted
        self.content(payload)

    def content(self, payload: Mapping[str, Any]) -> None:
        self.to_party, self.field = str(payload["to"]), str(payload["field"])
        self.triage, self.policy_version = str(payload["triage"]), int(payload["policy_version"])
        self.findings = tuple(str(code) for code in payload["findings"])

    def within(self, scope: Scope) -> bool:
        if scope.field is not None and self.field != scope.field:
            return False
        return scope.party is None or scope.party in (self.from_party, self.to_party)


@dataclass
class _Tally:
    """The counts and delays of the events in the period (in scope)."""

    delays: dict[str, list[int]] = field(default_factory=lambda: {s: [] for s in STAGES})
    opinion_due: list[tuple[int, int]] = field(default_factory=list)  # (days, due)
    counts: Counter[str] = field(default_factory=Counter)
    verdicts: Counter[str] = field(default_factory=Counter)


def compute(
    entries: Iterable[Entry], terms: Callable[[int], Terms], period: Period, scope: Scope
) -> Figures:
    """The figures of ``period`` for ``scope``, from the log's events in order."""
    requests: dict[str, _Request] = {}
    # requests filed after the period's end: the log takes an event dated a little before its
    # predecessor (clocks differ), so a later step of theirs may still fall within the period
    later: set[str] = set()
    tally = _Tally()
    for entry in entries:
        if entry.action not in REQUEST_ACTIONS:
            continue
        try:
            day = procedure_date(entry.time)
            if day > period.end:
                if entry.action == A.FILE:
                    later.add(str(entry.payload["request"]))
                continue
            if later and str(entry.payload["request"]) in later:
                continue
            _apply(entry, day, requests, tally, terms, period, scope)
        except (KeyError, TypeError, ValueError, AttributeError):
            raise UnreadableEvent(entry.seq) from None
    return _figures(requests, tally, terms, period, scope)


REQUEST_ACTIONS = frozenset(action.value for action in REQUEST_STEPS)
# the actions' names as plain strings (an enum member's lookup costs more, a million times over)
A = SimpleNamespace(**{action.name: action.value for action in Action})


def _apply(
    entry: Entry,
    day: date,
    requests: dict[str, _Request],
    tally: _Tally,
    terms: Callable[[int], Terms],
    period: Period,
    scope: Scope,
) -> None:
    payload, action = entry.payload, entry.action
    if action == A.FILE:
        requests[str(payload["request"])] = _Request(payload, entry.party, day)
        return
    request = requests[str(payload["request"])]
    status = payload["to_status"]
    if status not in _STATUSES:
        raise ValueError(status)
    request.status = status
    if action == A.AMEND:
        request.content(payload)
    elif action == A.STUDY_SUBMIT:
        request.submitted_on = day
    elif action == A.RECEIVE:
        deadline = date.fromisoformat(str(payload["retention_deadline"]))
        request.received[int(payload["delivery"])] = (deadline, None)
    elif action == A.DESTROY and int(payload["delivery"]) in request.received:
        number = int(payload["delivery"])
        request.received[number] = (request.received[number][0], day)
    if day < period.start or not request.within(scope):
        _dates(action, request, day)
        return
    _count(action, payload, request, day, tally, terms)
    _dates(action, request, day)


def _count(
    action: str,
    payload: Mapping[str, Any],
    request: _Request,
    day: date,
    tally: _Tally,
    terms: Callable[[int], Terms],
) -> None:
    """What an event of the period adds to the figures (before its request's dates move)."""
    counts, delays = tally.counts, tally.delays
    if action == A.WITHDRAW:
        counts["withdrawals"] += 1
    elif action == A.STUDY_RETURN:
        counts["returns"] += 1
    elif action == A.LAPSE:
        counts["lapses"] += 1
    elif action == A.OPINION and request.opinion_on is None:
        if payload["verdict"] not in _VERDICTS:
            raise ValueError(payload["verdict"])
        tally.verdicts[payload["verdict"]] += 1
        delays["filing_to_opinion"].append((day - request.filed_on).days)
        if request.submitted_on is not None:
            days = (day - request.submitted_on).days
            delays["submission_to_opinion"].append(days)
            due = terms(request.policy_version).opinion_deadline_days
            tally.opinion_due.append((days, due))
    elif action in (A.APPROVE, A.REJECT) and request.decided_on is None:
        counts["approved" if action == A.APPROVE else "rejected"] += 1
        if action == A.APPROVE:
            counts["against_opinion"] += payload["against_opinion"] is True
            counts["adopted"] += len(payload["adopted"])
            counts["set_aside"] += len(payload["set_aside"])
        if request.opinion_on is not None:
            delays["opinion_to_decision"].append((day - request.opinion_on).days)
        delays["filing_to_decision"].append((day - request.filed_on).days)
    elif action == A.ACCEPT_CONDITIONS and request.accepted_on is None:
        if request.decided_on is not None:
            delays["decision_to_conditions"].append((day - request.decided_on).days)
    elif action == A.SEND:
        counts["deliveries"] += 1
        counts["early_deliveries"] += payload.get("early") is True
        counts["rows"] += int(payload["rows"])
        counts["bytes"] += int(payload["payload_size"])
        if request.first_sent_on is None:
            if request.accepted_on is not None:
                delays["conditions_to_first_delivery"].append((day - request.accepted_on).days)
            delays["filing_to_first_delivery"].append((day - request.filed_on).days)


def _dates(action: str, request: _Request, day: date) -> None:
    """The request's step dates, each the first time it is reached."""
    if action == A.OPINION and request.opinion_on is None:
        request.opinion_on = day
    elif action in (A.APPROVE, A.REJECT) and request.decided_on is None:
        request.decided_on = day
    elif action == A.ACCEPT_CONDITIONS and request.accepted_on is None:
        request.accepted_on = day
    elif action == A.SEND and request.first_sent_on is None:
        request.first_sent_on = day


def _figures(
    requests: dict[str, _Request],
    tally: _Tally,
    terms: Callable[[int], Terms],
    period: Period,
    scope: Scope,
) -> Figures:
    by_status = dict.fromkeys((s.value for s in Status), 0)
    by_direction: Counter[tuple[str, str]] = Counter()
    findings: Counter[str] = Counter()
    deletions = dict.fromkeys(DELETION_OUTCOMES, 0)
    filed = non_personal = overdue = 0
    for request in requests.values():
        if not request.within(scope):
            continue
        if request.filed_on in period:
            filed += 1
            by_status[request.status] += 1
            by_direction[(request.from_party, request.to_party)] += 1
            non_personal += request.triage == "non_personal"
            findings.update(set(request.findings))
        if request.status == Status.AWAITING_DPO.value and request.submitted_on is not None:
            due_days = terms(request.policy_version).opinion_deadline_days
            due_on = request.submitted_on + timedelta(days=due_days)
            overdue += due_on in period and due_on < period.as_of
        for deadline, deleted_on in request.received.values():
            if deadline in period:
                deletions[_deletion(deadline, deleted_on, period.as_of)] += 1
    counts = tally.counts
    delays = {stage: _delay(values) for stage, values in tally.delays.items()}
    due = tally.opinion_due
    delays["submission_to_opinion"] = _delay(
        tally.delays["submission_to_opinion"],
        tuple(sorted({d for _, d in due})),
        sum(days <= d for days, d in due),
    )
    return Figures(
        period=period,
        scope=scope,
        filed=filed,
        by_status=by_status,
        by_direction=dict(sorted(by_direction.items())),
        non_personal=non_personal,
        findings=dict(sorted(findings.items())),
        delays=delays,
        verdicts={v.value: tally.verdicts[v.value] for v in Verdict},
        opinions_overdue=overdue,
        **{name: counts[name] for name in _COUNTS},
        deletions=deletions,
    )


_COUNTS = ("approved", "rejected", "against_opinion", "adopted", "set_aside", "returns",
           "withdrawals", "lapses", "deliveries", "early_deliveries", "rows", "bytes")  # fmt: skip


def _deletion(deadline: date, deleted_on: date | None, as_of: date) -> str:
    if deleted_on is not None and deleted_on <= as_of:
        return "on_time" if deleted_on <= deadline else "late"
    return "overdue" if deadline < as_of else "not_yet_due"


def _delay(values: list[int], due: tuple[int, ...] = (), within: int | None = None) -> Delay:
    if not values:
        return Delay(0, None, None, None, due, None if not due else 0, None if not due else 0)
    ordered = sorted(values)
    median = statistics.median(ordered)
    rank = math.ceil(0.9 * len(ordered))  # the nearest-rank 90th percentile
    late = None if within is None else len(ordered) - within
    return Delay(
        count=len(ordered),
        median=float(median),
        p90=ordered[rank - 1],
        maximum=ordered[-1],
        due_days=due,
        within_due=within,
        late=late,
    )
