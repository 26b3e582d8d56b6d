"""``ctg-exchange demo``: the procedure once, end to end, with synthetic members.

Everything goes through the same services as the commands: keys are real OpenSSH keys (under a
passphrase the demo prints, as it is not a secret), every step is signed and audited, and the
audit log is verified at the end. People and values are clearly synthetic.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from ..crypto.keys import KeyDir
from ..domain.models import Processor, RequestContent, ReviewOutcome, Role, Verdict
from ..i18n import _, date_text
from ..policy import load_policy, shipped_dir, shipped_policy_path
from . import auditing, conditions, convention, members, register, requests, review, successor
from .auditing import audit_verify
from .clock import Clock
from .session import Keyring, Session
from .workspace import DEFAULT_DATABASE, Workspace

PLACEHOLDERS = {"PLACEHOLDER_CONTACT", "PLACEHOLDER_VALUE"}  # what the shipped data leaves open
DEMO_PASSPHRASE = "demo-passphrase-not-secret"  # noqa: S105 - printed by the demo on purpose
DEMO_DPIA = "AIPD-VS-2026-01 (référence fictive de démonstration)"
DEMO_INFORMATION = (
    "Courrier aux familles à l'inscription et mention sur chaque facture : le quotient "
    "familial provient de la Caf (RGPD art. 14, CRPA L114-8) ; droit d'accès auprès de la Ville"
)
DEMO_L311_MENTION = (
    "Chaque facture indique que le tarif est calculé par un traitement algorithmique à partir "
    "du quotient familial, et où en obtenir les règles (CRPA L311-3-1)"
)
DEMO_REVIEW = "Revue annuelle : flux toujours nécessaire, conditions R1 et R2 respectées"
DEMO_SUCCESSOR = (
    "Convention territoriale globale Sceaux – Caf 92 (référence fictive de démonstration)"
)
DEMO_DELIBERATION = (
    "Délibération du conseil municipal de Sceaux adoptant la nouvelle CTG (référence fictive de "
    "démonstration)"
)
DEMO_COUNTERSIGNATURE = (
    "Décision du conseil d'administration de la Caf des Hauts-de-Seine adoptant la nouvelle CTG "
    "(référence fictive de démonstration)"
)

# id, name, party, roles; v.admin creates the workspace, then adds the first admin of caf92
DEMO_MEMBERS: tuple[tuple[str, str, str, tuple[Role, ...]], ...] = (
    ("v.admin", "Admin Démo (Ville, synthétique)", "ville_sceaux", (Role.ADMIN,)),
    ("v.agent", "Agent Démo petite enfance (Ville, synthétique)", "ville_sceaux", (Role.STAFF,)),
    ("v.controller", "Responsable Démo (Ville, synthétique)", "ville_sceaux", (Role.CONTROLLER,)),
    ("v.dpo", "DPO Démo (Ville, synthétique)", "ville_sceaux", (Role.DPO,)),
    ("c.admin", "Admin Démo (Caf, synthétique)", "caf92", (Role.ADMIN,)),
    ("c.agent", "Agent Démo (Caf, synthétique)", "caf92", (Role.STAFF,)),
    ("c.controller", "Directeur délégué Démo (Caf, synthétique)", "caf92", (Role.CONTROLLER,)),
    # studies what c.controller decides: no one person takes two of study, opinion, decision
    ("c.analyst", "Chargée d'études Démo (Caf, synthétique)", "caf92", (Role.CONTROLLER,)),
    ("c.dpo", "DPO Démo (Caf, synthétique)", "caf92", (Role.DPO,)),
)

DEMO_REQUEST = RequestContent(
    to="caf92",
    field="petite_enfance",
    purpose=(
        "Calculer la participation des familles aux crèches municipales (EAJE de l'annexe 2) "
        "selon le barème national, sans demander aux familles leurs justificatifs de ressources"
    ),
    purpose_kind="pricing",
    categories=("numero_allocataire", "quotient_familial"),
    subjects="Familles allocataires dont un enfant est inscrit dans un EAJE municipal de Sceaux",
    legal_basis="art6_1_e",
    legal_refs=("loi_98_657_art147",),
    legal_text="Délibération du conseil municipal fixant les tarifs des EAJE (synthétique)",
    retention_days=365,
    archive_days=1825,  # VS-TARIF: the billing year, then five years archived
    frequency="monthly",
    recipients="Service petite enfance de la Ville (agents de facturation)",
    volume=400,
    combines_with_own_files=True,  # matched with the town hall's enrolment file
    processors=(
        Processor(
            name="Éditeur du logiciel de facturation (synthétique)",
            contract="Contrat de sous-traitance RGPD art. 28 n° DEMO-2024-01 (synthétique)",
        ),
    ),
)


# the synthetic file the Caf's agent sends: fictitious numbers, no real family
DEMO_DATASET = (
    "numero_allocataire,quotient_familial,mois_reference_qf\n"
    "9000001,412,2026-01\n9000002,877,2026-01\n9000003,1350,2026-01\n"
)


def _exchange(
    workspace: Workspace, as_: Callable[[str], Session], rid: str, say: Callable[[str], None]
) -> None:
    """Each party's decryption identity, the delivery encrypted end to end, its reception,
    and the received copy's deletion attested."""
    from . import party_keys, retention
    from .receive import receive
    from .send import send

    for admin, party in (("v.admin", "ville_sceaux"), ("c.admin", "caf92")):
        party_keys.generate_encryption_key(as_(admin), party)
    outbox = workspace.root / "demo-files"
    outbox.mkdir(exist_ok=True)
    dataset = outbox / "qf-janvier.csv"
    dataset.write_text(DEMO_DATASET, encoding="utf-8")
    sent = send(as_("c.agent"), rid, dataset, outbox / f"{rid}-1.ctgx")
    say(
        _(
            "11. Each party's admin makes its decryption identity (an age X25519 key kept under "
            "a passphrase). c.agent sends {delivery}: the file's columns are checked against "
            "the approved ones and the adopted conditions, then it is encrypted to the town "
            "hall's key and signed ({rows} rows; to be deleted by {deadline}, R1's 180 days)."
        ).format(
            delivery=f"{rid}-1",
            rows=sent.delivery.rows,
            deadline=date_text(sent.delivery.retention_deadline),
        )
    )
    received = outbox / "qf-recu.csv"
    receive(as_("v.agent"), sent.path or outbox / f"{rid}-1.ctgx", received)
    say(
        _(
            "12. v.agent receives it: signature and hashes checked before anything is written, "
            "the plaintext released only whole ({file})."
        ).format(file=received.name)
    )
    received.unlink()
    retention.attest(
        as_("v.agent"), f"{rid}-1", "Copie supprimée après intégration dans la facturation"
    )
    say(
        _(
            "13. Once the rates are billed, v.agent deletes the received copy and attests it: "
            "a signed deletion attestation, in the log."
        )
    )


