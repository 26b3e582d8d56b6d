"""Pseudonymised rows are the same bytes whatever the implementation (issue 17).

The digests below were taken from the csv-module implementation (main at 2a04d3e) on these
synthetic files, with a fixed key: a faster rewrite must give the same keyed output, or every
pseudonym a requester already holds would stop matching the next delivery's.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from ctg_exchange.errors import InvalidInput
from ctg_exchange.exchange.dataset import DatasetRules, Rewritten, read_header, rewrite
from ctg_exchange.exchange.dialect import sniff

KEY = bytes(range(32))


# every test here runs on both implementations (conftest.implementation): the same bytes
pytestmark = pytest.mark.usefixtures("implementation")


COLUMNS = ("numero_allocataire", "quotient_familial", "mois_reference_qf")


def _rows(count: int, start: int = 0) -> list[tuple[str, str, str]]:
    return [
        (str(9000000 + i), str(300 + (i * 37) % 2200), f"2025-{1 + i % 12:02d}")
        for i in range(start, start + count)
    ]


def _lines(rows: list[tuple[str, str, str]], delimiter: str, end: str) -> str:
    return "".join(delimiter.join(row) + end for row in rows)


HEADER = ",".join(COLUMNS) + "\n"
CASES: dict[str, tuple[bytes, tuple[str, ...], int, str]] = {
    # name: (file, pseudonymised columns, rows, SHA-256 of the rewritten file)
    "comma utf-8 lf": (
        (HEADER + _lines(_rows(50), ",", "\n") + "9000777,,2025-02\n,512,2025-03\n").encode(),
        ("numero_allocataire",),
        52,
        "f027db65ff561eaa690b05f3be38da396c074e71435ed1b11792d7aff25c3b04",
    ),
    "non-ascii values hashed as utf-8": (
        (HEADER + "é9000001,512,février\n€ 42 ,640,août\n9000003,1,x\n").encode(),
        ("numero_allocataire", "mois_reference_qf"),
        3,
        "8cd67d72f23f8cafea2e0795eb9c47cedab9a4a7eb1cbb4e8cc6f3ab2f1b2117",
    ),
    "semicolon windows-1252 crlf": (
        (
            ";".join(COLUMNS)
            + "\r\n"
            + _lines(_rows(20), ";", "\r\n")
            + "é9000001;512;février\r\n€9000002;640;août\r\n"
        ).encode("cp1252"),
        ("numero_allocataire",),
        22,
        "e401e892c6d87c13a4b76477f815fff73457bd71c8e7ed167cfb2f7ce55e72d6",
    ),
    "tab utf-8 with bom, last line unterminated": (
        b"\xef\xbb\xbf"
        + (
            "\t".join(COLUMNS) + "\n" + _lines(_rows(10), "\t", "\n") + "9000010\t7\t2025-12"
        ).encode(),
        ("numero_allocataire",),
        11,
        "d1a443e793aef342ba90419d557488c18b626aa3f4da918718e9ac439bad62db",
    ),
    "quoted fields normalised by the csv writer": (
        (
            HEADER
            + '"9000001",512,"2025-05"\n"9000002",640,"2025,\n06"\n'
            + '9000003,"say ""hi""",2025-07\n9000004,"",2025-08\n'
        ).encode(),
        ("numero_allocataire",),
        4,
        "a586efb2b511a1f8779bf1cc55b1d0c4ffd77de2c609be1f26e58432702b46e4",
    ),
    "two columns hashed, crlf": (
        (",".join(COLUMNS) + "\r\n" + _lines(_rows(30), ",", "\r\n")).encode(),
        ("numero_allocataire", "quotient_familial"),
        30,
        "e4d6bb3634c7ca123071361b379ea19d191175cba11cf16e40feb3c94722b21d",
    ),
}


def _big() -> bytes:
    """Three MiB and more: rows cross the reading blocks; a quoted row far into the file."""
    head = HEADER + _lines(_rows(120_000), ",", "\n")
    tail = _lines(_rows(60_000, 120_000), ",", "\n")
    return (head + '9999999,"1,5",2025-01\n' + tail).encode()


