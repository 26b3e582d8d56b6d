"""What only PostgreSQL has: a server to reach, URLs, shared databases, and database roles.

The procedure itself runs on PostgreSQL in every other test file (each workspace test runs on
both backends); these tests need ``CTG_TEST_POSTGRES_URL`` and are skipped, with that reason,
without it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from conftest import INIT, REQUEST, Ctg, Server, add_args


def _url(server_url: str, database: str, user: str | None = None) -> str:
    parts = urlsplit(server_url)
    user = user or parts.username or "postgres"
    return f"postgresql://{user}@{parts.hostname}:{parts.port or 5432}/{database}"


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
    url = _url(server.url_of_default, database) if database else "postgresql://u@127.0.0.1:1/x"
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
    config["database"] = _url(ctg.database, "ctg_gone_database")
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
        fresh.ok(*INIT, "--database", _url(server.url_of_default, name, owner))
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
        config["database"] = _url(server.url_of_default, name, agent)
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
