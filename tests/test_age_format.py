"""The age v1 format as the spec (c2sp.org/age) requires it, checked without the age CLI."""

from __future__ import annotations

import errno
import io
import os
from pathlib import Path
from typing import Any

import pytest

from ctg_exchange.crypto import bech32
from ctg_exchange.crypto.age import (
    CHUNK,
    AgeError,
    Identity,
    NoIdentityMatched,
    Recipient,
    b64decode,
)
from ctg_exchange.crypto.agestream import decrypt_bytes, encrypt_bytes
from ctg_exchange.errors import InvalidInput

# the spec's example identity and its recipient
SPEC_IDENTITY = "AGE-SECRET-KEY-1GFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPQ4EGAEX"
SPEC_RECIPIENT = "age1zvkyg2lqzraa2lnjvqej32nkuu0ues2s82hzrye869xeexvn73equnujwj"


def test_the_spec_example_identity_has_the_spec_recipient() -> None:
    identity = Identity.parse(SPEC_IDENTITY)
    assert str(identity.recipient) == SPEC_RECIPIENT
    assert str(identity) == SPEC_IDENTITY
    assert Recipient.parse(SPEC_RECIPIENT).public == identity.recipient.public


def test_bech32_rejects_bad_checksums_and_mixed_case() -> None:
    hrp, data = bech32.decode(SPEC_RECIPIENT)
    assert (hrp, len(data)) == ("age", 32)
    with pytest.raises(ValueError, match="checksum"):
        bech32.decode(SPEC_RECIPIENT[:-1] + ("q" if SPEC_RECIPIENT[-1] != "q" else "p"))
    with pytest.raises(ValueError, match="mixed-case"):
        bech32.decode("Age1" + SPEC_RECIPIENT[4:])
    with pytest.raises(InvalidInput, match="not an age X25519 recipient"):
        Recipient.parse(SPEC_IDENTITY)


@pytest.mark.parametrize("size", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK])
def test_round_trip_at_chunk_boundaries(size: int) -> None:
    identity = Identity.generate()
    data = os.urandom(size)
    assert decrypt_bytes(encrypt_bytes(data, [identity.recipient]), [identity]) == data


def test_base64_must_be_canonical_and_unpadded() -> None:
    assert b64decode("AAAA") == b"\0\0\0"
    for bad in ("AAA=", "AAB", "A A"):
        with pytest.raises(AgeError):
            b64decode(bad)


def test_the_wrong_identity_and_a_tampered_header_are_refused() -> None:
    identity = Identity.generate()
    sealed = encrypt_bytes(b"synthetic", [identity.recipient])
    with pytest.raises(NoIdentityMatched):
        decrypt_bytes(sealed, [Identity.generate()])
    header_end = sealed.index(b"\n--- ")
    tampered = bytearray(sealed)
    tampered[header_end - 2] ^= 0x01  # inside the stanza body
    with pytest.raises(AgeError):
        decrypt_bytes(bytes(tampered), [identity])


def test_truncation_and_a_missing_final_chunk_are_detected() -> None:
    identity = Identity.generate()
    sealed = encrypt_bytes(os.urandom(2 * CHUNK + 10), [identity.recipient])
    with pytest.raises(AgeError):
        decrypt_bytes(sealed[:-30], [identity])  # the final chunk cut short
    with pytest.raises(AgeError):
        decrypt_bytes(sealed[: -(10 + 16)], [identity])  # the final chunk removed


def test_scrypt_must_stand_alone_and_work_factors_are_bounded() -> None:
    sealed = encrypt_bytes(b"identity", passphrase="pass phrase", log_n=10)
    assert decrypt_bytes(sealed, passphrase="pass phrase") == b"identity"
    with pytest.raises(NoIdentityMatched):
        decrypt_bytes(sealed, passphrase="other phrase")
    greedy = sealed.replace(b" 10\n", b" 23\n", 1)
    with pytest.raises(AgeError, match="above the limit"):
        decrypt_bytes(greedy, passphrase="pass phrase")
    identity = Identity.generate()
    mixed = encrypt_bytes(b"x", [identity.recipient])
    stanza = sealed[sealed.index(b"-> scrypt") : sealed.index(b"---")]
    both = mixed.replace(b"---", stanza + b"---", 1)
    with pytest.raises(AgeError, match="alone"):
        decrypt_bytes(both, [identity], passphrase="pass phrase")


def test_the_pseudonymiser_is_hmac_sha256() -> None:
    import hmac

    from ctg_exchange.exchange.dataset import Pseudonymiser

    for key in (os.urandom(32), b"k", os.urandom(100)):
        pseudonym = Pseudonymiser(key)
        for value in ("9000001", "", "é" * 80):
            assert pseudonym(value) == hmac.digest(key, value.encode(), "sha256").hex()