BIG_DIGEST = "d391766014ff502fa987a58512ab4f20dd522811017f9866dd129bf835d16a20"
BIG_ROWS = 180_001


def _rewritten(
    path: Path, hashed: tuple[str, ...], small: set[tuple[int, int]]
) -> tuple[bytes, int]:
    dialect = sniff(path)
    header = read_header(path, dialect)
    rules = DatasetRules(approved=COLUMNS, pseudonymise=hashed, suppress_small_cells=True)
    counter = Rewritten()
    data = b"".join(rewrite(path, header, rules, KEY, small, counter, dialect))
    return data, counter.rows


@pytest.mark.parametrize("case", sorted(CASES))
def test_pseudonymised_output_is_pinned(tmp_path: Path, case: str) -> None:
    content, hashed, rows, digest = CASES[case]
    path = tmp_path / "data.csv"
    path.write_bytes(content)
    data, counted = _rewritten(path, hashed, set())
    assert counted == rows
    assert hashlib.sha256(data).hexdigest() == digest, data[:400]


def test_a_pseudonym_is_the_hex_hmac_of_the_value_and_empty_stays_empty(tmp_path: Path) -> None:
    import hmac

    path = tmp_path / "data.csv"
    path.write_bytes(CASES["comma utf-8 lf"][0])
    lines = _rewritten(path, ("numero_allocataire",), set())[0].decode().splitlines()
    assert lines[0] == HEADER.strip()
    assert lines[1] == hmac.digest(KEY, b"9000000", "sha256").hex() + ",300,2025-01"
    assert lines[-2].endswith(",,2025-02") and lines[-1] == ",512,2025-03"


@pytest.mark.parametrize("cpus", [1, 2, 3])
def test_a_large_file_with_a_quoted_row_far_in_is_pinned(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cpus: int
) -> None:
    """Rewritten here or by worker processes, blocks in order, handed over at the same row."""
    from ctg_exchange.exchange import hashed_rows

    monkeypatch.setattr(hashed_rows, "_cpus", lambda: cpus)
    path = tmp_path / "big.csv"
    path.write_bytes(_big())
    data, counted = _rewritten(path, ("numero_allocataire",), set())
    assert counted == BIG_ROWS
    assert hashlib.sha256(data).hexdigest() == BIG_DIGEST
    assert data.count(b"\n") == BIG_ROWS + 1
    assert b"9000000" not in data and b'"1,5"' in data


def test_small_cells_blanked_with_pseudonyms_are_pinned(tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    path.write_bytes((HEADER + _lines(_rows(40), ",", "\n")).encode())
    small = {(1, 1), (7, 1), (40, 2), (12, 0)}
    data, counted = _rewritten(path, ("numero_allocataire",), small)
    assert counted == 40
    assert hashlib.sha256(data).hexdigest() == (
        "2c75d6ca493c265a2bd36e17b5bb5cc136389b717bd314d21ea805d70ca30988"
    )
    lines = data.decode().splitlines()
    assert lines[1].split(",")[1] == "" and lines[12].split(",")[0] == ""


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (HEADER + "9000001,512\n", "row 1 has 2 fields, the header 3"),
        (HEADER + _lines(_rows(5), ",", "\n") + "\n", "row 6 has 0 fields, the header 3"),
        (HEADER + "9000001,512,2025-01,x\n", "row 1 has 4 fields, the header 3"),
    ],
)
def test_a_ragged_row_refuses_the_rewrite(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "data.csv"
    path.write_text(content)
    with pytest.raises(InvalidInput, match=message):
        _rewritten(path, ("numero_allocataire",), set())


def test_bytes_outside_the_encoding_refuse_the_rewrite(tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    rows = (HEADER + _lines(_rows(60_000), ",", "\n")).encode()  # past the sniffed first MiB
    path.write_bytes(rows + b"9000009,5\xff,2025-01\n" + _lines(_rows(5), ",", "\n").encode())
    with pytest.raises(InvalidInput, match="is not UTF-8 text after row"):
        _rewritten(path, ("numero_allocataire",), set())
