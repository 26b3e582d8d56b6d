"""A member's e-mail address and notification preference (issue 18): set by an admin of the
member's party, as a signed step (``member.contact``) whose payload says what changed but never
the address itself."""

from __future__ import annotations

from typing import Literal

from ..domain.actions import Action
from ..domain.models import Member, Role
from ..domain.payloads import MemberContact
from ..domain.rules import authorise_member_contact
from ..errors import InvalidInput, NotFound, cut
from ..i18n import _
from ..notify import PREFERENCES
from ..notify.addresses import check_address
from ..store.base import Tx
from .remoting import remotable
from .session import Recorder, Session, perform

Preference = Literal["immediate", "digest", "none"]


def _said(email: str | None, remove: bool) -> Literal["set", "removed", "kept"]:
    return "removed" if remove else "kept" if email is None else "set"


def contact_payload(
    member_id: str, email: str | None, remove: bool, notify: str | None
) -> MemberContact:
    """What the log says of the change: a function of the command's arguments alone."""
    return MemberContact(
        member=member_id,
        email=_said(email, remove),
        notify=notify,  # checked by the model
    )


def check_contact(email: str | None, remove: bool, notify: str | None) -> str | None:
    """The address as stored, once checked; a one-line refusal for a bad change."""
    if email is not None and remove:
        raise InvalidInput(_("--email and --no-email go apart"))
    if email is None and not remove and notify is None:
        raise InvalidInput(_("give --email ADDRESS, --no-email or --notify"))
    if notify is not None and notify not in PREFERENCES:
        raise InvalidInput(_("--notify takes {choices}").format(choices=", ".join(PREFERENCES)))
    return None if email is None else check_address(email)


def record_contact(
    tx: Tx, recorder: Recorder, actor: Member, target: Member, payload: MemberContact,
    email: str | None,
) -> None:  # fmt: skip
    """Store the change and record its event, in ``tx``."""
    authorise_member_contact(actor, target)
    current = next(c for c in tx.contacts() if c.id == target.id)
    address = None if payload.email == "removed" else email or current.email
    tx.set_contact(target.id, address, payload.notify or current.notify)
    recorder.record(actor, Role.ADMIN, target.id, payload)


@remotable(
    Action.MEMBER_CONTACT,
    expect=lambda a: {
        "member": a["member_id"],
        "email": _said(a["email"], a["remove_email"]),
        "notify": a["notify"],
    },
)
def set_contact(
    session: Session,
    member_id: str,
    email: str | None = None,
    remove_email: bool = False,
    notify: str | None = None,
) -> Member:
    """Set (or remove) a member's address, and their preference: ``immediate`` (an e-mail at
    each step that waits on them), ``digest`` (in the daily reminder), ``none``."""
    address = check_contact(email, remove_email, notify)
    payload = contact_payload(member_id, address, remove_email, notify)

    def operation(tx: Tx, actor: Member, recorder: Recorder) -> Member:
        target = tx.get_member(member_id)
        if target is None:
            raise NotFound(_("unknown member {id!r}").format(id=cut(member_id)))
        record_contact(tx, recorder, actor, target, payload, address)
        return target

    return perform(session, operation)
