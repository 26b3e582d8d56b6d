"""The procedure's records, state machine and rules: pure, no I/O."""

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
