"""Who may take which step (DESIGN §3). Each refusal names its rule.

Hard rules: a revoked member can do nothing; only the holding party's controller studies and
decides, and suspends, resumes and reviews the exchange; only the holding party's DPO gives the
opinion, only the requesting party's DPO advises its own party; nobody decides a request they
filed; only the requesting party's staff amends or withdraws; an admin manages its own party's
members, except that any admin may add the first admin of a party that never had one.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable

from ..errors import NotAuthorised
from .actions import REQUEST_STEPS, TAKEN_AS, Action
from .models import Acting, Role, Standing

RULE_REVOKED = "revoked-member"
RULE_STAFF_FILES = "staff-files"
RULE_OTHER_PARTY = "request-other-party"
RULE_REQUESTER_STAFF = "requester-staff-only"
RULE_HOLDER_CONTROLLER = "holder-controller-only"
RULE_HOLDER_DPO = "holder-dpo-only"
RULE_INVOLVED_DPO = "involved-dpo-only"
# the requester runs the DPIA and informs the families (GDPR art. 14, 35): its DPO advises
RULE_REQUESTER_DPO = "requester-dpo-only"
RULE_NO_SELF_DECISION = "no-self-decision"
RULE_ADMIN_ONLY = "admin-only"
RULE_OWN_PARTY_ADMIN = "own-party-admin"
RULE_LAST_ADMIN = "last-admin"
RULE_REQUESTER_CONTROLLER = "requester-controller-only"
RULE_HOLDER_STAFF = "holder-staff-only"
RULE_RECIPIENT_STAFF = "recipient-staff-only"
# GDPR art. 38(6): the DPO's other tasks must not put it in a conflict of interest; the opinion
# is worth something only if someone else studied and someone else decides (Article 7)
RULE_DPO_CONFLICT = "DPO_CONFLICT"
RULE_SEPARATION = "SEPARATION_OF_DUTIES"

# the three duties of Article 7 on one request; no one person takes two of them
DUTY_OF: dict[Action, str] = {
    Action.STUDY_ACCEPT: "study",
    Action.STUDY_RETURN: "study",
    Action.STUDY_SUBMIT: "study",
    Action.OPINION: "opinion",
    Action.APPROVE: "decision",
    Action.REJECT: "decision",
}
_DUTY_NAME = {"study": "studied", "opinion": "gave the opinion on", "decision": "decided"}

Taken = tuple[str, str]  # a step of a request: (action, actor)

# the one role each request step is taken in
ACTION_ROLE: dict[Action, Role] = {action: TAKEN_AS[action][0] for action in REQUEST_STEPS}

_VERB = {
    Action.AMEND: "amends",
    Action.WITHDRAW: "withdraws",
    Action.STUDY_ACCEPT: "studies",
    Action.STUDY_RETURN: "returns",
    Action.STUDY_SUBMIT: "submits to the DPO",
    Action.APPROVE: "decides on",
    Action.REJECT: "decides on",
    Action.SUSPEND: "suspends",
    Action.RESUME: "resumes",
    Action.REVIEW: "reviews",
}


def ensure_active(member: Acting) -> None:
    if not member.active:
        raise NotAuthorised(
            RULE_REVOKED,
            f"{member.id} was revoked on {(member.revoked_at or '')[:10]}: "
            "a revoked member can do nothing",
        )


def cosigning_role(member: Acting) -> Role:
    """The role in which ``member`` cosigns a checkpoint for its party: admin, or DPO."""
    role = next((r for r in (Role.ADMIN, Role.DPO) if member.has(r)), None)
    if role is None:
        raise NotAuthorised(
            RULE_ADMIN_ONLY, f"an admin or a DPO cosigns checkpoints: {_describe(member)}"
        )
    return role


def _describe(member: Acting) -> str:
    return f"{member.id} is {'/'.join(member.roles)} of {member.party}"


def authorise_filing(member: Acting, to_party: str) -> Role:
    """A party's staff files requests addressed to the other party."""
    ensure_active(member)
    if not member.has(Role.STAFF):
        raise NotAuthorised(RULE_STAFF_FILES, f"only staff file requests: {_describe(member)}")
    if to_party == member.party:
        raise NotAuthorised(
            RULE_OTHER_PARTY,
            f"a request is addressed to the other party, not to {member.party} itself",
        )
    return Role.STAFF


