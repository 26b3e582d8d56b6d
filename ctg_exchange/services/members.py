"""Creating a workspace, and managing its members and their public keys."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path

from ..audit.canonical import text_digest
from ..crypto.keys import Signer, check_name
from ..crypto.publickey import PublicKey
from ..crypto.sshsig import NAMESPACES
from ..domain.actions import Action
from ..domain.key_payloads import KeyChange, key_history
from ..domain.models import Member, Role
from ..domain.payloads import (
    RULES,
    MemberAdd,
    MemberDeclaration,
    MemberRevoke,
    PolicyRef,
    Procedure,
    WorkspaceInit,
)
from ..domain.rules import authorise_member_add, authorise_member_revoke, check_roles
from ..errors import ClockRefused, ExchangeError, InvalidInput, NotFound, cut
from ..i18n import _
from ..policy import LoadedPolicy, Policy
from ..store.base import PolicyRecord, Tx
from .clock import Clock
from .remoting import remotable, said
from .session import Keyring, Recorder, Session, perform
from .workspace import (
    Workspace,
    build_database,
    new_workspace_id,
    prepare_new,
    write_config,
)


def declaration(member: Member) -> MemberDeclaration:
    """What the log says of a member: no name, only its digest (names are personal data)."""
    return MemberDeclaration(
        member=member.id,
        party=member.party,
        roles=member.roles,
        public_key=member.public_key,
        fingerprint=member.fingerprint,
        name_sha256=text_digest(member.name),
    )


def _check_party(policy: Policy, party: str) -> None:
    if policy.party(party) is None:
        raise InvalidInput(
            _("unknown party {party!r}: the convention's parties are {parties}").format(
                party=cut(party), parties=", ".join(policy.party_ids)
            )
        )


def _check_name(name: str) -> str:
    name = name.strip()
    if not name:
        raise InvalidInput(_("the member's name must not be empty"))
    return name


def _admin_signer(keyring: Keyring, admin_id: str) -> Signer:
    """The first admin's key: the existing one, or a new one made now."""
    key_dir = keyring.key_dir
    if key_dir.private_path(admin_id).exists():
        passphrase = keyring.passphrase(_("Passphrase for {member}'s key").format(member=admin_id))
    else:
        passphrase = keyring.passphrase(
            _("New passphrase for {member}'s key").format(member=admin_id), confirm=True
        )
        key_dir.generate(admin_id, passphrase)
    return key_dir.open_signer(admin_id, passphrase)


def init_workspace(
    root: Path,
    loaded: LoadedPolicy,
    admin_id: str,
    admin_name: str,
    admin_party: str,
    database: str,
    keyring: Keyring,
    clock: Clock,
    *,
    simulated: bool = False,
) -> Workspace:
    """Create a workspace with its policy and first admin, in one signed genesis event.

    ``simulated``: a rehearsal, whose dates ``clock`` may set (the genesis says so). Otherwise
    the clock must be the real one."""
    check_name(admin_id)
    admin_name = _check_name(admin_name)
    _check_party(loaded.policy, admin_party)
    if not simulated and clock.fixed_today is not None:
        raise ClockRefused(
            _(
                "CTG_TODAY sets the date only in a workspace created as a simulation: "
                "add --simulated-clock (for a rehearsal), or unset CTG_TODAY"
            )
        )
    db_path = prepare_new(root, database)
    signer = _admin_signer(keyring, admin_id)
    workspace_id = new_workspace_id()
    now = clock.now()
    admin = Member(
        id=admin_id,
        name=admin_name,
        party=admin_party,
        roles=(Role.ADMIN,),
        public_key=signer.public_key.openssh,
        fingerprint=signer.public_key.fingerprint,
        added_by=admin_id,
        added_at=now,
    )

    def fill(tx: Tx) -> None:
        tx.set_meta("workspace_id", workspace_id)
        tx.set_meta("created_at", now)
        tx.add_policy(
            PolicyRecord(
                1, loaded.policy.id, loaded.sha256, Path(loaded.source).name, loaded.text, now
            )
        )
        tx.insert_member(admin)
        genesis = WorkspaceInit(
            workspace=workspace_id,
            policy=PolicyRef(id=loaded.policy.id, version=1, sha256=loaded.sha256),
            admin=declaration(admin),
            procedure=Procedure(rules=RULES, clock="simulated" if simulated else "real"),
        )
        Recorder(tx, workspace_id, clock, signer, now).record(
            admin, Role.ADMIN, workspace_id, genesis
        )

    build_database(db_path, fill)
    write_config(root, workspace_id, database, now)
    return Workspace.open(root)


