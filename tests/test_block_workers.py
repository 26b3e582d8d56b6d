"""Blocks rewritten by worker processes come back whole and in order (issue 17).

Small blocks and slots (monkeypatched) make many blocks of a small file, so the ordering, the
hand-over to the csv module and the results too large for their shared slot are all exercised
in a fast test. The pinned digests of test_pseudonymise.py hold the output to today's bytes.
"""

from __future__ import annotations

import hmac
from pathlib import Path

import pytest

from ctg_exchange.errors import ExchangeError, InvalidInput
from ctg_exchange.exchange import block_workers, hashed_rows
from ctg_exchange.exchange.dataset import DatasetRules, Rewritten, read_header, rewrite
from ctg_exchange.exchange.dialect import sniff

KEY = bytes(range(32))

# the C rewrite and the Python one (conftest.implementation) through the same workers
pytestmark = pytest.mark.usefixtures("implementation")


def _rewritten(path: Path, approved: tuple[str, ...], hashed: tuple[str, ...]) -> bytes:
    dialect = sniff(path)
    rules = DatasetRules(approved=approved, pseudonymise=hashed)
    header = read_header(path, dialect)
    return b"".join(rewrite(path, header, rules, KEY, set(), Rewritten(), dialect))


def _pseudonym(value: str) -> str:
    return hmac.digest(KEY, value.encode(), "sha256").hex()


@pytest.fixture
def small_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    """4 KiB blocks, slots for 8 times that, workers for any file."""
    monkeypatch.setattr(block_workers, "BLOCK", 1 << 12)
    monkeypatch.setattr(block_workers, "SLOT", 8 << 12)
    monkeypatch.setattr(block_workers, "TAIL", 64)
    monkeypatch.setattr(hashed_rows, "PARALLEL_FROM", 0)


@pytest.mark.parametrize("unterminated", [False, True])
def test_blocks_are_whole_lines_that_tile_the_file(
    tmp_path: Path, small_blocks: None, unterminated: bool
) -> None:
    lines = [b"x" * (i % 300) + b"\n" for i in range(400)]
    lines[150] = b"y" * (3 * 4096 + 17) + b"\n"  # longer than a block
    data = b"head\n" + b"".join(lines) + (b"last" if unterminated else b"")
    path = tmp_path / "lines.csv"
    path.write_bytes(data)
    with path.open("rb") as source:
        blocks = list(block_workers.cuts(source.fileno(), 5, len(data)))
    assert blocks[0][0] == 5 and sum(size for _, size in blocks) == len(data) - 5
    for (offset, size), (after, _) in zip(blocks, blocks[1:], strict=False):
        assert offset + size == after
    pieces = [data[offset : offset + size] for offset, size in blocks]
    assert all(piece.endswith(b"\n") for piece in pieces[:-1])
    assert pieces[-1] == b"last" if unterminated else pieces[-1].endswith(b"\n")
    # a block is at most 4 KiB, unless it starts with a longer line
    assert all(len(piece) <= 4096 + len(piece.split(b"\n")[0]) for piece in pieces)
    assert sum(len(piece) > 4096 for piece in pieces) == 1


@pytest.mark.parametrize("cpus", [1, 2])
def test_rewritten_blocks_come_back_in_order_whatever_their_size(
    tmp_path: Path, small_blocks: None, monkeypatch: pytest.MonkeyPatch, cpus: int
) -> None:
    """Numbers (their pseudonyms fit the slot) then one-letter values (they do not: ×17)."""
    monkeypatch.setattr(hashed_rows, "_cpus", lambda: cpus)
    rows = [(str(9000000 + i), str(i % 700)) for i in range(3000)]
    rows += [("ab"[i % 2], str(i % 9)) for i in range(6000)]
    path = tmp_path / "data.csv"
    path.write_text("id,qf\n" + "".join(f"{a},{b}\n" for a, b in rows))
    lines = _rewritten(path, ("id", "qf"), ("id",)).decode().splitlines()
    assert lines[0] == "id,qf" and len(lines) == len(rows) + 1
    for index in (1, 1234, 3000, 3001, 3002, 9000):
        value, qf = rows[index - 1]
        assert lines[index] == f"{_pseudonym(value)},{qf}"


def test_a_ragged_row_far_in_is_named_by_its_number(
    tmp_path: Path, small_blocks: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hashed_rows, "_cpus", lambda: 2)
    rows = [f"{9000000 + i},{i % 700},2025-01\n" for i in range(6000)]
    rows[4321] = "9004321,512\n"  # row 4322
    path = tmp_path / "data.csv"
    path.write_text("id,qf,mois\n" + "".join(rows))
    with pytest.raises(InvalidInput, match="row 4322 has 2 fields, the header 3"):
        _rewritten(path, ("id", "qf", "mois"), ("id",))


def _crash(*task: object) -> None:
    import os

    os._exit(3)  # as if killed (out of memory)


def _fails(*task: object) -> None:
    raise ValueError("a bug")


@pytest.mark.parametrize(
    ("worker", "error", "message"),
    [
        (_crash, ExchangeError, "^a process rewriting the dataset stopped unexpectedly"),
        (_fails, RuntimeError, "^ValueError: a bug$"),  # a bug in a worker is not hidden
    ],
)
def test_a_worker_that_dies_or_fails_fails_the_rewrite(
    tmp_path: Path,
    small_blocks: None,
    monkeypatch: pytest.MonkeyPatch,
    worker: object,
    error: type[Exception],
    message: str,
) -> None:
    monkeypatch.setattr(hashed_rows, "_cpus", lambda: 2)
    monkeypatch.setattr(block_workers, "_rewrite_into", worker)
    path = tmp_path / "data.csv"
    path.write_text("id,qf\n" + "".join(f"{9000000 + i},{i}\n" for i in range(3000)))
    with pytest.raises(error, match=message):
        _rewritten(path, ("id", "qf"), ("id",))
