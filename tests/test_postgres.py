"""What only PostgreSQL has: a server to reach, URLs, shared databases, and database roles.

The procedure itself runs on PostgreSQL in every other test file (each workspace test runs on
both backends); these tests need ``CTG_TEST_POSTGRES_URL`` and are skipped, with that reason,
without it.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from conftest import INIT, REQUEST, Ctg, Server, add_args, server_url


@pytest.fixture
def empty_db(server: Server, request: pytest.FixtureRequest) -> str:
    name, url = server.create()
    request.addfinalizer(lambda: server.drop(name))
    return url


def test_init_on_postgres_keeps_the_url_and_nothing_in_the_directory(
    fresh: Ctg, empty_db: str
) -> None:
    result = fresh(*INIT, "--json", env={"CTG_DATABASE": empty_db})
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["database"] == empty_db
    assert sorted(p.name for p in fresh.workspace.iterdir()) == ["workspace.json"]
    pg = Ctg(fresh.root, "postgres", empty_db)
    pg.ok("keys", "generate", "--member", "v.agent")
    pg.ok(*add_args("v.agent", "ville_sceaux", "staff"), as_="v.admin")
    pg.ok(*REQUEST, as_="v.agent")
    assert pg.json("audit", "verify")["events"] == 3


def test_init_refuses_a_url_with_a_password(fresh: Ctg, empty_db: str) -> None:
    parts = urlsplit(empty_db)
    with_password = empty_db.replace(f"{parts.username}@", f"{parts.username}:s3cret@")
    result = fresh(*INIT, "--database", with_password)
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0] == (
        "ctg-exchange: error: the database URL carries a password, which workspace.json would "
        "keep in clear"
    )
    assert "s3cret" not in result.output
    assert not fresh.workspace.exists() and not fresh.keys.exists()


@pytest.mark.postgres_only
def test_init_refuses_a_database_that_holds_a_workspace(ctg: Ctg, fresh: Ctg) -> None:
    before = ctg.tables()
    result = fresh(*INIT, "--database", ctg.database)
    assert result.exit_code == 1
    assert "already holds a ctg-exchange workspace" in result.stderr.splitlines()[0]
    assert not fresh.workspace.exists() and not fresh.keys.exists()
    assert ctg.tables() == before


@pytest.mark.parametrize(
    ("database", "message"),
    [
        ("ctg_no_such_database_here", 'database "ctg_no_such_database_here" does not exist'),
        ("", "Connection refused"),  # nothing listens on port 1
    ],
    ids=["missing-database", "no-server"],
)
def test_init_refuses_a_database_it_cannot_reach(
    fresh: Ctg, server: Server, database: str, message: str
) -> None:
    url = server_url(database) if database else "postgresql://u@127.0.0.1:1/x"
    result = fresh(*INIT, "--database", url)
    assert result.exit_code == 1
    first = result.stderr.splitlines()[0]
    assert first.startswith("ctg-exchange: error: cannot connect to the database postgresql://")
    assert message in first
    assert "Traceback" not in result.output
    assert not fresh.workspace.exists() and not fresh.keys.exists()


def test_init_refuses_an_unknown_kind_of_database(fresh: Ctg) -> None:
    result = fresh(*INIT, "--database", "mysql://root@127.0.0.1/ctg")
    assert result.exit_code == 1
    assert "unsupported database URL 'mysql://root@127.0.0.1/ctg'" in result.stderr
    assert not fresh.workspace.exists() and not fresh.keys.exists()


@pytest.mark.postgres_only
def test_a_workspace_whose_server_is_gone_says_so_in_one_line(ctg: Ctg) -> None:
    config_path = ctg.workspace / "workspace.json"
    config = json.loads(config_path.read_text())
    config["database"] = server_url("ctg_gone_database")
    config_path.write_text(json.dumps(config))
    ctg.refused("request", "list", contains="cannot connect to the database postgresql://")


@pytest.fixture
def roles(server: Server) -> Iterator[tuple[str, str]]:
    """An owner role and an agents' role, as the README tells a database administrator."""
    owner, agent = f"{server.prefix}_owner", f"{server.prefix}_agent"
    server.admin(f"CREATE ROLE {owner} LOGIN", f"CREATE ROLE {agent} LOGIN")
    yield owner, agent
    for role in (agent, owner):
        server.drop_role(role)


