"""People come and go (issue 19): a read-only auditor, for a limited period if need be, and the
hand-over of a request's follow-up — one request, or all of a revoked member's in its
revocation. Each refusal: exit 1, one line naming the rule, nothing changed; each forged step
(a modified client, a real key): ``audit verify`` exit 3, naming the event and the rule."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from test_domain import Person, Standing
from test_exchange import accepted, qf_csv, receive, send
from test_hostile_member import _broken, _last_seq

from ctg_exchange.domain.states import Role, Status, Triage
from ctg_exchange.services import handover, requests, session

from conftest import PASSPHRASE, REQUEST, TEST_KDF_ROUNDS, Ctg, State, add_args, member_keys

LATER = {"CTG_TODAY": "2025-07-01"}  # after the auditors' --until 2025-06-30


def _add(ctg: Ctg, member: str, party: str, *roles: str, until: str | None = None) -> None:
    member_keys(ctg).generate(member, PASSPHRASE, rounds=TEST_KDF_ROUNDS)
    term = ("--until", until) if until else ()
    admin = "v.admin" if party == "ville_sceaux" else "c.admin"
    ctg.ok(*add_args(member, party, *roles), *term, as_=admin)


def _people(ctg: Ctg) -> None:
    """An auditor of each party (the town hall's until 2025-06-30), a second town-hall agent,
    and both parties' decryption identities."""
    _add(ctg, "v.auditor", "ville_sceaux", "auditor", until="2025-06-30")
    _add(ctg, "c.auditor", "caf92", "auditor")
    _add(ctg, "v.agent2", "ville_sceaux", "staff")
    ctg.ok("keys", "generate", "--party", "ville_sceaux", "--encryption", as_="v.admin")
    ctg.ok("keys", "generate", "--party", "caf92", "--encryption", as_="c.admin")


@pytest.fixture
def people(state: State) -> Ctg:
    return state("people", _people)


# -- the auditor ---------------------------------------------------------------------------------
def test_an_auditor_reads_and_verifies(people: Ctg) -> None:
    ctg = people
    rid = ctg.file_request()
    ctg.advance(rid, "awaiting_dpo")
    ctg.ok("audit", "checkpoint", as_="v.admin")  # what `audit prove` proves against
    for auditor in ("v.auditor", "c.auditor"):
        assert [r["id"] for r in ctg.json("request", "list", as_=auditor)] == [rid]
        assert ctg.json("request", "show", rid, as_=auditor)["status"] == "awaiting_dpo"
        assert ctg.ok("request", "show", rid, as_=auditor).stdout.count("Followed by") == 2
        ctg.ok("audit", "log", as_=auditor)
        assert ctg.json("audit", "verify", as_=auditor)["events"] > 0
        ctg.ok("audit", "prove", "--request", rid, as_=auditor)
        ctg.ok("register", "list", as_=auditor)
        ctg.ok("member", "list", as_=auditor)
    export = ctg.root / "register.csv"
    ctg.ok("register", "export", "--format", "csv", "--out", str(export), as_="v.auditor")
    assert export.read_text(encoding="utf-8-sig").count("\n") > 1
    listed = {m["id"]: m for m in ctg.json("member", "list")}
    assert (listed["v.auditor"]["roles"], listed["v.auditor"]["until"]) == (
        ["auditor"],
        "2025-06-30",
    )
    assert listed["c.auditor"]["until"] is None


STEPS: dict[str, tuple[str, ...]] = {
    "file": REQUEST,
    "amend": ("request", "amend", "{rid}", "--retention-days", "100"),
    "withdraw": ("request", "withdraw", "{rid}", "--reason", "Motif"),
    "study": ("study", "accept", "{rid}", "--note", "Étude"),
    "opinion": ("dpo", "opinion", "{rid}", "--verdict", "favourable", "--note", "Avis"),
    "annotate": ("dpo", "annotate", "{rid}", "--note", "Note"),
    "hand over": ("request", "hand-over", "{rid}", "--to", "v.agent2"),
    "add a member": (*add_args("v.new", "ville_sceaux", "staff"), "--public-key", "{key}"),
    "revoke a member": ("member", "revoke", "v.agent2", "--reason", "Départ"),
    "sign a checkpoint": ("audit", "checkpoint"),
    "cosign a checkpoint": ("audit", "cosign"),
    "make party keys": ("keys", "generate", "--party", "ville_sceaux", "--encryption"),
    "export the audit bundle": ("register", "export", "--audit-bundle", "{bundle}"),
}


@pytest.mark.parametrize("step", STEPS)
@pytest.mark.parametrize("auditor", ["v.auditor", "c.auditor"])
def test_every_step_is_refused_to_an_auditor(people: Ctg, step: str, auditor: str) -> None:
    ctg = people
    rid = ctg.file_request()
    key = ctg.keys / "v.agent2.pub"
    args = [a.format(rid=rid, key=key, bundle=ctg.root / "bundle") for a in STEPS[step]]
    ctg.refused(*args, as_=auditor, contains="AUDITOR_READS_ONLY: ")


def test_an_auditor_receives_no_dataset(people: Ctg, tmp_path: Path) -> None:
    ctg = people
    rid = accepted(ctg)
    package = send(ctg, rid, qf_csv(tmp_path / "qf.csv"))["package"]
    ctg.refused(
        *receive(package, tmp_path / "in.csv"),
        as_="v.auditor",
        contains="AUDITOR_READS_ONLY: v.auditor is an auditor of ville_sceaux",
    )
    assert not (tmp_path / "in.csv").exists()


def test_after_until_even_reading_is_refused(people: Ctg) -> None:
    ctg = people
    rid = ctg.file_request()
    ctg.ok("request", "list", as_="v.auditor", env={"CTG_TODAY": "2025-06-30"})  # its last day
    for read in (
        ("request", "list"),
        ("request", "show", rid),
        ("audit", "verify"),
        ("audit", "log"),
        ("register", "list"),
    ):
        ctg.refused(
            *read,
            as_="v.auditor",
            env=LATER,
            contains="MEMBER_TERM_ENDED: v.auditor was a member until 2025-06-30",
        )
    ctg.ok("request", "list", as_="c.auditor", env=LATER)  # added without an end


def test_a_member_added_until_a_day_acts_no_more_after_it(people: Ctg) -> None:
    ctg = people
    _add(ctg, "v.temp", "ville_sceaux", "staff", until="2025-06-15")
    rid = ctg.file_request(as_="v.temp")
    ctg.refused(
        "request", "withdraw", rid, "--reason", "Motif", as_="v.temp",
        env={"CTG_TODAY": "2025-06-16"}, contains="MEMBER_TERM_ENDED: v.temp",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (("--role", "auditor", "--role", "staff"), "AUDITOR_READS_ONLY: an auditor holds no other"),
        (("--role", "auditor", "--until", "2025-06-01"), "--until 2025-06-01 is already past"),
    ],
)
def test_an_auditor_is_added_alone_and_not_for_a_past_term(
    ctg: Ctg, extra: tuple[str, ...], message: str
) -> None:
    member_keys(ctg).generate("v.aud", PASSPHRASE, rounds=TEST_KDF_ROUNDS)
    base = ("member", "add", "v.aud", "--name", "Auditeur (fictif)", "--party", "ville_sceaux")
    ctg.refused(*base, *extra, as_="v.admin", contains=message)


