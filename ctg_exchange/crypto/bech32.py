"""Bech32 (BIP 173), as age uses it for its key strings: no length limit, checksum computed on
the lower-case form, strings entirely upper- or lower-case."""

from __future__ import annotations

CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_GENERATOR = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)


def _polymod(values: list[int]) -> int:
    check = 1
    for value in values:
        top = check >> 25
        check = (check & 0x1FFFFFF) << 5 ^ value
        for i in range(5):
            check ^= _GENERATOR[i] if (top >> i) & 1 else 0
    return check


def _expand(hrp: str) -> list[int]:
    return [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]


def _convert(data: bytes | list[int], from_bits: int, to_bits: int, pad: bool) -> list[int]:
    acc = bits = 0
    out = []
    maxv = (1 << to_bits) - 1
    for value in data:
        if value >> from_bits:
            raise ValueError("invalid bech32 data")
        acc = (acc << from_bits) | value
        bits += from_bits
        while bits >= to_bits:
            bits -= to_bits
            out.append((acc >> bits) & maxv)
    if pad and bits:
        out.append((acc << (to_bits - bits)) & maxv)
    elif not pad and (bits >= from_bits or (acc << (to_bits - bits)) & maxv):
        raise ValueError("invalid bech32 padding")
    return out


def encode(hrp: str, data: bytes) -> str:
    """Lower-case Bech32 of ``data`` under ``hrp`` (callers upper-case it if they wish)."""
    hrp = hrp.lower()
    words = _convert(data, 8, 5, pad=True)
    checksum = _polymod(_expand(hrp) + words + [0] * 6) ^ 1
    words += [(checksum >> 5 * (5 - i)) & 31 for i in range(6)]
    return hrp + "1" + "".join(CHARSET[w] for w in words)


def decode(text: str) -> tuple[str, bytes]:
    """The human-readable part (lower-case) and data of a Bech32 string, or ValueError."""
    if text.lower() != text and text.upper() != text:
        raise ValueError("mixed-case bech32 string")
    text = text.lower()
    pos = text.rfind("1")
    if pos < 1 or pos + 7 > len(text):
        raise ValueError("invalid bech32 separator position")
    hrp, rest = text[:pos], text[pos + 1 :]
    if any(c not in CHARSET for c in rest) or any(not 33 <= ord(c) <= 126 for c in hrp):
        raise ValueError("invalid bech32 character")
    words = [CHARSET.index(c) for c in rest]
    if _polymod(_expand(hrp) + words) != 1:
        raise ValueError("invalid bech32 checksum")
    return hrp, bytes(_convert(words[:-6], 5, 8, pad=False))
