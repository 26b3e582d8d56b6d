"""The catalogue: each audited action (:mod:`.actions`) with its payload model.

:func:`parse_payload` is the boundary every stored payload crosses before anything reads it.
``docs/audit-format.md`` §9 lists each action's payload; ``tests/test_catalogue.py`` checks the
two agree, and that every action has exactly one model.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from ..i18n import _
from .actions import Action
from .handover_payloads import RequestHandOver
from .key_payloads import KeyRotation
from .payloads import (
    Amendment,
    Countersignature,
    EncryptionKey,
    MemberAdd,
    MemberContact,
    MemberRevoke,
    Payload,
    PayloadInvalid,
    RegisterExport,
    RegisterVersion,
    Renewal,
    Successor,
    Termination,
    Withdrawal,
    WorkspaceInit,
)
from .step_payloads import STEPS

_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")

CATALOGUE: dict[Action, type[Payload]] = {
    model.action: model
    for model in (
        WorkspaceInit,
        MemberAdd,
        MemberRevoke,
        MemberContact,
        *STEPS,
        Renewal,
        Amendment,
        Termination,
        Successor,
        Countersignature,
        Withdrawal,
        EncryptionKey,
        RegisterVersion,
        RegisterExport,
        RequestHandOver,  # issue 19
        KeyRotation,
    )
}


# each model's optional fields left out when they have no value (never null), in order
_OMITTED: dict[type[Payload], tuple[str, ...]] = {}


def parse_payload(action: Action, payload: Mapping[str, Any]) -> Payload:
    """The stored payload of ``action`` as its model, or :class:`PayloadInvalid` naming the
    first field at fault (never a value: a payload may be anything)."""
    model = CATALOGUE[action]
    omitted = _OMITTED.get(model)
    if omitted is None:
        omitted = _OMITTED[model] = tuple(
            name
            for name in sorted(model.omitted_when_none)
            if not model.model_fields[name].is_required()
        )
    for name in omitted:
        if name in payload and payload[name] is None:
            raise PayloadInvalid(
                _("{field}: left out when it has no value, never null").format(field=name)
            )
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        where = ".".join(_key(p) for p in first["loc"]) or "payload"
        message = _("unexpected key") if first["type"] == "extra_forbidden" else first["msg"]
        raise PayloadInvalid(f"{where}: {message.removeprefix('Value error, ')}") from None


def _key(part: str | int) -> str:
    """A key of the payload as a message may show it: a key the tool never writes may hold
    anything (a line break, an escape sequence, a name), so only a plain name is shown."""
    if isinstance(part, int) or _NAME.fullmatch(part):
        return str(part)
    return _("(a key that is not a name)")
