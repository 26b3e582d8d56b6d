"""Exporting the register, and the one-command CNIL audit bundle (DOMAIN §5).

The bundle holds exactly what an audit asks for: the register (or the one fiche asked for) in
every format; for each linked exchange its request, study, opinion and recommendations,
decision and acceptance; the convention's policy versions and changes; the audit-log extract
for those exchanges and fiches with the result of verifying the whole log; and ``SHA256SUMS``
over it all, signed by the exporting member (SSHSIG, ``ctg-exchange/bundle@v1``).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from ..audit.checkpoint import (
    CheckpointSigner,
    StoredCheckpoint,
    note_text,
    origin_of,
    signature_line,
)
from ..audit.report import VerifyResult
from ..crypto.keys import Signer
from ..crypto.sshsig import NAMESPACE_BUNDLE, NAMESPACE_CHECKPOINT
from ..domain.actions import CONVENTION_ACTIONS
from ..domain.models import ExchangeRequest, Member, Role
from ..domain.payloads import RegisterExport
from ..errors import InvalidInput, NotFound, cut
from ..fsutil import STAGING_LOCK, StagingDir, sweep_staging, write_atomic
from ..i18n import _, date_text, in_language
from ..labels import french
from ..register.export import EXPORTERS, Fiche, RegisterView
from ..store.base import Tx
from .audit_export import offline_verifier, write_export
from .auditing import raise_if_broken
from .documents import request_document, request_markdown
from .log_check import verify_tx
from .members import allowed_signers_text
from .register import editor_role
from .requests import findings_as_read
from .session import Recorder, Session, load_actor
from .workspace import Workspace

BUNDLE_STAGING = ".ctg-bundle-"


def _exchange_summary(request: ExchangeRequest) -> str:
    parts = []
    if request.opinion:
        parts.append(f"{french('verdict', request.opinion.verdict)} du {_day(request.opinion.on)}")
    if request.decision:
        outcome = french("status", request.decision.outcome)
        parts.append(
            f"décision du {_day(request.decision.on)} : demande {outcome}"
            + (" contre l'avis du DPO" if request.decision.against_opinion else "")
        )
    return " ; ".join(parts) or french("status", request.status)


def _day(day: object) -> str:
    """A date as the French documents write it: ``7 décembre 2026``."""
    with in_language("fr"):
        return date_text(day)


def register_view(
    workspace: Workspace, tx: Tx, controller: str, today: date, ref: str | None = None
) -> RegisterView:
    policy = workspace.current_policy(tx).policy
    party = policy.party(controller)
    if party is None:
        raise InvalidInput(_("unknown party {party!r}").format(party=cut(controller)))
    fiches = []
    versions_total = 0
    for current in tx.current_entries(controller):
        history = tx.entry_versions(current.entry.ref)
        versions_total += len(history)
        if ref is not None and current.entry.ref != ref:
            continue
        fiches.append(
            Fiche(current=current, created=current.entry.created_on, updated=history[-1].on)
        )
    if ref is not None and not fiches:
        raise NotFound(
            _("no register fiche {ref!r} of {controller}").format(
                ref=cut(ref), controller=controller
            )
        )
    exchanges = {}
    for fiche in fiches:
        for rid in fiche.entry.exchanges:
            request = tx.get_request(rid)
            if request is not None:
                exchanges[rid] = _exchange_summary(request)
    labels = {b.id: b.label for b in (*policy.legal_bases.art6, *policy.legal_bases.art9)}
    return RegisterView(
        controller=party,
        fiches=tuple(fiches),
        exchanges=exchanges,
        generated_on=today,
        register_version=versions_total,
        labels=labels,
        simulated=workspace.simulated,
    )


def fiche_view(session: Session, ref: str) -> RegisterView:
    """One fiche, as the exports show it."""
    with session.workspace.store.transaction() as tx:
        versions = tx.entry_versions(ref)
        if not versions:
            raise NotFound(_("no register fiche {ref!r}").format(ref=cut(ref)))
        return register_view(
            session.workspace, tx, versions[-1].entry.controller, session.clock.today(), ref
        )


def export_register(session: Session, controller: str | None, fmt: str, out: Path) -> RegisterView:
    """Export a controller's register (default: the acting member's party)."""
    if fmt not in EXPORTERS:
        raise InvalidInput(
            _("unknown format {format!r}: {formats}").format(
                format=cut(fmt), formats=", ".join(EXPORTERS)
            )
        )
    with session.workspace.store.transaction() as tx:
        if controller is None:
            if not session.actor_id:
                raise InvalidInput(_("give --controller, or act as a member (--as)"))
            today = session.clock.today()
            controller = load_actor(tx, session.actor_id, reading=True, today=today).party
        view = register_view(session.workspace, tx, controller, session.clock.today())
    EXPORTERS[fmt].write(view, out)
    return view


@dataclass(frozen=True)
class Bundle:
    path: Path
    files: int
    sums_sha256: str
    verified: str
    swept: tuple[str, ...] = ()  # leftovers of interrupted bundles, removed first


def _write(root: Path, relative: str, data: bytes | str) -> None:
    target = root / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(target, data.encode("utf-8") if isinstance(data, str) else data, mode=0o640)


_README = """Dossier pour un contrôle de la CNIL — {controller}
Édité le {today} par {member} avec ctg-exchange.

