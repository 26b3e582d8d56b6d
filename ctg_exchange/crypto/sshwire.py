"""The SSH wire encoding (RFC 4251 §5) used by public key blobs and SSHSIG."""

from __future__ import annotations

import struct


def uint32(value: int) -> bytes:
    return struct.pack(">I", value)


def string(value: bytes | str) -> bytes:
    """An SSH ``string``: a uint32 length then the bytes."""
    data = value.encode() if isinstance(value, str) else value
    return uint32(len(data)) + data


class Reader:
    """Reads SSH wire values; any overrun raises ``ValueError``."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._pos = 0

    def take(self, size: int) -> bytes:
        if size < 0 or self._pos + size > len(self._data):
            raise ValueError("truncated SSH data")
        out = self._data[self._pos : self._pos + size]
        self._pos += size
        return out

    def uint32(self) -> int:
        (value,) = struct.unpack(">I", self.take(4))
        return int(value)

    def string(self) -> bytes:
        return self.take(self.uint32())

    def done(self) -> bool:
        return self._pos == len(self._data)
