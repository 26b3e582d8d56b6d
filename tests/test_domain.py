"""The pure domain, without a workspace: who may take each step, from which state, to which.

The expected outcomes are written here from DESIGN §3–§4, independently of the code: each
request step names the side and role that takes it and the states it starts from; every
combination of step × member (each party, each role, revoked or not, the filer himself) ×
status × triage is then checked against :func:`~ctg_exchange.domain.rules.authorise` and
:func:`~ctg_exchange.domain.lifecycle.next_status`. The CLI tests (``test_rules.py``) keep the
wiring: the exit code, the one error line, and that a refusal changes nothing.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import pytest

from ctg_exchange.domain.actions import REQUEST_STEPS, Action
from ctg_exchange.domain.lifecycle import COMMAND_OF, next_status
from ctg_exchange.domain.models import Role, Status, Triage
from ctg_exchange.domain.recommendations import (
    RecommendationKind,
    conditions_of,
    parse_answers,
    parse_recommendation,
    unanswered,
)
from ctg_exchange.domain.rules import (
    authorise,
    authorise_filing,
    authorise_key_rotation,
    authorise_member_add,
    authorise_member_contact,
    authorise_member_revoke,
    check_roles,
    separate_duties,
)
from ctg_exchange.errors import InvalidInput, InvalidTransition, NotAuthorised

S = Status
REQUESTER, HOLDER = "ville_sceaux", "caf92"
BEFORE_DECISION = {S.FILED, S.UNDER_STUDY, S.RETURNED, S.AWAITING_DPO, S.OPINION_GIVEN}

# step: (whose side, role, rule code of a refusal, states it starts from, state it leads to)
STEPS: dict[Action, tuple[str, Role, str, set[Status], Status | None]] = {
    Action.AMEND: ("requester", Role.STAFF, "requester-staff-only", {S.FILED, S.RETURNED}, S.FILED),
    Action.WITHDRAW: (
        "requester",
        Role.STAFF,
        "requester-staff-only",
        BEFORE_DECISION,
        S.WITHDRAWN,
    ),
    Action.STUDY_ACCEPT: (
        "holder",
        Role.CONTROLLER,
        "holder-controller-only",
        {S.FILED},
        S.UNDER_STUDY,
    ),
    Action.STUDY_RETURN: (
        "holder",
        Role.CONTROLLER,
        "holder-controller-only",
        {S.UNDER_STUDY},
        S.RETURNED,
    ),
    Action.STUDY_SUBMIT: (
        "holder",
        Role.CONTROLLER,
        "holder-controller-only",
        {S.UNDER_STUDY},
        S.AWAITING_DPO,
    ),
    Action.OPINION: ("holder", Role.DPO, "holder-dpo-only", {S.AWAITING_DPO}, S.OPINION_GIVEN),
    Action.ANNOTATE: ("either", Role.DPO, "involved-dpo-only", set(Status), None),
    Action.APPROVE: (
        "holder",
        Role.CONTROLLER,
        "holder-controller-only",
        {S.OPINION_GIVEN},
        S.APPROVED,
    ),
    Action.REJECT: (
        "holder",
        Role.CONTROLLER,
        "holder-controller-only",
        {S.OPINION_GIVEN},
        S.REJECTED,
    ),
    Action.ACCEPT_CONDITIONS: (
        "requester",
        Role.CONTROLLER,
        "requester-controller-only",
        {S.APPROVED},
        S.CONDITIONS_ACCEPTED,
    ),
    Action.LAPSE: (
        "either",
        Role.ADMIN,
        "admin-only",
        BEFORE_DECISION | {S.APPROVED, S.CONDITIONS_ACCEPTED},
        S.LAPSED,
    ),
    Action.SEND: (
        "holder",
        Role.STAFF,
        "holder-staff-only",
        {S.CONDITIONS_ACCEPTED, S.EXCHANGED},
        S.EXCHANGED,
    ),
    Action.RECEIVE: ("requester", Role.STAFF, "recipient-staff-only", {S.EXCHANGED}, None),
    Action.DESTROY: (
        "requester",
        Role.STAFF,
        "recipient-staff-only",
        {S.EXCHANGED, S.SUSPENDED, S.CLOSED},
        None,
    ),
    # the requester's DPO advises until the request ends; its advice moves nothing
    Action.ADVISE: (
        "requester",
        Role.DPO,
        "requester-dpo-only",
        set(Status) - {S.CLOSED, S.WITHDRAWN, S.REJECTED, S.LAPSED},
        None,
    ),
    Action.SUSPEND: (
        "holder",
        Role.CONTROLLER,
        "holder-controller-only",
        {S.CONDITIONS_ACCEPTED, S.EXCHANGED},
        S.SUSPENDED,
    ),
    # back where it was suspended from (the requests below were suspended when exchanged)
    Action.RESUME: (
        "holder",
        Role.CONTROLLER,
        "holder-controller-only",
        {S.SUSPENDED},
        S.EXCHANGED,
    ),
    Action.REVIEW: (
        "holder",
        Role.CONTROLLER,
        "holder-controller-only",
        {S.CONDITIONS_ACCEPTED, S.EXCHANGED, S.SUSPENDED},
        None,
    ),
}
# a non-personal request (anonymous aggregates) skips the DPO: it is decided after the study
NON_PERSONAL: dict[Action, set[Status]] = {
    Action.STUDY_SUBMIT: set(),
    Action.OPINION: set(),
    Action.APPROVE: {S.UNDER_STUDY},
    Action.REJECT: {S.UNDER_STUDY},
}


@dataclass(frozen=True)
class Person:
    id: str
    party: str
    roles: tuple[Role, ...]
    revoked_at: str | None = None
    until: date | None = None  # the last day it may act (issue 19)

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def has(self, role: Role) -> bool:
        return role in self.roles


@dataclass(frozen=True)
class Standing:
    id: str
    status: Status
    triage: Triage
    filed_by: str
    from_party: str = REQUESTER
    to_party: str = HOLDER
    suspended_from: Status | None = S.EXCHANGED


PEOPLE = [
    Person(f"{party[0]}.{role.value}", party, (role,))
    for party, role in itertools.product((REQUESTER, HOLDER), Role)
] + [
    Person("c.both", HOLDER, (Role.STAFF, Role.CONTROLLER)),
    Person("v.gone", REQUESTER, (Role.STAFF, Role.CONTROLLER, Role.DPO, Role.ADMIN), "2025-05-01"),
]


def expected(action: Action, person: Person, request: Standing) -> str:
    """``role:…``, ``rule:…`` or ``transition`` — what the design says happens."""
    side, role, rule, sources, _ = STEPS[action]
    if not person.active:
        return "rule:revoked-member"
    if Role.AUDITOR in person.roles:  # reads and verifies, takes no step (issue 19)
        return "rule:AUDITOR_READS_ONLY"
    if action in (Action.APPROVE, Action.REJECT) and person.id == request.filed_by:
        return "rule:no-self-decision"
    parties = {"requester": {REQUESTER}, "holder": {HOLDER}, "either": {REQUESTER, HOLDER}}
    if person.party not in parties[side] or role not in person.roles:
        return f"rule:{rule}"
    if request.triage is Triage.NON_PERSONAL and action in NON_PERSONAL:
        sources = NON_PERSONAL[action]
    return f"role:{role.value}" if request.status in sources else "transition"


def outcome(action: Action, person: Person, request: Standing) -> str:
    try:
        role = authorise(action, person, request)
        next_status(action, request)
    except NotAuthorised as exc:
        return f"rule:{exc.rule}"
    except InvalidTransition:
        return "transition"
    return f"role:{role.value}"


def test_the_table_covers_every_step_but_the_filing() -> None:
    assert set(STEPS) == REQUEST_STEPS - {Action.FILE}


def test_the_matrix_covers_every_role_of_each_party_auditor_included() -> None:
    held = {(person.party, person.roles) for person in PEOPLE}
    for party, role in itertools.product((REQUESTER, HOLDER), Role):
        assert (party, (role,)) in held
    assert (REQUESTER, (Role.AUDITOR,)) in held and (HOLDER, (Role.AUDITOR,)) in held


@pytest.mark.parametrize("action", sorted(STEPS), ids=str)
def test_who_may_take_a_step_and_from_where(action: Action) -> None:
    cases = 0
    for person, status, triage in itertools.product(PEOPLE, Status, Triage):
        for filer in ("v.staff", person.id):
            request = Standing("DX-2025-0001", status, triage, filed_by=filer)
            assert outcome(action, person, request) == expected(action, person, request), (
                person.id,
                status.value,
                triage.value,
                filer,
            )
            cases += 1
    assert cases == len(PEOPLE) * len(Status) * len(Triage) * 2


@pytest.mark.parametrize("action", sorted(STEPS), ids=str)
def test_each_step_leads_where_the_design_says(action: Action) -> None:
    *_, sources, target = STEPS[action]
    for status in sources:
        request = Standing("DX-2025-0001", status, Triage.PERSONAL, filed_by="v.staff")
        assert next_status(action, request) == (status if target is None else target)


def test_a_refused_transition_names_the_command_and_the_states_it_needs() -> None:
    request = Standing("DX-2025-0007", S.FILED, Triage.PERSONAL, filed_by="v.staff")
    with pytest.raises(InvalidTransition) as refused:
        next_status(Action.APPROVE, request)
    assert refused.value.message == "DX-2025-0007 is filed: `decide approve` needs opinion_given"
    aggregates = Standing("DX-2025-0008", S.UNDER_STUDY, Triage.NON_PERSONAL, filed_by="v.staff")
    with pytest.raises(InvalidTransition, match="it skips the DPO"):
        next_status(Action.STUDY_SUBMIT, aggregates)
    assert set(COMMAND_OF) == set(STEPS)


@pytest.mark.parametrize(
    ("person", "to", "refusal"),
    [
        (Person("v.staff", REQUESTER, (Role.STAFF,)), HOLDER, None),
        (Person("v.controller", REQUESTER, (Role.CONTROLLER,)), HOLDER, "staff-files"),
        (Person("v.staff", REQUESTER, (Role.STAFF,)), REQUESTER, "request-other-party"),
        (Person("v.gone", REQUESTER, (Role.STAFF,), "2025-05-01"), HOLDER, "revoked-member"),
    ],
)
def test_who_files(person: Person, to: str, refusal: str | None) -> None:
    if refusal is None:
        assert authorise_filing(person, to) is Role.STAFF
        return
    with pytest.raises(NotAuthorised) as refused:
        authorise_filing(person, to)
    assert refused.value.rule == refusal


ADMIN_V = Person("v.admin", REQUESTER, (Role.ADMIN,))


@pytest.mark.parametrize(
    ("actor", "party", "roles", "had_admin", "refusal"),
    [
        (ADMIN_V, REQUESTER, (Role.STAFF,), True, None),
        (ADMIN_V, HOLDER, (Role.ADMIN,), False, None),  # the first admin of a party
        (ADMIN_V, HOLDER, (Role.ADMIN,), True, "own-party-admin"),
        (ADMIN_V, HOLDER, (Role.STAFF,), False, "own-party-admin"),
        (Person("v.staff", REQUESTER, (Role.STAFF,)), REQUESTER, (Role.STAFF,), True, "admin-only"),
        (Person("v.gone", REQUESTER, (Role.ADMIN,), "x"), REQUESTER, (), True, "revoked-member"),
    ],
)
def test_who_adds_members(
    actor: Person, party: str, roles: tuple[Role, ...], had_admin: bool, refusal: str | None
) -> None:
    if refusal is None:
        authorise_member_add(actor, party, roles, had_admin)
        return
    with pytest.raises(NotAuthorised) as refused:
        authorise_member_add(actor, party, roles, had_admin)
    assert refused.value.rule == refusal


@pytest.mark.parametrize(
    ("target", "lasting_admins", "refusal"),
    [
        (Person("v.staff", REQUESTER, (Role.STAFF,)), 1, None),
        (Person("v.admin2", REQUESTER, (Role.ADMIN,)), 1, None),
        (ADMIN_V, 0, "last-admin"),
        (Person("c.staff", HOLDER, (Role.STAFF,)), 1, "own-party-admin"),
    ],
)
def test_who_revokes_members(target: Person, lasting_admins: int, refusal: str | None) -> None:
    """``lasting_admins``: the party's other active admins with no end date."""
    if refusal is None:
        authorise_member_revoke(ADMIN_V, target, lasting_admins)
        return
    with pytest.raises(NotAuthorised) as refused:
        authorise_member_revoke(ADMIN_V, target, lasting_admins)
    assert refused.value.rule == refusal


