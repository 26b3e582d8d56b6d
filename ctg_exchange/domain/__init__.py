"""The procedure's records, state machine and rules: pure, no I/O.

The names below load with the module that defines them, on first use: importing one
submodule (``domain.dates``, ``domain.states``) does not build every model of the package.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import attributes

if TYPE_CHECKING:
    from .actions import Action
    from .lifecycle import next_status
    from .models import (
        Annotation,
        Decision,
        ExchangeRequest,
        Frequency,
        Member,
        Opinion,
        RequestContent,
        Role,
        Status,
        Step,
        Verdict,
    )
    from .recommendations import Answer, Condition, Recommendation

_HOME = {
    "Action": "actions",
    "next_status": "lifecycle",
    **dict.fromkeys(
        (
            "Annotation",
            "Decision",
            "ExchangeRequest",
            "Frequency",
            "Member",
            "Opinion",
            "RequestContent",
            "Role",
            "Status",
            "Step",
            "Verdict",
        ),
        "models",
    ),
    **dict.fromkeys(("Answer", "Condition", "Recommendation"), "recommendations"),
}

__all__ = [
    "Action",
    "Answer",
    "Condition",
    "Annotation",
    "Decision",
    "ExchangeRequest",
    "Frequency",
    "Member",
    "Opinion",
    "Recommendation",
    "RequestContent",
    "Role",
    "Status",
    "Step",
    "Verdict",
    "next_status",
]


__getattr__ = attributes(__name__, _HOME)
