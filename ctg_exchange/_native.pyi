from collections.abc import Sequence

def rewrite(
    data: bytes, key: bytes, columns: int, hashed: Sequence[int], delimiter: bytes, crlf: bool, /
) -> bytes | None: ...
