"""The Article 30 register: import, add, edit, read, check; and what the procedure writes to it.

Every change is a new version of a fiche (author, date, reason) with its signed
``register.version`` event; nothing is ever deleted. When a requester's controller accepts the
conditions of an approved exchange, the requester gets a new processing activity and becomes a
recipient of the holder's source activity, both linked to the request; a lapsed exchange
annotates them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from ..audit.canonical import document_digest, text_digest
from ..domain.actions import Action
from ..domain.models import ExchangeRequest, Member, Role
from ..domain.payloads import RegisterVersion
from ..domain.recommendations import RecommendationKind
from ..domain.rules import RULE_OWN_PARTY_ADMIN, ensure_acting
from ..errors import InvalidInput, NotAuthorised, NotFound, cut
from ..i18n import _
from ..policy.model import Category, Policy, Sensitivity
from ..register.check import Finding, register_problems
from ..register.loader import parse_entries, read_fiches, registry_files
from ..register.model import (
    DataCategory,
    DataGroup,
    EntryNote,
    EntryVersion,
    LegalBasis,
    Processor,
    Recipient,
    RecipientType,
    RegisterEntry,
    SecurityKind,
    SensitiveData,
    SensitiveKind,
)
from ..store.base import Tx
from .remoting import remotable, said
from .session import Recorder, Session, perform
from .workspace import Workspace


def editor_role(actor: Member, controller: str) -> Role:
    """Admins and DPOs keep their own controller's register."""
    ensure_acting(actor)
    if actor.party == controller:
        for role in (Role.DPO, Role.ADMIN):
            if actor.has(role):
                return role
    raise NotAuthorised(
        RULE_OWN_PARTY_ADMIN,
        _(
            "only an admin or the DPO of {controller} edits its register: {member} is {roles} of "
            "{party}"
        ).format(
            controller=controller, member=actor.id, roles="/".join(actor.roles), party=actor.party
        ),
    )


def record_version(
    tx: Tx, recorder: Recorder, actor: Member, role: Role, entry: RegisterEntry, reason: str
) -> int:
    version = len(tx.entry_versions(entry.ref)) + 1
    payload = RegisterVersion(
        ref=entry.ref,
        controller=entry.controller,
        version=version,
        doc_sha256=document_digest(entry.document()),
        reason_sha256=text_digest(reason),
    )
    event = recorder.record(actor, role, entry.ref, payload)
    tx.add_entry_version(entry, version, event.seq, reason)
    return version


def _merge(imported: RegisterEntry, current: RegisterEntry) -> RegisterEntry:
    """The imported fiche, keeping what the procedure added to the current version."""
    linked = [r for r in current.recipients if r.exchange and r not in imported.recipients]
    return imported.model_copy(
        update={
            "created_on": current.created_on,
            "recipients": (*imported.recipients, *linked),
            "exchanges": tuple(dict.fromkeys((*imported.exchanges, *current.exchanges))),
            "notes": tuple(dict.fromkeys((*current.notes, *imported.notes))),
        }
    )


@dataclass(frozen=True)
class ImportResult:
    added: list[str]
    updated: list[str]
    unchanged: list[str]
    skipped: list[str]  # other controllers' fiches: their own admin or DPO imports them


MANY = 1000  # fiches one import may add or update


def import_registry(session: Session, path: Path) -> ImportResult:
    paths = registry_files(path)
    if not paths:
        raise InvalidInput(_("no register fiche (*.yaml) in {path}").format(path=path))
    return import_fiches(session, read_fiches(paths), str(path))


def _import_said(args: dict[str, Any]) -> dict[str, Any]:
    reasons = {text_digest(f"import of {Path(name).name}") for name, _ in args["fiches"]}
    return {"reason_sha256": lambda digest: digest in reasons}


