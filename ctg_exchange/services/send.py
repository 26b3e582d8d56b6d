"""Sending an approved dataset (DESIGN §4, §8; docs/spec/package.md).

Only for a request whose conditions are accepted, inside the convention's validity, by the
holder's staff. The dataset's header is checked against the approved columns and the adopted
conditions are applied to the file itself before it is encrypted to the requesting party. The
package appears at its path, and the delivery (hashes, counts, deadline, never a value) is
recorded with its signed event, together or not at all (:mod:`.delivery`).

On a hosted workspace the same happens on the sender's machine: the plan comes from the
member's own verified copy of the log, the dataset is read, checked, encrypted and signed here,
and the package is uploaded encrypted; the server records the delivery from the package's signed
manifest, checking it again.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import BinaryIO

from ..crypto.age import AgeError, Recipient
from ..crypto.agestream import decrypt_bytes, encrypt_bytes
from ..crypto.sshsig import NAMESPACE_MANIFEST
from ..domain.actions import Action
from ..domain.exchange import Delivery
from ..domain.lifecycle import next_status
from ..domain.models import ExchangeRequest, Member, Triage
from ..domain.recommendations import RecommendationKind
from ..domain.rules import authorise
from ..errors import IntegrityError, InvalidInput, Refused
from ..exchange.container import MANIFEST, SIGNATURE, PackageWriter
from ..exchange.dataset import (
    AggregateRules,
    DatasetRules,
    Rewritten,
    check_cells,
    check_header,
    count_rows,
    read_header,
    rewrite,
)
from ..exchange.dialect import SAVE_HINT, Dialect, sniff, undelimited
from ..exchange.kept import Package
from ..exchange.manifest import (
    AppliedCondition,
    ConventionRef,
    Manifest,
    PayloadInfo,
    RecipientParty,
    Sender,
)
from ..exchange.pipeline import Progress, RingReader, seal
from ..exchange.scanner import FastScanner, QuotedCsv
from ..fsutil import NewFile
from ..i18n import _
from ..policy.model import Policy
from ..policy.request_view import SENSITIVE
from ..store.base import Tx
from .delivery import (
    approved_columns,
    check_frequency,
    deliver,
    delivery_operation,
    early_reasons,
    retention_days,
    sealed_digest,
)
from .party_keys import load_identities
from .remoting import RemoteTarget
from .requests import decided_on, load_request
from .session import Session, load_actor, perform


@dataclass(frozen=True)
class Plan:
    """Everything decided before the dataset is read."""

    actor: Member
    request: ExchangeRequest
    number: int
    rules: DatasetRules
    recipients: tuple[str, ...]
    deadline: date
    policy_id: str
    policy_version: int


def dataset_rules(request: ExchangeRequest, policy: Policy, suppress: bool) -> DatasetRules:
    categories = [c for c in map(policy.category, request.content.categories) if c is not None]
    pseudonymise: list[str] = []
    min_count = None
    for condition in request.conditions:
        if condition.kind is RecommendationKind.PSEUDONYMISE:
            pseudonymise += condition.columns
        elif condition.kind is RecommendationKind.AGGREGATE_MIN_COUNT and condition.value:
            min_count = max(min_count or 0, condition.value)
    aggregates = None
    if request.triage is Triage.NON_PERSONAL:
        a = policy.aggregates
        counted = [policy.category(c) for c in request.content.aggregates_of]
        # counts of a sensitive category: the larger smallest cell (DOMAIN §3)
        sensitive = any(c is not None and c.sensitivity in SENSITIVE for c in counted)
        min_cell = a.min_cell_sensitive if sensitive else a.min_cell
        aggregates = AggregateRules(min_cell, a.round_to, a.total_group_by)
    return DatasetRules(
        approved=approved_columns(request, policy),
        count_columns=tuple(c for category in categories for c in category.count_columns),
        pseudonymise=tuple(dict.fromkeys(pseudonymise)),
        min_count=min_count,
        aggregates=aggregates,
        suppress_small_cells=suppress,
    )


def _plan(
    session: Session, tx: Tx, request_id: str, suppress: bool, early: str | None, rules: int
) -> Plan:
    today = session.clock.today()
    actor = load_actor(tx, session.require_actor())
    request = load_request(tx, request_id)
    authorise(Action.SEND, actor, request)
    next_status(Action.SEND, request)
    state = session.workspace.convention(tx)
    state.ensure_in_force(today, _("sending"))
    state.ensure_same_period(request.filed_on, decided_on(request), _("sending"))
    sent = tx.deliveries(request.id)
    check_frequency(request, sent, today, early, rules)
    recipients = tuple(r.recipient for r in tx.recipients(request.from_party) if r.active)
    if not recipients:
        raise Refused(
            "NO_RECIPIENT",
            _("{party} has no encryption key to send to").format(party=request.from_party),
            hint=_(
                "an admin of {party} runs `ctg-exchange keys generate --party {party} --encryption`"
            ).format(party=request.from_party),
        )
    current = session.workspace.current_policy(tx)
    return Plan(
        actor=actor,
        request=request,
        number=len(sent) + 1,
        rules=dataset_rules(request, current.policy, suppress),
        recipients=recipients,
        deadline=today + timedelta(days=retention_days(request)),
        policy_id=current.policy.id,
        policy_version=request.policy_version,
    )


def _bound(tx: Tx, request_id: str, sealed: str) -> None:
    """A kept key is used only if a delivery's signed event binds it (one the server added
    could be known to it, and void the pseudonymisation)."""
    digest = sealed_digest(sealed)
    for stored in tx.events(subject=request_id, actions=[Action.SEND.value]):
        if stored.event.payload.get("sealed_key_sha256") == digest:
            return
    raise IntegrityError(
        _(
            "the pseudonymisation key kept for {id} is bound to no delivery in the log: it was "
            "not kept by the tool, and is not used"
        ).format(id=request_id)
    )


def _pseudonym_key(session: Session, plan: Plan) -> tuple[bytes, str]:
    """The request's pseudonymisation key and its sealed form (kept, or new to keep)."""
    holder = plan.request.to_party
    with session.workspace.store.transaction() as tx:
        sealed = tx.get_pseudonym_key(plan.request.id)
        if sealed is not None and session.workspace.copy_of is not None:
            _bound(tx, plan.request.id, sealed)
        holder_recipients = [r.recipient for r in tx.recipients(holder)]
        active = [r.recipient for r in tx.recipients(holder) if r.active]
    if sealed is not None:
        # sealed to the identities of the first delivery: one replaced since (keys rotate
        # --party) may have another passphrase than the current one, and opens it alone
        identities = load_identities(session.keyring, holder, holder_recipients, some=True)
        try:
            return decrypt_bytes(bytes.fromhex(sealed), identities), sealed
        except (AgeError, ValueError):
            raise InvalidInput(
                _("none of {party}'s identities opens this request's key").format(party=holder),
                hint=_(
                    "it was sealed to {party}'s identity of the request's first delivery: give "
                    "that identity's passphrase (CTG_IDENTITY_PASSPHRASE)"
                ).format(party=holder),
            ) from None
    if not active:
        raise Refused(
            "NO_RECIPIENT",
            _("{party} needs an encryption key to keep the pseudonymisation key").format(
                party=holder
            ),
        )
    import os

    key = os.urandom(32)
    return key, encrypt_bytes(key, [Recipient.parse(r) for r in active]).hex()