def test_a_french_auditor_is_told_in_french(people: Ctg) -> None:
    rid = people.file_request()
    refused = people(
        "study", "accept", rid, "--note", "Étude", as_="c.auditor", env={"CTG_LANG": "fr"}
    )
    assert refused.exit_code == 1
    assert "AUDITOR_READS_ONLY\u00a0: c.auditor est auditeur de caf92" in refused.stderr


def test_a_forged_step_by_an_auditor(people: Ctg, monkeypatch: pytest.MonkeyPatch) -> None:
    ctg = people
    monkeypatch.setattr(session, "ensure_acting", lambda member: None)
    monkeypatch.setattr(requests, "authorise_filing", lambda member, to: Role.STAFF)
    ctg.file_request(as_="v.auditor")
    seq = _last_seq(ctg, "request.file")

    first, failure = _broken(ctg)

    assert first.startswith(f"event #{seq} by v.auditor: AUDITOR_READS_ONLY: v.auditor"), first
    assert (failure["seq"], failure["rule"]) == (seq, "AUDITOR_READS_ONLY")


def test_a_forged_step_after_the_term(people: Ctg, monkeypatch: pytest.MonkeyPatch) -> None:
    ctg = people
    _add(ctg, "v.temp", "ville_sceaux", "staff", until="2025-06-15")
    monkeypatch.setattr(session, "ensure_in_term", lambda *args: None)
    monkeypatch.setenv("CTG_TODAY", "2025-06-16")
    ctg.file_request(as_="v.temp")
    seq = _last_seq(ctg, "request.file")

    first, failure = _broken(ctg)

    assert first.startswith(f"event #{seq} by v.temp: MEMBER_TERM_ENDED: v.temp"), first
    assert failure["rule"] == "MEMBER_TERM_ENDED"


