"""What a transition costs on PostgreSQL, in round trips to the server (issue 17, item 6).

A transition (``perform``: a dry run, then the signed commit) is counted on the wire: libpq's
own trace of the messages the client sends (``PQtrace``) is read back and every point where the
client waits for the server's answer is one round trip. No clock is read: the count is the same
on a quiet machine and a loaded one.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import pytest

from conftest import PASSPHRASE, Ctg

T = TypeVar("T")
MAX_ROUND_TRIPS = 8  # per transition, dry run and commit together

pytestmark = pytest.mark.postgres_only


def round_trips(trace: str) -> int:
    """The times the client waited for the server in a libpq trace: each simple ``Query``, each
    ``Sync`` (the end of a statement, or of a pipeline), each ``Flush`` (a result asked for in
    the middle of a pipeline). A ``Flush`` right after a ``Sync`` is the same wait (psycopg
    leaves a pipeline with both)."""
    trips, previous = 0, ""
    for line in trace.splitlines():
        direction, _length, kind, *_ = (*line.split("\t"), "")
        if direction != "F":
            continue
        if kind in ("Query", "Sync") or (kind == "Flush" and previous != "Sync"):
            trips += 1
        previous = kind
    return trips


@contextmanager
def traced(connection: Any) -> Iterator[list[str]]:
    """The messages exchanged on ``connection`` within the block (one string, when it ends)."""
    from psycopg.pq import Trace

    got: list[str] = []
    with tempfile.TemporaryFile() as sink:
        connection.pgconn.trace(sink.fileno())
        connection.pgconn.set_trace_flags(Trace.SUPPRESS_TIMESTAMPS | Trace.REGRESS_MODE)
        try:
            yield got
        finally:
            connection.pgconn.untrace()
            sink.seek(0)
            got.append(sink.read().decode("utf-8", "replace"))


def test_the_counter_sees_one_round_trip_per_statement_and_one_per_pipeline(ctg: Ctg) -> None:
    import psycopg

    with psycopg.connect(ctg.database, autocommit=True) as connection:
        with traced(connection) as plain:
            connection.execute("SELECT 1").fetchone()
            connection.execute("SELECT %s", (2,)).fetchone()
        with traced(connection) as piped:
            with connection.pipeline():
                connection.execute("SELECT 1")
                connection.execute("SELECT 2")
    assert round_trips(plain[0]) == 2
    assert round_trips(piped[0]) == 1


def test_each_transition_of_the_procedure_takes_at_most_eight_round_trips(ctg: Ctg) -> None:
    from procedure_worker import CONTENT

    from ctg_exchange.crypto.keys import KeyDir
    from ctg_exchange.domain.models import RequestContent, Verdict
    from ctg_exchange.services import requests, review
    from ctg_exchange.services.session import Keyring, Session
    from ctg_exchange.services.workspace import Workspace

    workspace = Workspace.open(ctg.workspace)
    try:
        clock = workspace.clock()  # as a command does, before its transition
        keyring = Keyring(KeyDir(ctg.keys), lambda prompt, confirm=False: PASSPHRASE)
        connection = workspace.store._conn
        counted: dict[str, list[int]] = {}

        def count(name: str, transition: Callable[..., T], *args: Any) -> T:
            with traced(connection) as trace:
                result = transition(*args)
            counted.setdefault(name, []).append(round_trips(trace[0]))
            return result

        def as_(member: str) -> Session:
            return Session(workspace, keyring, clock, member)

        content = RequestContent.model_validate(CONTENT)
        for _ in range(2):
            rid = count("file", requests.file_request, as_("v.agent"), content).id
            count("study accept", review.study_accept, as_("c.analyst"), rid, "Étude")
            count("study submit", review.study_submit, as_("c.analyst"), rid)
            count("opinion", review.give_opinion, as_("c.dpo"), rid, Verdict.FAVOURABLE, "Avis")
            count("approve", review.approve, as_("c.controller"), rid)
    finally:
        workspace.close()
    print("round trips per transition:", counted)
    assert all(n <= MAX_ROUND_TRIPS for trips in counted.values() for n in trips), counted
    assert ctg.json("audit", "verify")["ok"]
