"""Portable SQL for who acts: the members, and the nonces of the calls they signed to a
served workspace."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..domain.key_payloads import KeyChange
from ..domain.models import Member, Role
from .rows import Queries, parsed_row

_MEMBER_COLUMNS = (
    "id, name, party, roles, public_key, fingerprint, added_by, added_at, "
    "revoked_at, revoked_by, revoke_reason, valid_until"
)


class MemberQueries(Queries):
    """Mixed into :class:`~ctg_exchange.store.sql.SqlTx`."""

    # -- served calls -----------------------------------------------------------------------
    def remember_nonce(self, nonce: str, member: str, expires: str, now: str) -> bool:
        """Record a signed call's nonce; False if it was already taken (a replay). ``expires``
        is when the call is refused for its date whatever its nonce (its expiry, plus the
        clocks' allowance): a nonce is forgotten only after that."""
        self.execute("DELETE FROM http_nonces WHERE expires < ?", (now,))
        if self._one("SELECT 1 FROM http_nonces WHERE nonce = ?", (nonce,)) is not None:
            return False
        self.execute(
            "INSERT INTO http_nonces (nonce, member, expires) VALUES (?, ?, ?)",
            (nonce, member, expires),
        )
        return True

    # -- members ----------------------------------------------------------------------------
    @staticmethod
    def _member(row: Sequence[Any]) -> Member:
        values = dict(zip(_MEMBER_COLUMNS.split(", "), row, strict=True))

        def build() -> Member:
            values["roles"] = tuple(Role(r) for r in str(values["roles"]).split(","))
            values["until"] = values.pop("valid_until")
            return Member.model_validate(values)

        return parsed_row("members", values["id"], build)

    def insert_member(self, member: Member) -> None:
        self.execute(
            f"INSERT INTO members ({_MEMBER_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",  # noqa: S608
            (
                member.id,
                member.name,
                member.party,
                ",".join(member.roles),
                member.public_key,
                member.fingerprint,
                member.added_by,
                member.added_at,
                member.revoked_at,
                member.revoked_by,
                member.revoke_reason,
                None if member.until is None else member.until.isoformat(),
            ),
        )

    def get_member(self, member_id: str) -> Member | None:
        row = self._one(f"SELECT {_MEMBER_COLUMNS} FROM members WHERE id = ?", (member_id,))  # noqa: S608
        return None if row is None else self._member(row)

    def member_by_key(self, public_key: str) -> Member | None:
        row = self._one(
            f"SELECT {_MEMBER_COLUMNS} FROM members WHERE public_key = ?",  # noqa: S608
            (public_key,),
        )
        return None if row is None else self._member(row)

    def list_members(self) -> list[Member]:
        rows = self._all(f"SELECT {_MEMBER_COLUMNS} FROM members ORDER BY party, id")  # noqa: S608
        return [self._member(row) for row in rows]

    def revoke_member(self, member_id: str, at: str, by: str, reason: str) -> None:
        self.execute(
            "UPDATE members SET revoked_at = ?, revoked_by = ?, revoke_reason = ? WHERE id = ?",
            (at, by, reason, member_id),
        )

    def party_had_admin(self, party: str) -> bool:
        rows = self._all("SELECT roles FROM members WHERE party = ?", (party,))
        return any("admin" in str(row[0]).split(",") for row in rows)

    def lasting_admins(self, party: str, other_than: str) -> int:
        rows = self._all(
            "SELECT roles FROM members WHERE party = ? AND revoked_at IS NULL "
            "AND valid_until IS NULL AND id <> ?",
            (party, other_than),
        )
        return sum("admin" in str(row[0]).split(",") for row in rows)

    # -- issue 19: signing keys rotated -------------------------------------------------------
    def rotate_member_key(
        self,
        member_id: str,
        seq: int,
        public_key: str,
        fingerprint: str,
        lost: bool,
        reason: str | None,
    ) -> None:
        """Retire the member's registered key for ``public_key``, by the event ``seq``."""
        self.execute(
            "INSERT INTO key_rotations (seq, member_id, previous_key, previous_fingerprint, "
            "public_key, fingerprint, lost, reason) SELECT ?, id, public_key, fingerprint, ?, ?, "
            "?, ? FROM members WHERE id = ?",
            (seq, public_key, fingerprint, int(lost), reason, member_id),
        )
        self.execute(
            "UPDATE members SET public_key = ?, fingerprint = ? WHERE id = ?",
            (public_key, fingerprint, member_id),
        )

    def key_changes(self, member_id: str | None = None) -> list[KeyChange]:
        """The rotations of ``member_id`` (of every member: ``None``), in the log's order."""
        query = (
            "SELECT k.seq, k.member_id, k.previous_key, k.previous_fingerprint, k.public_key, "
            "k.fingerprint, e.time, e.actor, k.lost, k.reason FROM key_rotations k "
            "JOIN audit_events e ON e.seq = k.seq"
        )
        params: tuple[Any, ...] = ()
        if member_id is not None:
            query += " WHERE k.member_id = ?"
            params = (member_id,)
        rows = self._all(query + " ORDER BY k.seq", params)
        names = ("seq", "member", "previous_key", "previous_fingerprint", "public_key",
                 "fingerprint", "at", "by", "lost", "reason")  # fmt: skip

        def build(row: Sequence[Any]) -> KeyChange:
            values = dict(zip(names, row, strict=True))
            values["lost"] = bool(values["lost"])
            return KeyChange.model_validate(values)

        return [parsed_row("key_rotations", str(row[0]), build, row) for row in rows]

    def key_holder(self, public_key: str) -> str | None:
        """The member who holds or held ``public_key``, if any did."""
        row = self._one(
            "SELECT id FROM members WHERE public_key = ? UNION "
            "SELECT member_id FROM key_rotations WHERE previous_key = ?",
            (public_key, public_key),
        )
        return None if row is None else str(row[0])
