"""Red team rt2: a refused row early in a large dataset sent as it is."""

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
    the file is sent. Both used to wait forever: the sealing thread stops at the refusal
    and keeps the read buffers it was given, the reading thread waits for one of them back
    (pipeline.RingReader, 3 buffers)."""
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
