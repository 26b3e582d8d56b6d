"""``ctg_exchange._native`` where it was built (``hatch_build.py``), else None.

Each caller keeps a Python path that gives the same results (the tests run both), so a package
installed without a C compiler only runs slower. Looked up at call time (``accel.rewrite``), so
that a test can take either path.

Both run without the GIL. ``rewrite`` takes only ``bytes``; ``plain_lines`` also reads a
``bytearray`` (the send's read buffers, a reception's decrypted ones), which nothing writes
while it is scanned: a buffer goes back to its ring only once it has been checked, sealed or
written. A writer racing the scan could not make it read out of bounds (an exported bytearray
cannot be resized), only give a wrong verdict.
"""

from __future__ import annotations

from collections.abc import Callable

Buffer = bytes | bytearray | memoryview
PlainLines = Callable[[Buffer, int, int, int, bytes, bool, bool], int]
Rewrite = Callable[[bytes, bytes, int, list[int], bytes, bool, bool], "bytes | None"]

plain_lines: PlainLines | None
rewrite: Rewrite | None
try:
    from .._native import plain_lines, rewrite
except ImportError:  # no C compiler where it was installed
    plain_lines = rewrite = None
