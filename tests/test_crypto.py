"""Keys and signatures in formats other tools can check: OpenSSH keys, SSHSIG, canonical JSON."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from ctg_exchange.audit import canonical_json
from ctg_exchange.crypto import KeyDir, PublicKey, verify
from ctg_exchange.crypto.keys import KDF_ROUNDS
from ctg_exchange.errors import InvalidInput, KeyFileError, SignatureInvalid

from conftest import Ctg, ssh_keygen_verify

needs_ssh_keygen = pytest.mark.skipif(
    shutil.which("ssh-keygen") is None, reason="ssh-keygen is not installed"
)
PASS = "synthetic-test-passphrase"
NS = "ctg-exchange/event@v1"


@pytest.fixture(scope="module")
def key_dir(tmp_path_factory: pytest.TempPathFactory) -> KeyDir:
    keys = KeyDir(tmp_path_factory.mktemp("k") / "keys")
    keys.generate("alice", PASS)
    keys.generate("bob", PASS)
    return keys


def test_canonical_json_is_sorted_compact_utf8() -> None:
    assert (
        canonical_json({"b": 1, "a": ["é", None, True]}) == '{"a":["é",null,true],"b":1}'.encode()
    )


def test_an_event_read_back_is_encoded_as_it_was_signed() -> None:
    """The verifier's encoder of parsed JSON (made once) gives the canonical bytes exactly."""
    from ctg_exchange.audit.canonical import parsed_json
    from ctg_exchange.audit.events import loads_canonical

    text = (
        '{"z":{"b":[1,-2,12345678901234567890],"a":"\\u00e9\\n\\"\\\\\\u2028\\u0001"},'
        '"a":[true,false,null,{}],"é":"ß✓","":[]}'
    )
    value = loads_canonical(text)
    assert parsed_json(value) == canonical_json(value)
    assert parsed_json(value).startswith(b'{"":[],"a":[true,false,null,{}],"z":')


def test_canonical_json_refuses_floats_and_odd_keys() -> None:
    with pytest.raises(TypeError, match="floats"):
        canonical_json({"x": 1.5})
    with pytest.raises(TypeError, match="keys must be strings"):
        canonical_json({1: "x"})


def test_keys_are_private_files_in_a_private_directory(key_dir: KeyDir) -> None:
    assert stat.S_IMODE(key_dir.path.stat().st_mode) == 0o700
    assert stat.S_IMODE(key_dir.private_path("alice").stat().st_mode) == 0o600
    text = key_dir.private_path("alice").read_text()
    assert text.startswith("-----BEGIN OPENSSH PRIVATE KEY-----")


def test_sign_and_verify(key_dir: KeyDir) -> None:
    signer = key_dir.open_signer("alice", PASS)
    signature = signer.sign(NS, b"statement")
    verify(key_dir.read_public("alice"), NS, b"statement", signature)
    with pytest.raises(SignatureInvalid, match="does not match the signed bytes"):
        verify(key_dir.read_public("alice"), NS, b"statement!", signature)
    with pytest.raises(SignatureInvalid, match="namespace"):
        verify(key_dir.read_public("alice"), "ctg-exchange/manifest@v1", b"statement", signature)
    with pytest.raises(SignatureInvalid, match="another key"):
        verify(key_dir.read_public("bob"), NS, b"statement", signature)
    with pytest.raises(SignatureInvalid, match="not an armored"):
        verify(key_dir.read_public("alice"), NS, b"statement", "garbage")


def test_wrong_passphrase_and_open_permissions(key_dir: KeyDir, tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match="wrong passphrase"):
        key_dir.open_signer("alice", "not-the-passphrase")
    copy = KeyDir(tmp_path / "copy")
    shutil.copytree(key_dir.path, copy.path)
    os.chmod(copy.private_path("alice"), 0o640)
    with pytest.raises(KeyFileError, match="permissions 0640"):
        copy.open_signer("alice", PASS)
    os.chmod(copy.path, 0o755)
    with pytest.raises(KeyFileError, match="accessible by others"):
        copy.generate("carol", PASS)


def test_public_key_parsing() -> None:
    with pytest.raises(InvalidInput):
        PublicKey.parse("ssh-ed25519 not-base64!")
    with pytest.raises(InvalidInput):
        PublicKey.parse("ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQ")


@needs_ssh_keygen
def test_ssh_keygen_reads_our_encrypted_key(key_dir: KeyDir) -> None:
    out = subprocess.run(
        ["ssh-keygen", "-y", "-P", PASS, "-f", str(key_dir.private_path("alice"))],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.split()[:2] == key_dir.read_public("alice").openssh.split()
    wrong = subprocess.run(
        ["ssh-keygen", "-y", "-P", "wrong-passphrase", "-f", str(key_dir.private_path("alice"))],
        capture_output=True,
        text=True,
        check=False,
    )
    assert wrong.returncode != 0


@needs_ssh_keygen
def test_signatures_interoperate_with_ssh_keygen(key_dir: KeyDir, tmp_path: Path) -> None:
    message = tmp_path / "message"
    message.write_bytes(b"synthetic statement\n")
    subprocess.run(
        [
            "ssh-keygen",
            "-Y",
            "sign",
            "-f",
            str(key_dir.private_path("alice")),
            "-n",
            NS,
            "-P",
            PASS,
            str(message),
        ],
        capture_output=True,
        check=True,
    )
    verify(
        key_dir.read_public("alice"),
        NS,
        message.read_bytes(),
        (tmp_path / "message.sig").read_text(),
    )

    ours = key_dir.open_signer("bob", PASS).sign(NS, message.read_bytes())
    (tmp_path / "ours.sig").write_text(ours)
    allowed = tmp_path / "allowed"
    allowed.write_text(f'bob namespaces="{NS}" {key_dir.read_public("bob").openssh}\n')
    checked = ssh_keygen_verify(allowed, "bob", NS, tmp_path / "ours.sig", message.read_bytes())
    assert checked.returncode == 0, checked.stderr


def kdf_rounds(path: Path) -> int:
    """The bcrypt-pbkdf rounds an OpenSSH private key file states (PROTOCOL.key)."""
    import base64

    from ctg_exchange.crypto.sshwire import Reader

    body = "".join(line for line in path.read_text().splitlines() if "-----" not in line)
    blob = base64.b64decode(body)
    magic = b"openssh-key-v1\0"
    assert blob.startswith(magic)
    reader = Reader(blob[len(magic) :])
    cipher, kdf, options = reader.string(), reader.string(), Reader(reader.string())
    assert (cipher, kdf) == (b"aes256-ctr", b"bcrypt")
    options.string()  # the salt
    return options.uint32()


def test_the_command_line_makes_keys_with_16_bcrypt_rounds(fresh: Ctg) -> None:
    fresh.ok("keys", "generate", "--member", "v.new")

    assert kdf_rounds(fresh.keys / "v.new") == 16 == KDF_ROUNDS  # ssh-keygen's default too


def test_a_key_made_with_fewer_rounds_still_opens(key_dir: KeyDir) -> None:
    key_dir.generate("carol", PASS, rounds=1)

    assert kdf_rounds(key_dir.private_path("carol")) == 1
    assert key_dir.open_signer("carol", PASS).public_key == key_dir.read_public("carol")
