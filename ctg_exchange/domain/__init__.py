"""The procedure's records, state machine and rules: pure, no I/O."""

from .lifecycle import Action, next_status
from .models import (
    Annotation,
    Decision,
    ExchangeRequest,
    Frequency,
    Member,
    Opinion,
    Recommendation,
    RequestContent,
    Role,
    Status,
    Step,
    Verdict,
)

__all__ = [
    "Action",
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
