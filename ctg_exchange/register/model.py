"""An Article 30 register entry (a processing activity), as the CNIL's model lays it out.

GDPR Art. 30(1): (a) controller, representative, DPO; (b) purposes; (c) categories of data
subjects and of personal data; (d) recipients; (e) transfers outside the EU; (f) erasure time
limits; (g) security measures. The CNIL's model (DOMAIN §4) adds its own groups of data and of
recipients; DPOs add the legal basis, the source, the CTG exchange and the DPIA reference.
Structural problems are refused at import (``path:line``); completeness is linted by
:func:`~ctg_exchange.register.check.problems` (a retention left unset, a recipient with no type…).
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated, Any

from pydantic import Field, StringConstraints

from ..domain.types import Frozen, Ref, Text

EntryRef = Annotated[str, StringConstraints(pattern=r"^[A-Z0-9][A-Z0-9-]{1,40}$")]


class DataGroup(StrEnum):
    """The CNIL model's six groups of personal data."""

    ETAT_CIVIL = "etat_civil_identite"
    VIE_PERSONNELLE = "vie_personnelle"
    ECONOMIQUE = "economique_financier"
    CONNEXION = "connexion"
    LOCALISATION = "localisation"
    NIR = "nir"


DATA_GROUP_LABELS = {
    DataGroup.ETAT_CIVIL: "État civil, identité, données d'identification, images",
    DataGroup.VIE_PERSONNELLE: "Vie personnelle",
    DataGroup.ECONOMIQUE: "Informations d'ordre économique et financier",
    DataGroup.CONNEXION: "Données de connexion",
    DataGroup.LOCALISATION: "Données de localisation",
    DataGroup.NIR: "Numéro de Sécurité Sociale (ou NIR)",
}


class SensitiveKind(StrEnum):
    """Article 9 data, plus convictions and offences (Art. 10), as the CNIL lists them."""

    ORIGINE = "origine"
    OPINIONS = "opinions_politiques"
    CONVICTIONS = "convictions"
    SYNDICAT = "appartenance_syndicale"
    GENETIQUE = "genetique"
    BIOMETRIQUE = "biometrique"
    SANTE = "sante"
    VIE_SEXUELLE = "vie_sexuelle"
    INFRACTIONS = "infractions"


class RecipientType(StrEnum):
    SERVICE_INTERNE = "service_interne"
    SOUS_TRAITANT = "sous_traitant"
    PAYS_TIERS = "pays_tiers"
    PARTENAIRE = "partenaire_institutionnel"
    AUTRE = "autre"


RECIPIENT_LABELS = {
    RecipientType.SERVICE_INTERNE: "Service interne",
    RecipientType.SOUS_TRAITANT: "Sous-traitants",
    RecipientType.PAYS_TIERS: "Destinataires dans des pays tiers",
    RecipientType.PARTENAIRE: "Partenaires institutionnels ou commerciaux",
    RecipientType.AUTRE: "Autre",
}


class SecurityKind(StrEnum):
    CONTROLE_ACCES = "controle_acces"
    TRACABILITE = "tracabilite"
    PROTECTION_LOGICIELS = "protection_logiciels"
    SAUVEGARDE = "sauvegarde"
    CHIFFREMENT = "chiffrement"
    CONTROLE_SOUS_TRAITANTS = "controle_sous_traitants"
    AUTRES = "autres"


SECURITY_LABELS = {
    SecurityKind.CONTROLE_ACCES: "Contrôle d'accès des utilisateurs",
    SecurityKind.TRACABILITE: "Mesures de traçabilité",
    SecurityKind.PROTECTION_LOGICIELS: "Mesures de protection des logiciels",
    SecurityKind.SAUVEGARDE: "Sauvegarde des données",
    SecurityKind.CHIFFREMENT: "Chiffrement des données",
    SecurityKind.CONTROLE_SOUS_TRAITANTS: "Contrôle des sous-traitants",
    SecurityKind.AUTRES: "Autres mesures",
}


class DataCategory(Frozen):
    group: DataGroup
    description: Text
    retention: Text | None = None  # Art. 30(1)(f): `register check` flags it when unset


class SensitiveData(Frozen):
    kind: SensitiveKind
    description: Text
    retention: Text | None = None


class Recipient(Frozen):
    name: Text
    type: RecipientType | None = None  # `register check` flags a recipient without a type
    exchange: str | None = None  # the CTG request that made it a recipient


class Processor(Frozen):
    """A processor (GDPR art. 28): a software vendor, a host… acting on the controller's behalf.

    ``contract`` is the reference of the contract or clauses that art. 28(3) requires;
    `register check` flags a processor without one, and flags any value still marked as a
    placeholder (``à compléter``, see :data:`~ctg_exchange.register.check.PLACEHOLDER`).
    """

    name: Text
    service: Text  # what it does for the controller (publishing, maintenance, hosting…)
    contract: Text | None = None
    location: Text | None = None  # where the data is hosted (a country outside the EU: transfers)


class Transfer(Frozen):
    recipient: Text
    country: Text
    safeguards: Text
    documentation: Text | None = None


class LegalBasis(Frozen):
    art6: Ref
    art9: Ref | None = None
    text: Text


class EntryNote(Frozen):
    """A dated note added by the procedure (a lapsed exchange…); entries are never deleted."""

    on: date
    text: Text
    exchange: str | None = None


class RegisterEntry(Frozen):
    """One processing activity of one controller, as a version of its fiche."""

    ref: EntryRef
    controller: Ref
    name: Text
    created_on: date
    purpose: Text
    sub_purposes: tuple[Text, ...] = Field(default=(), max_length=5)
    legal_basis: LegalBasis
    subjects: tuple[Text, ...] = Field(min_length=1)
    data: tuple[DataCategory, ...] = ()
    sensitive: tuple[SensitiveData, ...] = ()
    recipients: tuple[Recipient, ...] = ()
    processors: tuple[Processor, ...] = ()  # GDPR art. 28; none before rules of issue 15
    transfers: tuple[Transfer, ...] = ()
    security: dict[SecurityKind, Text] = Field(default_factory=dict)
    source: Text | None = None
    joint_controllers: tuple[Text, ...] = ()
    representative: Text | None = None
    dpia_required: bool = False
    dpia_ref: Text | None = None
    exchanges: tuple[str, ...] = ()
    ctg_categories: tuple[Ref, ...] = ()  # catalogue categories it holds: links exchanges
    notes: tuple[EntryNote, ...] = ()
    # this fiche records the processing of ctg-exchange itself (members, keys, audit log)
    ctg_exchange_tool: bool = False

    def document(self) -> dict[str, Any]:
        """The fiche as the JSON its ``register.version`` event digests.

        Fields added after release 0.1.0 are left out while they hold their default, so a fiche
        recorded before they existed keeps the digest its event signed.
        """
        doc = self.model_dump(mode="json")
        for name in LATER_FIELDS:
            if doc.get(name) == _LATER_DEFAULTS[name]:
                del doc[name]
        return doc

    @property
    def has_sensitive_data(self) -> bool:
        return bool(self.sensitive) or self.legal_basis.art9 is not None


LATER_FIELDS = ("processors", "ctg_exchange_tool")
_LATER_DEFAULTS: dict[str, Any] = {"processors": [], "ctg_exchange_tool": False}


class EntryVersion(Frozen):
    """A version of a fiche: who changed it, when and why."""

    entry: RegisterEntry
    version: int
    author: str
    at: str
    reason: str
    seq: int

    @property
    def on(self) -> date:
        return date.fromisoformat(self.at[:10])
