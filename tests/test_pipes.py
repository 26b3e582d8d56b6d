"""Output for pipes and files (issue 16, findings 7 and 8): off a terminal nothing is wrapped,
padded or coloured, tables are tab-separated rows under a header line, and ``--out -`` writes to
stdout wherever a file is written (refused, in one line, where it cannot work).

The tests run commands through click's CliRunner, whose stdout and stderr are not terminals:
what they see is what a pipe sees. A terminal is simulated by patching ``is_terminal``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from test_exchange import _make_party_keys, needs_ssh_keygen

from ctg_exchange.cli import console as console_module
from ctg_exchange.cli import tty as tty_module
from ctg_exchange.cli.console import shown

from conftest import (
    PASSPHRASE,
    TEST_KDF_ROUNDS,
    Ctg,
    State,
    add_args,
    member_keys,
    ssh_keygen_verify,
)

# a name wider than any 80-column terminal, as a grep of the listing must find it whole
LONG_NAME = (
    "Marie-Christine de La Tour d'Auvergne-Lauraguais, chargée de mission petite enfance "
    "et parentalité (fictive)"
)
RECIPIENT = re.compile(r"age1[0-9a-z]{58}")


@pytest.fixture
def keyed(state: State) -> Ctg:
    return state("keyed", _make_party_keys)


@pytest.fixture
def on_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """stdout and stderr are terminals."""
    monkeypatch.setattr(console_module, "is_terminal", lambda stream: True)
    monkeypatch.setattr(tty_module, "is_terminal", lambda stream: True)


@pytest.fixture
def elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The current directory: where a file named ``-`` would appear."""
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    return cwd


def _add_long_named(ctg: Ctg) -> None:
    member_keys(ctg).generate("v.long", PASSPHRASE, rounds=TEST_KDF_ROUNDS)
    ctg.ok(*add_args("v.long", "ville_sceaux", "staff", name=LONG_NAME), as_="v.admin")


def test_member_list_in_a_pipe_is_tab_separated_and_keeps_whole_names(ctg: Ctg) -> None:
    _add_long_named(ctg)
    ctg.ok("member", "revoke", "v.analyst", "--reason", "départ (fictif)", as_="v.admin")

    lines = ctg.ok("member", "list").stdout.splitlines()

    assert lines[0] == "id\tparty\troles\tstatus\tadded by\tname"
    assert len(lines) == 1 + len(ctg.json("member", "list"))
    assert all(line.count("\t") == 5 for line in lines)
    assert all(line == line.rstrip() and "\x1b" not in line for line in lines)
    grepped = [line for line in lines if "Lauraguais" in line]  # member list | grep Lauraguais
    assert grepped == [f"v.long\tville_sceaux\tstaff\tactive\tv.admin\t{LONG_NAME}"]
    revoked = next(line for line in lines if line.startswith("v.analyst\t"))
    assert revoked.split("\t")[3] == "revoked 2025-06-02"  # the style's markup is not text


def test_keys_list_in_a_pipe_keeps_each_recipient_on_one_line(keyed: Ctg) -> None:
    recipients = {r["party"]: r["recipient"] for r in keyed.json("keys", "list")}

    lines = keyed.ok("keys", "list").stdout.splitlines()

    assert lines[0] == "party\tstatus\tadded\tby\trecipient"
    rows = {line.split("\t")[0]: line.split("\t")[-1] for line in lines[1:]}
    assert rows == recipients
    assert all(RECIPIENT.fullmatch(recipient) for recipient in rows.values())


def test_on_a_terminal_tables_stay_tables(ctg: Ctg, on_terminal: None) -> None:
    out = ctg.ok("member", "list").stdout
    assert out.splitlines()[0].rstrip() == "Members"
    assert "\t" not in out
    assert "v.controller" in out


def test_request_show_in_a_pipe_is_key_value_lines_without_a_frame(ctg: Ctg) -> None:
    rid = ctg.file_request()
    out = ctg.ok("request", "show", rid).stdout
    lines = out.splitlines()
    assert lines[0] == rid
    purpose = "Tarifer les crèches au barème national (demande de test synthétique)"
    assert f"purpose: {purpose}" in lines
    assert "status: filed" in lines
    assert not set("│╭╮╰╯─") & set(out)
    assert all(line == line.rstrip() for line in lines)


def test_messages_on_stderr_are_never_wrapped(ctg: Ctg, tmp_path: Path) -> None:
    out = tmp_path / ("a-directory-with-a-long-name-" * 3) / "journal.jsonl"
    out.parent.mkdir()
    result = ctg.ok("audit", "export", "--out", str(out), as_="c.dpo")
    assert f"verify it without ctg-exchange: python3 docs/verify_audit_export.py {out}" in (
        result.stderr.splitlines()
    )
    assert result.stdout == ""  # what was done is a message, not data


