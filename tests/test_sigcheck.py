"""The signature workers: every batch is checked, by whichever child is least busy, and a child
that dies makes the verification fail rather than conclude."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from ctg_exchange.audit import sigcheck
from ctg_exchange.errors import ExchangeError


def _batches(count: int, size: int, bad: set[int]) -> list[list[sigcheck.Item]]:
    key = Ed25519PrivateKey.generate()
    raw = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    batches = []
    for b in range(count):
        batch = []
        for i in range(size):
            seq = b * size + i + 1
            data = f"event {seq}".encode()
            signature = key.sign(b"another event" if seq in bad else data)
            batch.append((seq, raw, signature, data))
        batches.append(batch)
    return batches


def test_every_batch_is_checked_whichever_child_takes_it() -> None:
    bad = {3, 41, 77, 160}
    checker = sigcheck.ProcessChecker(2)
    for batch in _batches(20, 8, bad):
        checker.submit(batch)
    assert sorted(checker.close()) == sorted(bad)


def test_a_child_that_dies_fails_the_verification() -> None:
    checker = sigcheck.ProcessChecker(2)
    batches = _batches(4, 4, set())
    checker.submit(batches[0])
    for child in checker._children:
        child.kill()
        child.wait()
    with pytest.raises(ExchangeError, match="signature-checking process failed"):
        for batch in batches[1:]:
            checker.submit(batch)
        checker.close()


def test_a_child_killed_after_answering_every_batch_still_fails_the_verification() -> None:
    """No write is left to break on: the child's exit status alone must stop the conclusion."""
    import time

    checker = sigcheck.ProcessChecker(2)
    for batch in _batches(6, 4, {2}):
        checker.submit(batch)
    deadline = time.monotonic() + 30
    while any(checker._busy) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not any(checker._busy)  # every batch answered
    checker._children[1].kill()
    checker._children[1].wait()
    with pytest.raises(ExchangeError, match="signature-checking process failed"):
        checker.close()


def test_the_bad_signatures_of_many_small_batches_are_each_named_once() -> None:
    bad = {1, 2, 9, 10, 11, 40, 63, 64}
    checker = sigcheck.ProcessChecker(2)
    for batch in _batches(32, 2, bad):  # more batches than the queues hold
        checker.submit(batch)
    assert sorted(checker.close()) == sorted(bad)
