"""Red team rt2: a refused row early in a large dataset sent as it is."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from test_dialects import ready  # noqa: F401 - the fixture
from test_exchange import accepted

from conftest import Ctg


@pytest.mark.parametrize("megabytes", [6])
def test_a_bad_row_early_in_a_large_dataset_is_refused_not_hung(
    ready: Ctg,  # noqa: F811
    tmp_path: Path,
    implementation: str,
    megabytes: int,
) -> None:
    """A row with a hidden column in the first MiB of a dataset of several MiB: the send
    refuses it in one line. It used to wait forever: the sealing thread stops at the refusal
    and keeps the read buffers it was given, the reading thread waits for one of them back
    (pipeline.RingReader, 3 buffers)."""
    ctg = ready
    rid = accepted(ctg)
    row = b"%d,%d,2026-01\n"
    rows = [row % (9000000 + i, 400 + i % 900) for i in range(megabytes * 52_000)]
    rows[1000] = b"9999999,500,2026-01,nom=FICTIF\n"
    path = tmp_path / "big.csv"
    header = b"numero_allocataire,quotient_familial,mois_reference_qf\n"
    path.write_bytes(header + b"".join(rows))
    errors: list[BaseException] = []

    def send() -> None:
        try:
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
    assert not (tmp_path / "p.ctgx").exists()