RECOMMENDATIONS = tuple(
    parse_recommendation(n, text)
    for n, text in enumerate(
        ("max_retention_days:180", "pseudonymise:numero_allocataire", "Informer les familles"),
        start=1,
    )
)


@pytest.mark.parametrize(
    ("adopt", "set_aside", "result"),
    [
        (["R1", "r2"], ["R3=Déjà fait"], "conditions R1 R2; unanswered none"),
        (["R1"], [], "conditions R1; unanswered R2 R3"),
        ([], [], "conditions none; unanswered R1 R2 R3"),
        (["R1", "R1"], [], "R1 is answered twice"),
        (["R1"], ["R1=Motif"], "R1 is answered twice"),
        (["R4"], [], "no recommendation 'R4' (the opinion has: R1, R2, R3)"),
        ([], ["R3"], 'setting R3 aside needs written reasons: R3="…"'),
        ([], ["R3=  "], 'setting R3 aside needs written reasons: R3="…"'),
    ],
)
def test_answers_to_recommendations_and_the_conditions_they_make(
    adopt: list[str], set_aside: list[str], result: str
) -> None:
    try:
        answers = parse_answers(RECOMMENDATIONS, adopt, set_aside)
    except InvalidInput as exc:
        assert exc.message == result
        return
    conditions = conditions_of(RECOMMENDATIONS, answers)
    labels = " ".join(c.label for c in conditions) or "none"
    missing = " ".join(unanswered(RECOMMENDATIONS, answers)) or "none"
    assert f"conditions {labels}; unanswered {missing}" == result
    kinds = {c.label: c.kind for c in conditions}
    assert (
        kinds.get("R1", RecommendationKind.MAX_RETENTION_DAYS)
        is RecommendationKind.MAX_RETENTION_DAYS
    )
    assert all(c.value == 180 for c in conditions if c.label == "R1")


