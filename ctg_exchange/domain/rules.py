"""Who may take which step (DESIGN §3). Each refusal names its rule.

Hard rules: a revoked member can do nothing; only the holding party's controller studies and
decides, and suspends, resumes and reviews the exchange; only the holding party's DPO gives the
opinion, only the requesting party's DPO advises its own party; nobody decides a request they
filed; only the requesting party's staff amends or withdraws; an admin manages its own party's
members, except that any admin may add the first admin of a party that never had one.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import date
from typing import NoReturn

from ..errors import NotAuthorised
from ..i18n import N_, _, date_text
from .actions import REQUEST_STEPS, TAKEN_AS, Action
from .states import Acting, Role, Standing

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
# issue 19: an auditor reads and verifies, takes no step; a member added --until acts no more
# after that day
RULE_AUDITOR = "AUDITOR_READS_ONLY"
RULE_TERM_ENDED = "MEMBER_TERM_ENDED"

# the three duties of Article 7 on one request; no one person takes two of them
DUTY_OF: dict[Action, str] = {
    Action.STUDY_ACCEPT: "study",
    Action.STUDY_RETURN: "study",
    Action.STUDY_SUBMIT: "study",
    Action.OPINION: "opinion",
    Action.APPROVE: "decision",
    Action.REJECT: "decision",
}
# what the member already did, as the refusal of SEPARATION_OF_DUTIES says it
_TOOK = {
    "study": N_(
        "{rule}: {member} studied {request}: no one person takes two of the study, the "
        "opinion and the decision (Article 7; GDPR art. 38(6))"
    ),
    "opinion": N_(
        "{rule}: {member} gave the opinion on {request}: no one person takes two of the study, "
        "the opinion and the decision (Article 7; GDPR art. 38(6))"
    ),
    "decision": N_(
        "{rule}: {member} decided {request}: no one person takes two of the study, the "
        "opinion and the decision (Article 7; GDPR art. 38(6))"
    ),
}

Taken = tuple[str, str]  # a step of a request: (action, actor)

# the one role each request step is taken in
ACTION_ROLE: dict[Action, Role] = {action: TAKEN_AS[action][0] for action in REQUEST_STEPS}

# who alone takes the step, one sentence per step: {party} {request} {who}
_ONLY_REQUESTER_STAFF = {
    Action.AMEND: N_("only the requesting party's staff ({party}) amends {request}: {who}"),
    Action.WITHDRAW: N_("only the requesting party's staff ({party}) withdraws {request}: {who}"),
}
_ONLY_HOLDER_CONTROLLER = {
    Action.STUDY_ACCEPT: N_(
        "only the controller of the holding party ({party}) studies {request}: {who}"
    ),
    Action.STUDY_RETURN: N_(
        "only the controller of the holding party ({party}) returns {request}: {who}"
    ),
    Action.STUDY_SUBMIT: N_(
        "only the controller of the holding party ({party}) submits to the DPO {request}: {who}"
    ),
    Action.APPROVE: N_(
        "only the controller of the holding party ({party}) decides on {request}: {who}"
    ),
    Action.REJECT: N_(
        "only the controller of the holding party ({party}) decides on {request}: {who}"
    ),
    Action.SUSPEND: N_(
        "only the controller of the holding party ({party}) suspends {request}: {who}"
    ),
    Action.RESUME: N_(
        "only the controller of the holding party ({party}) resumes {request}: {who}"
    ),
    Action.REVIEW: N_(
        "only the controller of the holding party ({party}) reviews {request}: {who}"
    ),
}


def ensure_active(member: Acting) -> None:
    if not member.active:
        raise NotAuthorised(
            RULE_REVOKED,
            _("{member} was revoked on {date}: a revoked member can do nothing").format(
                member=member.id, date=date_text((member.revoked_at or "")[:10])
            ),
        )


def ensure_acting(member: Acting) -> None:
    """A member who may take a step: active, and not an auditor (who only reads)."""
    ensure_active(member)
    if member.has(Role.AUDITOR):
        raise NotAuthorised(
            RULE_AUDITOR,
            _(
                "{rule}: {member} is an auditor of {party}: an auditor reads and verifies, and "
                "takes no step"
            ).format(rule=RULE_AUDITOR, member=member.id, party=member.party),
        )


def ensure_in_term(member_id: str, until: date | None, today: date) -> None:
    """A member added until a day (``--until``) neither acts nor reads after it; ``today`` is
    the procedure's date (an event's, or the workspace's clock)."""
    if until is not None and today > until:
        raise NotAuthorised(
            RULE_TERM_ENDED,
            _("{rule}: {member} was a member until {date}: it can no longer act or read").format(
                rule=RULE_TERM_ENDED, member=member_id, date=date_text(until)
            ),
        )


