"""What the read commands read, light: a page of requests, the DPO's inbox, a page of events.

``request list``, ``dpo inbox`` and ``audit log`` are what a person runs most, at the terminal,
and a workspace collects years of requests. These read the rows they show, filtered and
paged in SQL (:mod:`ctg_exchange.store.sql_reads`), as stored (:mod:`.stored`): no model of the
procedure is built, pydantic and the cryptography are not loaded, and the policy in force is
read for the two values a list needs, not validated whole (it was when it was loaded; its text
is still checked against its digest).

A remote workspace is read in this party's verified copy of the served log (the caller gives
its directory), with the same code.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..domain.states import Role, Status
from ..errors import CorruptRow, InvalidInput, NotAuthorised, NotFound, WorkspaceError, cut
from ..i18n import _
from ..store.sql_reads import EventFilter, RequestFilter, stored_event
from .opening import copy_refusal, open_store, read_config
from .stored import stored_request

if TYPE_CHECKING:
    from ..audit.events import StoredEvent
    from ..store.postgres import PostgresStore
    from ..store.sql_reads import ReadQueries
    from ..store.sqlite import SqliteStore
    from .clock import Clock

DEFAULT_LIMIT = 50  # what a list shows unless told otherwise


@dataclass
class Reader:
    """A workspace opened to be read: its store, and whether its clock is a rehearsal's."""

    root: Path
    store: SqliteStore | PostgresStore

    @classmethod
    def open(cls, root: Path) -> Reader:
        config = read_config(root)
        return cls(root, open_store(root, config["database"], copy_refusal(root, config)))

    @functools.cached_property
    def simulated(self) -> bool:
        """Created as a simulation (``init --simulated-clock``): as the genesis says."""
        with self.store.reading() as tx:
            payload = tx.genesis_payload()
        if payload is None:
            raise WorkspaceError(
                _("the workspace {path} has no genesis event").format(path=self.root)
            )
        try:
            procedure = json.loads(payload).get("procedure")
        except (ValueError, AttributeError):
            raise CorruptRow("audit_events", "#1") from None
        return isinstance(procedure, dict) and procedure.get("clock") == "simulated"

    def clock(self) -> Clock:
        """The clock this workspace allows: ``CTG_TODAY`` is refused unless it is simulated."""
        from .clock import Clock

        return Clock.for_workspace(self.simulated)

    def close(self) -> None:
        self.store.close()


@dataclass(frozen=True)
class PolicyFacts:
    """What the lists read of the policy in force."""

    version: int
    opinion_deadline_days: int
    time_zone: str
    purposes: dict[str, str]  # each purpose kind's label (the policy's words, French)


def policy_facts(tx: ReadQueries, root: Path) -> PolicyFacts:
    """The policy in force's opinion deadline, time zone and purpose kinds' labels (its text
    checked against its digest, as every reading of a policy does), read from its YAML once
    and kept in this machine's cache (:mod:`.cache`) under its digest."""
    from .cache import cached, keep

    row = tx.policy_in_force()
    if row is None:
        raise WorkspaceError(_("the workspace {path} has no policy").format(path=root))
    version, digest, text = row
    if hashlib.sha256(text.encode("utf-8")).hexdigest() != digest:
        raise CorruptRow("policies", f"v{version}")
    kept = cached("policy-facts", [digest])
    if _facts(kept):
        return PolicyFacts(version, kept[0], kept[1], kept[2])
    facts = _policy_facts(version, text)
    keep("policy-facts", [digest], [facts.opinion_deadline_days, facts.time_zone, facts.purposes])
    return facts


def _facts(value: Any) -> bool:
    """Whether ``value`` is what :func:`policy_facts` keeps: days, a zone, the labels."""
    return (
        isinstance(value, list)
        and len(value) == 3
        and type(value[0]) is int
        and isinstance(value[1], str)
        and isinstance(value[2], dict)
        and all(isinstance(label, str) for label in value[2].values())
    )


def _policy_facts(version: int, text: str) -> PolicyFacts:
    import yaml

    try:
        data = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506
        deadline = data["opinion_deadline_days"]
        zone = data.get("time_zone", "Europe/Paris")
        if not isinstance(deadline, int) or not isinstance(zone, str):
            raise TypeError("not a number of days, or not a zone")
        purposes = {str(kind["id"]): str(kind["label"]) for kind in data["purpose_kinds"]}
    except (yaml.YAMLError, TypeError, KeyError, AttributeError):
        raise CorruptRow("policies", f"v{version}") from None
    return PolicyFacts(version, deadline, zone, purposes)


@dataclass(frozen=True)
class Page:
    """The rows a list shows, and how many it selects in all."""

    rows: list[dict[str, Any]]
    total: int

    @property
    def more(self) -> int:
        return self.total - len(self.rows)


def overdue_filter(tx: ReadQueries, root: Path, today: date) -> str:
    """The day before which a request submitted to the DPO is overdue today."""
    deadline = policy_facts(tx, root).opinion_deadline_days
    return (today - timedelta(days=deadline)).isoformat()


def request_page(reader: Reader, where: RequestFilter, limit: int | None) -> Page:
    """The ``limit`` most recent requests ``where`` selects (all with None), oldest first."""
    with reader.store.reading() as tx:
        if limit is None:
            rows = [stored_request(str(r), str(d)) for r, d in tx.request_rows(where)]
            return Page(rows, len(rows))
        found, total = tx.request_page(where, limit)
    return Page([stored_request(rid, doc) for rid, doc in found], total)


