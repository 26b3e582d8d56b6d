"""Portable SQL for the convention: its policy versions, and its life (renewals, avenants,
terminations, each proposed, countersigned or withdrawn)."""

from __future__ import annotations

from datetime import date

from ..policy.convention import ChangeKind, ConventionChange
from .base import PolicyRecord
from .rows import Queries, parsed_row


def _change(
    seq: int, kind: str, effective: str, reference: str, by: str, at: str, party: str,
    version: int | None, reason: str | None, agreed_seq: int | None,
    agreed_reference: str | None, withdrawn_seq: int | None, withdrawn_reason: str | None,
    until: str | None, deliberation: str | None, case: str | None, notice: str | None,
) -> ConventionChange:  # fmt: skip
    return ConventionChange(
        seq=int(seq),
        kind=ChangeKind(kind),
        effective=date.fromisoformat(effective),
        reference=reference,
        by=by,
        at=at,
        party=party,
        policy_version=None if version is None else int(version),
        reason=reason,
        agreed_seq=None if agreed_seq is None else int(agreed_seq),
        agreed_reference=agreed_reference,
        withdrawn_seq=None if withdrawn_seq is None else int(withdrawn_seq),
        withdrawn_reason=withdrawn_reason,
        until=None if until is None else date.fromisoformat(until),
        deliberation=deliberation,
        case=case,
        notice=None if notice is None else date.fromisoformat(notice),
    )


class ConventionQueries(Queries):
    """Mixed into :class:`~ctg_exchange.store.sql.SqlTx`."""

    # -- policies ---------------------------------------------------------------------------
    def add_policy(self, record: PolicyRecord) -> None:
        self.execute(
            "INSERT INTO policies (version, policy_id, sha256, source, text, loaded_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (
                record.version,
                record.policy_id,
                record.sha256,
                record.source,
                record.text,
                record.loaded_at,
            ),
        )

    def current_policy(self) -> PolicyRecord | None:
        """The version in effect: the first, or the latest avenant countersigned (one awaiting
        countersignature, or withdrawn, is stored but not in effect)."""
        row = self._one(
            "SELECT version, policy_id, sha256, source, text, loaded_at FROM policies p "
            "WHERE version = 1 OR EXISTS (SELECT 1 FROM convention_changes c WHERE "
            "c.kind = 'amendment' AND c.policy_version = p.version AND c.agreed_seq IS NOT NULL) "
            "ORDER BY version DESC LIMIT 1"
        )
        return None if row is None else PolicyRecord(*row)

    def policies(self) -> list[PolicyRecord]:
        rows = self._all(
            "SELECT version, policy_id, sha256, source, text, loaded_at FROM policies "
            "ORDER BY version"
        )
        return [PolicyRecord(*row) for row in rows]

    # -- the convention's life --------------------------------------------------------------
    def add_convention_change(self, change: ConventionChange) -> None:
        self.execute(
            "INSERT INTO convention_changes (seq, kind, effective, reference, policy_version, "
            "reason, agreed_seq, until, deliberation, termination_case, notice_date) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                change.seq,
                change.kind.value,
                change.effective.isoformat(),
                change.reference,
                change.policy_version,
                change.reason,
                change.agreed_seq,
                None if change.until is None else change.until.isoformat(),
                change.deliberation,
                change.case,
                None if change.notice is None else change.notice.isoformat(),
            ),
        )

    def agree_convention_change(self, seq: int, agreed_seq: int, reference: str) -> None:
        self.execute(
            "UPDATE convention_changes SET agreed_seq = ?, agreed_reference = ? WHERE seq = ?",
            (agreed_seq, reference, seq),
        )

    def withdraw_convention_change(self, seq: int, withdrawn_seq: int, reason: str) -> None:
        self.execute(
            "UPDATE convention_changes SET withdrawn_seq = ?, withdrawn_reason = ? WHERE seq = ?",
            (withdrawn_seq, reason, seq),
        )

    def convention_changes(self) -> list[ConventionChange]:
        rows = self._all(
            "SELECT c.seq, c.kind, c.effective, c.reference, e.actor, e.time, e.party, "
            "c.policy_version, c.reason, c.agreed_seq, c.agreed_reference, c.withdrawn_seq, "
            "c.withdrawn_reason, c.until, c.deliberation, c.termination_case, c.notice_date "
            "FROM convention_changes c JOIN audit_events e ON e.seq = c.seq "
            "ORDER BY c.seq"
        )
        return [parsed_row("convention_changes", row[0], _change, *row) for row in rows]