def cosigning_role(member: Acting) -> Role:
    """The role in which ``member`` cosigns a checkpoint for its party: admin, or DPO."""
    ensure_acting(member)
    role = next((r for r in (Role.ADMIN, Role.DPO) if member.has(r)), None)
    if role is None:
        raise NotAuthorised(
            RULE_ADMIN_ONLY,
            _("an admin or a DPO cosigns checkpoints: {who}").format(who=_describe(member)),
        )
    return role


def _describe(member: Acting) -> str:
    from ..labels import label

    roles = "/".join(label("role", role) for role in member.roles)
    return _("{member} is {roles} of {party}").format(
        member=member.id, roles=roles, party=member.party
    )


def _refusal(rule: str, message: str, member: Acting, party: str, request: Standing) -> NoReturn:
    """Refuse with ``message``, a sentence naming ``party``, the request and who acts."""
    raise NotAuthorised(
        rule, _(message).format(party=party, request=request.id, who=_describe(member))
    )


def authorise_filing(member: Acting, to_party: str) -> Role:
    """A party's staff files requests addressed to the other party."""
    ensure_acting(member)
    if not member.has(Role.STAFF):
        raise NotAuthorised(
            RULE_STAFF_FILES,
            _("only staff file requests: {who}").format(who=_describe(member)),
        )
    if to_party == member.party:
        raise NotAuthorised(
            RULE_OTHER_PARTY,
            _("a request is addressed to the other party, not to {party} itself").format(
                party=member.party
            ),
        )
    return Role.STAFF


def authorise(action: Action, member: Acting, request: Standing) -> Role:
    """The role under which ``member`` may take ``action`` on ``request``, or NotAuthorised."""
    ensure_acting(member)
    if action in (Action.APPROVE, Action.REJECT) and member.id == request.filed_by:
        raise NotAuthorised(
            RULE_NO_SELF_DECISION,
            _("{member} filed {request}: nobody decides a request they filed").format(
                member=member.id, request=request.id
            ),
        )
    requester, holder = request.from_party, request.to_party
    if action in (Action.AMEND, Action.WITHDRAW):
        if member.party != requester or not member.has(Role.STAFF):
            message = _ONLY_REQUESTER_STAFF[action]
            _refusal(RULE_REQUESTER_STAFF, message, member, requester, request)
    elif action is Action.OPINION:
        if member.party != holder or not member.has(Role.DPO):
            message = N_(
                "only the DPO of the holding party ({party}) gives the opinion on {request}: {who}"
            )
            _refusal(RULE_HOLDER_DPO, message, member, holder, request)
    elif action is Action.ACCEPT_CONDITIONS:
        if member.party != requester or not member.has(Role.CONTROLLER):
            message = N_(
                "only the controller of the requesting party ({party}) accepts the conditions "
                "of {request}: {who}"
            )
            _refusal(RULE_REQUESTER_CONTROLLER, message, member, requester, request)
    elif action is Action.SEND:
        if member.party != holder or not member.has(Role.STAFF):
            message = N_(
                "only the holding party's staff ({party}) sends the data of {request}: {who}"
            )
            _refusal(RULE_HOLDER_STAFF, message, member, holder, request)
    elif action in (Action.RECEIVE, Action.DESTROY):
        if member.party != requester or not member.has(Role.STAFF):
            message = N_(
                "only the requesting party's staff ({party}) receives and deletes the data of "
                "{request}: {who}"
            )
            _refusal(RULE_RECIPIENT_STAFF, message, member, requester, request)
    elif action is Action.LAPSE:
        if not member.has(Role.ADMIN):
            raise NotAuthorised(
                RULE_ADMIN_ONLY,
                _("only an admin records the convention's end: {who}").format(
                    who=_describe(member)
                ),
            )
    elif action is Action.ANNOTATE:
        if member.party not in (requester, holder) or not member.has(Role.DPO):
            raise NotAuthorised(
                RULE_INVOLVED_DPO,
                _("only a DPO of {requester} or {holder} annotates {request}: {who}").format(
                    requester=requester, holder=holder, request=request.id, who=_describe(member)
                ),
            )
    elif action is Action.ADVISE:
        if member.party != requester or not member.has(Role.DPO):
            message = N_(
                "only the DPO of the requesting party ({party}) advises on {request}: {who}"
            )
            _refusal(RULE_REQUESTER_DPO, message, member, requester, request)
    elif member.party != holder or not member.has(Role.CONTROLLER):
        message = _ONLY_HOLDER_CONTROLLER[action]
        _refusal(RULE_HOLDER_CONTROLLER, message, member, holder, request)
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
                _(_TOOK[other]).format(rule=RULE_SEPARATION, member=member_id, request=request_id),
                hint=_("another member of the party, in that role, takes this step"),
            )


