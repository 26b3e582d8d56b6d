"""Recording a delivery, from a package whose manifest the procedure checks (DESIGN §8, §11).

A delivery is recorded from its signed manifest, never from what a client says of it: the
manifest is the sender's signed statement of what the package holds (for which request and
delivery, to whose keys, which columns, how many rows, which conditions applied, until when it
may be kept). On a local workspace the sender's own command built it; on a hosted one the
sender's client built and uploaded the package (:mod:`ctg_exchange.remote.packages`), and the
server runs :func:`deliver`, so every check below is the server's to make: the manifest signed
by the acting member, for this request, its next delivery, the requesting party's active keys,
approved columns only, every adopted condition applied, the retention deadline, the payload the
server received.

The requesting party's staff then download the package from a hosted workspace
(:func:`download`), each download recorded, and check it on their own machine before anything
is decrypted (:mod:`ctg_exchange.services.receive`).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

from ..crypto.publickey import PublicKey
from ..crypto.sshsig import NAMESPACE_MANIFEST, verify
from ..domain.actions import Action
from ..domain.dates import procedure_date
from ..domain.exchange import Delivery
from ..domain.frequency import check_timing
from ..domain.lifecycle import next_status
from ..domain.models import ExchangeRequest, Frequency, Member, Role
from ..domain.recommendations import APPLIED_KINDS, RecommendationKind
from ..domain.rules import authorise
from ..domain.step_payloads import Send
from ..errors import InvalidInput, NotFound, Refused, SignatureInvalid, cut
from ..exchange.dataset import check_header
from ..exchange.kept import Kept, Package
from ..exchange.manifest import Manifest, PackageError
from ..i18n import _, date_text
from ..policy.model import Policy
from ..store.base import Tx
from .remoting import remotable, said
from .requests import decided_on, load_request, record_step, text_or_none
from .session import Recorder, Session, load_actor, perform
from .workspace import Workspace

# the conditions a sender applies to the file itself, each listed in the manifest


def retention_days(request: ExchangeRequest) -> int:
    """The days a delivery is kept: active use, then the intermediate archiving the request
    asked for, both within an adopted ``max_retention_days`` (the DPO's "at most")."""
    return request.content.kept(retention_limits(request))[1]


def retention_limits(request: ExchangeRequest) -> list[int]:
    """The adopted ``max_retention_days`` of ``request``."""
    return [
        c.value
        for c in request.conditions
        if c.kind is RecommendationKind.MAX_RETENTION_DAYS and c.value
    ]


def archived(request: ExchangeRequest) -> bool:
    """Whether a delivery of ``request`` is kept in intermediate archiving after active use:
    public archives, eliminated only with the archives service's approval."""
    active, total = request.content.kept(retention_limits(request))
    return total > active


def approved_columns(request: ExchangeRequest, policy: Policy) -> tuple[str, ...]:
    """The columns a delivery of ``request`` may carry: its categories' columns, narrowed by
    an adopted ``limit_columns``."""
    categories = [c for c in map(policy.category, request.content.categories) if c is not None]
    approved = [column for category in categories for column in category.columns]
    for condition in request.conditions:
        if condition.kind is RecommendationKind.LIMIT_COLUMNS:
            approved = [c for c in approved if c in condition.columns]
    return tuple(approved)


def delivery_of(
    manifest: Manifest, manifest_bytes: bytes, actor: Member, now: str, early: str | None = None
) -> Delivery:
    return Delivery(
        request_id=manifest.request,
        number=manifest.delivery,
        sent_by=actor.id,
        sent_at=now,
        sent_on=procedure_date(now),
        payload_sha256=manifest.payload.sha256,
        payload_size=manifest.payload.size,
        manifest_sha256=hashlib.sha256(manifest_bytes).hexdigest(),
        rows=manifest.rows,
        columns=manifest.columns,
        conditions=tuple(f"R{c.source} {c.kind}: {c.detail}" for c in manifest.conditions_applied),
        retention_deadline=manifest.retention_deadline,
        early=early is not None,
        justification=early,
    )


def early_reasons(early: bool, justification: str | None) -> str | None:
    """Why a delivery goes sooner than its frequency allows (``--early``), or None."""
    text = text_or_none(justification)
    if early and text is None:
        raise InvalidInput(_("--early needs --justification: why this delivery cannot wait"))
    if text is not None and not early:
        raise InvalidInput(
            _("--justification goes with --early, for a delivery sooner than its frequency allows")
        )
    return text


def check_frequency(
    request: ExchangeRequest, sent: list[Delivery], today: date, early: str | None, rules: int
) -> None:
    """Refuse a delivery on ``today`` that the request's frequency does not allow (rules 3;
    before, only a second delivery of a one-off request); ``early``: the reasons it goes
    sooner, if it does."""
    if rules < 3 and early is not None:
        raise InvalidInput(
            _(
                "this workspace's log follows rules {rules}, which do not time deliveries: send "
                "it without --early"
            ).format(rules=rules)
        )
    previous = (sent[-1].number, sent[-1].sent_on) if sent else None
    if rules < 3 and request.content.frequency is not Frequency.ONCE:
        previous = None
    justified = early is not None
    check_timing(
        request.id, request.content.frequency, previous, today, early=justified, justified=justified
    )


def check_package(
    session: Session,
    tx: Tx,
    actor: Member,
    request: ExchangeRequest,
    package: Package,
    early: str | None,
    rules: int,
) -> Manifest:
    """The package's manifest, if the procedure lets ``actor`` deliver it now (``early``: the
    reasons it goes sooner than its frequency allows; ``rules``: the log's); else the rule it
    breaks (the sender may not choose what the procedure decides)."""
    workspace, today = session.workspace, session.clock.today()
    manifest = Manifest.from_bytes(package.manifest)
    try:
        verify(PublicKey.parse(actor.public_key), NAMESPACE_MANIFEST, package.manifest,
               package.signature)  # fmt: skip
    except SignatureInvalid:
        raise PackageError(
            _("the package's manifest is not signed by {member}").format(member=actor.id)
        ) from None
    if manifest.log != workspace.id or manifest.request != request.id:
        raise PackageError(
            _("the package's manifest is not for {id} of this workspace").format(id=request.id)
        )
    sender = manifest.sender
    if (sender.member, sender.party, sender.fingerprint) != (
        actor.id, actor.party, actor.fingerprint
    ):  # fmt: skip
        raise PackageError(
            _("the package's manifest names another sender than {member}").format(member=actor.id)
        )
    if (manifest.payload.sha256, manifest.payload.size) != (
        package.payload_sha256, package.payload_size
    ):  # fmt: skip
        raise PackageError(_("the package's payload is not the one its manifest names"))
    sent = tx.deliveries(request.id)
    check_frequency(request, sent, today, early, rules)
    if manifest.delivery != len(sent) + 1:
        raise InvalidInput(
            _(
                "the package is delivery {number} of {id}, whose next is {next}: another was "
                "sent meanwhile, send again"
            ).format(number=manifest.delivery, id=request.id, next=len(sent) + 1)
        )
    active = {r.recipient for r in tx.recipients(request.from_party) if r.active}
    if manifest.recipient.party != request.from_party or set(
        manifest.recipient.recipients
    ) != active:  # fmt: skip
        raise Refused(
            "RECIPIENTS",
            _(
                "the package is not encrypted to the active keys of {party}, the requesting party"
            ).format(party=request.from_party),
            hint=_("`ctg-exchange keys list` shows them; send again"),
        )
    policy = workspace.current_policy(tx).policy
    check_header(manifest.columns, approved_columns(request, policy), request.id)
    wanted = {(c.source, c.kind.value) for c in request.conditions if c.kind in APPLIED_KINDS}
    applied = {(c.source, c.kind) for c in manifest.conditions_applied}
    if applied != wanted:
        missing = sorted(f"R{source} {kind}" for source, kind in wanted - applied)
        raise Refused(
            "CONDITIONS_NOT_APPLIED",
            (
                _(
                    "the package's manifest does not list the conditions of {id} as applied "
                    "(missing {missing})"
                )
                if missing
                else _("the package's manifest does not list the conditions of {id} as applied")
            ).format(id=request.id, missing=", ".join(missing)),
        )
    days = timedelta(days=retention_days(request))
    if not today - timedelta(days=1) + days <= manifest.retention_deadline <= today + days:
        raise Refused(
            "RETENTION_DEADLINE",
            _(
                "the package's deadline {deadline} is not {expected}, {days} days from today "
                "(the retention of {id})"
            ).format(
                deadline=date_text(manifest.retention_deadline),
                expected=date_text(today + days),
                days=days.days,
                id=request.id,
            ),
        )
    ref = manifest.convention
    current = workspace.current_policy(tx).policy.id
    if (ref.id, ref.policy_version) != (current, request.policy_version):
        raise PackageError(
            _(
                "the package's manifest names the convention {named!r} v{named_version}, not "
                "{current} v{version} of {id}"
            ).format(
                named=cut(ref.id),
                named_version=ref.policy_version,
                current=current,
                version=request.policy_version,
                id=request.id,
            )
        )
    return manifest


def delivery_operation(
    session: Session,
    request_id: str,
    package: Package,
    sealed_key: str | None,
    publish: Callable[[Delivery], None] | None,
    early: str | None = None,
) -> Callable[[Tx, Member, Recorder], Delivery]:
    """The delivery's state change: checked, recorded with its event and a checkpoint, the
    package published (``publish``) just before it commits; ``early``: why it goes sooner than
    the request's frequency allows (recorded: the flag, and the text by its digest)."""
    early = text_or_none(early)
    rules = session.workspace.rules  # read before the transaction: it reads the genesis

    def operation(tx: Tx, actor: Member, recorder: Recorder) -> Delivery:
        request = load_request(tx, request_id)
        authorise(Action.SEND, actor, request)
        next_status(Action.SEND, request)
        state = session.workspace.convention(tx)
        state.ensure_in_force(session.clock.today(), _("sending"))
        state.ensure_same_period(request.filed_on, decided_on(request), _("sending"))
        manifest = check_package(session, tx, actor, request, package, early, rules)
        stored_key = tx.get_pseudonym_key(request.id)
        pseudonymised = any(c.kind is RecommendationKind.PSEUDONYMISE for c in request.conditions)
        if sealed_key is not None and not pseudonymised:
            raise InvalidInput(_("{id} needs no pseudonymisation key").format(id=request.id))
        if None not in (stored_key, sealed_key) and stored_key != sealed_key:
            raise InvalidInput(
                _("the pseudonymisation key given is not the one {id} keeps").format(id=request.id)
            )
        key = stored_key or sealed_key
        if pseudonymised and key is None:
            raise InvalidInput(
                _("the first delivery of {id} keeps its pseudonymisation key").format(id=request.id)
            )
        delivery = delivery_of(manifest, package.manifest, actor, recorder.now, early)
        record_step(
            tx,
            recorder,
            actor,
            request,
            Action.SEND,
            text=early,
            payload=lambda head: Send(
                **head,
                early=True if early is not None else None,
                delivery=delivery.number,
                payload_sha256=delivery.payload_sha256,
                payload_size=delivery.payload_size,
                manifest_sha256=delivery.manifest_sha256,
                rows=delivery.rows,
                columns=delivery.columns,
                recipients=tuple(manifest.recipient.recipients),
                retention_deadline=delivery.retention_deadline,
                conditions=tuple(c.split(":")[0] for c in delivery.conditions),
                sealed_key_sha256=sealed_digest(key),  # the key it was made with, bound
            ),
        )
        tx.insert_delivery(delivery, recorder.last_seq)
        recorder.checkpoint(actor, Role.STAFF)
        if stored_key is None and key is not None:
            tx.put_pseudonym_key(request.id, key, recorder.last_seq)
        if publish is not None and not recorder.dry_run:
            publish(delivery)  # the package appears just before the delivery commits
        return delivery

    return operation


def _decoded(manifest: str) -> bytes:
    try:
        return base64.b64decode(manifest, validate=True)
    except ValueError:
        raise InvalidInput(_("a manifest is sent in base64")) from None


def sent_payload(
    manifest_bytes: bytes, sealed_key: str | None, early: str | None = None
) -> dict[str, object]:
    """What the ``exchange.send`` event of a package with this manifest says, field by field
    (as its payload's JSON has it): the sender's client signs that event only if it says so."""
    manifest = Manifest.from_bytes(manifest_bytes)
    reasons = said(early)
    return {
        "early": True if reasons is not None else None,
        "text_sha256": reasons,
        "delivery": manifest.delivery,
        "payload_sha256": manifest.payload.sha256,
        "payload_size": manifest.payload.size,
        "manifest_sha256": hashlib.sha256(manifest_bytes).hexdigest(),
        "rows": manifest.rows,
        "columns": list(manifest.columns),
        "recipients": list(manifest.recipient.recipients),
        "retention_deadline": manifest.retention_deadline.isoformat(),
        "conditions": [f"R{c.source} {c.kind}" for c in manifest.conditions_applied],
        "sealed_key_sha256": sealed_digest(sealed_key),
    }


def sealed_digest(sealed_key: str | None) -> str | None:
    """The digest the log keeps of a request's sealed pseudonymisation key (its first
    delivery's event binds it: nobody swaps the key unseen)."""
    return None if sealed_key is None else hashlib.sha256(sealed_key.encode("ascii")).hexdigest()


@remotable(
    Action.SEND,
    expect=lambda a: sent_payload(_decoded(a["manifest"]), a["sealed_key"], a["early"]),
    checkpoints=True,
    foresee=False,  # the package is on the server; the event must say the manifest, field by field
)
def deliver(
    session: Session,
    request_id: str,
    upload: str,
    manifest: str,
    sealed_key: str | None = None,
    early: str | None = None,
) -> Delivery:
    """Record the package ``upload`` the acting member sent up (a hosted workspace) as the next
    delivery of ``request_id``; ``manifest`` (base64) is the manifest they signed in it;
    ``early``, why it goes sooner than the request's frequency allows."""
    kept = Kept(session.workspace.root)
    package = kept.staged(upload, session.require_actor())
    if package.manifest != _decoded(manifest):
        raise PackageError(_("the uploaded package's manifest is not the one you signed"))

    def publish(delivery: Delivery) -> None:
        kept.publish(upload, delivery.request_id, delivery.number)

    operation = delivery_operation(session, request_id, package, sealed_key, publish, early)
    return perform(session, operation)


def may_upload(workspace: Workspace, member: Member, request_id: str) -> None:
    """An upload is read, and kept for its delivery's commit, only if it is for a request the
    uploading member may send a delivery of now (its manifest must then name it)."""
    with workspace.store.transaction() as tx:
        actor = load_actor(tx, member.id)
        request = load_request(tx, request_id)
        authorise(Action.SEND, actor, request)
        next_status(Action.SEND, request)


def download(workspace: Workspace, member: Member, request_id: str, number: int, at: str) -> Path:
    """The package of a delivery, for the requesting party's staff, until it is to be deleted
    (its retention deadline, or an attested deletion); the download recorded."""
    kept = Kept(workspace.root)
    today = workspace.clock().today()
    with workspace.store.transaction(write=True) as tx:
        actor = load_actor(tx, member.id)
        request = load_request(tx, request_id)
        authorise(Action.RECEIVE, actor, request)
        delivery = tx.get_delivery(request.id, number)
        if delivery is None:
            raise NotFound(_("no delivery {id}").format(id=f"{request.id}-{number}"))
        deleted = any((d.request_id, d.number) == (request.id, number) for d in tx.destructions())
        if deleted or delivery.retention_deadline < today:
            kept.discard(request.id, number)
            raise Refused(
                "RETENTION_ENDED",
                (
                    _(
                        "{id} was to be deleted by {date} and its deletion is attested: its "
                        "package is no longer kept"
                    )
                    if deleted
                    else _("{id} was to be deleted by {date}: its package is no longer kept")
                ).format(id=delivery.id, date=date_text(delivery.retention_deadline)),
            )
        path = kept.path_of(request.id, number)
        if not path.is_file():
            raise NotFound(
                _("the package of {id} is not kept here").format(id=f"{request.id}-{number}")
            )
        tx.record_download(request.id, number, actor.id, at)
    return path