@remotable(
    "register.import",
    takes=Action.REGISTER_VERSION,
    also=(Action.REGISTER_VERSION,),
    max_also=MANY,
    expect=_import_said,
)
def import_fiches(session: Session, fiches: list[tuple[str, str]], origin: str) -> ImportResult:
    """Import the fiches given as (file name, text), read on the member's machine from
    ``origin``: each of the member's party is added, or updated if it changed."""

    def operation(tx: Tx, actor: Member, recorder: Recorder) -> ImportResult:
        files = parse_entries(fiches, session.workspace.current_policy(tx).policy)
        result = ImportResult([], [], [], [])
        for item in files:
            entry = item.entry
            if entry.controller != actor.party:
                result.skipped.append(entry.ref)
                continue
            role = editor_role(actor, entry.controller)
            versions = tx.entry_versions(entry.ref)
            if not versions:
                record_version(tx, recorder, actor, role, entry, f"import of {item.path.name}")
                result.added.append(entry.ref)
                continue
            merged = _merge(entry, versions[-1].entry)
            if merged == versions[-1].entry:
                result.unchanged.append(entry.ref)
            else:
                record_version(tx, recorder, actor, role, merged, f"import of {item.path.name}")
                result.updated.append(entry.ref)
        if not result.added and not result.updated and not result.unchanged:
            raise InvalidInput(
                _("no fiche of {party} in {origin}").format(party=actor.party, origin=cut(origin))
            )
        return result

    return perform(session, operation)


def save_entry(session: Session, path: Path, reason: str, *, new: bool) -> EntryVersion:
    """``register add`` (a new fiche) or ``register edit`` (a new version of one)."""
    ((name, text),) = read_fiches([path])
    return save_fiche(session, name, text, reason, new)


@remotable(Action.REGISTER_VERSION, expect=lambda a: {"reason_sha256": said(a["reason"])})
def save_fiche(session: Session, name: str, text: str, reason: str, new: bool) -> EntryVersion:
    """A new fiche (``new``) or a new version of one, from the text of its file ``name``."""
    reason = reason.strip()
    if not reason:
        raise InvalidInput(_("{option} must not be empty").format(option="--reason"))

    def operation(tx: Tx, actor: Member, recorder: Recorder) -> EntryVersion:
        (item,) = parse_entries([(name, text)], session.workspace.current_policy(tx).policy)
        entry: RegisterEntry = item.entry
        role = editor_role(actor, entry.controller)
        versions = tx.entry_versions(entry.ref)
        if new and versions:
            raise InvalidInput(_("{ref} already exists: use `register edit`").format(ref=entry.ref))
        if not new:
            if not versions:
                raise NotFound(
                    _("no register fiche {ref!r}: use `register add`").format(ref=cut(entry.ref))
                )
            if versions[-1].entry.controller != entry.controller:
                raise InvalidInput(
                    _("{ref} belongs to {controller}").format(
                        ref=entry.ref, controller=versions[-1].entry.controller
                    )
                )
            entry = _merge(entry, versions[-1].entry)
            if entry == versions[-1].entry:
                raise InvalidInput(_("{ref}: nothing changed").format(ref=entry.ref))
        record_version(tx, recorder, actor, role, entry, reason)
        return tx.entry_versions(entry.ref)[-1]

    return perform(session, operation)


def current_entries(workspace: Workspace, controller: str | None = None) -> list[EntryVersion]:
    with workspace.store.transaction() as tx:
        return tx.current_entries(controller)


def entry_history(workspace: Workspace, ref: str) -> list[EntryVersion]:
    with workspace.store.transaction() as tx:
        versions = tx.entry_versions(ref)
    if not versions:
        raise NotFound(
            _("no register fiche {ref!r}").format(ref=cut(ref)),
            hint=_("`ctg-exchange register list` shows them"),
        )
    return versions


def check_register(workspace: Workspace, controller: str | None = None) -> list[Finding]:
    """What the register lacks, fiche by fiche and as a whole, under the policy in force."""
    with workspace.store.transaction() as tx:
        versions = tx.current_entries(controller)
        policy = workspace.current_policy(tx).policy
    return register_problems((v.entry for v in versions), policy, controller)


# -- fed by the procedure ------------------------------------------------------------------


def entry_ref(policy: Policy, party: str, request_id: str) -> str:
    found = policy.party(party)
    prefix = found.register_prefix if found and found.register_prefix else party.upper()
    return f"{prefix}-{request_id}"


def _data_of(category: Category, retention: str) -> DataCategory | SensitiveData | None:
    if category.sensitivity is Sensitivity.NOT_PERSONAL:
        return None
    if category.sensitivity is Sensitivity.SPECIAL_ART9:
        return SensitiveData(
            kind=SensitiveKind.SANTE, description=category.label, retention=retention
        )
    if category.sensitivity is Sensitivity.OFFENCE_ART10:
        return SensitiveData(
            kind=SensitiveKind.INFRACTIONS, description=category.label, retention=retention
        )
    group = DataGroup(category.cnil_group.value)
    return DataCategory(group=group, description=category.label, retention=retention)