@dataclass(frozen=True)
class SendResult:
    delivery: Delivery
    path: Path | None  # where the package is (none: uploaded to a hosted workspace only)
    manifest: Manifest


def _raw_blocks(
    file: BinaryIO, progress: Progress | None
) -> tuple[RingReader, Iterator[memoryview]]:
    ring = RingReader(file)

    def blocks() -> Iterator[memoryview]:
        for block in ring:
            if progress is not None:
                progress(len(block))
            yield block

    return ring, blocks()


def send(
    session: Session,
    request_id: str,
    dataset: Path,
    out: Path | None = None,
    suppress_small_cells: bool = False,
    progress: Progress | None = None,
    early: bool = False,
    justification: str | None = None,
) -> SendResult:
    """Send ``dataset`` as the next delivery of ``request_id``; ``early`` with a
    ``justification``: sooner than the request's frequency allows (recorded)."""
    reasons = early_reasons(early, justification)
    remote = session if isinstance(session, RemoteTarget) else None
    # what the package must be is decided here: on a hosted workspace, from the member's own
    # verified copy of the log (the server checks the delivery again; neither trusts the other)
    here = session if remote is None else remote.verified()
    log_rules = here.workspace.rules  # read before the transaction: it reads the genesis
    with here.workspace.store.transaction() as tx:
        plan = _plan(here, tx, request_id, suppress_small_cells, reasons, log_rules)
    rules, request = plan.rules, plan.request
    dialect = sniff(dataset)
    header = read_header(dataset, dialect)
    _check_header(header, rules.approved, request.id)
    small: set[tuple[int, int]] = set()
    if rules.inspects_cells:
        report = check_cells(dataset, header, rules, dialect)
        if report.problems:
            blank = rules.min_count and not rules.suppress_small_cells
            raise InvalidInput(
                _("the dataset breaks the conditions of {id}: {problem}").format(
                    id=request.id, problem=report.problems[0]
                ),
                hint=_("--suppress-small-cells blanks them instead of refusing") if blank else None,
                details=report.problems[1:10],
            )
        small = report.small
    target = out or Path.cwd() / f"{request.id}-{plan.number}.ctgx"
    if remote is not None and out is None:  # kept only until it is uploaded
        target = remote.scratch() / f"{request.id}-{plan.number}.ctgx"
    signing = session.keyring.signer_future(plan.actor)  # unlocked while the data streams
    key, kept_key = _pseudonym_key(here, plan) if rules.pseudonymise else (None, None)
    try:
        package = NewFile(target)
    except FileExistsError:
        raise InvalidInput(
            _("{path} already exists: choose another --out").format(path=target)
        ) from None
    try:
        writer = PackageWriter(package.file)
        payload = writer.begin_payload()
        recipients = [Recipient.parse(r) for r in plan.recipients]
        if rules.pseudonymise or small:
            counter = Rewritten()
            rewritten = _rewrite_blocks(
                dataset, header, rules, key, small, counter, progress, dialect
            )
            sealed = seal(rewritten, payload, recipients)
            rows = counter.rows
        else:
            scanner = FastScanner(
                len(header), dialect.delimiter, dialect.line_ending, dialect.encoding
            )
            with open(dataset, "rb", buffering=0) as source:
                ring, blocks = _raw_blocks(source, progress)
                try:
                    sealed = seal(blocks, payload, recipients, ring.release, scanner.feed)
                    rows = scanner.finish()
                except QuotedCsv:  # quoted fields: count with the csv module, send as is
                    rows = count_rows(dataset, len(header), dialect)
                    package.discard()
                    package = NewFile(target)
                    writer = PackageWriter(package.file)
                    payload = writer.begin_payload()
                    source.seek(0)
                    ring, blocks = _raw_blocks(source, None)
                    sealed = seal(blocks, payload, recipients, ring.release)
        writer.end_payload(sealed.size)
        applied = _applied(request, rules, plan.deadline, small)
        manifest = Manifest(
            log=here.workspace.id,
            request=request.id,
            delivery=plan.number,
            created_at=here.clock.now(),
            sender=Sender(
                member=plan.actor.id, party=plan.actor.party, fingerprint=plan.actor.fingerprint
            ),
            recipient=RecipientParty(party=request.from_party, recipients=plan.recipients),
            payload=PayloadInfo(sha256=sealed.sha256, size=sealed.size),
            columns=tuple(_output_columns(header)),
            rows=rows,
            dialect=dialect,
            conditions_applied=applied,
            retention_deadline=plan.deadline,
            convention=ConventionRef(id=plan.policy_id, policy_version=plan.policy_version),
        )
        manifest_bytes = manifest.to_bytes()
        signature = signing.result().sign(NAMESPACE_MANIFEST, manifest_bytes)
        writer.add(MANIFEST, manifest_bytes)
        writer.add(SIGNATURE, signature.encode())
        writer.close()
        kept = Package(manifest_bytes, signature, sealed.sha256, sealed.size)
        if remote is None:
            operation = delivery_operation(
                session, request.id, kept, kept_key, lambda _: package.commit(), reasons
            )
            delivery = perform(session, operation)
        else:
            package.commit()
            upload = remote.upload_package(target, request.id)
            encoded = base64.b64encode(manifest_bytes).decode("ascii")
            delivery = deliver(remote, request.id, upload, encoded, kept_key, reasons)
    except BaseException:
        package.discard()
        raise
    if remote is not None and out is None:
        target.unlink()
        return SendResult(delivery=delivery, path=None, manifest=manifest)
    return SendResult(delivery=delivery, path=target, manifest=manifest)


