"""The replay's spilled records: what is written to the file comes back, what never was is absent
(the Bloom filter of written records only spares the query), across a reopening too."""

from __future__ import annotations

from pathlib import Path

from ctg_exchange.audit.spill import Spill, SpillDict


def test_records_evicted_to_the_file_come_back_and_unknown_ones_are_absent(tmp_path: Path) -> None:
    spill = Spill(tmp_path / "records.sqlite3", temporary=True, cache=8)
    requests: SpillDict[str, dict[str, int]] = SpillDict(spill, "request")
    taken: SpillDict[str, list[str]] = SpillDict(spill, "taken")
    for n in range(200):
        requests[f"DX-{n}"] = {"n": n}
        taken.setdefault(f"DX-{n}", []).append("file")
    assert requests["DX-0"] == {"n": 0} and taken["DX-3"] == ["file"]  # from the file
    assert "DX-200" not in requests and requests.get("DX-999") is None
    assert taken.setdefault("DX-5", ["other"]) == ["file"]  # an evicted record, not a new one
    assert "DX-0" not in taken or taken["DX-0"] == ["file"]
    assert len(requests) == 200
    del requests["DX-7"]
    assert "DX-7" not in requests
    spill.close()


def test_a_file_reopened_with_its_records_is_read_for_every_key(tmp_path: Path) -> None:
    path = tmp_path / "memory.sqlite3"
    first = Spill(path, cache=4)
    records: SpillDict[str, int] = SpillDict(first, "request")
    for n in range(50):
        records[f"DX-{n}"] = n
    first.save({"state": b"x"})
    again = Spill(path, cache=4)
    reread: SpillDict[str, int] = SpillDict(again, "request")
    assert [reread[f"DX-{n}"] for n in (0, 17, 49)] == [0, 17, 49]  # not in this process's filter
    assert reread.get("DX-50") is None
    reread["DX-60"] = 60
    for n in range(100, 120):
        reread[f"DX-{n}"] = n  # evict DX-60 to the file
    assert reread["DX-60"] == 60
    again.close()


def test_records_pickle_to_what_they_were_and_older_states_load() -> None:
    import pickle
    from dataclasses import astuple

    from ctg_exchange.domain.facts import DeliveryFacts, PseudonymKeyFacts, ShapeFacts

    delivery = DeliveryFacts(3, "a" * 64, 10, "b" * 64, 2, ("nom",), ("R1 x",), "2026-01-31")
    shape = ShapeFacts("caf92", "petite_enfance", "pricing", ("qf",), None, 365, "monthly")
    for record in (delivery, shape, PseudonymKeyFacts("c" * 64)):
        assert pickle.loads(pickle.dumps(record, pickle.HIGHEST_PROTOCOL)) == record  # noqa: S301
    # a verifier's memory written before: the state as a list of the field values
    older = DeliveryFacts.__new__(DeliveryFacts)
    older.__setstate__(list(astuple(delivery)))  # type: ignore[attr-defined]
    assert older == delivery


def test_any_sequence_of_uses_reads_back_what_was_last_written(tmp_path: Path) -> None:
    """Random sets, reads, deletions, flushes, releases, saves and reopenings of a small cache
    against a dict: a record written is never reported absent (the Bloom filter gives no false
    negative), one deleted or never written never comes back."""
    import random

    from ctg_exchange.audit.spill import _ABSENT

    keys = [("law", f"DX-{n}") for n in range(10)] + [("taken", (f"DX-{n}", n)) for n in range(6)]
    for seed in range(60):
        rnd = random.Random(seed)
        path = tmp_path / f"records-{seed}.sqlite3" if seed % 2 else None
        spill = Spill(path, cache=rnd.choice([1, 2, 3, 5]))
        model: dict[tuple[str, object], float] = {}
        for step in range(250):
            kind, key = rnd.choice(keys)
            roll = rnd.random()
            if roll < 0.35:
                model[(kind, key)] = value = rnd.random()
                spill.set(kind, key, value)
            elif roll < 0.7:
                found = spill.get(kind, key, keep=rnd.random() < 0.5)
                assert found == model.get((kind, key), _ABSENT), (seed, step, kind, key)
            elif roll < 0.78:
                spill.delete(kind, key)
                model.pop((kind, key), None)
            elif roll < 0.86:
                spill.flush()
            elif roll < 0.94:
                spill.release()
            elif path is not None:
                spill.save({"state": b"x"})
                spill.close()
                spill = Spill(path, cache=rnd.choice([1, 2, 3, 5]))
        assert sorted(map(repr, spill.keys("law"))) == sorted(
            repr(key) for kind, key in model if kind == "law"
        )
        spill.close()
