"""The package manifest (docs/spec/package.md §3): canonical JSON, signed as shipped."""

from __future__ import annotations

import json
from datetime import date
from typing import Annotated, Literal

from pydantic import Field, StringConstraints, ValidationError

from ..audit.canonical import canonical_json
from ..domain.types import Frozen, MemberId, Ref
from ..i18n import _
from .container import PackageError as PackageError  # where it was before
from .dialect import Dialect

FORMAT = "ctg-exchange/package@v1"
Sha256 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]


class Sender(Frozen):
    member: MemberId
    party: Ref
    fingerprint: str


class RecipientParty(Frozen):
    party: Ref
    recipients: tuple[str, ...] = Field(min_length=1)


class PayloadInfo(Frozen):
    sha256: Sha256
    size: int = Field(ge=0)


class AppliedCondition(Frozen):
    source: int = Field(ge=1)
    kind: str
    detail: str


class ConventionRef(Frozen):
    id: str
    policy_version: int = Field(ge=1)


class Manifest(Frozen):
    format: Literal["ctg-exchange/package@v1"] = "ctg-exchange/package@v1"
    log: str
    request: str
    delivery: int = Field(ge=1)
    created_at: str
    sender: Sender
    recipient: RecipientParty
    payload: PayloadInfo
    columns: tuple[str, ...] = Field(min_length=1)
    rows: int = Field(ge=0)
    dialect: Dialect | None = None  # none: a package made before dialects (',' UTF-8)
    conditions_applied: tuple[AppliedCondition, ...] = ()
    retention_deadline: date
    convention: ConventionRef

    @property
    def delivery_id(self) -> str:
        return f"{self.request}-{self.delivery}"

    def to_bytes(self) -> bytes:
        value = self.model_dump(mode="json")
        if value["dialect"] is None:  # the form of packages made before dialects were named
            del value["dialect"]
        return canonical_json(value)

    @classmethod
    def from_bytes(cls, data: bytes) -> Manifest:
        """Parse shipped bytes; anything but the canonical form of a valid manifest is refused."""
        try:
            value = json.loads(data.decode("utf-8"))
            manifest = cls.model_validate(value)
        except (UnicodeDecodeError, ValueError, ValidationError):
            raise PackageError(_("the package's manifest is not a valid manifest")) from None
        if canonical_json(value) != data or manifest.to_bytes() != data:
            raise PackageError(_("the package's manifest is not in canonical form"))
        return manifest
