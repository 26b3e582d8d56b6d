from collections.abc import Sequence

def rewrite(
    data: bytes,
    key: bytes,
    columns: int,
    hashed: Sequence[int],
    delimiter: bytes,
    crlf: bool,
    cp1252: bool,
    /,
) -> bytes | None: ...
def plain_lines(
    data: bytes | bytearray | memoryview,
    start: int,
    end: int,
    commas: int,
    delimiter: bytes,
    crlf: bool,
    nul: bool,
    /,
) -> int: ...
