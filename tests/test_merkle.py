"""The Merkle tree follows RFC 9162 §2.1: checked against the definition written out plainly."""

from __future__ import annotations

import hashlib

import pytest

from ctg_exchange.audit import merkle


def _mth(entries: list[bytes]) -> bytes:
    """MTH(D[n]) exactly as RFC 9162 §2.1.1 defines it, recursively, from the entries."""
    n = len(entries)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return hashlib.sha256(b"\x00" + entries[0]).digest()
    k = 1
    while k * 2 < n:
        k *= 2
    return hashlib.sha256(b"\x01" + _mth(entries[:k]) + _mth(entries[k:])).digest()


def _entries(n: int) -> list[bytes]:
    return [f"synthetic entry {i}".encode() * (i % 3 + 1) for i in range(n)]


def _stored(entries: list[bytes]) -> tuple[merkle.Frontier, dict[tuple[int, int], bytes]]:
    nodes: dict[tuple[int, int], bytes] = {}
    frontier = merkle.Frontier(lambda level, index, value: nodes.__setitem__((level, index), value))
    for entry in entries:
        frontier.append(merkle.leaf_hash(entry))
    return frontier, nodes


@pytest.mark.parametrize("n", [0, 1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 31, 33, 64, 100])
def test_roots_match_the_definition(n: int) -> None:
    entries = _entries(n)
    frontier, nodes = _stored(entries)
    assert frontier.root() == _mth(entries)
    assert merkle.root(n, lambda level, index: nodes[level, index]) == _mth(entries)
    for size in range(n + 1):  # every earlier tree size, from the same stored nodes
        assert merkle.root(size, lambda level, index: nodes[level, index]) == _mth(entries[:size])


def test_a_frontier_resumes_from_stored_nodes() -> None:
    entries = _entries(45)
    _, nodes = _stored(entries[:29])
    resumed = merkle.Frontier.resume(29, lambda level, index: nodes[level, index])
    for entry in entries[29:]:
        resumed.append(merkle.leaf_hash(entry))
    assert resumed.root() == _mth(entries)


@pytest.mark.parametrize("n", [1, 2, 3, 5, 8, 13, 21, 34])
def test_every_inclusion_proof_leads_to_the_root_and_a_changed_element_does_not(n: int) -> None:
    entries = _entries(n)
    _, nodes = _stored(entries)
    lookup = lambda level, index: nodes[level, index]  # noqa: E731
    for size in range(1, n + 1):
        root = _mth(entries[:size])
        for index in range(size):
            leaf = merkle.leaf_hash(entries[index])
            proof = merkle.inclusion_proof(index, size, lookup)
            assert merkle.root_from_inclusion(index, size, leaf, proof) == root
            for position in range(len(proof)):
                bad = list(proof)
                bad[position] = bytes([bad[position][0] ^ 1]) + bad[position][1:]
                assert merkle.root_from_inclusion(index, size, leaf, bad) != root
            if proof:
                with pytest.raises(ValueError):
                    merkle.root_from_inclusion(index, size, leaf, proof[:-1])
            with pytest.raises(ValueError):
                merkle.root_from_inclusion(index, size, leaf, [*proof, leaf])


def test_consistency_proofs_of_the_rfc_example() -> None:
    """RFC 6962 §2.1.3's tree of seven leaves (d0…d6; RFC 9162 keeps the algorithm): the
    proofs it gives for 3, 4 and 6 leaves, by the subtrees they are made of."""
    entries = _entries(7)
    _, nodes = _stored(entries)
    lookup = lambda level, index: nodes[level, index]  # noqa: E731

    def mth(start: int, end: int) -> bytes:
        return _mth(entries[start:end])

    assert merkle.consistency_proof(3, 7, lookup) == [mth(2, 3), mth(3, 4), mth(0, 2), mth(4, 7)]
    assert merkle.consistency_proof(4, 7, lookup) == [mth(4, 7)]
    assert merkle.consistency_proof(6, 7, lookup) == [mth(4, 6), mth(6, 7), mth(0, 4)]


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 21])
def test_every_prefix_is_consistent_and_a_rewritten_one_is_not(n: int) -> None:
    entries = _entries(n)
    _, nodes = _stored(entries)
    lookup = lambda level, index: nodes[level, index]  # noqa: E731
    new_root = _mth(entries)
    for old in range(n + 1):
        old_root = _mth(entries[:old])
        proof = merkle.consistency_proof(old, n, lookup)
        assert merkle.consistent(old, n, old_root, new_root, proof)
        if old in (0, n):
            assert proof == []
            continue
        rewritten = _mth([b"rewritten"] + entries[1:old])  # history changed before old
        assert not merkle.consistent(old, n, rewritten, new_root, proof)
        assert not merkle.consistent(old, n, old_root, _mth(entries[:-1] + [b"x"]), proof)
        for position in range(len(proof)):
            bad = list(proof)
            bad[position] = bytes([bad[position][0] ^ 1]) + bad[position][1:]
            assert not merkle.consistent(old, n, old_root, new_root, bad)
        assert not merkle.consistent(old, n, old_root, new_root, proof[:-1])
        assert not merkle.consistent(old, n, old_root, new_root, [*proof, new_root])
    assert not merkle.consistent(n, n, _mth(entries[:-1]), new_root, [])  # same size, two roots
    with pytest.raises(ValueError):
        merkle.consistency_proof(n + 1, n, lookup)