def test_tab_separated_cells_are_plain_one_line_text() -> None:
    from ctg_exchange.cli.common import tsv_cell

    assert tsv_cell("[red]revoked 2025-06-02[/]") == "revoked 2025-06-02"
    assert tsv_cell(shown("[bold]Nom[/] entre\tdeux\nlignes\x1b[2J")) == (
        "[bold]Nom[/] entre\\tdeux\\nlignes\\x1b[2J"
    )


# --out -


def test_register_export_out_dash_writes_to_stdout(
    ctg: Ctg, elsewhere: Path, tmp_path: Path
) -> None:
    ctg.ok("register", "import", as_="v.dpo")
    for fmt in ("csv", "json", "md", "html"):
        file = tmp_path / f"registre.{fmt}"
        ctg.ok("register", "export", "--controller", "ville_sceaux", "--format", fmt,
               "--out", str(file))  # fmt: skip
        piped = ctg.ok(
            "register", "export", "--controller", "ville_sceaux", "--format", fmt, "--out", "-"
        )
        assert piped.stdout_bytes == file.read_bytes(), fmt
        assert "exported to stdout" in piped.stderr
    fiches = len(json.loads(piped_json(ctg))["fiches"])
    assert fiches > 1 and f"{fiches} fiches of ville_sceaux exported" in piped.stderr  # a plural
    assert json.loads(piped_json(ctg))["controller"]["id"] == "ville_sceaux"
    assert list(elsewhere.iterdir()) == []  # never a file named "-"


def piped_json(ctg: Ctg) -> str:
    args = ("register", "export", "--controller", "ville_sceaux", "--format", "json", "--out", "-")
    return ctg.ok(*args).stdout