# -- hand-over -----------------------------------------------------------------------------------
def _owners(ctg: Ctg, rid: str) -> dict[str, str | None]:
    owners: dict[str, str | None] = ctg.show(rid)["owners"]
    return owners


def test_a_request_handed_over_is_continued_by_the_successor_to_its_end(
    people: Ctg, tmp_path: Path
) -> None:
    ctg = people
    rid = ctg.file_request()
    assert _owners(ctg, rid) == {"requester": "v.agent", "holder": None}
    ctg.ok("request", "hand-over", rid, "--to", "v.agent2", as_="v.agent")
    ctg.ok("request", "amend", rid, "--retention-days", "300", as_="v.agent2")
    ctg.advance(rid, "under_study")  # c.analyst studies it
    assert _owners(ctg, rid) == {"requester": "v.agent2", "holder": "c.analyst"}

    ctg.ok("request", "hand-over", rid, "--to", "c.both", as_="c.analyst")
    assert _owners(ctg, rid) == {"requester": "v.agent2", "holder": "c.both"}
    ctg.ok("study", "submit", rid, as_="c.both")
    ctg.ok("dpo", "opinion", rid, "--verdict", "favourable", "--note", "Avis", as_="c.dpo")
    ctg.ok("decide", "approve", rid, as_="c.controller")
    ctg.accept_conditions(rid)
    package = send(ctg, rid, qf_csv(tmp_path / "qf.csv"))["package"]
    received = tmp_path / "in.csv"
    ctg.ok(*receive(package, received), as_="v.agent2")
    # v.agent2 leaves: its open request, and the file it holds, go to v.agent in one step
    before = ctg.json("audit", "log")[-1]["seq"]
    ctg.ok("member", "revoke", "v.agent2", "--reason", "Mutation", "--successor", "v.agent",
           as_="v.admin")  # fmt: skip
    revocation = ctg.json("audit", "log")[-1]
    assert (revocation["seq"], revocation["action"]) == (before + 1, "member.revoke")
    payload = revocation["payload"]
    assert payload["successor"] == "v.agent"
    assert payload["handed_over"] == [{"request": rid, "side": "requester"}]
    assert _owners(ctg, rid) == {"requester": "v.agent", "holder": "c.both"}

    received.unlink()
    ctg.ok("retention", "attest", f"{rid}-1", "--note", "Supprimé (test)", as_="v.agent")

    shown = ctg.show(rid)
    assert [(h["side"], h["previous"], h["successor"], h["by"]) for h in shown["handovers"]] == [
        ("requester", "v.agent", "v.agent2", "v.agent"),
        ("holder", "c.analyst", "c.both", "c.analyst"),
        ("requester", "v.agent2", "v.agent", "v.admin"),
    ]
    history = [(s["action"], s["actor"]) for s in shown["history"]]
    assert ("request.file", "v.agent") in history and ("exchange.receive", "v.agent2") in history
    screen = ctg.ok("request", "show", rid).stdout
    assert "Followed by v.agent for ville_sceaux" in screen
    assert "v.agent2 → v.agent" in screen
    assert ctg("audit", "verify", "--full").exit_code == 0


