"""Files that appear whole or not at all (fsutil.NewFile), with space reserved ahead."""

from __future__ import annotations

from pathlib import Path

from ctg_exchange.fsutil import NewFile


def test_a_reserved_file_is_cut_to_what_was_written(tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    new = NewFile(target)
    new.reserve(64 << 20)  # far more than will be written
    new.file.write(b"id,value\n9000001,1\n")
    assert not target.exists()  # nothing visible before the commit
    new.commit()
    assert target.read_bytes() == b"id,value\n9000001,1\n"
    assert target.stat().st_blocks * 512 < 1 << 20  # the reserved space was given back
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv"]


def test_a_reservation_stops_when_the_file_is_discarded(tmp_path: Path) -> None:
    new = NewFile(tmp_path / "out.csv")
    new.reserve(256 << 20)  # still reserving when discarded: the thread stops with it
    new.file.write(b"partial")
    new.discard()
    assert list(tmp_path.iterdir()) == []
