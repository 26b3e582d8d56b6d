"""Each rule of DESIGN §3 refuses the wrong person: exit 1, one line naming the rule, and the
database, audit log and keys byte-for-byte unchanged (``Ctg.refused`` checks all three)."""

from __future__ import annotations

import pytest

from conftest import INIT, REQUEST, Ctg, add_args


def test_only_the_holders_dpo_gives_the_opinion(ctg: Ctg) -> None:
    rid = ctg.file_request()
    ctg.advance(rid, "awaiting_dpo")
    for actor in ("v.dpo", "c.controller", "c.agent"):
        ctg.refused(
            "dpo",
            "opinion",
            rid,
            "--verdict",
            "favourable",
            "--note",
            "Avis",
            as_=actor,
            contains="only the DPO of the holding party (caf92)",
        )


@pytest.mark.parametrize(
    ("command", "until"),
    [
        (("study", "accept", "{rid}", "--note", "Étude"), None),
        (("study", "return", "{rid}", "--reason", "Motif"), "under_study"),
        (("study", "submit", "{rid}"), "under_study"),
        (("decide", "approve", "{rid}"), "opinion_given"),
        (("decide", "reject", "{rid}", "--reason", "Motif"), "opinion_given"),
    ],
)
def test_only_the_holders_controller_studies_and_decides(
    ctg: Ctg, command: tuple[str, ...], until: str | None
) -> None:
    rid = ctg.file_request()
    if until:
        ctg.advance(rid, until)
    args = [part.format(rid=rid) for part in command]
    # a controller of the other party, and a staff member of the holding party
    ctg.refused(*args, as_="v.controller", contains="v.controller is controller of ville_sceaux")
    ctg.refused(*args, as_="c.agent", contains="only the controller of the holding party (caf92)")


def test_nobody_decides_a_request_they_filed(ctg: Ctg) -> None:
    # c.both is staff and controller of caf92; it files to the town hall, then tries to decide
    rid = ctg.file_request(as_="c.both")
    ctg.ok("study", "accept", rid, "--note", "Étude", as_="v.controller")
    ctg.ok("study", "submit", rid, as_="v.controller")
    ctg.ok("dpo", "opinion", rid, "--verdict", "favourable", "--note", "Avis", as_="v.dpo")

    ctg.refused(
        "decide",
        "approve",
        rid,
        as_="c.both",
        contains="c.both filed DX-2025-0001: nobody decides a request they filed",
    )
    ctg.refused(
        "decide",
        "reject",
        rid,
        "--reason",
        "Motif",
        as_="c.both",
        contains="nobody decides a request they filed",
    )


def test_only_the_requesting_partys_staff_amends_or_withdraws(ctg: Ctg) -> None:
    rid = ctg.file_request()
    for actor in ("c.agent", "v.controller"):
        ctg.refused(
            "request",
            "amend",
            rid,
            "--retention-days",
            "100",
            as_=actor,
            contains="only the requesting party's staff (ville_sceaux) amends",
        )
        ctg.refused(
            "request",
            "withdraw",
            rid,
            "--reason",
            "Motif",
            as_=actor,
            contains="only the requesting party's staff (ville_sceaux) withdraws",
        )


def test_only_staff_file_requests_and_only_to_the_other_party(ctg: Ctg) -> None:
    ctg.refused(*REQUEST, as_="v.controller", contains="only staff file requests")
    ctg.refused(
        *REQUEST, "--to", "ville_sceaux", as_="v.agent", contains="addressed to the other party"
    )


def test_a_revoked_member_can_do_nothing(ctg: Ctg) -> None:
    rid = ctg.file_request()
    ctg.ok("member", "revoke", "v.agent", "--reason", "A quitté le service", as_="v.admin")

    ctg.refused(*REQUEST, as_="v.agent", contains="a revoked member can do nothing")
    ctg.refused(
        "request",
        "withdraw",
        rid,
        "--reason",
        "Motif",
        as_="v.agent",
        contains="a revoked member can do nothing",
    )
    listed = {m["id"]: m["status"] for m in ctg.json("member", "list")}
    assert listed["v.agent"] == "revoked"
    assert ctg("audit", "verify").exit_code == 0


def test_out_of_order_transitions_are_refused(ctg: Ctg) -> None:
    rid = ctg.file_request()
    ctg.refused(
        "decide",
        "approve",
        rid,
        as_="c.controller",
        contains="DX-2025-0001 is filed: `decide approve` needs opinion_given",
    )
    ctg.refused("study", "submit", rid, as_="c.controller", contains="needs under_study")
    ctg.refused(
        "dpo",
        "opinion",
        rid,
        "--verdict",
        "favourable",
        "--note",
        "Avis",
        as_="c.dpo",
        contains="needs awaiting_dpo",
    )
    ctg.advance(rid, "approved")
    ctg.refused(
        "request",
        "withdraw",
        rid,
        "--reason",
        "Trop tard",
        as_="v.agent",
        contains="DX-2025-0001 is approved",
    )
    ctg.refused(
        "request",
        "amend",
        rid,
        "--retention-days",
        "10",
        as_="v.agent",
        contains="needs filed or returned",
    )