def add_member(
    session: Session,
    member_id: str,
    name: str,
    party: str,
    roles: Sequence[Role],
    public_key: PublicKey,
    until: date | None = None,
    email: str | None = None,
    notify: str | None = None,
) -> Member:
    """Add a member; with ``email`` (and ``notify``), set its contact as ``member set`` does, in
    the same transaction: a contact the actor may not set refuses the whole addition."""
    from .contacts import check_contact, contact_payload, record_contact

    check_name(member_id)
    name = _check_name(name)
    if not roles:
        raise InvalidInput(_("give the member at least one --role"))
    unique_roles = tuple(dict.fromkeys(roles))
    address = None if email is None and notify is None else check_contact(email, False, notify)
    today = session.clock.today()
    if until is not None and until < today:
        raise InvalidInput(
            _("--until {date} is already past: the member could never act").format(
                date=until.isoformat()
            )
        )

    def operation(tx: Tx, actor: Member, recorder: Recorder) -> Member:
        _check_party(session.workspace.current_policy(tx).policy, party)
        if tx.get_member(member_id) is not None:
            raise InvalidInput(_("the member {id!r} already exists").format(id=cut(member_id)))
        holder = tx.key_holder(public_key.openssh)  # or was, before a rotation (issue 19)
        if holder is not None:
            raise InvalidInput(
                _("this public key is already registered to {id!r}").format(id=cut(holder))
            )
        authorise_member_add(actor, party, unique_roles, tx.party_had_admin(party))
        check_roles(unique_roles)
        member = Member(
            id=member_id,
            name=name,
            party=party,
            roles=unique_roles,
            public_key=public_key.openssh,
            fingerprint=public_key.fingerprint,
            added_by=actor.id,
            added_at=recorder.now,
            until=until,
        )
        tx.insert_member(member)
        added = MemberAdd(**declaration(member).model_dump(), until=until)
        recorder.record(actor, Role.ADMIN, member_id, added)
        if email is not None or notify is not None:
            payload = contact_payload(member_id, address, False, notify)
            record_contact(tx, recorder, actor, member, payload, address)
        return member

    return perform(session, operation)


@remotable(
    Action.MEMBER_REVOKE,
    expect=lambda a: {
        "member": a["member_id"],
        "reason_sha256": said(a["reason"]),
        "successor": a.get("successor"),
    },
)
def revoke_member(
    session: Session, member_id: str, reason: str, successor: str | None = None
) -> Member:
    """Revoke ``member_id``; with ``successor``, hand it the open work the member follows in
    the same signed step (issue 19)."""
    from .handover import revoke_hand_overs

    reason = reason.strip()
    if not reason:
        raise InvalidInput(_("{option} must not be empty").format(option="--reason"))
    today = session.clock.today()

    def operation(tx: Tx, actor: Member, recorder: Recorder) -> Member:
        target = tx.get_member(member_id)
        if target is None:
            raise NotFound(_("unknown member {id!r}").format(id=cut(member_id)))
        if not target.active:
            raise InvalidInput(_("{member} is already revoked").format(member=member_id))
        authorise_member_revoke(actor, target, tx.lasting_admins(target.party, target.id))
        handed = revoke_hand_overs(tx, target, successor, today, actor.id, recorder.now)
        tx.revoke_member(member_id, recorder.now, actor.id, reason)
        revoked = MemberRevoke(
            member=member_id,
            reason_sha256=text_digest(reason),
            successor=successor,
            handed_over=handed,
        )
        recorder.record(actor, Role.ADMIN, member_id, revoked)
        after = tx.get_member(member_id)
        assert after is not None
        return after

    return perform(session, operation)