def each_request(reader: Reader, where: RequestFilter) -> Iterator[dict[str, Any]]:
    """Every request ``where`` selects, oldest first, one at a time (for ``--json --all``)."""
    with reader.store.reading() as tx:
        for rid, doc in tx.request_rows(where):
            yield stored_request(str(rid), str(doc))


@dataclass(frozen=True)
class Standing:
    """A member as the rules see them (:class:`~ctg_exchange.domain.states.Acting`)."""

    id: str
    party: str
    roles: tuple[Role, ...]
    revoked_at: str | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def has(self, role: Role) -> bool:
        return role in self.roles


def acting_member(tx: ReadQueries, actor_id: str | None, today: date | None = None) -> Standing:
    """The acting member, active and, on ``today``, within its term (the same refusals as
    every service's)."""
    from ..domain.rules import ensure_active, ensure_in_term

    if not actor_id:
        raise InvalidInput(_("who is acting? pass --as MEMBER or set CTG_MEMBER"))
    row = tx.member_standing(actor_id)
    if row is None:
        raise NotFound(
            _("unknown member {id!r}").format(id=cut(actor_id)),
            hint=_("`ctg-exchange member list` shows them"),
        )
    member_id, party, roles, revoked_at, until = row
    try:
        member = Standing(member_id, party, tuple(Role(r) for r in roles.split(",")), revoked_at)
        term = None if until is None else date.fromisoformat(until)
    except ValueError:
        raise CorruptRow("members", member_id) from None
    ensure_active(member)
    if today is not None:
        ensure_in_term(member_id, term, today)
    return member


def may_read(reader: Reader, actor_id: str | None, today: date) -> None:
    """Reading as a member (``--as``) is refused to one revoked or past its term (an
    auditor's ``--until``). Without ``--as``, whoever can open the workspace's files reads
    them; a hosted workspace's server refuses such a member every call."""
    if not actor_id:
        return
    with reader.store.reading() as tx:
        if tx.member_standing(actor_id) is not None:
            acting_member(tx, actor_id, today)


@dataclass(frozen=True)
class InboxEntry:
    request: dict[str, Any]
    due: date
    overdue: bool


def dpo_inbox(reader: Reader, actor_id: str | None, today: date) -> list[InboxEntry]:
    """Requests awaiting the acting DPO's opinion, by due date (overdue first)."""
    from ..domain.rules import RULE_HOLDER_DPO

    with reader.store.reading() as tx:
        actor = acting_member(tx, actor_id, today)
        if not actor.has(Role.DPO):
            raise NotAuthorised(
                RULE_HOLDER_DPO,
                _("{member} is not a DPO: the inbox is the DPO's").format(member=actor.id),
            )
        deadline = timedelta(days=policy_facts(tx, reader.root).opinion_deadline_days)
        waiting = RequestFilter(status=Status.AWAITING_DPO.value, to_party=actor.party)
        requests = [stored_request(str(r), str(d)) for r, d in tx.request_rows(waiting)]
    entries = []
    for request in requests:
        try:
            due = date.fromisoformat(request["submitted_on"] or request["filed_on"]) + deadline
        except (TypeError, ValueError):
            raise CorruptRow("requests", request["id"]) from None
        entries.append(InboxEntry(request, due, due < today))
    return sorted(entries, key=lambda entry: (entry.due, entry.request["id"]))


def since_time(day: date) -> str:
    """The first stored UTC time of ``day`` in France (the procedure's calendar)."""
    from datetime import UTC

    from ..domain.dates import PARIS

    start = datetime.combine(day, time(0), tzinfo=PARIS).astimezone(UTC)
    return start.strftime("%Y-%m-%dT%H:%M:%S")


def event_page(
    reader: Reader, where: EventFilter, limit: int | None
) -> tuple[list[StoredEvent], int]:
    """The ``limit`` latest events ``where`` selects (all with None), in order, and how many
    it selects in all."""
    with reader.store.reading() as tx:
        log_id = tx.workspace_log_id()
        if limit is None:
            events = [stored_event(log_id, row) for row in tx.event_rows(where)]
            return events, len(events)
        rows, total = tx.event_page(where, limit)
    return [stored_event(log_id, row) for row in rows], total


def members(reader: Reader) -> list[dict[str, Any]]:
    """Every member as ``member list`` shows them (what ``--json`` prints), by party and id."""
    keys = ("id", "name", "party", "roles", "public_key", "fingerprint", "added_by", "added_at",
            "revoked_at", "revoked_by", "until")  # fmt: skip
    roles = {role.value for role in Role}
    with reader.store.reading() as tx:
        rows = tx.member_rows()
    found = []
    for row in rows:
        member = dict(zip(keys, row, strict=True))
        member["roles"] = str(member["roles"]).split(",")
        if not set(member["roles"]) <= roles or not all(isinstance(v, str) for v in row[:8]):
            raise CorruptRow("members", member["id"])
        found.append(member)
    return found


def fiches(reader: Reader, controller: str | None) -> list[dict[str, Any]]:
    """The latest version of each fiche as ``register list`` shows it: its ref, controller and
    name (read from its stored document), version and date."""
    with reader.store.reading() as tx:
        rows = tx.register_rows(controller)
    found = []
    for ref, version, at, doc in rows:
        try:
            entry = json.loads(doc)
            shown = {key: entry[key] for key in ("ref", "controller", "name")}
            if not all(isinstance(value, str) for value in shown.values()):
                raise TypeError("not a text")
        except (ValueError, TypeError, KeyError):
            raise CorruptRow("register_versions", f"{ref} v{version}") from None
        found.append({**shown, "version": int(version), "at": str(at)})
    return found