def authorise(action: Action, member: Acting, request: Standing) -> Role:
    """The role under which ``member`` may take ``action`` on ``request``, or NotAuthorised."""
    ensure_active(member)
    if action in (Action.APPROVE, Action.REJECT) and member.id == request.filed_by:
        raise NotAuthorised(
            RULE_NO_SELF_DECISION,
            f"{member.id} filed {request.id}: nobody decides a request they filed",
        )
    if action in (Action.AMEND, Action.WITHDRAW):
        if member.party != request.from_party or not member.has(Role.STAFF):
            raise NotAuthorised(
                RULE_REQUESTER_STAFF,
                f"only the requesting party's staff ({request.from_party}) {_VERB[action]} "
                f"{request.id}: {_describe(member)}",
            )
    elif action is Action.OPINION:
        if member.party != request.to_party or not member.has(Role.DPO):
            raise NotAuthorised(
                RULE_HOLDER_DPO,
                f"only the DPO of the holding party ({request.to_party}) gives the opinion on "
                f"{request.id}: {_describe(member)}",
            )
    elif action is Action.ACCEPT_CONDITIONS:
        if member.party != request.from_party or not member.has(Role.CONTROLLER):
            raise NotAuthorised(
                RULE_REQUESTER_CONTROLLER,
                f"only the controller of the requesting party ({request.from_party}) accepts "
                f"the conditions of {request.id}: {_describe(member)}",
            )
    elif action is Action.SEND:
        if member.party != request.to_party or not member.has(Role.STAFF):
            raise NotAuthorised(
                RULE_HOLDER_STAFF,
                f"only the holding party's staff ({request.to_party}) sends the data of "
                f"{request.id}: {_describe(member)}",
            )
    elif action in (Action.RECEIVE, Action.DESTROY):
        if member.party != request.from_party or not member.has(Role.STAFF):
            raise NotAuthorised(
                RULE_RECIPIENT_STAFF,
                f"only the requesting party's staff ({request.from_party}) receives and deletes "
                f"the data of {request.id}: {_describe(member)}",
            )
    elif action is Action.LAPSE:
        if not member.has(Role.ADMIN):
            raise NotAuthorised(
                RULE_ADMIN_ONLY, f"only an admin records the convention's end: {_describe(member)}"
            )
    elif action is Action.ANNOTATE:
        if member.party not in (request.from_party, request.to_party) or not member.has(Role.DPO):
            raise NotAuthorised(
                RULE_INVOLVED_DPO,
                f"only a DPO of {request.from_party} or {request.to_party} annotates "
                f"{request.id}: {_describe(member)}",
            )
    elif action is Action.ADVISE:
        if member.party != request.from_party or not member.has(Role.DPO):
            raise NotAuthorised(
                RULE_REQUESTER_DPO,
                f"only the DPO of the requesting party ({request.from_party}) advises on "
                f"{request.id}: {_describe(member)}",
            )
    elif member.party != request.to_party or not member.has(Role.CONTROLLER):
        raise NotAuthorised(
            RULE_HOLDER_CONTROLLER,
            f"only the controller of the holding party ({request.to_party}) {_VERB[action]} "
            f"{request.id}: {_describe(member)}",
        )
    return ACTION_ROLE[action]


def separate_duties(
    action: Action, member_id: str, request_id: str, taken: Iterable[Taken]
) -> None:
    """No one person takes two of the study, the opinion and the decision of one request;
    ``taken`` is the request's steps so far, as (action, actor)."""
    duty = DUTY_OF.get(action)
    if duty is None:
        return
    for done, actor in taken:
        other = DUTY_OF.get(Action(done))
        if actor == member_id and other is not None and other != duty:
            raise NotAuthorised(
                RULE_SEPARATION,
                f"{RULE_SEPARATION}: {member_id} {_DUTY_NAME[other]} {request_id}: no one person "
                "takes two of the study, the opinion and the decision (Article 7; GDPR art. "
                "38(6))",
                hint="another member of the party, in that role, takes this step",
            )


def check_roles(roles: Collection[Role]) -> None:
    """A DPO holds no role that decides what it advises on (GDPR art. 38(6))."""
    if Role.DPO in roles and (Role.CONTROLLER in roles or Role.ADMIN in roles):
        raise NotAuthorised(
            RULE_DPO_CONFLICT,
            f"{RULE_DPO_CONFLICT}: a DPO cannot also be controller or admin of its party: "
            "it would advise on its own decisions (GDPR art. 38(6))",
        )


def authorise_member_add(
    actor: Acting, party: str, roles: Collection[Role], party_had_admin: bool
) -> None:
    """An admin adds members to its own party, or the first admin of a party that had none."""
    ensure_active(actor)
    if not actor.has(Role.ADMIN):
        raise NotAuthorised(RULE_ADMIN_ONLY, f"only an admin manages members: {_describe(actor)}")
    if actor.party == party:
        return
    if not party_had_admin and Role.ADMIN in roles:
        return
    raise NotAuthorised(
        RULE_OWN_PARTY_ADMIN,
        f"an admin manages its own party's members only: {actor.id} is admin of {actor.party}, "
        f"not of {party}",
        hint=None if party_had_admin else f"the first member of {party} must be an admin",
    )


def authorise_member_revoke(actor: Acting, target: Acting, active_admins: int) -> None:
    """An admin revokes members of its own party, never the party's last active admin."""
    ensure_active(actor)
    if not actor.has(Role.ADMIN):
        raise NotAuthorised(RULE_ADMIN_ONLY, f"only an admin manages members: {_describe(actor)}")
    if actor.party != target.party:
        raise NotAuthorised(
            RULE_OWN_PARTY_ADMIN,
            f"an admin manages its own party's members only: {actor.id} is admin of "
            f"{actor.party}, {target.id} is of {target.party}",
        )
    if target.has(Role.ADMIN) and target.active and active_admins <= 1:
        raise NotAuthorised(
            RULE_LAST_ADMIN,
            f"{target.id} is the last active admin of {target.party}",
            hint="add another admin first",
        )