def test_register_export_xlsx_goes_to_a_pipe_but_not_to_a_terminal(
    ctg: Ctg, elsewhere: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctg.ok("register", "import", as_="v.dpo")
    args = ("register", "export", "--controller", "ville_sceaux", "--format", "xlsx", "--out", "-")
    assert ctg.ok(*args).stdout_bytes.startswith(b"PK\x03\x04")  # a zip: the workbook
    monkeypatch.setattr(console_module, "is_terminal", lambda stream: True)
    result = ctg.refused(
        *args, contains="an XLSX workbook is binary and stdout is a terminal: redirect it"
    )
    assert result.stdout == ""
    assert list(elsewhere.iterdir()) == []


def test_out_dash_is_refused_where_it_cannot_work(
    keyed: Ctg, elsewhere: Path, tmp_path: Path
) -> None:
    ctg = keyed
    keyed.refused(
        "register", "export", "--audit-bundle", "-", as_="v.dpo",
        contains="--audit-bundle - cannot write to stdout: an audit bundle is a directory",
    )  # fmt: skip
    dataset = tmp_path / "qf.csv"
    dataset.write_text("numero_allocataire,quotient_familial\n9000001,420\n", encoding="utf-8")
    ctg.refused(
        "exchange", "send", "DX-2025-0001", "--dataset", str(dataset), "--out", "-",
        as_="c.agent", contains="--out - cannot write to stdout: the delivery is recorded",
    )  # fmt: skip
    ctg.refused(
        "exchange", "receive", "DX-2025-0001-1", "--out", "-", as_="v.agent",
        contains="--out - cannot write to stdout: the received file is tracked until it is deleted",
    )  # fmt: skip
    ctg.refused(
        "register", "export", "--controller", "ville_sceaux", "--format", "csv", "--out", "-",
        "--json", contains="--json and --out - would both write to stdout",
    )  # fmt: skip
    assert list(elsewhere.iterdir()) == []


def test_audit_export_out_dash_writes_the_export_to_stdout(
    ctg: Ctg, elsewhere: Path, tmp_path: Path
) -> None:
    result = ctg.ok("audit", "export", "--out", "-", as_="c.dpo")
    lines = result.stdout.splitlines()
    assert json.loads(lines[0])["type"] == "header"
    events = [line for line in lines if json.loads(line)["type"] == "event"]
    assert len(events) == len(ctg.json("audit", "log"))
    assert "events exported to stdout (the whole log)" in result.stderr
    saved = tmp_path / "from-stdout.jsonl"
    saved.write_bytes(result.stdout_bytes)
    assert ctg("audit", "verify", "--export", str(saved)).exit_code == 0
    assert list(elsewhere.iterdir()) == []


def test_signed_bytes_and_signatures_can_go_to_stdout(
    ctg: Ctg, elsewhere: Path, tmp_path: Path
) -> None:
    signed, signature = tmp_path / "e1.bin", tmp_path / "e1.sig"
    ctg.ok("audit", "show", "1", "--signed-bytes", str(signed), "--signature", str(signature))
    piped = ctg.ok("audit", "show", "1", "--signed-bytes", "-", "--signature", str(tmp_path / "x"))
    assert piped.stdout_bytes == signed.read_bytes()
    assert ctg.ok("audit", "show", "1", "--signature", "-").stdout_bytes == signature.read_bytes()
    ctg.refused(
        "audit", "show", "1", "--signed-bytes", "-", "--signature", "-",
        contains="--signed-bytes and --signature cannot both write to stdout",
    )  # fmt: skip
    ctg.refused(
        "audit", "show", "1", "--signature", "-", "--json",
        contains="--json and --signature - would both write to stdout",
    )  # fmt: skip

    note = ctg.ok("audit", "checkpoint", "--out", "-", as_="c.dpo").stdout
    assert note == ctg.json("audit", "checkpoints")[-1]["note"]  # printed once
    assert ctg.ok("audit", "checkpoints", "--show", "1", "--signed-bytes", "-").stdout in note
    signers = ctg.ok("member", "allowed-signers", "--out", "-").stdout
    assert signers == ctg.ok("member", "allowed-signers").stdout
    assert list(elsewhere.iterdir()) == []


@needs_ssh_keygen
def test_signed_bytes_piped_into_ssh_keygen_verify(ctg: Ctg, tmp_path: Path) -> None:
    """The README's pipeline: audit show N --signature FILE --signed-bytes - | ssh-keygen."""
    allowed, signature = tmp_path / "allowed_signers", tmp_path / "e.sig"
    ctg.ok("member", "allowed-signers", "--out", str(allowed))
    event = ctg.json("audit", "show", "2")
    piped = ctg.ok("audit", "show", "2", "--signature", str(signature), "--signed-bytes", "-")
    checked = ssh_keygen_verify(
        allowed, event["actor"], "ctg-exchange/event@v1", signature, piped.stdout_bytes
    )
    assert checked.returncode == 0, checked.stderr


# shell completion


def complete(ctg: Ctg, line: str, env: dict[str, str] | None = None) -> list[str]:
    """What bash is offered for the last word of ``line`` (click's bash_complete protocol)."""
    from click.testing import CliRunner

    from ctg_exchange.cli.app import cli

    words = line.split(" ")
    result = CliRunner().invoke(
        cli,
        [],
        prog_name="ctg-exchange",
        env={
            "_CTG_EXCHANGE_COMPLETE": "bash_complete",
            "COMP_WORDS": line,
            "COMP_CWORD": str(len(words) - 1),
            **(env or {}),
        },
    )
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    return [item.split(",", 1)[1] for item in result.stdout.splitlines() if item]


def test_completion_offers_requests_members_and_choices(ctg: Ctg) -> None:
    first, second = ctg.file_request(), ctg.file_request()
    assert complete(ctg, "ctg-exchange study accept ") == [first, second]
    assert complete(ctg, f"ctg-exchange request show {second}") == [second]
    assert complete(ctg, "ctg-exchange audit log --request DX") == [first, second]
    assert complete(ctg, "ctg-exchange --as c.") == [
        "c.admin", "c.agent", "c.analyst", "c.both", "c.controller", "c.dpo"
    ]  # fmt: skip
    assert complete(ctg, "ctg-exchange member revoke v.a") == ["v.admin", "v.agent", "v.analyst"]
    assert complete(ctg, "ctg-exchange dpo opinion DX --verdict fav") == [
        "favourable", "favourable_with_recommendations"
    ]  # fmt: skip
    assert complete(ctg, "ctg-exchange register list --controller ") == ["caf92", "ville_sceaux"]


def test_completion_never_fails_loudly(ctg: Ctg, tmp_path: Path) -> None:
    nowhere = {"CTG_WORKSPACE": str(tmp_path / "no-workspace")}
    assert complete(ctg, "ctg-exchange study accept ", env=nowhere) == []
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "workspace.json").write_text("{not json", encoding="utf-8")
    assert (
        complete(ctg, "ctg-exchange --workspace " + str(tmp_path / "broken") + " study accept ")
        == []
    )


# parameters naming something the workspace knows, and the commands where it is new
COMPLETED = {"request_id", "delivery_id", "package", "ref", "actor", "signer", "controller",
             "party", "to", "member_id"}  # fmt: skip
NEW_IDS = {("member add", "member_id"), ("keys generate", "member_id")}


def test_every_id_parameter_completes() -> None:
    import click

    from ctg_exchange.cli.app import cli

    def walk(command: click.Command, path: str) -> list[tuple[str, click.Parameter]]:
        found = [(path, p) for p in command.params]
        if isinstance(command, click.Group):
            ctx = click.Context(command)
            for name in command.list_commands(ctx):
                sub = command.get_command(ctx, name)
                assert sub is not None
                found += walk(sub, f"{path} {name}".strip())
        return found

    missing = [
        f"{path} {param.name}"
        for path, param in walk(cli, "")
        if param.name in COMPLETED
        and (path, param.name) not in NEW_IDS
        and param._custom_shell_complete is None  # noqa: SLF001 -- click keeps it there
    ]
    assert missing == []


def test_policy_show_in_a_pipe_is_tab_separated(ctg: Ctg) -> None:
    lines = ctg.ok("policy", "show", "fields").stdout.splitlines()
    assert lines[0] == "id\tlabel"
    listed = {f["id"]: f["label"] for f in ctg.json("policy", "show", "fields")["fields"]}
    assert dict(line.split("\t") for line in lines[1:]) == listed