@dataclass(frozen=True)
class DemoResult:
    root: Path
    key_dir: Path
    request_id: str
    events: int


def run_demo(root: Path, say: Callable[[str], None], clock: Clock | None = None) -> DemoResult:
    """Create a workspace in ``root`` and run one request from filing to accepted conditions,
    its first yearly review, an encrypted delivery, its reception and the attested deletion."""
    clock = clock or Clock.from_env()
    key_dir = KeyDir(root / "keys")
    keyring = Keyring(key_dir, lambda prompt, *, confirm=False: DEMO_PASSPHRASE)
    loaded = load_policy(shipped_policy_path())
    admin_id, admin_name, admin_party, _roles = DEMO_MEMBERS[0]
    workspace = members.init_workspace(
        root, loaded, admin_id, admin_name, admin_party, DEFAULT_DATABASE, keyring, clock,
        simulated=True,  # a demonstration: its dates may be set, and it says so
    )  # fmt: skip
    try:
        say(
            _(
                "1. {admin} creates the workspace with the convention's policy "
                "(sha256 {digest}…) and becomes the town hall's first admin."
            ).format(admin=admin_id, digest=loaded.sha256[:16])
        )
        return _run(workspace, keyring, clock, key_dir, say)
    finally:
        workspace.close()


def _run(
    workspace: Workspace,
    keyring: Keyring,
    clock: Clock,
    key_dir: KeyDir,
    say: Callable[[str], None],
) -> DemoResult:
    def as_(member_id: str) -> Session:
        return Session(workspace=workspace, keyring=keyring, clock=clock, actor_id=member_id)

    for member_id, name, party, roles in DEMO_MEMBERS[1:]:
        public = key_dir.generate(member_id, DEMO_PASSPHRASE)
        adder = "c.admin" if party == "caf92" and member_id != "c.admin" else "v.admin"
        members.add_member(as_(adder), member_id, name, party, roles, public)
    say(
        _(
            "2. Each member generates an Ed25519 key; v.admin registers the town hall's agent, "
            "controller and DPO, and the Caf's first admin c.admin, who registers the Caf's."
        )
    )

    registry = shipped_dir("registry")
    for dpo in ("v.dpo", "c.dpo"):
        register.import_registry(as_(dpo), registry)
    say(
        _(
            "3. Each DPO loads its Article 30 register baseline (registry/): the town hall's "
            "EAJE, ALSH, RAM and pricing fiches; the Caf's partner-sharing, funding and "
            "statistics."
        )
    )

    today = clock.today()
    view = convention.show_convention(as_("v.admin"))
    why = view.state.why_not_in_force(today)
    if why is None:
        say(
            _("4. On {today} the convention is in force ({days} days left).").format(
                today=date_text(today), days=view.state.days_left(today)
            )
        )
    else:
        # ended: not renewed, but followed by a new convention both parties adopt
        # from the day after the end, or today: a convention takes effect no earlier than adopted
        start = max(view.state.last_day + timedelta(days=1), today)
        until = date(max(start.year, today.year) + 4, 12, 31)
        proposed = successor.propose_successor(
            as_("v.admin"), start, until, DEMO_SUCCESSOR, DEMO_DELIBERATION
        )
        convention.countersign(as_("c.admin"), proposed.change.seq, DEMO_COUNTERSIGNATURE)
        say(
            _(
                "4. On {today}, {why}. Once ended, it is not renewed: both parties adopt a new "
                "convention, each by its own deliberation. v.admin proposes it from {start} to "
                "{until}, c.admin countersigns it for the Caf (synthetic references)."
            ).format(
                today=date_text(today), why=why, start=date_text(start), until=date_text(until)
            )
        )

    filed = requests.file_request(as_("v.agent"), DEMO_REQUEST)
    rid = filed.id
    say(
        _(
            "5. v.agent (town hall, petite enfance) files {id} to the Caf: {categories} to "
            "price the crèches, legal basis art. 6(1)(e) under loi n° 98-657 art. 147 (from the "
            "convention's list of texts), kept a year then archived five, its billing "
            "software's vendor declared with its art. 28 contract. Pre-screening warns: "
            "{codes}."
        ).format(
            id=rid,
            categories=", ".join(DEMO_REQUEST.categories),
            codes=", ".join(f.code for f in filed.findings),
        )
    )

    review.study_accept(as_("c.analyst"), rid, "Besoin établi : tarification au barème national")
    review.study_submit(as_("c.analyst"), rid, "Étude favorable ; AIPD à conduire")
    say(
        _(
            "6. c.analyst, for the Caf as holder, studies {id} (opportunity, feasibility, "
            "GDPR) and submits it to the Caf's DPO; c.controller will decide."
        ).format(id=rid)
    )

    review.give_opinion(
        as_("c.dpo"),
        rid,
        Verdict.FAVOURABLE_WITH_RECOMMENDATIONS,
        "Finalité déterminée et légitime, base légale citée ; données limitées au nécessaire",
        [
            "max_retention_days:180",
            "Informer les familles que le quotient familial provient de la Caf "
            "(RGPD art. 14, CRPA L114-8)",
        ],
    )
    say(
        _(
            "7. c.dpo gives the prior opinion: favourable with recommendations R1 "
            "(max_retention_days:180, checked by the tool) and R2 (tell families where the data "
            "came from)."
        )
    )

    approved = review.approve(as_("c.controller"), rid, adopt=["R1", "R2"])
    say(
        _(
            "8. c.controller approves {id}, adopting R1 and R2: they become the {count} "
            "conditions of the exchange."
        ).format(id=rid, count=len(approved.conditions))
    )

    review.advise(
        as_("v.dpo"), rid, "AIPD mise à jour ; informer les familles avant la première facture"
    )
    conditions.accept_conditions(
        as_("v.controller"), rid, DEMO_DPIA, DEMO_INFORMATION, DEMO_L311_MENTION
    )
    ville = register.current_entries(workspace, "ville_sceaux")
    caf = register.current_entries(workspace, "caf92")
    new = next(v.entry.ref for v in ville if rid in v.entry.exchanges)
    sources = ", ".join(v.entry.ref for v in caf if rid in v.entry.exchanges)
    say(
        _(
            "9. v.dpo, the town hall's own DPO, advises it (recorded, blocking nothing); "
            "v.controller accepts the conditions (the DPIA was done: {dpia}) and records how "
            "families are told the quotient familial came from the Caf (GDPR art. 14, CRPA "
            "L114-8) and that their rate is computed by an algorithm (CRPA L311-3-1); {id} may "
            "now be sent. The town hall's register gains {new}, and the Caf's {sources} lists "
            "the town hall as a recipient."
        ).format(dpia=DEMO_DPIA, id=rid, new=new, sources=sources)
    )
    problems = register.check_register(workspace)
    if not problems:
        say(_("   register check: complete."))
    else:
        codes = sorted({f.code for f in problems})
        where = "; ".join(
            f"{code}: {', '.join(f'{f.subject} {f.field}' for f in problems if f.code == code)}"
            for code in codes
        )
        say(
            _(
                "   register check flags {count} finding(s) to resolve before real use — {where}."
            ).format(count=len(problems), where=where)
        )
        if set(codes) <= PLACEHOLDERS:
            say(
                _(
                    "   The shipped policy's DPO contacts are examples, and what the baseline "
                    "cannot know (software vendors, their contracts) is left « à compléter »: "
                    "each party puts in its own before real use (README, The Article 30 "
                    "register)."
                )
            )

    reviewed = conditions.record_review(
        as_("c.controller"), rid, ReviewOutcome.CONTINUE, DEMO_REVIEW
    )
    due = conditions.review_due(reviewed)
    say(
        _(
            "10. c.controller, for the Caf, records a review of {id} (recurring flows are "
            "reviewed yearly): still needed, conditions kept, it continues. A review may also "
            "close it; `review due` lists it again from {due}."
        ).format(id=rid, due=date_text(due.due) if due else "—")
    )

    _exchange(workspace, as_, rid, say)

    # the deletion's own checkpoint, signed by v.agent for the town hall: the Caf cosigns it
    checkpoint = auditing.cosign(as_("c.dpo"))
    say(
        _(
            "14. The attestation came with a checkpoint of the log ({events} events, its "
            "Merkle root) signed by v.agent for the town hall; c.dpo verifies the log and "
            "cosigns it for the Caf: neither party can now rewrite them unseen."
        ).format(events=checkpoint.size)
    )
    result = audit_verify(workspace, full=True, remember=False)  # a throwaway workspace
    say(
        _(
            "15. audit verify: {events} events verified — every step above is signed by its "
            "actor, allowed to its role, chained, and in the cosigned checkpoint; the stored "
            "records match the log."
        ).format(events=result.events)
    )
    return DemoResult(
        root=workspace.root, key_dir=key_dir.path, request_id=rid, events=result.events
    )
