"""The RFC 9162 (Certificate Transparency v2) Merkle tree over the audit events.

A leaf is an event's signed bytes (docs/audit-format.md §3): ``leaf = SHA-256(0x00 ‖ bytes)``,
an interior node ``SHA-256(0x01 ‖ left ‖ right)``, and a tree of ``n`` leaves splits at the
largest power of two below ``n``. Stored trees keep every *perfect* subtree's hash, addressed
as ``(level, index)``: the node covering leaves ``index·2^level … (index+1)·2^level - 1``.
Everything here works from a ``node(level, index)`` lookup, so the same code serves a table,
a list in memory, or a verifier that rebuilds the tree as it reads.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

NodeLookup = Callable[[int, int], bytes]


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


EMPTY_ROOT = hashlib.sha256(b"").digest()


def _split(n: int) -> int:
    """The largest power of two strictly below ``n`` (n ≥ 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def subtree_hash(start: int, end: int, node: NodeLookup) -> bytes:
    """MTH of leaves ``start … end-1``, where the range is one RFC 9162 subtree."""
    size = end - start
    if size & (size - 1) == 0 and start % size == 0:
        return node(size.bit_length() - 1, start // size)
    k = _split(size)
    return node_hash(subtree_hash(start, start + k, node), subtree_hash(start + k, end, node))


def root(size: int, node: NodeLookup) -> bytes:
    return EMPTY_ROOT if size == 0 else subtree_hash(0, size, node)


def inclusion_proof(index: int, size: int, node: NodeLookup) -> list[bytes]:
    """PATH(index, D[0:size]) of RFC 9162 §2.1.3.1, leaf first."""
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of {size}")
    path: list[bytes] = []
    start, end = 0, size
    while end - start > 1:
        k = _split(end - start)
        if index < start + k:
            path.append(subtree_hash(start + k, end, node))
            end = start + k
        else:
            path.append(subtree_hash(start, start + k, node))
            start += k
    path.reverse()
    return path


def root_from_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes]) -> bytes:
    """The root a proof leads to (RFC 9162 §2.1.3.2); ValueError when it cannot lead anywhere."""
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of {size}")
    fn, sn = index, size - 1
    result = leaf
    for sibling in proof:
        if sn == 0:
            raise ValueError("the proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            result = node_hash(sibling, result)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            result = node_hash(result, sibling)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ValueError("the proof is shorter than the tree is deep")
    return result


def consistency_proof(old: int, new: int, node: NodeLookup) -> list[bytes]:
    """PROOF(old, D[0:new]) of RFC 9162 §2.1.4.1: that the tree of ``old`` leaves is a prefix
    of the tree of ``new`` (empty when ``old`` is 0 or equals ``new``)."""
    if not 0 <= old <= new:
        raise ValueError(f"a tree of {old} is not a prefix of one of {new}")
    if old in (0, new):
        return []

    def subproof(m: int, start: int, end: int, complete: bool) -> list[bytes]:
        if m == end - start:
            return [] if complete else [subtree_hash(start, end, node)]
        k = _split(end - start)
        if m <= k:
            return [*subproof(m, start, start + k, complete), subtree_hash(start + k, end, node)]
        return [*subproof(m - k, start + k, end, False), subtree_hash(start, start + k, node)]

    return subproof(old, 0, new, True)


def consistent(
    old: int, new: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """Whether ``proof`` shows the tree (``old``, ``old_root``) a prefix of (``new``,
    ``new_root``): RFC 9162 §2.1.4.2, a witness's test before it cosigns."""
    if not 0 <= old <= new:
        return False
    if old == 0:
        return not proof
    if old == new:
        return not proof and old_root == new_root
    path = list(proof)
    if old & (old - 1) == 0:  # an exact power of two: the old tree is itself a node of the new
        path.insert(0, old_root)
    if not path:
        return False
    fn, sn = old - 1, new - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == old_root and sr == new_root and sn == 0


class Frontier:
    """A tree growing one leaf at a time, keeping only the perfect subtrees on its right edge.

    ``append`` costs one hash per completed subtree (two on average); ``root`` folds the edge.
    ``on_node`` (optional) sees every perfect-subtree hash as it is made, to store it.
    """

    def __init__(self, on_node: Callable[[int, int, bytes], None] | None = None) -> None:
        self.size = 0
        self._edge: list[tuple[int, bytes]] = []  # (level, hash), left to right
        self._on_node = on_node

    @classmethod
    def resume(
        cls, size: int, node: NodeLookup, on_node: Callable[[int, int, bytes], None] | None = None
    ) -> Frontier:
        """The frontier of a stored tree of ``size`` leaves."""
        frontier = cls(on_node)
        start = 0
        for level in range(size.bit_length() - 1, -1, -1):
            if size >> level & 1:
                frontier._edge.append((level, node(level, start >> level)))
                start += 1 << level
        frontier.size = size
        return frontier

    def append(self, leaf: bytes) -> None:
        index = self.size
        level, value = 0, leaf
        if self._on_node is not None:
            self._on_node(0, index, leaf)
        while self._edge and self._edge[-1][0] == level:
            _, left = self._edge.pop()
            value = node_hash(left, value)
            level += 1
            index >>= 1
            if self._on_node is not None:
                self._on_node(level, index, value)
        self._edge.append((level, value))
        self.size += 1

    def root(self) -> bytes:
        if not self._edge:
            return EMPTY_ROOT
        value = self._edge[-1][1]
        for _, left in reversed(self._edge[:-1]):
            value = node_hash(left, value)
        return value
