"""A served workspace for the tests: a real uvicorn server on 127.0.0.1 (an ephemeral port, in
a thread of the test, stopped with it), signed calls straight to its API, certificates made
here, and one remote workspace per party, each with its own key directory."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ec import SECP256R1, generate_private_key
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.x509.oid import NameOID

from ctg_exchange.crypto.keys import KeyDir
from ctg_exchange.remote import httpsig
from ctg_exchange.remote.client import fingerprint
from ctg_exchange.remote.served import Settings
from ctg_exchange.remote.server import create_app

from conftest import PASSPHRASE, Ctg

WORKSPACE_OF: dict[str, str] = {}  # a test server's URL -> the id of the workspace it serves


@dataclass
class Server:
    url: str
    log: list[dict[str, Any]] = field(default_factory=list)


@contextmanager
def serving(
    ctg: Ctg,
    *,
    tls: tuple[Path, Path] | None = None,
    max_body: int = 64 * 1024,
    max_package: int = 1 << 30,
) -> Iterator[Server]:
    import uvicorn

    log: list[dict[str, Any]] = []
    settings = Settings(ctg.workspace, max_body=max_body, max_package=max_package)
    app = create_app(settings, log=log.append)
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=0,
        log_config=None,
        access_log=False,
        lifespan="off",
        ssl_certfile=None if tls is None else str(tls[0]),
        ssl_keyfile=None if tls is None else str(tls[1]),
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    scheme = "http" if tls is None else "https"
    url = f"{scheme}://127.0.0.1:{port}"
    WORKSPACE_OF[url] = json.loads((ctg.workspace / "workspace.json").read_text())["id"]
    try:
        yield Server(url, log)
    finally:
        server.should_exit = True
        thread.join(10)
        app.served.close()


@pytest.fixture
def served(ctg: Ctg) -> Iterator[Server]:
    with serving(ctg) as server:
        yield server


def key(ctg: Ctg, member: str) -> Ed25519PrivateKey:
    return KeyDir(ctg.keys).open_signer(member, PASSPHRASE).ed25519_key()


def call(
    url: str,
    path: str = "/v1/whoami",
    *,
    member: str = "v.agent",
    signing_key: Ed25519PrivateKey,
    body: bytes = b"",
    send_body: bytes | None = None,
    send_path: str | None = None,
    headers: dict[str, str] | None = None,
    **signing: Any,
) -> httpx.Response:
    """A call signed by ``member`` with ``signing_key``; ``send_*`` send something else than
    what was signed (a tampered call)."""
    if "workspace" not in signing:
        signing["workspace"] = WORKSPACE_OF[url]
    signed = httpsig.sign(
        httpsig.Message("POST", url + path, {}), body, member, signing_key, **signing
    )
    return httpx.post(
        url + (send_path or path),
        content=body if send_body is None else send_body,
        headers=headers if headers is not None else signed,
        timeout=10,
    )


def self_signed(directory: Path, name: str) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1, made here, and its key."""
    private = generate_private_key(SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"ctg test {name}")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(private.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(private, hashes.SHA256())
    )
    cert, key_file = directory / f"{name}.pem", directory / f"{name}.key"
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert, key_file


def fingerprint_of(cert: Path) -> str:
    loaded = x509.load_pem_x509_certificate(cert.read_bytes())
    return fingerprint(loaded.public_bytes(serialization.Encoding.DER))


def party_key_dirs(ctg: Ctg, tmp_path: Path) -> dict[str, Path]:
    """Each party's own key directory, holding only its members' keys: what each
    organisation's machines hold."""
    dirs = {}
    for party, prefix in (("ville", "v."), ("caf", "c.")):
        directory = tmp_path / f"keys-{party}"
        directory.mkdir(mode=0o700)
        for path in ctg.keys.glob(f"{prefix}*"):
            shutil.copy2(path, directory / path.name)
        dirs[party] = directory
    return dirs


def remote_dirs(ctg: Ctg, url: str, tmp_path: Path) -> dict[str, Path]:
    """One remote workspace per party (its own configuration; keys stay in the key directory
    each party's members have)."""
    dirs = {party: tmp_path / f"remote-{party}" for party in ("ville", "caf")}
    for directory in dirs.values():
        ctg.ok("--workspace", str(directory), "remote", "add", url, "--rehearsal")
    return dirs


def acting(ctg: Ctg, dirs: dict[str, Path]) -> Any:
    """``at(party, *command, as_=member)``: run a command on that party's remote workspace,
    which must succeed; its JSON document."""

    def at(party: str, *args: str, as_: str) -> Any:
        result = ctg("--workspace", str(dirs[party]), *args, "--json", as_=as_)
        assert result.exit_code == 0, (args, result.output)
        return json.loads(result.stdout)

    return at


def upload(
    url: str, body: bytes, member: str, ctg: Ctg, request_id: str, signed: bytes | None = None
) -> httpx.Response:
    """A package's upload for ``request_id`` straight to the API, signed with the digest of
    ``signed`` (the body itself by default)."""
    import hashlib

    digest = hashlib.sha256(body if signed is None else signed).digest()
    headers = {"Content-Type": "application/octet-stream", "Content-Length": str(len(body)),
               "Ctg-Request": request_id}  # fmt: skip
    signed_headers = httpsig.sign(
        httpsig.Message("POST", url + "/v1/packages", headers), b"", member, key(ctg, member),
        workspace=WORKSPACE_OF[url], streamed=digest,
    )  # fmt: skip
    return httpx.post(url + "/v1/packages", content=body, headers=signed_headers, timeout=10)


def accepted_here(ctg: Ctg) -> str:
    """A request (town hall -> Caf) taken to accepted conditions with the local command line."""
    rid = ctg.file_request()
    ctg.advance(rid, "approved")
    ctg.ok(
        "conditions",
        "accept",
        rid,
        "--dpia-ref",
        "AIPD-1",
        "--information",
        "Lettre aux familles (test)",
        "--l311-mention",
        "Mention sur la facture (test)",
        as_="v.controller",
    )
    return rid
