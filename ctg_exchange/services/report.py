"""``ctg-exchange report``: the committee's figures, read from the audit log alone (issue 18).

A pure read: the events are streamed from the store in order, with their payloads, and the
policy versions they reference are read for their due times; nothing is signed, nothing is
written, no event is added. A remote workspace is read in this party's verified copy of the
served log (the caller's :class:`~.reading.Reader` chooses it), so a witness gets the same
figures as the host.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

from ..errors import CorruptRow, InvalidInput, NotFound, WorkspaceError, cut
from ..i18n import _
from ..report.figures import (
    REQUEST_ACTIONS,
    Entry,
    Figures,
    Period,
    Scope,
    Terms,
    UnreadableEvent,
    compute,
)
from ..store.sql_reads import EventFilter, ReadQueries
from .reading import Reader


@dataclass(frozen=True)
class PolicyText:
    """What the report reads of one stored policy version."""

    version: int
    title: str
    deadline: int
    fields: dict[str, str]  # id -> label (the policy's words)
    parties: dict[str, str]  # id -> name


@dataclass(frozen=True)
class Report:
    figures: Figures
    policy: PolicyText  # the latest version stored: titles and labels
    simulated: bool
    today: date


def default_period(today: date) -> tuple[date, date]:
    """The current calendar year (in France)."""
    return date(today.year, 1, 1), date(today.year, 12, 31)


def make_report(
    reader: Reader,
    today: date,
    start: date | None,
    end: date | None,
    field: str | None = None,
    party: str | None = None,
) -> Report:
    """The figures of the period ``start``–``end`` (default: this year) for one field and/or
    one party (either side of a request)."""
    first, last = default_period(start or end or today)
    start, end = start or first, end or last
    if start > end:
        raise InvalidInput(
            _("--from {start} is after --to {end}").format(
                start=start.isoformat(), end=end.isoformat()
            )
        )
    with reader.store.reading() as tx:
        versions = _policies(tx, reader)
        latest = versions[max(versions)]
        _known(field, {k for v in versions.values() for k in v.fields}, "field", "--field")
        _known(party, {k for v in versions.values() for k in v.parties}, "party", "--party")

        def terms(version: int) -> Terms:
            found = versions.get(version)
            if found is None:
                raise KeyError(version)
            return Terms(found.deadline)

        period = Period(start, end, min(end, today))
        try:
            figures = compute(_entries(tx), terms, period, Scope(field, party))
        except UnreadableEvent as exc:
            raise CorruptRow("audit_events", f"#{exc.seq}") from None
    return Report(figures, latest, reader.simulated, today)


def _known(value: str | None, known: set[str], kind: str, option: str) -> None:
    if value is not None and value not in known:
        message = (
            _("unknown field {value!r} for {option}: {known}")
            if kind == "field"
            else _("unknown party {value!r} for {option}: {known}")
        )
        raise NotFound(
            message.format(value=cut(value), option=option, known=", ".join(sorted(known)))
        )


def _entries(tx: ReadQueries) -> Iterator[Entry]:
    for row in tx.event_rows(EventFilter()):
        seq, time, _actor, party, _role, action, _subject, payload = row[:8]
        if action not in REQUEST_ACTIONS:
            continue  # the members, the convention, the register: not parsed
        try:
            parsed = json.loads(payload)
        except (TypeError, ValueError):
            raise CorruptRow("audit_events", f"#{seq}") from None
        if not isinstance(parsed, dict):
            raise CorruptRow("audit_events", f"#{seq}")
        yield Entry(int(seq), str(time), str(party), str(action), parsed)


def _policies(tx: ReadQueries, reader: Reader) -> dict[int, PolicyText]:
    """Every stored policy version (a workspace holds a few: one per avenant)."""
    found: dict[int, PolicyText] = {}
    version = 1
    while (row := tx.policy_version(version)) is not None:
        digest, text = row
        if hashlib.sha256(text.encode("utf-8")).hexdigest() != digest:
            raise CorruptRow("policies", f"v{version}")
        found[version] = _policy_text(version, text)
        version += 1
    if not found:
        raise WorkspaceError(_("the workspace {path} has no policy").format(path=reader.root))
    return found


def _policy_text(version: int, text: str) -> PolicyText:
    import yaml

    try:
        data: Any = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506
        deadline = data["opinion_deadline_days"]
        if type(deadline) is not int:
            raise TypeError("not a number of days")
        return PolicyText(
            version=version,
            title=str(data["title"]),
            deadline=deadline,
            fields={str(f["id"]): str(f["label"]) for f in data["fields"]},
            parties={str(p["id"]): str(p["name"]) for p in data["parties"]},
        )
    except (yaml.YAMLError, TypeError, KeyError, AttributeError):
        raise CorruptRow("policies", f"v{version}") from None
