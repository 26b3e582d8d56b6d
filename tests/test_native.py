"""``ctg_exchange._native`` (issue 17): the pseudonymiser and the line scan in C, against the
Python they stand in for.

tests/test_pseudonymise.py pins both rewrites on whole files, and tests/test_dialects.py runs
the send and the reception's checks both ways; here random blocks, ragged lines and odd keys
are given to both directly.
"""

from __future__ import annotations

import pytest

KEY = bytes(range(32))


def test_the_c_pseudonymiser_is_built_where_a_compiler_is() -> None:
    """pip builds it (hatch_build.py) where there are a C compiler and OpenSSL's headers, as on
    the machines this suite runs on: it must not silently fall back to the slower Python."""
    import shutil
    import sys

    if sys.platform != "linux" or shutil.which("cc") is None:
        pytest.skip("no C compiler: the package is pure Python here")
    from ctg_exchange import _native

    assert _native.rewrite(b"a,b\n", KEY, 2, [1], b",", False) is not None


def _random_block(seed: int) -> tuple[bytes, int, list[int], bytes, bool]:
    import random

    rng = random.Random(seed)
    columns = rng.randint(1, 5)
    delimiter = rng.choice([b",", b";", b"\t"])
    crlf = rng.random() < 0.5
    end = b"\r\n" if crlf else b"\n"
    alphabet = [b"", b"9", b"0", b"x", "é".encode(), b" ", b"-"]
    lines = []
    for _line in range(rng.randint(1, 30)):  # a block is never empty
        fields = [
            b"".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))
            for _ in range(columns)
        ]
        if rng.random() < 0.05:  # a ragged line
            fields = fields[:-1] if len(fields) > 1 else fields + [b"y"]
        lines.append(delimiter.join(fields) + end)
    data = b"".join(lines)
    if rng.random() < 0.1:
        data = data[:-1]  # the last line cut short
    hashed = sorted(rng.sample(range(columns), rng.randint(0, columns)))
    return data, columns, hashed, delimiter, crlf