def _check_header(header: list[str], approved: tuple[str, ...], request_id: str) -> None:
    """:func:`check_header`, saying so when the refusal looks like a dialect problem."""
    if undelimited(header) and header[0] not in approved:
        raise InvalidInput(
            _(
                "the dataset's header reads as one column, not approved for {id}: its delimiter "
                "is none of ',' ';' or tab"
            ).format(id=request_id),
            hint=_(SAVE_HINT),  # translated if exchange/dialect.py marks it N_()
        )
    check_header(header, approved, request_id)


def _output_columns(header: list[str]) -> list[str]:
    return [name.lstrip("\ufeff") for name in header]


def _rewrite_blocks(
    dataset: Path,
    header: list[str],
    rules: DatasetRules,
    key: bytes | None,
    small: set[tuple[int, int]],
    counter: Rewritten,
    progress: Progress | None,
    dialect: Dialect,
) -> Iterator[bytes]:
    for block in rewrite(dataset, header, rules, key, small, counter, dialect):
        if progress is not None:
            progress(len(block))
        yield block


def _applied(
    request: ExchangeRequest, rules: DatasetRules, deadline: date, small: set[tuple[int, int]]
) -> tuple[AppliedCondition, ...]:
    details = {
        RecommendationKind.LIMIT_COLUMNS: lambda c: "columns: " + ", ".join(rules.approved),
        RecommendationKind.MAX_RETENTION_DAYS: lambda c: f"deadline {deadline}",
        RecommendationKind.PSEUDONYMISE: lambda c: "hashed: " + ", ".join(c.columns),
        RecommendationKind.AGGREGATE_MIN_COUNT: lambda c: f"{len(small)} cell(s) blanked",
    }
    return tuple(
        AppliedCondition(source=c.source, kind=c.kind.value, detail=details[c.kind](c))
        for c in request.conditions
        if c.kind in details
    )