def test_an_admin_hands_over_the_work_of_a_member_revoked_without_successor(people: Ctg) -> None:
    ctg = people
    rid = ctg.file_request()
    ctg.refused(
        "request", "hand-over", rid, "--to", "v.agent2", as_="v.admin",
        contains="HAND_OVER_BY_OWNER: v.admin does not follow",
    )  # fmt: skip
    ctg.ok("member", "revoke", "v.agent", "--reason", "Départ", as_="v.admin")

    ctg.ok("request", "hand-over", rid, "--to", "v.agent2", as_="v.admin")

    assert _owners(ctg, rid)["requester"] == "v.agent2"
    event = ctg.json("audit", "log")[-1]
    assert (event["action"], event["actor"], event["role"]) == (
        "request.hand_over",
        "v.admin",
        "admin",
    )
    assert ctg("audit", "verify").exit_code == 0


HAND_OVERS = {
    "by a member who does not follow it": ("v.agent2", "v.agent2", "HAND_OVER_BY_OWNER"),
    "to the other party's member": ("v.agent", "c.agent", "HAND_OVER_SUCCESSOR"),
    "to a member without the role": ("v.agent", "v.controller", "HAND_OVER_SUCCESSOR"),
    "to an auditor": ("v.agent", "v.auditor", "HAND_OVER_SUCCESSOR"),
    "to the owner itself": ("v.agent", "v.agent", "HAND_OVER_SUCCESSOR"),
    "to nobody known": ("v.agent", "x.nobody", "unknown member 'x.nobody'"),
    "the holder's before anyone studies it": ("c.controller", "c.both", "nobody follows"),
    "of a withdrawn request": ("v.agent", "v.agent2", ""),
}


@pytest.mark.parametrize("case", HAND_OVERS)
def test_a_hand_over_the_rules_refuse(people: Ctg, case: str) -> None:
    actor, to, message = HAND_OVERS[case]
    ctg = people
    rid = ctg.file_request()
    if not message:  # a withdrawn request: nothing is left to follow
        ctg.ok("request", "withdraw", rid, "--reason", "Motif", as_="v.agent")
        message = "HAND_OVER_OPEN_WORK"
    ctg.refused("request", "hand-over", rid, "--to", to, as_=actor, contains=message)


def test_a_revocation_refuses_a_successor_who_cannot_take_the_work(people: Ctg) -> None:
    ctg = people
    ctg.file_request()
    ctg.refused(
        "member", "revoke", "v.agent", "--reason", "Départ", "--successor", "v.controller",
        as_="v.admin", contains="HAND_OVER_SUCCESSOR: the successor must be an active staff",
    )  # fmt: skip


FORGED_HAND_OVERS = {
    "to the other party": ("v.agent", "c.agent", "HAND_OVER_SUCCESSOR"),
    "by a member who does not follow it": ("v.agent2", "v.agent", "HAND_OVER_BY_OWNER"),
}


@pytest.mark.parametrize("case", FORGED_HAND_OVERS)
def test_a_forged_hand_over(people: Ctg, monkeypatch: pytest.MonkeyPatch, case: str) -> None:
    actor, to, rule = FORGED_HAND_OVERS[case]
    ctg = people
    rid = ctg.file_request()
    monkeypatch.setattr(
        handover, "authorise_hand_over", lambda *args, **kwargs: ("requester", Role.STAFF)
    )
    monkeypatch.setattr(handover, "current_owner", lambda *args: actor)  # as the client says
    ctg.ok("request", "hand-over", rid, "--to", to, as_=actor)
    seq = _last_seq(ctg, "request.hand_over")

    first, failure = _broken(ctg)

    assert first.startswith(f"event #{seq} by {actor}: {rule}: "), first
    assert (failure["seq"], failure["rule"]) == (seq, rule)


