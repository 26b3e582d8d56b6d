"""What every register export shows, computed once: the CNIL model's columns and sections.

The CNIL's model (`registre-traitement-simplifie.ods`, DOMAIN §4) has a *Liste des traitements*
and a *fiche* per processing; DPOs add the legal basis, the source, the CTG exchange and the
DPIA reference. Headings are in French, as the CNIL's; dates read day/month/year.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Protocol

from ...labels import french
from ...policy.model import Party
from ..model import (
    DATA_GROUP_LABELS,
    RECIPIENT_LABELS,
    SECURITY_LABELS,
    EntryVersion,
    Processor,
    RecipientType,
    RegisterEntry,
)

LIST_COLUMNS = (
    "Nom du traitement",
    "N° / RÉF",
    "Date de création de la fiche",
    "Dernière mise à jour de la fiche",
    "Finalité du traitement",
    "Données sensibles ?",
)
EXTENSION_COLUMNS = (
    "Base légale (art. 6 / art. 9)",
    "Source des données",
    "Réf. échange CTG art. 7 / avis DPO / décision",
    "AIPD (réf.)",
)
SEP = " ; "
Value = str | date  # a cell: text, or a date each format writes its own way


@dataclass(frozen=True)
class Fiche:
    """A fiche's current version, with its creation and last update."""

    current: EntryVersion
    created: date
    updated: date

    @property
    def entry(self) -> RegisterEntry:
        return self.current.entry


SIMULATED_FR = "EXERCICE : horloge simulée, dates fictives (init --simulated-clock)"


@dataclass(frozen=True)
class RegisterView:
    controller: Party
    fiches: tuple[Fiche, ...]
    exchanges: dict[str, str]  # request id -> "opinion …; decision …" summary
    generated_on: date
    register_version: int  # versions recorded for this controller, all fiches together
    labels: dict[str, str] = field(default_factory=dict)  # legal-basis ids -> labels
    simulated: bool = False  # from a rehearsal's workspace (init --simulated-clock)

    @property
    def edition(self) -> str:
        """The edition line: date, register version, and whether it is a rehearsal's."""
        edited = fr_date(self.generated_on)
        line = f"Édité le {edited} ; version du registre {self.register_version}"
        return line + (f" ; {SIMULATED_FR}" if self.simulated else "")


class RegisterExporter(Protocol):
    """One export format; the CLI maps ``--format`` to an implementation."""

    suffix: str

    def write(self, view: RegisterView, out: Path) -> None: ...


def fr_date(value: date) -> str:
    return value.strftime("%d/%m/%Y")


def as_text(value: Value) -> str:
    """A cell as text: a date reads day/month/year."""
    return fr_date(value) if isinstance(value, date) else value


def controller_text(party: Party) -> str:
    a = party.address
    return (
        f"{party.name} — représentant : {party.representative.name} "
        f"({party.representative.title}), {a.street}, {a.postcode} {a.city}"
    )


def dpo_text(party: Party) -> str:
    dpo = party.dpo
    return SEP.join(x for x in (dpo.name, dpo.email, dpo.phone) if x)


def legal_basis_text(entry: RegisterEntry, labels: dict[str, str]) -> str:
    basis = entry.legal_basis
    parts = [labels.get(basis.art6, basis.art6)]
    if basis.art9:
        parts.append(labels.get(basis.art9, basis.art9))
    return " + ".join(parts) + f" — {basis.text}"


def exchanges_text(entry: RegisterEntry, exchanges: dict[str, str]) -> str:
    return SEP.join(
        f"{rid} ({exchanges[rid]})" if rid in exchanges else rid for rid in entry.exchanges
    )


def recipient_names(entry: RegisterEntry, kind: RecipientType) -> list[str]:
    """The recipients of one type; the processors count among the *Sous-traitants*."""
    names = [r.name for r in entry.recipients if r.type is kind]
    if kind is RecipientType.SOUS_TRAITANT:
        names += [p.name for p in entry.processors]
    return names


def processor_text(processor: Processor) -> str:
    """What a processor does, its Art. 28 contract and where it hosts the data."""
    parts = [
        processor.service,
        f"contrat (art. 28) : {processor.contract or 'non renseigné'}",
    ]
    if processor.location:
        parts.append(f"hébergement : {processor.location}")
    return SEP.join(parts)