def test_admin_manages_its_own_partys_members_only(ctg: Ctg) -> None:
    ctg.ok("keys", "generate", "--member", "c.new")
    own_party_only = "an admin manages its own party's members only"
    ctg.refused(*add_args("c.new", "caf92", "staff"), as_="v.admin", contains=own_party_only)
    ctg.refused(
        "member", "revoke", "c.agent", "--reason", "Motif", as_="v.admin", contains=own_party_only
    )
    ctg.refused(
        *add_args("c.new", "caf92", "staff"),
        as_="c.agent",
        contains="only an admin manages members",
    )
    ctg.ok(*add_args("c.new", "caf92", "staff"), as_="c.admin")


def test_any_admin_adds_the_first_admin_of_a_party_that_has_none(fresh: Ctg) -> None:
    init = fresh(*INIT)
    assert init.exit_code == 0
    for member_id in ("c.agent", "c.admin"):
        fresh.ok("keys", "generate", "--member", member_id)
    own_party_only = "an admin manages its own party's members only"

    result = fresh.refused(
        *add_args("c.agent", "caf92", "staff"), as_="v.admin", contains=own_party_only
    )
    assert "hint: the first member of caf92 must be an admin" in result.stderr
    fresh.ok(*add_args("c.admin", "caf92", "admin"), as_="v.admin")

    listed = {m["id"]: m for m in fresh.json("member", "list")}
    assert listed["c.admin"]["added_by"] == "v.admin"
    fresh.refused(*add_args("c.agent", "caf92", "staff"), as_="v.admin", contains=own_party_only)


def test_the_last_admin_of_a_party_cannot_be_revoked(ctg: Ctg) -> None:
    ctg.refused(
        "member",
        "revoke",
        "v.admin",
        "--reason",
        "Départ",
        as_="v.admin",
        contains="v.admin is the last active admin of ville_sceaux",
    )


def test_an_admin_with_an_end_date_is_not_a_remaining_admin(
    ctg: Ctg, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After its --until, nobody could administer the party: the last admin with no end date
    stays, and audit verify fails a modified client's revocation of it."""
    from ctg_exchange.store.sql_members import MemberQueries

    from conftest import PASSPHRASE, TEST_KDF_ROUNDS, member_keys

    member_keys(ctg).generate("v.admin2", PASSPHRASE, rounds=TEST_KDF_ROUNDS)
    ctg.ok(*add_args("v.admin2", "ville_sceaux", "admin"), "--until", "2025-06-15", as_="v.admin")
    revoke = ("member", "revoke", "v.admin", "--reason", "Départ")
    ctg.refused(*revoke, as_="v.admin2", contains="v.admin is the last active admin")
    with monkeypatch.context() as patched:
        patched.setattr(MemberQueries, "lasting_admins", lambda self, party, other_than: 1)
        ctg.ok(*revoke, as_="v.admin2")
    seq = max(e["seq"] for e in ctg.json("audit", "log") if e["action"] == "member.revoke")
    result = ctg("audit", "verify")
    assert result.exit_code == 3, result.output
    assert f"broken at event #{seq}" in result.stderr, result.stderr
    assert "last-admin" in result.stderr, result.stderr


def test_members_are_unique_by_id_and_by_key(ctg: Ctg) -> None:
    ctg.refused(
        *add_args("v.agent", "ville_sceaux", "staff"),
        as_="v.admin",
        contains="the member 'v.agent' already exists",
    )
    ctg.refused(
        *add_args("v.copy", "ville_sceaux", "staff"),
        "--public-key",
        str(ctg.keys / "v.agent.pub"),
        as_="v.admin",
        contains="already registered to 'v.agent'",
    )


def test_a_dpo_cannot_also_be_controller_or_admin(ctg: Ctg) -> None:
    from conftest import PASSPHRASE, TEST_KDF_ROUNDS, add_args, member_keys

    member_keys(ctg).generate("c.dpo2", PASSPHRASE, rounds=TEST_KDF_ROUNDS)
    for roles in (("dpo", "controller"), ("dpo", "admin")):
        ctg.refused(
            *add_args("c.dpo2", "caf92", *roles),
            as_="c.admin",
            contains="DPO_CONFLICT: a DPO cannot also be controller or admin of its party",
        )


def test_no_one_studies_and_decides_the_same_request(ctg: Ctg) -> None:
    rid = ctg.file_request()
    ctg.ok("study", "accept", rid, "--note", "Étude", as_="c.controller")
    ctg.ok("study", "submit", rid, as_="c.controller")
    ctg.ok("dpo", "opinion", rid, "--verdict", "favourable", "--note", "Avis", as_="c.dpo")
    for decision in (("decide", "approve", rid), ("decide", "reject", rid, "--reason", "Non")):
        ctg.refused(
            *decision,
            as_="c.controller",
            contains=f"SEPARATION_OF_DUTIES: c.controller studied {rid}: no one person takes two",
        )
    ctg.ok("decide", "approve", rid, as_="c.analyst")
    assert ctg("audit", "verify").exit_code == 0