def _declared_key(text: str) -> tuple[str, str]:
    """The key as a member declaration gives it: OpenSSH text and fingerprint."""
    try:
        key = PublicKey.parse(text)
    except ExchangeError:
        return "", ""
    return key.openssh, key.fingerprint


@remotable(
    Action.MEMBER_ADD,
    also=(Action.MEMBER_CONTACT,),
    max_also=1,
    expect=lambda a: {
        "member": a["member_id"],
        "party": a["party"],
        "public_key": _declared_key(a["public_key"])[0],
        "fingerprint": _declared_key(a["public_key"])[1],
        "name_sha256": said(a["name"]),
        "roles": lambda got: sorted(got or ()) == sorted({Role(r).value for r in a["roles"]}),
        "until": None if a.get("until") is None else str(a["until"]),
    },
)
def add_member_key(
    session: Session,
    member_id: str,
    name: str,
    party: str,
    roles: Sequence[Role],
    public_key: str,
    until: date | None = None,
    email: str | None = None,
    notify: str | None = None,
) -> Member:
    """:func:`add_member` with the key as its OpenSSH text (what a remote client sends)."""
    key = PublicKey.parse(public_key)
    return add_member(session, member_id, name, party, roles, key, until, email, notify)


@remotable("member.list")
def list_members(workspace: Workspace) -> list[Member]:
    with workspace.store.transaction() as tx:
        return tx.list_members()


def allowed_signers(workspace: Workspace) -> str:
    """An OpenSSH ``allowed_signers`` file: every key that ever signed here, by member id."""
    with workspace.store.transaction() as tx:
        return allowed_signers_text(workspace.id, tx.list_members(), tx.key_changes())


def allowed_signers_text(
    workspace_id: str, members: Sequence[Member], changes: Sequence[KeyChange] = ()
) -> str:
    """Revoked members stay listed (their past signatures must still verify), under a comment
    that says when they were revoked. A member whose key was replaced (issue 19) has a line per
    key, each valid from its rotation's time (``valid-after``) to the next's
    (``valid-before``): ``ssh-keygen -Y verify -Overify-time=…`` at a signature's time picks
    the key of that time, and a retired key verifies nothing signed later."""
    namespaces = ",".join(NAMESPACES)
    lines = [f"# ctg-exchange workspace {workspace_id}: use with ssh-keygen -Y verify -I MEMBER"]
    if changes:
        lines.append(
            "# keys replaced: verify an older signature with -Overify-time=YYYYMMDDHHMMSSZ "
            "(its event's time)"
        )
    by_member: dict[str, list[KeyChange]] = {}
    for change in changes:
        by_member.setdefault(change.member, []).append(change)
    for member in members:
        if not member.active:
            lines.append(f"# {member.id}: revoked {member.revoked_at}, for events before that")
        for span in key_history(member, by_member.get(member.id, [])):
            options = [f'namespaces="{namespaces}"']
            if span.since_seq is not None:
                options.append(f'valid-after="{_openssh_time(span.since, up=False)}"')
            if span.until is not None:
                options.append(f'valid-before="{_openssh_time(span.until, up=True)}"')
            lines.append(f"{member.id} {','.join(options)} {span.public_key}")
    return "\n".join(lines) + "\n"


def _openssh_time(timestamp: str, *, up: bool) -> str:
    """An event's UTC time as OpenSSH writes one (``YYYYMMDDHHMMSSZ``), to the second below or
    (``up``) above: a key's validity includes its rotation's own event."""
    from datetime import timedelta

    from ..domain.dates import parse_timestamp

    moment = parse_timestamp(timestamp)
    if up and moment.microsecond:
        moment += timedelta(seconds=1)
    return moment.strftime("%Y%m%d%H%M%SZ")
