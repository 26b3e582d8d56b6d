"""Lists page and filter in SQL (issue 17): ``request list``, ``dpo inbox``, ``audit log``.

Each filter selects the same rows as a table and as ``--json``, on both backends; a list shows
the most recent rows and says on stderr how many it left out; the read commands read requests
as stored without building their models, and give the very document the models give.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from conftest import REQUEST, REQUEST_TO_VILLE, Ctg, State

ROOT = Path(__file__).resolve().parents[1]
EARLY, LATE = "2025-06-02", "2025-07-15"  # the opinion deadline is 30 days


def _listed(ctg: Ctg) -> None:
    """Four requests: one awaiting the DPO since EARLY (overdue at LATE), then, at LATE, one
    filed, one in another field, and one the Caf filed to the town hall."""

    def filed(*args: str, as_: str = "v.agent") -> str:
        result = ctg(*args, "--json", as_=as_, env={"CTG_TODAY": LATE})
        assert result.exit_code == 0, result.output
        return str(json.loads(result.stdout)["id"])

    waiting = ctg.file_request()
    ctg.advance(waiting, "awaiting_dpo")
    filed(*REQUEST)
    filed(*REQUEST, "--field", "enfance")
    filed(*REQUEST_TO_VILLE, as_="c.agent")
    assert waiting == "DX-2025-0001"


@pytest.fixture
def listed(state: State, monkeypatch: pytest.MonkeyPatch) -> Ctg:
    ctg = state("listed", _listed)
    monkeypatch.setenv("CTG_TODAY", LATE)
    return ctg


FILTERS: dict[str, tuple[tuple[str, ...], list[str]]] = {
    "none": ((), ["DX-2025-0001", "DX-2025-0002", "DX-2025-0003", "DX-2025-0004"]),
    "status": (("--status", "awaiting_dpo"), ["DX-2025-0001"]),
    "from": (("--from", "caf92"), ["DX-2025-0004"]),
    "to": (("--to", "caf92"), ["DX-2025-0001", "DX-2025-0002", "DX-2025-0003"]),
    "field": (("--field", "enfance"), ["DX-2025-0003"]),
    "since": (("--since", "2025-07-01"), ["DX-2025-0002", "DX-2025-0003", "DX-2025-0004"]),
    "overdue": (("--overdue",), ["DX-2025-0001"]),
    "combined": (("--to", "caf92", "--since", "2025-07-15", "--field", "petite_enfance"),
                 ["DX-2025-0002"]),
    "none match": (("--from", "caf92", "--field", "enfance"), []),
}  # fmt: skip


@pytest.mark.parametrize("case", FILTERS)
def test_each_filter_selects_the_same_rows_as_a_table_and_as_json(listed: Ctg, case: str) -> None:
    args, expected = FILTERS[case]
    table = listed.ok("request", "list", *args)
    lines = table.stdout.splitlines()
    assert lines[0].split("\t")[0] == "id"
    assert [line.split("\t")[0] for line in lines[1:]] == expected
    assert [r["id"] for r in listed.json("request", "list", *args)] == expected
    assert "not shown" not in table.stderr
    if not expected:
        assert table.stderr.strip() == "No requests match these filters."


def test_the_overdue_are_those_past_the_opinion_deadline_today(listed: Ctg) -> None:
    on_time = listed.ok("request", "list", "--overdue", env={"CTG_TODAY": "2025-07-02"})
    assert on_time.stdout.splitlines()[1:] == []
    inbox = listed.ok("dpo", "inbox", as_="c.dpo")
    assert inbox.stdout.splitlines()[1].split("\t")[:2] == ["DX-2025-0001", "2025-07-02 overdue"]


def test_a_list_shows_the_most_recent_oldest_first_and_says_how_many_more(listed: Ctg) -> None:
    shown = listed.ok("request", "list", "--limit", "2")
    assert [line.split("\t")[0] for line in shown.stdout.splitlines()[1:]] == [
        "DX-2025-0003",
        "DX-2025-0004",
    ]
    assert shown.stderr.strip() == "2 earlier requests not shown: --limit N or --all shows them"
    assert [r["id"] for r in listed.json("request", "list", "--limit", "2")] == [
        "DX-2025-0003",
        "DX-2025-0004",
    ]
    one = listed.ok("request", "list", "--limit", "2", "--to", "caf92")
    assert one.stderr.strip() == "1 earlier request not shown: --limit N or --all shows it"
    assert len(listed.json("request", "list", "--all")) == 4
    listed.refused("request", "list", "--all", "--limit", "2", contains="--limit and --all")


def test_the_default_page_is_fifty() -> None:
    from ctg_exchange.cli.listing import page_size

    assert page_size(None, False) == 50
    assert page_size(7, False) == 7
    assert page_size(None, True) is None


def test_the_paging_line_is_french_in_french(listed: Ctg) -> None:
    french = {"CTG_LANG": "fr"}
    shown = listed.ok("request", "list", "--limit", "1", env=french)
    assert shown.stderr.strip() == (
        "3 demandes plus anciennes non affichées : --limit N ou --all les affiche"
    )


def test_every_request_listed_is_the_document_its_model_gives(listed: Ctg) -> None:
    """``--json`` from the stored rows is what the models give, field for field."""
    from ctg_exchange.domain.models import ExchangeRequest
    from ctg_exchange.services.documents import request_document

    listed.ok("dpo", "opinion", "DX-2025-0001", "--verdict", "favourable_with_recommendations",
              "--note", "Avis", "--recommend", "max_retention_days:180", as_="c.dpo")  # fmt: skip
    listed.ok("decide", "approve", "DX-2025-0001", "--adopt", "R1", as_="c.controller")
    listed.ok("dpo", "annotate", "DX-2025-0001", "--note", "Note", as_="v.dpo")
    db = listed.connect()
    try:
        rows = db.execute("SELECT id, doc FROM requests ORDER BY id").fetchall()
    finally:
        db.close()
    by_model = {
        rid: json.loads(json.dumps(request_document(ExchangeRequest.model_validate_json(doc))))
        for rid, doc in rows
    }
    listed_now = {r["id"]: r for r in listed.json("request", "list", "--all")}
    assert listed_now == by_model
    assert listed_now["DX-2025-0001"]["decision"]["answers"]  # the nested shapes were read


def test_a_document_an_older_version_wrote_gets_the_models_defaults() -> None:
    from ctg_exchange.domain.models import ExchangeRequest
    from ctg_exchange.services.documents import request_document as by_model
    from ctg_exchange.services.stored import request_document, stored_request

    content = {
        "to": "caf92", "field": "petite_enfance", "purpose": "Tarifer", "purpose_kind": "pricing",
        "categories": ["quotient_familial"], "subjects": "Familles", "retention_days": 30,
        "frequency": "monthly",
    }  # fmt: skip
    doc = {
        "id": "DX-2025-0009", "status": "filed", "from_party": "ville_sceaux",
        "content": content, "filed_by": "v.agent", "filed_on": "2025-06-02",
        "filed_at": "2025-06-02T08:00:00Z", "updated_at": "2025-06-02T08:00:00Z",
        "policy_version": 1,
        "opinion": {"verdict": "favourable", "note": "Avis", "by": "c.dpo",
                    "at": "2025-06-02T09:00:00Z", "on": "2025-06-02",
                    "recommendations": [{"number": 1, "text": "free: Informer"}]},
    }  # fmt: skip
    text = json.dumps(doc)
    expected = json.loads(json.dumps(by_model(ExchangeRequest.model_validate_json(text))))
    assert request_document(stored_request("DX-2025-0009", text)) == expected
    assert list(request_document(stored_request("DX-2025-0009", text))) == list(expected)


def _model_shape(model: Any) -> list[tuple[str, Any]]:
    from pydantic_core import PydanticUndefined

    from ctg_exchange.services.stored import NEEDED

    shape = []
    for name, info in model.model_fields.items():
        default = info.get_default(call_default_factory=True)
        default = NEEDED if default is PydanticUndefined else json.loads(json.dumps(
            default.value if hasattr(default, "value") else default, default=list))  # fmt: skip
        shape.append((name, default))
    return shape


def test_the_stored_shapes_follow_the_models_field_for_field() -> None:
    """Names, order and defaults: a field added to a model and not here fails."""
    from ctg_exchange.domain import models, recommendations
    from ctg_exchange.services import stored

    pairs = {
        models.ExchangeRequest: stored.REQUEST,
        models.RequestContent: stored.CONTENT,
        models.Processor: stored.PROCESSOR,
        models.Finding: stored.FINDING,
        models.Opinion: stored.OPINION,
        recommendations.Recommendation: stored.RECOMMENDATION,
        models.Decision: stored.DECISION,
        recommendations.Answer: stored.ANSWER,
        recommendations.Condition: stored.CONDITION,
        models.Acceptance: stored.ACCEPTANCE,
        models.Annotation: stored.ANNOTATION,
        models.Advice: stored.ADVICE,
        models.Suspension: stored.SUSPENSION,
        models.Review: stored.REVIEW,
        models.HandOver: stored.HANDOVER,
    }
    for model, shape in pairs.items():
        ours = [(name, default) for name, default, _inner in shape]
        assert ours == _model_shape(model), model.__name__
    # every nested model a request holds has its shape above
    nested = {id(inner) for shape in pairs.values() for _n, _d, inner in shape if inner}
    assert nested <= {id(shape) for shape in pairs.values()}


def test_audit_log_pages_and_filters(listed: Ctg) -> None:
    every = listed.json("audit", "log", "--all")
    latest = listed.json("audit", "log", "--limit", "3")
    assert [e["seq"] for e in latest] == [e["seq"] for e in every[-3:]]
    shown = listed.ok("audit", "log", "--limit", "3")
    more = len(every) - 3
    assert shown.stderr.strip() == (
        f"{more} earlier events not shown: --limit N or --all shows them"
    )
    since = listed.json("audit", "log", "--since", LATE, "--all")
    assert since and all(e["time"] >= "2025-07-14T22:00:00" for e in since)
    assert [e["seq"] for e in since] == [e["seq"] for e in every if e["time"] >= since[0]["time"]]
    one = listed.json("audit", "log", "--request", "DX-2025-0002")
    assert {e["subject"] for e in one} == {"DX-2025-0002"}
    listed.refused("audit", "log", "--request", "DX-2025-0099", contains="no request")


def test_a_row_not_json_is_still_read_and_named(listed: Ctg) -> None:
    """The indexes read a document that is not JSON as NULL: the row stays, and is named."""
    listed.sql("UPDATE requests SET doc = 'garbage' WHERE id = 'DX-2025-0003'")
    listed.refused("request", "list", code=3, contains="requests row DX-2025-0003")
    assert [r["id"] for r in listed.json("request", "list", "--to", "ville_sceaux")] == [
        "DX-2025-0004"
    ]


PLANS = {
    "--status": "status = 'awaiting_dpo'",
    "--from": "from_party = 'caf92'",
    "--to": "to_party = 'caf92'",
    "--field": "{content_field} = 'enfance'",
    "--since": "{filed_on} >= '2025-07-01'",
    "--overdue": "status = 'awaiting_dpo' AND {submitted_on} < '2025-06-15'",
    "order": "1 = 1 ORDER BY {filed_at} DESC, id DESC",
}


@pytest.mark.parametrize("option", PLANS)
def test_an_index_serves_each_filter(listed: Ctg, option: str) -> None:
    from ctg_exchange.store.sql_reads import doc_value

    dialect = "postgres" if listed.backend == "postgres" else "sqlite"
    condition = PLANS[option].format(
        content_field=doc_value(dialect, "content", "field"),
        filed_on=doc_value(dialect, "filed_on"),
        submitted_on=doc_value(dialect, "submitted_on"),
        filed_at=doc_value(dialect, "filed_at"),
    )
    query = f"SELECT id FROM requests WHERE {condition} LIMIT 50"  # noqa: S608
    db = listed.connect()
    try:
        if dialect == "postgres":
            db.execute("SET enable_seqscan = off")
            plan = " ".join(str(row[0]) for row in db.execute(f"EXPLAIN {query}").fetchall())
            assert "Index" in plan, plan
        else:
            plan = " ".join(str(row[-1]) for row in db.execute(f"EXPLAIN QUERY PLAN {query}"))
            assert "USING INDEX" in plan or "USING COVERING INDEX" in plan, plan
    finally:
        db.close()


LIGHT = ("pydantic", "rich", "cryptography", "psycopg")


@pytest.mark.parametrize(
    "command",
    [("request", "list"), ("--json", "request", "list", "--all"), ("--as", "c.dpo", "dpo", "inbox"),
     ("--json", "audit", "log")],
)  # fmt: skip
def test_read_commands_load_no_models_no_rich_no_crypto(
    listed: Ctg, command: tuple[str, ...]
) -> None:
    """Writing to a pipe, the read commands load neither pydantic, nor rich, nor the crypto."""
    if listed.backend == "postgres":
        pytest.skip("psycopg is what a PostgreSQL workspace needs")
    probe = (
        "import sys\n"
        "from ctg_exchange.cli import main\n"
        f"sys.argv = ['ctg-exchange', *{list(command)!r}]\n"
        "try:\n    main()\nexcept SystemExit as exc:\n    assert not exc.code, exc.code\n"
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & {set(LIGHT)!r}), "
        "file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        check=False,
        cwd=Path(ROOT),
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip().splitlines()[-1] == "[]", done.stderr
