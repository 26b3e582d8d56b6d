"""The payload of a hand-over of a request's follow-up (issue 19; :mod:`.handover`)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from .actions import Action
from .facts import FactBook, Logged
from .payloads import Payload, RequestId
from .types import MemberId


class RequestHandOver(Payload):
    """``request hand-over``: the requester's or the holder's follow-up of a request, from its
    owner to a successor of the same party and role."""

    action = Action.HAND_OVER
    subject = "request id"
    request: RequestId
    side: Literal["requester", "holder"] = Field(description="whose follow-up")
    previous: MemberId = Field(description="who followed it")
    successor: MemberId = Field(description="who follows it now")

    def subject_of(self) -> str | None:
        return self.request

    def apply(self, book: FactBook, event: Logged) -> None:
        book.hand_over(self.request, self.side, self.previous, self.successor, event)