# -- separation of duties (GDPR art. 38(6), Article 7) -----------------------------------------
@pytest.mark.parametrize(
    ("roles", "refused"),
    [
        ((Role.DPO,), False),
        ((Role.DPO, Role.STAFF), False),
        ((Role.CONTROLLER, Role.ADMIN), False),
        ((Role.DPO, Role.CONTROLLER), True),
        ((Role.DPO, Role.ADMIN), True),
        ((Role.STAFF, Role.DPO, Role.ADMIN), True),
    ],
)
def test_a_dpo_holds_no_role_that_decides(roles: tuple[Role, ...], refused: bool) -> None:
    if refused:
        with pytest.raises(NotAuthorised) as caught:
            check_roles(roles)
        assert caught.value.rule == "DPO_CONFLICT"
    else:
        check_roles(roles)


STUDY, OPINION, DECISION = Action.STUDY_ACCEPT, Action.OPINION, Action.APPROVE


@pytest.mark.parametrize(
    ("taken", "action", "refused"),
    [
        ([], STUDY, False),
        ([(STUDY, "me")], Action.STUDY_SUBMIT, False),  # the same duty, taken further
        ([(STUDY, "me")], DECISION, True),
        ([(STUDY, "me")], Action.REJECT, True),
        ([(Action.STUDY_RETURN, "me")], DECISION, True),
        ([(STUDY, "other")], DECISION, False),
        ([(OPINION, "me")], DECISION, True),
        ([(OPINION, "me")], STUDY, True),
        ([(STUDY, "me")], OPINION, True),
        ([(Action.FILE, "me"), (Action.ANNOTATE, "me")], DECISION, False),  # not duties
        ([(STUDY, "me")], Action.ANNOTATE, False),
    ],
)
def test_no_one_takes_two_of_study_opinion_and_decision(
    taken: list[tuple[Action, str]], action: Action, refused: bool
) -> None:
    steps = [(done.value, who) for done, who in taken]
    if refused:
        with pytest.raises(NotAuthorised) as caught:
            separate_duties(action, "me", "DX-2026-0001", steps)
        assert caught.value.rule == "SEPARATION_OF_DUTIES"
        assert caught.value.message.startswith("SEPARATION_OF_DUTIES: me ")
    else:
        separate_duties(action, "me", "DX-2026-0001", steps)


