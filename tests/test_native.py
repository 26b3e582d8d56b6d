"""``ctg_exchange._native``, the pseudonymiser in C (issue 17), against the Python one.

tests/test_pseudonymise.py pins both on whole files; here random blocks, ragged lines and odd
keys are given to both directly.
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
def test_c_and_python_rewrite_the_same_blocks_the_same(seed: int) -> None:
    """Random blocks, ragged lines and odd keys included: the C rewrite gives the Python's
    bytes, or declines (None) exactly where the Python would leave the block to the csv
    module."""
    from ctg_exchange import _native
    from ctg_exchange.exchange.dialect import Dialect
    from ctg_exchange.exchange.hashed_rows import PlainRows, Pseudonymiser

    data, columns, hashed, delimiter, crlf = _random_block(seed)
    key = bytes(range(seed % 100))  # empty, short, and longer than a SHA-256 block (64)
    dialect = Dialect(
        delimiter=delimiter.decode(),
        line_ending="crlf" if crlf else "lf",
    )
    plain = PlainRows(dialect, columns, hashed, Pseudonymiser(key))
    plain.native = False
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
