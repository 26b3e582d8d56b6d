"""Types shared by the domain's models: frozen models that refuse unknown fields, and ids."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints


@dataclass(frozen=True)
class Doc:
    """What a type is, in a few words, for generated documentation (pydantic ignores it)."""

    text: str


MemberId = Annotated[
    str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$"), Doc("member id")
]
TEXT_MAX_CHARS = 20000  # a note, a reason, a recommendation
Text = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=TEXT_MAX_CHARS)
]
Ref = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$", max_length=64), Doc("id")]


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