def feed_acceptance(
    tx: Tx,
    recorder: Recorder,
    actor: Member,
    request: ExchangeRequest,
    policy: Policy,
    today: date,
    dpia_ref: str | None,
) -> list[str]:
    """The requester's new activity, and the requester as recipient of the holder's ones."""
    content = request.content
    holder = policy.party(request.to_party)
    requester = policy.party(request.from_party)
    assert holder is not None and requester is not None
    limits = [
        c.value
        for c in request.conditions
        if c.kind is RecommendationKind.MAX_RETENTION_DAYS and c.value
    ]
    days = min([content.retention_days, *limits])
    retention = f"{days} jours à compter de chaque réception (échange CTG {request.id})"
    items = [_data_of(c, retention) for c in map(policy.category, content.categories) if c]
    kind = policy.purpose_kind(content.purpose_kind)
    field = policy.field(content.field)
    adopted = "; ".join(f"{c.label} {c.text}" for c in request.conditions)
    entry = RegisterEntry(
        ref=entry_ref(policy, request.from_party, request.id),
        controller=request.from_party,
        name=f"{kind.label if kind else content.purpose_kind} — "
        f"{field.label if field else content.field} "
        f"(données reçues de {holder.short_name}, {request.id})",
        created_on=today,
        purpose=content.purpose,
        legal_basis=LegalBasis(
            art6=content.legal_basis or "art6_1_e",
            art9=content.art9_condition,
            text=content.legal_text or "non renseigné",
        ),
        subjects=(content.subjects,),
        data=tuple(i for i in items if isinstance(i, DataCategory)),
        sensitive=tuple(i for i in items if isinstance(i, SensitiveData)),
        recipients=(
            Recipient(
                name=content.recipients or f"Services de {requester.short_name}",
                type=RecipientType.SERVICE_INTERNE,
            ),
            *(Recipient(name=name, type=RecipientType.AUTRE) for name in content.onward_recipients),
        ),
        processors=tuple(
            Processor(
                name=processor.name,
                service=f"Sous-traitant déclaré dans la demande {request.id}",
                contract=processor.contract,
            )
            for processor in content.processors
        ),
        security={
            SecurityKind.CHIFFREMENT: "Données reçues chiffrées pour la seule partie "
            "destinataire (age X25519), paquet signé",
            SecurityKind.TRACABILITE: "Journal d'audit chaîné et signé (réception, "
            "suppression attestée à l'échéance)",
            SecurityKind.CONTROLE_ACCES: "Identité de déchiffrement de la partie protégée par "
            "phrase de passe ; comptes nominatifs",
            **({SecurityKind.AUTRES: f"Conditions de transmission : {adopted}"} if adopted else {}),
        },
        source=f"{holder.name} — échange CTG article 7, {request.id}",
        dpia_required=request.dpia_required,
        dpia_ref=dpia_ref,
        exchanges=(request.id,),
    )
    touched = []
    if not tx.entry_versions(entry.ref):
        record_version(
            tx,
            recorder,
            actor,
            Role.CONTROLLER,
            entry,
            f"exchange {request.id}: conditions accepted",
        )
        touched.append(entry.ref)
    recipient = Recipient(
        name=f"{requester.name} ({request.id})", type=RecipientType.PARTENAIRE, exchange=request.id
    )
    for version in tx.current_entries(request.to_party):
        source = version.entry
        if not set(source.ctg_categories) & set(content.categories):
            continue
        if request.id in source.exchanges:
            continue
        updated = source.model_copy(
            update={
                "recipients": (*source.recipients, recipient),
                "exchanges": (*source.exchanges, request.id),
            }
        )
        record_version(
            tx,
            recorder,
            actor,
            Role.CONTROLLER,
            updated,
            f"exchange {request.id}: {request.from_party} added as recipient",
        )
        touched.append(source.ref)
    return touched


def note_lapse(
    tx: Tx, recorder: Recorder, actor: Member, role: Role, request_id: str, today: date, why: str
) -> None:
    """Annotate the fiches linked to an exchange that lapsed; they are never deleted."""
    note = EntryNote(on=today, text=f"Échange {request_id} caduc : {why}", exchange=request_id)
    for version in tx.current_entries():
        entry = version.entry
        if request_id in entry.exchanges and note not in entry.notes:
            record_version(
                tx,
                recorder,
                actor,
                role,
                entry.model_copy(update={"notes": (*entry.notes, note)}),
                f"exchange {request_id} lapsed",
            )