def test_agents_need_no_right_to_change_the_audit_log(
    fresh: Ctg, server: Server, roles: tuple[str, str]
) -> None:
    owner, agent = roles
    name, _ = server.create()
    try:
        server.admin(f"ALTER DATABASE {name} OWNER TO {owner}")  # as CREATE DATABASE … OWNER
        fresh.ok(*INIT, "--database", server_url(name, owner))
        fresh.ok("keys", "generate", "--member", "v.agent")
        fresh.ok(*add_args("v.agent", "ville_sceaux", "staff"), as_="v.admin")
        server.admin_in(
            name,
            f"GRANT CONNECT ON DATABASE {name} TO {agent}",  # the README's grants
            f"GRANT USAGE ON SCHEMA public TO {agent}",
            f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {agent}",
            f"GRANT INSERT ON ALL TABLES IN SCHEMA public TO {agent}",
            f"GRANT UPDATE ON meta, counters, members, requests, party_recipients TO {agent}",
        )
        config_path = fresh.workspace / "workspace.json"
        config = json.loads(config_path.read_text())
        config["database"] = server_url(name, agent)
        config_path.write_text(json.dumps(config))

        as_agent = Ctg(fresh.root, "postgres", config["database"])
        rid = as_agent.file_request()
        server.admin_in(name, f"REVOKE UPDATE ON requests FROM {agent}")
        as_agent.refused(
            "request",
            "withdraw",
            rid,
            "--reason",
            "Test (fictif)",
            as_="v.agent",
            contains="the database refused this command: permission denied for table requests",
        )
        as_agent.ok("member", "revoke", "v.agent", "--reason", "Départ (fictif)", as_="v.admin")
        assert as_agent.json("audit", "verify")["ok"] is True
        db = as_agent.connect()
        try:
            for statement in (
                "UPDATE audit_events SET actor = 'x'",
                f"DELETE FROM requests WHERE id = '{rid}'",
                "DROP TRIGGER audit_events_no_change ON audit_events",
            ):
                with pytest.raises(db.errors, match="permission denied|must be owner"):
                    db.execute(statement)
                db.rollback()
        finally:
            db.close()
    finally:
        server.drop(name)


@pytest.mark.postgres_only
def test_a_connection_lost_mid_command_is_one_line_and_commits_nothing(
    ctg: Ctg, server: Server
) -> None:
    from ctg_exchange.errors import WorkspaceError
    from ctg_exchange.services.workspace import Workspace

    workspace = Workspace.open(ctg.workspace)
    try:
        with workspace.store.transaction(write=True) as tx:
            assert tx.get_meta("durability") is None
        database = urlsplit(ctg.database).path.lstrip("/")
        server.admin(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            f"WHERE datname = '{database}' AND application_name = 'ctg-exchange'"
        )
        before = ctg.tables()
        with pytest.raises(WorkspaceError, match=r"^the database postgresql://\S+ failed: "):
            with workspace.store.transaction(write=True) as tx:
                tx.set_meta("durability", "never committed")
        assert ctg.tables() == before
    finally:
        workspace.close()


@pytest.mark.postgres_only
def test_sessions_commit_synchronously_and_time_out_when_idle(ctg: Ctg) -> None:
    from ctg_exchange.services.workspace import Workspace

    workspace = Workspace.open(ctg.workspace)
    try:
        with workspace.store.transaction() as tx:
            settings = [
                tx.execute(f"SHOW {name}").fetchone()[0]
                for name in ("synchronous_commit", "idle_in_transaction_session_timeout")
            ]
    finally:
        workspace.close()
    assert settings == ["on", "10min"]


def test_an_init_that_fails_midway_leaves_the_database_empty(
    fresh: Ctg, empty_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Schema and genesis event are one transaction: a crash leaves nothing to clean up."""
    from ctg_exchange.services.session import Recorder

    def crash(*args: object, **kwargs: object) -> None:
        raise RuntimeError("power cut while writing the genesis event")

    with monkeypatch.context() as patched:
        patched.setattr(Recorder, "record", crash)
        with pytest.raises(RuntimeError, match="power cut"):
            fresh(*INIT, "--database", empty_db)
    pg = Ctg(fresh.root, "postgres", empty_db)
    assert pg.tables() == {}
    assert not (fresh.workspace / "workspace.json").exists()
    fresh.ok(*INIT, "--database", empty_db)  # the same database takes the workspace now
    assert pg.json("audit", "verify")["events"] == 1


@pytest.mark.postgres_only
def test_without_the_driver_the_command_says_what_to_install(
    ctg: Ctg, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = ctg.snapshot()
    with monkeypatch.context() as patched:
        patched.setitem(sys.modules, "psycopg", None)  # as if it were not installed
        result = ctg("request", "list")
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "ctg-exchange: error: this workspace's database is on PostgreSQL, and its driver is "
        "not installed",
        "ctg-exchange: hint: pip install 'ctg-exchange[postgres]' (psycopg 3)",
    ]
    assert ctg.snapshot() == before