def _member_rule(check: Callable[[], object]) -> str:
    try:
        check()
    except NotAuthorised as exc:
        return f"rule:{exc.rule}"
    return "ok"


@pytest.mark.parametrize("person", PEOPLE, ids=lambda p: p.id)
def test_who_manages_members_and_keys_auditor_included(person: Person) -> None:
    """Adding, revoking, setting the address of a member of one's own party and replacing a
    lost key are an active admin's; rotating one's own key is any active member's but an
    auditor's (issue 19), which takes no step of any kind."""
    colleague = Person(f"{person.party[0]}.other", person.party, (Role.STAFF,))
    if not person.active:
        expected_admin = expected_own = "rule:revoked-member"
    elif Role.AUDITOR in person.roles:
        expected_admin = expected_own = "rule:AUDITOR_READS_ONLY"
    else:
        expected_own = "ok"
        expected_admin = "ok" if Role.ADMIN in person.roles else "rule:admin-only"
    checks = {
        "add": lambda: authorise_member_add(person, person.party, (Role.STAFF,), True),
        "revoke": lambda: authorise_member_revoke(person, colleague, 2),
        "contact": lambda: authorise_member_contact(person, colleague),
        "lost key": lambda: authorise_key_rotation(person, colleague, lost=True),
    }
    for name, check in checks.items():
        assert _member_rule(check) == expected_admin, name
    assert _member_rule(lambda: authorise_key_rotation(person, person, lost=False)) == (
        expected_own if person.active else "rule:revoked-member"
    )
