"""The catalogue: each audited action (:mod:`.actions`) with its payload model.

:func:`parse_payload` is the boundary every stored payload crosses before anything reads it.
``docs/audit-format.md`` §9 lists each action's payload; ``tests/test_catalogue.py`` checks the
two agree, and that every action has exactly one model.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from .actions import Action
from .payloads import (
    Amendment,
    EncryptionKey,
    MemberAdd,
    MemberRevoke,
    Payload,
    PayloadInvalid,
    RegisterExport,
    RegisterVersion,
    Renewal,
    Termination,
    WorkspaceInit,
)
from .step_payloads import STEPS

CATALOGUE: dict[Action, type[Payload]] = {
    model.action: model
    for model in (
        WorkspaceInit,
        MemberAdd,
        MemberRevoke,
        *STEPS,
        Renewal,
        Amendment,
        Termination,
        EncryptionKey,
        RegisterVersion,
        RegisterExport,
    )
}


def parse_payload(action: Action, payload: Mapping[str, Any]) -> Payload:
    """The stored payload of ``action`` as its model, or :class:`PayloadInvalid` naming the
    first field at fault (never a value: a payload may be anything)."""
    try:
        return CATALOGUE[action].model_validate(payload)
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        where = ".".join(str(p) for p in first["loc"]) or "payload"
        message = "unexpected key" if first["type"] == "extra_forbidden" else first["msg"]
        raise PayloadInvalid(f"{where}: {message.removeprefix('Value error, ')}") from None