registre/    le registre des activités de traitement (CSV, XLSX, HTML, Markdown, JSON)
echanges/    pour chaque échange CTG lié : demande, étude, avis du DPO et recommandations,
             décision, acceptation des conditions, transmissions, historique
convention/  les versions de la convention (politiques) et ses évolutions (avenants…)
journal/     l'extrait du journal d'audit pour ces échanges et fiches (export.jsonl, avec la
             preuve d'inclusion de chaque événement dans le point de contrôle signé
             checkpoint.txt), la vérification du journal entier, allowed_signers pour vérifier
             chaque signature, et verify_audit_export.py pour vérifier l'extrait sans ctg-exchange

Vérifier l'intégrité du dossier :
  sha256sum -c SHA256SUMS
  ssh-keygen -Y verify -f journal/allowed_signers -I {member} -n {namespace} \\
      -s SHA256SUMS.sig < SHA256SUMS

Vérifier l'extrait du journal (Python 3 et le paquet cryptography, ou ssh-keygen) :
  python3 journal/verify_audit_export.py journal/export.jsonl \\
      --allowed-signers journal/allowed_signers
"""


def _files(
    workspace: Workspace,
    tx: Tx,
    view: RegisterView,
    root: Path,
    member: str,
    verified: VerifyResult,
    signed: StoredCheckpoint | None = None,
) -> None:
    controller = view.controller.id
    stem = (
        f"fiche-{view.fiches[0].entry.ref}" if len(view.fiches) == 1 else f"registre-{controller}"
    )
    for fmt, exporter in EXPORTERS.items():
        exporter.write(view, _ensure(root / "registre") / f"{stem}.{fmt}")
    subjects = {f.entry.ref for f in view.fiches}
    policy = workspace.current_policy(tx).policy
    purposes = {kind.id: kind.label for kind in policy.purpose_kinds}
    for rid in sorted({rid for f in view.fiches for rid in f.entry.exchanges}):
        stored = tx.get_request(rid)
        if stored is None:
            continue
        with in_language("fr"):  # the bundle's documents are French, as the CNIL reads them
            request = findings_as_read(workspace, tx, stored)
        steps = tx.steps(rid)
        deliveries = [(d, tx.get_reception(d.request_id, d.number)) for d in tx.deliveries(rid)]
        document = request_document(request, steps, deliveries)
        _write(
            root,
            f"echanges/{rid}/demande.json",
            json.dumps(document, ensure_ascii=False, indent=2) + "\n",
        )
        _write(
            root,
            f"echanges/{rid}/demande.md",
            request_markdown(request, steps, deliveries, purposes),
        )
        subjects.add(rid)
    for record in tx.policies():
        _write(root, f"convention/politique-v{record.version}.yaml", record.text)
    changes = [change.to_json() for change in tx.convention_changes()]
    _write(root, "convention/evolutions.json", json.dumps(changes, ensure_ascii=False, indent=2))
    selected = [
        stored
        for stored in tx.events()
        if stored.event.subject in subjects or stored.event.action in CONVENTION_ACTIONS
    ]
    selection = {"subjects": sorted(subjects), "convention": True}
    export = write_export(
        tx,
        workspace.id,
        _ensure(root / "journal") / "export.jsonl",
        selection,
        iter(selected),
        len(selected),
        member,
        signed,
    )
    assert export.checkpoint is not None
    _write(root, "journal/checkpoint.txt", export.checkpoint.note)
    _write(root, "journal/verify_audit_export.py", offline_verifier().read_text(encoding="utf-8"))
    # French, as the bundle's other documents (the CNIL's reader)
    _write(
        root,
        "journal/verification.txt",
        f"{verified.events} événements vérifiés ; tête {verified.head} ; "
        f"{verified.checkpoints} points de contrôle vérifiés (dont {verified.cosigned} "
        "contresignés) ; l'état enregistré concorde avec le journal"
        + (
            " ; horloge simulée : journal d'une répétition, ses dates ont été fixées"
            if verified.simulated
            else ""
        )
        + (
            f" ; vérifié dans la copie du journal propre à {view.controller.id}, servi à "
            f"{workspace.copy_of}, où ce dossier a été constitué (son export n'est pas consigné "
            "dans le journal)"
            if workspace.copy_of
            else ""
        )
        + "\n",
    )
    signers = allowed_signers_text(workspace.id, tx.list_members(), tx.key_changes())
    _write(root, "journal/allowed_signers", signers)
    _write(
        root,
        "LISEZMOI.txt",
        _README.format(
            controller=view.controller.name,
            today=_day(view.generated_on),
            member=member,
            namespace=NAMESPACE_BUNDLE,
        ),
    )


def _ensure(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def _sums(root: Path) -> bytes:
    lines = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        lines.append(f"{digest}  {path.relative_to(root).as_posix()}\n")
    return "".join(lines).encode("utf-8")


def audit_bundle(
    session: Session, directory: Path, controller: str | None = None, ref: str | None = None
) -> Bundle:
    """Write the bundle to ``directory`` (which must not exist), signed and audited."""
    if directory.exists():
        raise InvalidInput(
            _("{path} already exists: the bundle goes to a new directory").format(path=directory)
        )
    workspace = session.workspace
    today = session.clock.today()
    with workspace.store.transaction() as tx:
        actor = load_actor(tx, session.require_actor())
        party = controller or actor.party
        role = editor_role(actor, party)
    signer = session.keyring.signer(actor)
    swept = sweep_staging(directory.parent, BUNDLE_STAGING)
    staging = StagingDir(directory, BUNDLE_STAGING)
    if workspace.copy_of is not None:
        return _from_copy(session, staging, actor, role, party, ref, signer, swept)
    try:
        with workspace.store.transaction(write=True) as tx:
            actor = load_actor(tx, actor.id)
            view = register_view(workspace, tx, party, today, ref)
            result = raise_if_broken(verify_tx(tx, workspace.id, (), workspace))
            recorder = Recorder(tx, workspace.id, session.clock, signer)
            recorder.checkpoint(actor, role)  # the bundle's journal is proven against it
            root = staging.path
            _files(workspace, tx, view, root, actor.id, result)
            (root / STAGING_LOCK).unlink()  # not part of the bundle
            sums = _sums(root)
            _write(root, "SHA256SUMS", sums)
            _write(root, "SHA256SUMS.sig", signer.sign(NAMESPACE_BUNDLE, sums))
            digest = hashlib.sha256(sums).hexdigest()
            verified = (root / "journal" / "verification.txt").read_text().strip()
            exported = RegisterExport(
                controller=party, ref=ref, files=sums.count(b"\n"), sha256sums_sha256=digest
            )
            recorder.record(actor, role, party, exported)
            staging.publish()  # appears just before the export's event commits
    except BaseException:
        staging.discard()
        raise
    finally:
        staging.close()
    return Bundle(directory, sums.count(b"\n"), digest, verified, tuple(swept))


def _from_copy(
    session: Session,
    staging: StagingDir,
    actor: Member,
    role: Role,
    party: str,
    ref: str | None,
    signer: Signer,
    swept: list[str],
) -> Bundle:
    """The bundle, from a party's read-only copy of a served log (the server may be down):
    the journal is proven against a checkpoint the exporting member signs for it, kept in the
    bundle only; the export cannot be recorded in a log this party does not host."""
    workspace = session.workspace
    with staging:
        with workspace.store.transaction() as tx:
            view = register_view(workspace, tx, party, session.clock.today(), ref)
            result = raise_if_broken(verify_tx(tx, workspace.id, (), workspace))
            size, now = tx.count_events(), session.clock.now()
            text = note_text(origin_of(workspace.id), size, tx.tree_root(size))
            armored = signer.sign(NAMESPACE_CHECKPOINT, text.encode("utf-8"))
            line = signature_line(actor.id, signer.public_key.blob, armored)
            by = CheckpointSigner(actor.id, actor.party, role.value, now, False, line)
            signed = StoredCheckpoint(0, size, tx.tree_root(size).hex(), text, now, (by,))
            _files(workspace, tx, view, staging.path, actor.id, result, signed)
        (staging.path / STAGING_LOCK).unlink()
        sums = _sums(staging.path)
        _write(staging.path, "SHA256SUMS", sums)
        _write(staging.path, "SHA256SUMS.sig", signer.sign(NAMESPACE_BUNDLE, sums))
        verified = (staging.path / "journal" / "verification.txt").read_text().strip()
        staging.publish()
    digest = hashlib.sha256(sums).hexdigest()
    return Bundle(staging.target, sums.count(b"\n"), digest, verified, tuple(swept))