def test_the_scanner_counts_rows_across_blocks_of_any_size(implementation: str) -> None:
    from ctg_exchange.exchange.scanner import FastScanner

    data = b"a,b\n" + b"1,2\n" * 70000 + b"3,4"  # unterminated last row
    counts = []
    for step in (1 << 20, 4099, 3, 1):
        scanner = FastScanner(2)
        for start in range(0, min(len(data), 60_000 if step < 100 else len(data)), step):
            scanner.feed(data[start : start + step])
        if step < 100:
            scanner.feed(data[60_000:])
        counts.append(scanner.finish())
    assert counts == [70001] * 4


STREAM_SIZES = [0, 1, 16 * CHUNK - 1, 16 * CHUNK, 16 * CHUNK + 1, 80 * CHUNK + 7]


@pytest.mark.parametrize("size", STREAM_SIZES)
def test_the_streaming_pipeline_round_trips_across_its_blocks(tmp_path: Path, size: int) -> None:
    """seal() and unseal() (16-chunk blocks, two decrypting threads) agree with
    the whole-file reader, and hash_region() with hashlib."""
    import hashlib

    from ctg_exchange.exchange.pipeline import hash_region, seal, unseal

    identity = Identity.generate()
    data = os.urandom(size)
    sealed_path = tmp_path / "payload.age"
    with sealed_path.open("wb") as out:
        out.write(b"x" * 7)  # the payload need not start the file, as in a package
        sealed = seal(
            [data[i : i + 300_000] for i in range(0, size, 300_000)], out, [identity.recipient]
        )
    raw = sealed_path.read_bytes()[7:]
    assert decrypt_bytes(raw, [identity]) == data
    plain = tmp_path / "plain"
    with sealed_path.open("rb") as source, plain.open("wb") as out:
        assert (
            hash_region(source, 7, sealed.size) == hashlib.sha256(raw).hexdigest() == sealed.sha256
        )
        assert unseal(source, 7, sealed.size, [identity], out) == size
    assert plain.read_bytes() == data


class _FullDisk(io.BytesIO):
    """A file whose disk fills after ``room`` bytes."""

    def __init__(self, room: int) -> None:
        super().__init__()
        self.room = room

    def write(self, data: Any) -> int:
        if self.tell() + len(data) > self.room:
            raise OSError(errno.ENOSPC, "No space left on device")
        return super().write(data)


def test_a_write_that_fails_fails_the_seal() -> None:
    """The writing thread's error (a full disk, far into the file) is the sender's, not lost."""
    from ctg_exchange.exchange.pipeline import seal

    data = os.urandom(8 << 20)
    blocks = [data[i : i + (1 << 20)] for i in range(0, len(data), 1 << 20)]
    with pytest.raises(OSError, match="No space left"):
        seal(blocks, _FullDisk(3 << 20), [Identity.generate().recipient])


def test_a_block_the_inspection_refuses_fails_the_seal_before_it_is_sealed() -> None:
    from ctg_exchange.exchange.pipeline import seal

    seen: list[int] = []

    def inspect(block: Any) -> None:
        seen.append(len(block))
        if len(seen) == 3:
            raise InvalidInput("row 3 does not have 2 fields")

    out = io.BytesIO()
    blocks = [b"1,2\n" * 1000] * 6
    with pytest.raises(InvalidInput, match="row 3"):
        seal(blocks, out, [Identity.generate().recipient], inspect=inspect)
    assert len(seen) == 3  # nothing after the refused block was inspected


@pytest.mark.parametrize(
    "damage",
    ["flip a byte in the fifth block", "cut inside the last chunk", "drop the last chunk"],
)
def test_the_streaming_reader_refuses_damage_in_any_block(tmp_path: Path, damage: str) -> None:
    from ctg_exchange.exchange.pipeline import unseal

    identity = Identity.generate()
    raw = bytearray(encrypt_bytes(os.urandom(80 * CHUNK + 7), [identity.recipient]))
    if damage.startswith("flip"):
        raw[-(7 + 16) - 3 * (CHUNK + 16)] ^= 0x01
    elif damage.startswith("cut"):
        raw = raw[:-5]
    else:
        raw = raw[: -(7 + 16)]
    path = tmp_path / "payload.age"
    path.write_bytes(bytes(raw))
    with path.open("rb") as source, (tmp_path / "plain").open("wb") as out:
        with pytest.raises(AgeError):
            unseal(source, 0, len(raw), [identity], out)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (b"1,2\rx\r\n", "does not end its line"),  # a CR inside, its line ended by CRLF
        (b"1,2\n", "does not end its line"),
        (b"1,2,3\r\n", "does not have 2 fields"),
        (b"1\r\n", "does not have 2 fields"),
    ],
)
def test_the_scanner_refuses_a_bad_crlf_line_deep_in_a_block(
    line: bytes, message: str, implementation: str
) -> None:
    from ctg_exchange.exchange.scanner import FastScanner

    good = b"1,2\r\n" * 1000
    scanner = FastScanner(2, ",", "crlf")
    with pytest.raises(InvalidInput, match=f"row 1001 {message}"):
        scanner.feed(b"a,b\r\n" + good + line + good)
        scanner.finish()