def test_a_checkpoint_forged_by_an_auditor(people: Ctg, monkeypatch: pytest.MonkeyPatch) -> None:
    from ctg_exchange.services import auditing

    ctg = people
    ctg.file_request()
    monkeypatch.setattr(session, "ensure_acting", lambda member: None)
    monkeypatch.setattr(auditing, "acting_role", lambda member: Role.AUDITOR)
    ctg.ok("audit", "checkpoint", as_="c.auditor")

    result = ctg("audit", "verify", "--json")

    assert result.exit_code == 3, result.output
    failures = json.loads(result.stdout)["error"]["failures"]
    assert any(
        f["rule"] == "AUDITOR_READS_ONLY" and "an auditor signs no checkpoint" in f["message"]
        for f in failures
    ), failures


def test_a_forged_revocation_that_keeps_the_open_work(
    people: Ctg, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctg = people
    ctg.file_request(as_="v.agent2")
    monkeypatch.setattr(handover, "followed", lambda *args: [])  # hands nothing over
    ctg.ok("member", "revoke", "v.agent2", "--reason", "Départ", "--successor", "v.agent",
           as_="v.admin")  # fmt: skip
    seq = _last_seq(ctg, "member.revoke")

    first, failure = _broken(ctg)

    assert first.startswith(f"event #{seq} by v.admin: HAND_OVER_OPEN_WORK: it hands over 0"), first
    assert (failure["seq"], failure["rule"]) == (seq, "HAND_OVER_OPEN_WORK")


# -- the rules alone -----------------------------------------------------------------------------
Someone = Person


def Filed(**changes: Any) -> Standing:  # noqa: N802 (a request, as the rules see it)
    return replace(Standing("DX-2025-0001", Status.UNDER_STUDY, Triage.PERSONAL, "v.staff"),
                   **changes)  # fmt: skip


V_STAFF, V_STAFF2 = (
    Someone("v.staff", "ville_sceaux", (Role.STAFF,)),
    Someone("v.staff2", "ville_sceaux", (Role.STAFF,)),
)
V_ADMIN = Someone("v.admin", "ville_sceaux", (Role.ADMIN,))
C_CTRL, C_CTRL2 = (
    Someone("c.ctrl", "caf92", (Role.CONTROLLER,)),
    Someone("c.ctrl2", "caf92", (Role.CONTROLLER,)),
)
GONE = Someone("v.staff", "ville_sceaux", (Role.STAFF,), revoked_at="2025-05-01T00:00:00Z")
DAY = date(2025, 6, 2)


@pytest.mark.parametrize(
    ("actor", "filed", "current", "successor", "outcome"),
    [
        (V_STAFF, Filed(), V_STAFF, V_STAFF2, "requester staff"),
        (C_CTRL, Filed(), C_CTRL, C_CTRL2, "holder controller"),
        (V_ADMIN, Filed(), GONE, V_STAFF2, "requester admin"),
        (V_ADMIN, Filed(), V_STAFF, V_STAFF2, "HAND_OVER_BY_OWNER"),
        (V_STAFF2, Filed(), V_STAFF, V_STAFF2, "HAND_OVER_BY_OWNER"),
        (C_CTRL, Filed(), None, C_CTRL2, "HAND_OVER_BY_OWNER"),
        (V_STAFF, Filed(), V_STAFF, C_CTRL, "HAND_OVER_SUCCESSOR"),
        (V_STAFF, Filed(), V_STAFF, replace(V_STAFF2, until=date(2025, 6, 1)),
         "HAND_OVER_SUCCESSOR"),
        (V_STAFF, Filed(status=Status.CLOSED), V_STAFF, V_STAFF2, "HAND_OVER_OPEN_WORK"),
        (replace(V_STAFF, roles=(Role.AUDITOR,)), Filed(), V_STAFF, V_STAFF2, "AUDITOR_READS_ONLY"),
    ],
)  # fmt: skip
def test_who_hands_over_what_to_whom(
    actor: Someone, filed: Standing, current: Someone | None, successor: Someone, outcome: str
) -> None:
    from ctg_exchange.domain.handover import authorise_hand_over
    from ctg_exchange.errors import NotAuthorised

    try:
        side, role = authorise_hand_over(actor, filed, current, successor, DAY)
    except NotAuthorised as refused:
        assert refused.rule == outcome
        return
    assert f"{side} {role.value}" == outcome


def test_a_file_not_yet_deleted_is_open_work_of_the_requesters_side_only() -> None:
    """Who received the file (the requester's side) deletes it: the holder's follow-up of a
    closed request is over, file or not (the command and the replay, one rule)."""
    from ctg_exchange.domain.handover import authorise_hand_over
    from ctg_exchange.errors import NotAuthorised

    closed = Filed(status=Status.CLOSED)
    side, _role = authorise_hand_over(
        V_STAFF, closed, V_STAFF, V_STAFF2, DAY, pending_deletion=True
    )
    assert side == "requester"
    with pytest.raises(NotAuthorised) as refused:
        authorise_hand_over(C_CTRL, closed, C_CTRL, C_CTRL2, DAY, pending_deletion=True)
    assert refused.value.rule == "HAND_OVER_OPEN_WORK"


def test_who_follows_a_request() -> None:
    from ctg_exchange.domain.handover import followed, owner

    steps = [("request.file", "v.staff"), ("study.accept", "c.a"), ("study.return", "c.a"),
             ("request.amend", "v.staff"), ("study.accept", "c.b")]  # fmt: skip
    assert owner("requester", "v.staff", [], steps) == "v.staff"
    assert owner("holder", "v.staff", [], steps) == "c.b"
    assert owner("holder", "v.staff", [], steps[:1]) is None
    assert owner("holder", "v.staff", [("holder", "c.c")], steps) == "c.c"
    closed = Filed(id="DX-2025-0002", status=Status.CLOSED)
    none: list[tuple[str, str]] = []
    work = [(Filed(), none, steps), (closed, none, none)]
    assert followed("v.staff", work) == [("DX-2025-0001", "requester")]
    assert followed("v.staff", work, pending={"DX-2025-0002"}) == [
        ("DX-2025-0001", "requester"),
        ("DX-2025-0002", "requester"),
    ]


def test_a_checkpoint_signed_after_the_signers_term_breaks_the_log(
    ctg: Ctg, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A modified client of a staff member added --until: it signs a checkpoint over events of
    a day after its term."""
    _add(ctg, "v.temp", "ville_sceaux", "staff", until="2025-06-15")
    monkeypatch.setenv("CTG_TODAY", "2025-06-20")
    ctg.file_request()  # an event after v.temp's term, by someone else
    with monkeypatch.context() as patched:
        patched.setattr(session, "ensure_in_term", lambda *args: None)
        ctg.ok("audit", "checkpoint", as_="v.temp")
    first, failure = _broken(ctg)
    assert "MEMBER_TERM_ENDED: signed by v.temp, a member until 2025-06-15, after that day" in (
        first
    ), first
    assert failure["rule"] == "MEMBER_TERM_ENDED"


def test_a_holders_hand_over_of_a_closed_request_breaks_the_log(
    people: Ctg, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A modified client that takes the requester's file not yet deleted for open work of the
    holder's side too: audit verify applies the same rule."""
    from ctg_exchange.domain import handover as rules

    ctg = people
    rid = accepted(ctg, "max_retention_days:180", adopt=("R1",))
    package = send(ctg, rid, qf_csv(tmp_path / "qf.csv"))["package"]
    ctg.ok(*receive(package, tmp_path / "in.csv"), as_="v.agent")
    ctg.ok("review", "record", rid, "--outcome", "close", "--note", "Fin", as_="c.controller")
    holder = ctg.show(rid)["owners"]["holder"]
    hand = ("request", "hand-over", rid, "--to", "c.both")
    ctg.refused(*hand, as_=holder, contains="HAND_OVER_OPEN_WORK")
    with monkeypatch.context() as patched:
        patched.setattr(rules, "ensure_open", lambda *args: None)
        ctg.ok(*hand, as_=holder)
    first, failure = _broken(ctg)
    assert "HAND_OVER_OPEN_WORK" in first, first
    assert (failure["seq"], failure["rule"]) == (
        _last_seq(ctg, "request.hand_over"),
        "HAND_OVER_OPEN_WORK",
    )
