"""What verification found: each failure names where it is (an event, a request, a record)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..i18n import _
from .events import GENESIS_HASH


@dataclass(frozen=True)
class Failure:
    """One thing that does not verify.

    ``seq`` is the event where it shows (for a rewritten range, the first event it may be);
    ``request`` the request whose stored state disagrees with the log; ``record`` any other
    stored record (``member v.agent``, ``checkpoint 3``…).
    """

    message: str
    seq: int | None = None
    request: str | None = None
    record: str | None = None
    last_seq: int | None = None  # a range of events: seq … last_seq
    actor: str | None = None  # who took an event the rules refuse
    rule: str | None = None  # the rule code that refuses it (``NIR_NOT_AUTHORISED``…)

    @property
    def where(self) -> str:
        if self.seq is not None:
            if self.last_seq is not None and self.last_seq != self.seq:
                return _("events #{first}–#{last}").format(first=self.seq, last=self.last_seq)
            if self.actor:
                return _("event #{seq} by {actor}").format(seq=self.seq, actor=self.actor)
            return _("event #{seq}").format(seq=self.seq)
        if self.request is not None:
            return _("request {id}").format(id=self.request)
        return self.record or _("the log")

    @property
    def line(self) -> str:
        return f"{self.where}: {self.message}"

    def sort_key(self) -> tuple[int, int, str]:
        """Events first, in log order; a range where it was detected (at its end), so that an
        exact failure inside it comes first."""
        at = self.last_seq if self.last_seq is not None else self.seq
        return (0 if at is not None else 1, at or 0, self.line)

    def to_json(self) -> dict[str, Any]:
        result: dict[str, Any] = {"where": self.where, "message": self.message}
        for key in ("seq", "last_seq", "request", "record", "actor", "rule"):
            if getattr(self, key) is not None:
                result[key] = getattr(self, key)
        return result


@dataclass
class VerifyResult:
    """What verification saw; ``failures`` is empty when everything verified."""

    events: int = 0
    head: str = GENESIS_HASH
    root: str = ""
    checkpoints: int = 0  # checkpoints whose root and signatures verified
    cosigned: int = 0  # of those, signed by both parties
    latest_checkpoint: int | None = None  # its tree size
    members: dict[str, str] = field(default_factory=dict)  # member id -> party
    failures: list[Failure] = field(default_factory=list)
    rules: int = 1  # the rules the log was verified by (its genesis says; 0.1.0's: 1)
    simulated: bool = False  # a rehearsal's log (init --simulated-clock): its dates were set
    resumed: int = 0  # events verified by an earlier verification this one went on from

    @property
    def ok(self) -> bool:
        return not self.failures

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "events": self.events,
            "head": self.head,
            "root": self.root,
            "checkpoints": self.checkpoints,
            "cosigned": self.cosigned,
            "latest_checkpoint": self.latest_checkpoint,
            "rules": self.rules,
            "simulated_clock": self.simulated,
            "failures": [f.to_json() for f in self.failures],
        }
