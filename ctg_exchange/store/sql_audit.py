"""Portable SQL for the audit log's Merkle tree and its signed checkpoints.

``audit_tree`` keeps every perfect subtree's hash (docs/audit-format.md §5), so a root or an
inclusion proof costs a few lookups at any log size. It is derived data: verification rebuilds
the tree from the events and never trusts it; ``audit prove`` checks every proof it prints
against a signed checkpoint. Checkpoints and their signatures are append-only, like the events.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from ..audit import merkle
from ..audit.checkpoint import CheckpointSigner, StoredCheckpoint
from ..errors import IntegrityError
from ..i18n import _

NODE_QUERY = "SELECT hash FROM audit_tree WHERE level = ? AND idx = ?"
_REPLAY_ROWS = {
    "request": "SELECT id, status, from_party, to_party, filed_by, doc FROM requests",
    "step": "SELECT seq, request_id, action, from_status, to_status, text FROM request_steps",
    "delivery": "SELECT request_id, number, seq FROM deliveries",
    "reception": "SELECT r.request_id, r.number, r.seq, r.path, r.received_on, e.time "
    "FROM receptions r LEFT JOIN audit_events e ON e.seq = r.seq",
    "destruction": "SELECT d.request_id, d.number, d.seq, d.method, d.file_sha256, d.note, "
    "d.destroyed_on, e.time, d.archives_approval "
    "FROM destructions d LEFT JOIN audit_events e ON e.seq = d.seq",
    "register_version": "SELECT ref, version, controller, seq, reason, doc FROM register_versions",
    "recipient": "SELECT recipient, party, added_seq, retired_seq FROM party_recipients",
    "pseudonym_key": "SELECT request_id, sealed FROM pseudonym_keys",
}

# the column naming a record's request, for the kinds kept by request
_REQUEST_COLUMN = {
    "request": "id",
    "delivery": "request_id",
    "reception": "r.request_id",
    "destruction": "d.request_id",
    "pseudonym_key": "request_id",
}
_TABLE = {
    "request": "requests",
    "delivery": "deliveries",
    "reception": "receptions",
    "destruction": "destructions",
    "pseudonym_key": "pseudonym_keys",
    "step": "request_steps",
}
_CHUNK = 500  # ids in one IN (…)
_NO_END = 2**62


class AuditQueries:
    """Mixed into :class:`~ctg_exchange.store.sql.SqlTx`."""

    def execute(self, query: str, params: Sequence[Any] = ()) -> Any:  # provided by SqlTx
        raise NotImplementedError

    def stream(self, query: str, params: Sequence[Any] = ()) -> Iterator[tuple[Any, ...]]:
        raise NotImplementedError  # provided by SqlTx

    # -- the Merkle tree --------------------------------------------------------------------
    def tree_size(self) -> int:
        row = self.execute("SELECT MAX(idx) FROM audit_tree WHERE level = 0").fetchone()
        return 0 if row is None or row[0] is None else int(row[0]) + 1

    def tree_node(self, level: int, index: int) -> bytes:
        row = self.execute(NODE_QUERY, (level, index)).fetchone()
        if row is None:
            raise IntegrityError(
                _("the audit tree lacks node ({level}, {index}): run audit verify").format(
                    level=level, index=index
                )
            )
        return bytes.fromhex(row[0])

    def put_tree_node(self, level: int, index: int, value: bytes) -> None:
        self.execute(
            "INSERT INTO audit_tree (level, idx, hash) VALUES (?, ?, ?)",
            (level, index, value.hex()),
        )

    def tree_append(self, index: int, leaf: bytes) -> None:
        """Add leaf ``index`` and every perfect subtree it completes."""
        self.put_tree_node(0, index, leaf)
        level, value = 0, leaf
        while index & 1:
            value = merkle.node_hash(self.tree_node(level, index - 1), value)
            level += 1
            index >>= 1
            self.put_tree_node(level, index, value)

    def consistency_proof(self, old: int, new: int) -> list[bytes]:
        return merkle.consistency_proof(old, new, self.tree_node)

    def tree_root(self, size: int) -> bytes:
        return merkle.root(size, self.tree_node)

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        return merkle.inclusion_proof(index, size, self.tree_node)

    # -- what replay compares ---------------------------------------------------------------
    def replay_rows(
        self,
        kind: str,
        *,
        requests: Sequence[str] | None = None,
        after: int | None = None,
        upto: int | None = None,
    ) -> Iterator[tuple[Any, ...]]:
        """Raw rows of one kind of record, for comparison with what the log says of them,
        streamed (a large log has a million steps): only those of ``requests`` if given (a
        request-keyed kind), only the steps after event ``after`` up to ``upto`` if given."""
        query = _REPLAY_ROWS[kind]
        if after is not None or upto is not None:
            assert kind == "step", kind
            query += " WHERE seq > ? AND seq <= ?"
            yield from self.stream(query + " ORDER BY seq", (after or 0, upto or _NO_END))
            return
        if requests is None:
            yield from self.stream(query)
            return
        column = _REQUEST_COLUMN[kind]
        chosen = sorted(set(requests))
        for start in range(0, len(chosen), _CHUNK):
            part = chosen[start : start + _CHUNK]
            marks = ", ".join("?" for _ in part)
            yield from self.stream(f"{query} WHERE {column} IN ({marks})", part)

    def replay_count(self, kind: str) -> int:
        """How many records of a request-keyed kind the store holds."""
        table = _TABLE[kind]
        row = self.execute(f"SELECT COUNT(*) FROM {table}").fetchone()  # noqa: S608
        return int(row[0])

    # -- checkpoints ------------------------------------------------------------------------
    def add_checkpoint(self, size: int, root_hex: str, text: str, at: str) -> int:
        row = self.execute("SELECT MAX(id) FROM checkpoints").fetchone()
        checkpoint_id = 1 if row is None or row[0] is None else int(row[0]) + 1
        self.execute(
            "INSERT INTO checkpoints (id, tree_size, root, body, created_at) "
            "VALUES (?, ?, ?, ?, ?)",
            (checkpoint_id, size, root_hex, text, at),
        )
        return checkpoint_id

    def add_checkpoint_signature(self, checkpoint_id: int, signer: CheckpointSigner) -> None:
        self.execute(
            "INSERT INTO checkpoint_signatures (checkpoint_id, signer, party, role, signed_at, "
            "cosign, line) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                checkpoint_id,
                signer.signer,
                signer.party,
                signer.role,
                signer.signed_at,
                int(signer.cosign),
                signer.line,
            ),
        )

    def checkpoints(self) -> list[StoredCheckpoint]:
        """Every checkpoint, oldest first, with its signatures in the order they were made."""
        signers: dict[int, list[CheckpointSigner]] = {}
        for row in self.execute(
            "SELECT checkpoint_id, signer, party, role, signed_at, cosign, line "
            "FROM checkpoint_signatures ORDER BY checkpoint_id, signed_at, signer"
        ).fetchall():
            signers.setdefault(int(row[0]), []).append(
                CheckpointSigner(row[1], row[2], row[3], row[4], bool(row[5]), row[6])
            )
        return [
            StoredCheckpoint(int(i), int(size), root, text, at, tuple(signers.get(int(i), ())))
            for i, size, root, text, at in self.execute(
                "SELECT id, tree_size, root, body, created_at FROM checkpoints ORDER BY id"
            ).fetchall()
        ]

    def latest_checkpoint(self) -> StoredCheckpoint | None:
        row = self.execute("SELECT MAX(id) FROM checkpoints").fetchone()
        if row is None or row[0] is None:
            return None
        return self.get_checkpoint(int(row[0]))

    def get_checkpoint(self, checkpoint_id: int) -> StoredCheckpoint | None:
        row = self.execute(
            "SELECT id, tree_size, root, body, created_at FROM checkpoints WHERE id = ?",
            (checkpoint_id,),
        ).fetchone()
        if row is None:
            return None
        signers = tuple(
            CheckpointSigner(r[0], r[1], r[2], r[3], bool(r[4]), r[5])
            for r in self.execute(
                "SELECT signer, party, role, signed_at, cosign, line FROM checkpoint_signatures "
                "WHERE checkpoint_id = ? ORDER BY signed_at, signer",
                (checkpoint_id,),
            ).fetchall()
        )
        return StoredCheckpoint(int(row[0]), int(row[1]), row[2], row[3], row[4], signers)


def backfill_tree(tx: Any) -> None:
    """Add the tree nodes of events that have none (events recorded before the tree existed)."""
    size = tx.tree_size()
    frontier = merkle.Frontier.resume(size, tx.tree_node, tx.put_tree_node)
    pending = [stored.event.signed_bytes() for stored in tx.events() if stored.seq > frontier.size]
    for data in pending:
        frontier.append(merkle.leaf_hash(data))