def sections(fiche: Fiche, view: RegisterView) -> list[tuple[str, Sequence[tuple[str, Value]]]]:
    """The fiche as the CNIL lays it out: headed sections of (label, value)."""
    e = fiche.entry
    party = view.controller
    data_rows = []
    for group, label in DATA_GROUP_LABELS.items():
        items = [d for d in e.data if d.group is group]
        data_rows.append(
            (
                label,
                SEP.join(f"{d.description} (conservation : {d.retention or '—'})" for d in items)
                or "—",
            )
        )
    sensitive = (
        SEP.join(
            f"{french('sensitive', s.kind)} : {s.description} (conservation : {s.retention or '—'})"
            for s in e.sensitive
        )
        or "Non"
    )
    recipients = [
        (label, SEP.join(recipient_names(e, kind)) or "—")
        for kind, label in RECIPIENT_LABELS.items()
    ]
    untyped = [r.name for r in e.recipients if r.type is None]
    if untyped:
        recipients.append(("Sans type", SEP.join(untyped)))
    security = [(label, e.security.get(kind, "—")) for kind, label in SECURITY_LABELS.items()]
    transfers = (
        SEP.join(
            f"{t.recipient}, {t.country}, garanties : {t.safeguards}"
            + (f", documentation : {t.documentation}" if t.documentation else "")
            for t in e.transfers
        )
        or "Aucun"
    )
    description: list[tuple[str, Value]] = [
        ("Nom", e.name),
        ("N° / RÉF", e.ref),
        ("Date de création", fiche.created),
        ("Mise à jour", fiche.updated),
        ("Version de la fiche", str(fiche.current.version)),
    ]
    return [
        ("Description du traitement", description),
        (
            "Acteurs",
            [
                ("Responsable du traitement", controller_text(party)),
                ("Délégué à la protection des données", dpo_text(party)),
                (
                    "Représentant",
                    e.representative
                    or f"{party.representative.name}, {party.representative.title}",
                ),
                ("Responsable(s) conjoint(s)", SEP.join(e.joint_controllers) or "Aucun"),
            ],
        ),
        (
            "Finalité(s)",
            [("Finalité principale", e.purpose)]
            + [(f"Sous-finalité {i}", text) for i, text in enumerate(e.sub_purposes, start=1)],
        ),
        ("Base légale", [("Base légale (art. 6 / art. 9)", legal_basis_text(e, view.labels))]),
        ("Catégories de données personnelles concernées", data_rows),
        ("Données sensibles", [("Données sensibles", sensitive)]),
        ("Catégories de personnes concernées", [("Personnes concernées", SEP.join(e.subjects))]),
        ("Destinataires", recipients),
        (
            "Sous-traitants (RGPD art. 28)",
            [(p.name, processor_text(p)) for p in e.processors] or [("Sous-traitants", "Aucun")],
        ),
        ("Transferts hors UE", [("Transferts", transfers)]),
        ("Mesures de sécurité", security),
        (
            "Origine des données et échanges CTG",
            [
                ("Source des données", e.source or "—"),
                (
                    "Réf. échange CTG art. 7 / avis DPO / décision",
                    exchanges_text(e, view.exchanges) or "—",
                ),
                (
                    "AIPD (réf.)",
                    e.dpia_ref or ("requise, non renseignée" if e.dpia_required else "—"),
                ),
            ]
            + [("Note", f"{fr_date(n.on)} : {n.text}") for n in e.notes],
        ),
    ]


def list_row(fiche: Fiche) -> list[Value]:
    """A fiche's line in the *Liste des traitements*, under :data:`LIST_COLUMNS`: the same
    columns, in the same order, in every format."""
    e = fiche.entry
    return [
        e.name,
        e.ref,
        fiche.created,
        fiche.updated,
        e.purpose,
        "Oui" if e.has_sensitive_data else "Non",
    ]


def row_columns() -> list[str]:
    """The flat columns of the CSV: the list's six, the fiche's fields, the extensions."""
    columns = list(LIST_COLUMNS)
    columns += [
        "Responsable du traitement",
        "Délégué à la protection des données",
        "Représentant",
        "Responsable(s) conjoint(s)",
        "Finalité principale",
    ]
    columns += [f"Sous-finalité {i}" for i in range(1, 6)]
    for label in DATA_GROUP_LABELS.values():
        columns += [f"{label} — description", f"{label} — durée de conservation"]
    columns += [
        "Données sensibles — description",
        "Données sensibles — durée de conservation",
        "Catégories de personnes concernées",
    ]
    columns += [f"Destinataires — {label}" for label in RECIPIENT_LABELS.values()]
    columns += ["Sous-traitants (art. 28) — prestation, contrat, hébergement"]
    columns += [f"Mesures de sécurité — {label}" for label in SECURITY_LABELS.values()]
    columns += [
        "Transferts hors UE — Destinataire",
        "Transferts hors UE — Pays",
        "Transferts hors UE — Type de garanties",
        "Transferts hors UE — Liens vers la documentation",
    ]
    columns += list(EXTENSION_COLUMNS)
    columns += ["Version de la fiche", "Notes"]
    return columns


def row(fiche: Fiche, view: RegisterView) -> list[str]:
    e = fiche.entry
    party = view.controller
    values = [as_text(value) for value in list_row(fiche)]
    values += [
        controller_text(party),
        dpo_text(party),
        e.representative or f"{party.representative.name}, {party.representative.title}",
        SEP.join(e.joint_controllers),
        e.purpose,
    ]
    values += [e.sub_purposes[i] if i < len(e.sub_purposes) else "" for i in range(5)]
    for group in DATA_GROUP_LABELS:
        items = [d for d in e.data if d.group is group]
        values += [
            SEP.join(d.description for d in items),
            SEP.join(d.retention or "" for d in items),
        ]
    values += [
        SEP.join(f"{french('sensitive', s.kind)} : {s.description}" for s in e.sensitive),
        SEP.join(s.retention or "" for s in e.sensitive),
        SEP.join(e.subjects),
    ]
    values += [SEP.join(recipient_names(e, kind)) for kind in RECIPIENT_LABELS]
    values += [SEP.join(f"{p.name} : {processor_text(p)}" for p in e.processors)]
    values += [e.security.get(kind, "") for kind in SECURITY_LABELS]
    values += [
        SEP.join(t.recipient for t in e.transfers),
        SEP.join(t.country for t in e.transfers),
        SEP.join(t.safeguards for t in e.transfers),
        SEP.join(t.documentation or "" for t in e.transfers),
    ]
    values += [
        legal_basis_text(e, view.labels),
        e.source or "",
        exchanges_text(e, view.exchanges),
        e.dpia_ref or "",
    ]
    values += [str(fiche.current.version), SEP.join(f"{fr_date(n.on)} : {n.text}" for n in e.notes)]
    return values
