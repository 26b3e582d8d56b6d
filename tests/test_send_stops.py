"""A send that stops early in a large dataset returns: refused in one line, or handed to the csv
module, never waiting forever on its own read buffers (red team, issue 17)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from test_dialects import ready  # noqa: F401 - the fixture
from test_exchange import accepted

from conftest import Ctg


@pytest.mark.parametrize(
    ("odd", "outcome"),
    [
        (b"9999999,500,2026-01,nom=FICTIF\n", "refused"),  # a hidden column
        (b'9999999,"1 204",2026-01\n', "sent"),  # a quoted field: the csv module counts
    ],
)
def test_a_bad_row_early_in_a_large_dataset_is_refused_not_hung(
    ready: Ctg,  # noqa: F811
    tmp_path: Path,
    implementation: str,
    odd: bytes,
    outcome: str,
) -> None:
    """A row with a hidden column in the first MiB of a dataset of several MiB: the send
    refuses it in one line; a quoted field there: the rows are counted by the csv module and
    the file is sent. Both used to wait forever: the sealing thread stopped at the refusal
    and kept the read buffers it was given, the reading thread waited for one of them back
    (pipeline.RingReader)."""
    ctg = ready
    rid = accepted(ctg)
    row = b"%d,%d,2026-01\n"
    rows = [row % (9000000 + i, 400 + i % 900) for i in range(6 * 52_000)]  # 6 MiB
    rows[1000] = odd
    path = tmp_path / "big.csv"
    header = b"numero_allocataire,quotient_familial,mois_reference_qf\n"
    path.write_bytes(header + b"".join(rows))
    errors: list[BaseException] = []

    def send() -> None:
        try:
            if outcome == "sent":
                ctg.json(
                    "exchange", "send", rid, "--dataset", str(path), "--out",
                    str(tmp_path / "p.ctgx"), as_="c.agent",
                )  # fmt: skip
            else:
                ctg.refused(
                    "exchange", "send", rid, "--dataset", str(path), "--out",
                    str(tmp_path / "p.ctgx"), as_="c.agent", contains="fields like the header",
                )  # fmt: skip
        except BaseException as exc:  # noqa: BLE001 - reported by the test's thread
            errors.append(exc)

    # on a thread: a send that never returns fails this test instead of blocking the suite
    worker = threading.Thread(target=send, daemon=True)
    worker.start()
    worker.join(60)
    assert not worker.is_alive(), "exchange send did not return within 60 s (hung)"
    assert not errors, errors
    assert (tmp_path / "p.ctgx").exists() == (outcome == "sent")


def test_a_write_that_fails_far_into_a_ring_read_file_fails_the_seal(tmp_path: Path) -> None:
    """The sealing side stops (a full disk): every read buffer it held comes back, so the
    reading thread is not left waiting for one and the error reaches the sender."""
    import errno
    import io
    import os

    from ctg_exchange.crypto.age import Identity
    from ctg_exchange.exchange.pipeline import RingReader, seal

    class FullDisk(io.BytesIO):
        def write(self, data: object) -> int:
            if self.tell() > 2 << 20:
                raise OSError(errno.ENOSPC, "No space left on device")
            return super().write(data)  # type: ignore[arg-type]

    path = tmp_path / "data"
    path.write_bytes(os.urandom(12 << 20))
    errors: list[BaseException] = []

    def run() -> None:
        with path.open("rb") as source:
            ring = RingReader(source)
            try:
                seal(ring, FullDisk(), [Identity.generate().recipient], ring.release)
            except OSError as exc:
                errors.append(exc)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(60)
    assert not worker.is_alive(), "seal did not return within 60 s (hung)"
    assert errors and "No space left" in str(errors[0])