def check_roles(roles: Collection[Role]) -> None:
    """A DPO holds no role that decides what it advises on (GDPR art. 38(6)); an auditor holds
    no other role (it would verify its own steps)."""
    if Role.AUDITOR in roles and len(set(roles)) > 1:
        raise NotAuthorised(
            RULE_AUDITOR,
            _(
                "{rule}: an auditor holds no other role: it verifies what the others do, and "
                "takes no step"
            ).format(rule=RULE_AUDITOR),
        )
    if Role.DPO in roles and (Role.CONTROLLER in roles or Role.ADMIN in roles):
        raise NotAuthorised(
            RULE_DPO_CONFLICT,
            _(
                "{rule}: a DPO cannot also be controller or admin of its party: it would advise "
                "on its own decisions (GDPR art. 38(6))"
            ).format(rule=RULE_DPO_CONFLICT),
        )


def _admins_only(actor: Acting) -> NotAuthorised:
    return NotAuthorised(
        RULE_ADMIN_ONLY, _("only an admin manages members: {who}").format(who=_describe(actor))
    )


def authorise_member_add(
    actor: Acting, party: str, roles: Collection[Role], party_had_admin: bool
) -> None:
    """An admin adds members to its own party, or the first admin of a party that had none."""
    ensure_acting(actor)
    if not actor.has(Role.ADMIN):
        raise _admins_only(actor)
    if actor.party == party:
        return
    if not party_had_admin and Role.ADMIN in roles:
        return
    raise NotAuthorised(
        RULE_OWN_PARTY_ADMIN,
        _(
            "an admin manages its own party's members only: {member} is admin of {own}, not "
            "of {party}"
        ).format(member=actor.id, own=actor.party, party=party),
        hint=None
        if party_had_admin
        else _("the first member of {party} must be an admin").format(party=party),
    )


def _other_party(actor: Acting, target: Acting) -> NotAuthorised:
    return NotAuthorised(
        RULE_OWN_PARTY_ADMIN,
        _(
            "an admin manages its own party's members only: {member} is admin of {own}, "
            "{target} is of {party}"
        ).format(member=actor.id, own=actor.party, target=target.id, party=target.party),
    )


def authorise_member_revoke(actor: Acting, target: Acting, lasting_admins: int) -> None:
    """An admin revokes members of its own party, never the party's last active admin:
    ``lasting_admins`` counts its other active admins added with no end date (one added
    ``--until`` a day cannot administer the party after it, issue 19)."""
    authorise_member_contact(actor, target)
    if target.has(Role.ADMIN) and target.active and lasting_admins < 1:
        raise NotAuthorised(
            RULE_LAST_ADMIN,
            _("{member} is the last active admin of {party}").format(
                member=target.id, party=target.party
            ),
            hint=_("add another admin, with no end date, first"),
        )


def authorise_member_contact(actor: Acting, target: Acting) -> None:
    """An admin manages the members of its own party (their address and preference too)."""
    ensure_acting(actor)
    if not actor.has(Role.ADMIN):
        raise _admins_only(actor)
    if actor.party != target.party:
        raise _other_party(actor, target)


# issue 19, key rotation
RULE_OWN_KEY = "own-key"


def authorise_key_rotation(actor: Acting, target: Acting, lost: bool) -> Role:
    """Who replaces a member's signing key, and the role the event is taken in: the member
    itself, with the key it retires (in the first role it holds); for a lost or compromised
    key, an admin of the member's party (as admin)."""
    ensure_acting(actor)
    if not target.active:
        raise NotAuthorised(
            RULE_REVOKED,
            _("{member} was revoked on {date}: a revoked member's key is not replaced").format(
                member=target.id, date=date_text((target.revoked_at or "")[:10])
            ),
        )
    if not lost:
        if actor.id != target.id:
            raise NotAuthorised(
                RULE_OWN_KEY,
                _("a member rotates only their own key, with it: {member} is not {target}").format(
                    member=actor.id, target=target.id
                ),
                hint=_("an admin of {party} replaces a lost key: add --lost --reason TEXT").format(
                    party=target.party
                ),
            )
        return actor.roles[0]
    if not actor.has(Role.ADMIN):
        raise NotAuthorised(
            RULE_ADMIN_ONLY,
            _("only an admin replaces a lost key: {who}").format(who=_describe(actor)),
        )
    if actor.party != target.party:
        raise _other_party(actor, target)
    return Role.ADMIN