@pytest.mark.parametrize("seed", range(300))
def test_c_and_python_rewrite_the_same_blocks_the_same(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Random blocks, ragged lines and odd keys included: the C rewrite gives the Python's
    bytes, or declines (None) exactly where the Python would leave the block to the csv
    module."""
    from ctg_exchange import _native
    from ctg_exchange.exchange import accel
    from ctg_exchange.exchange.dialect import Dialect
    from ctg_exchange.exchange.hashed_rows import PlainRows, Pseudonymiser

    data, columns, hashed, delimiter, crlf = _random_block(seed)
    key = bytes(range(seed % 100))  # empty, short, and longer than a SHA-256 block (64)
    dialect = Dialect(
        delimiter=delimiter.decode(),
        line_ending="crlf" if crlf else "lf",
    )
    plain = PlainRows(dialect, columns, hashed, Pseudonymiser(key))
    with monkeypatch.context() as python:
        python.setattr(accel, "rewrite", None)
        python.setattr(accel, "plain_lines", None)
        expected = plain.rewrite_block(data)
    got = _native.rewrite(data, key, columns, hashed, delimiter, crlf)
    if not data.endswith(b"\n"):  # never given (a block is whole lines): declined
        assert got is None
    elif expected is not None:  # else not plain: never given to the C, which must not crash
        assert got == expected[1]


@pytest.mark.parametrize(
    ("data", "columns", "hashed"),
    [
        (b"1", 1, [0]),  # a last line without its end: declined, nothing written past the end
        (b"1,2,3", 3, [0, 1, 2]),
        (b"a,b\n1", 2, [0, 1]),
        (b"a,b\r\n1,2\r", 2, [0, 1]),
        (b"1,2,3,4,5,6\n", 2, [0, 1]),  # more fields than the header
        (b"\n", 1, [0]),  # an empty line of a one-column file: the csv module's to refuse
        (b"1\r\n", 1, [0]),  # CRLF in a file of LF lines
    ],
)
def test_the_c_declines_what_is_not_whole_plain_lines(
    data: bytes, columns: int, hashed: list[int]
) -> None:
    from ctg_exchange import _native

    assert _native.rewrite(data, KEY, columns, hashed, b",", False) is None


def test_the_c_refuses_impossible_arguments() -> None:
    from ctg_exchange import _native

    with pytest.raises(ValueError, match="column out of range"):
        _native.rewrite(b"1\n", KEY, 1, [1], b",", False)
    with pytest.raises(ValueError, match="columns out of range"):
        _native.rewrite(b"1\n", KEY, 0, [], b",", False)
    # read without the GIL: a bytearray another thread could change meanwhile is refused
    with pytest.raises(TypeError, match="data must be bytes"):
        _native.rewrite(bytearray(b"1\n"), KEY, 1, [0], b",", False)


def _skeleton_lines(data: bytes, commas: int, delimiter: bytes, crlf: bool, nul: bool) -> int:
    """The Python verdict on complete lines (scanner.FastScanner, hashed_rows.PlainRows)."""
    kept = set(delimiter + b'"\r\n' + (b"\0" if nul else b""))
    skeleton = bytes(byte for byte in data if byte in kept)
    unit = delimiter * commas + (b"\r\n" if crlf else b"\n")
    lines, rest = divmod(len(skeleton), len(unit))
    plain = not rest and skeleton == unit * lines
    return lines if plain and (not crlf or data.count(b"\r\n") == lines) else -1


def _random_lines(seed: int) -> tuple[bytes, int, bytes, bool, bool]:
    import random

    rng = random.Random(seed)
    commas = rng.randint(0, 4)
    delimiter = rng.choice([b",", b";", b"\t"])
    crlf, nul = rng.random() < 0.5, rng.random() < 0.5
    end = b"\r\n" if crlf else b"\n"
    odd = [b'"', b"\r", b"\n", b"\0", delimiter, b"\r\n"]
    lines = []
    for _line in range(rng.randint(1, 60)):  # long enough to cross 64-byte windows
        fields = [b"9" * rng.randint(0, 30) for _ in range(commas + 1)]
        line = delimiter.join(fields) + end
        if rng.random() < 0.03:  # one odd byte somewhere in the line
            at = rng.randrange(len(line))
            line = line[:at] + rng.choice(odd) + line[at + 1 :]
        lines.append(line)
    return b"".join(lines), commas, delimiter, crlf, nul


@pytest.mark.parametrize("seed", range(400))
def test_the_c_line_scan_gives_the_python_verdict(seed: int) -> None:
    from ctg_exchange import _native

    data, commas, delimiter, crlf, nul = _random_lines(seed)
    if not data.endswith(b"\n"):
        assert _native.plain_lines(data, 0, len(data), commas, delimiter, crlf, nul) == -1
        return
    expected = _skeleton_lines(data, commas, delimiter, crlf, nul)
    assert _native.plain_lines(data, 0, len(data), commas, delimiter, crlf, nul) == expected
    # a region of a larger buffer, starting at a line of it, as the scanner asks
    first = data.find(b"\n") + 1
    region = _skeleton_lines(data[first:], commas, delimiter, crlf, nul)
    padded = bytearray(b"x" * 7 + data + b"tail")
    got = _native.plain_lines(padded, 7 + first, 7 + len(data), commas, delimiter, crlf, nul)
    assert got == region


@pytest.mark.parametrize(
    "data",
    [
        b"1,2\r" + b"3" * 60 + b"\n",  # a CR ending a 64-byte window, not followed by its LF
        b"1" * 63 + b"\r\n",  # CR the last byte of a window, its LF the first of the next
        b"1" * 63 + b"\n",  # an LF without its CR at a window's start
    ],
)
def test_the_c_line_scan_carries_crlf_across_windows(data: bytes) -> None:
    from ctg_exchange import _native

    expected = _skeleton_lines(data, 0, b",", True, False)
    assert _native.plain_lines(data, 0, len(data), 0, b",", True, False) == expected
