"""The client side of a hosted workspace: its configuration, the pinned server, signed calls.

``ctg-exchange remote add URL --workspace DIR`` makes DIR a *remote workspace*: its
``workspace.json`` names the server and the workspace it serves, and ``server.pem`` holds the
server's certificate, pinned. The certificate is taken on first contact only if its SHA-256
fingerprint is the one given (``--fingerprint``, read to the admin of the host out of band), or
if it is signed by the authority of ``--ca-file``; afterwards a server showing any other
certificate is refused before a single signed byte is sent to it. Plain ``http://`` is accepted
for a loopback address only (a server on the same machine, or behind a local reverse proxy).
"""

from __future__ import annotations

import base64
import hashlib
import json
import socket
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO
from urllib.parse import urlsplit

from ..errors import ExchangeError, InvalidInput, NotAuthorised, WorkspaceError
from ..fsutil import ensure_private_dir, write_atomic
from ..i18n import _
from . import httpsig

if TYPE_CHECKING:
    from ..crypto.keys import Signer

CONFIG_NAME = "workspace.json"
CERTIFICATE = "server.pem"
FORMAT = 1
TIMEOUT = 30.0
LOOPBACK = ("127.0.0.1", "::1", "localhost")


class ServerError(ExchangeError):
    """The server refused a call, or could not be reached; one line."""

    code = "server"

    def __init__(self, message: str, *, status: int | None = None, hint: str | None = None):
        super().__init__(message, hint=hint)
        self.status = status


def fingerprint(der: bytes) -> str:
    """A certificate's SHA-256 fingerprint as ``SHA256:`` and unpadded base64 (as OpenSSH
    writes key fingerprints)."""
    return "SHA256:" + base64.b64encode(hashlib.sha256(der).digest()).decode().rstrip("=")


def same_fingerprint(given: str, der: bytes) -> bool:
    """``given`` in either usual form: ``SHA256:base64`` or hex pairs (``AB:CD:…``)."""
    digest = hashlib.sha256(der).digest()
    text = given.strip()
    if text.upper().startswith("SHA256:") and ":" not in text[7:]:
        return text[7:].rstrip("=") == fingerprint(der)[7:]
    return text.replace(":", "").lower() == digest.hex()


def _not_a_server(url: str) -> str:
    return _("a server is https://HOST[:PORT][/PATH], not {url!r}").format(url=url[:80])


def _cannot_reach(url: str, reason: str) -> ServerError:
    return ServerError(_("cannot reach {url}: {reason}").format(url=url, reason=reason))


def check_url(url: str) -> str:
    parts = urlsplit(url)
    try:
        parts.port  # noqa: B018 (it raises on a port out of range)
    except ValueError:
        raise InvalidInput(_not_a_server(url)) from None
    wrong = parts.query or parts.fragment or parts.username or parts.password
    if parts.scheme not in ("https", "http") or not parts.hostname or wrong:
        raise InvalidInput(_not_a_server(url))
    if parts.scheme == "http" and parts.hostname not in LOOPBACK:
        raise InvalidInput(
            _("plain http:// is for a server on this machine only: use https://"),
            hint=_("serve with --tls-cert/--tls-key, or behind a reverse proxy that does TLS"),
        )
    return url.rstrip("/")


def pinned_context(*, cafile: str | None = None, cadata: str | None = None) -> ssl.SSLContext:
    """Trust what was pinned: the server's own certificate (accepted as the end of its chain,
    whoever issued it) or the authority given."""
    context = ssl.create_default_context(cafile=cafile, cadata=cadata)
    context.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
    return context


def fetch_certificate(url: str) -> bytes:
    """The DER certificate the server shows, unverified: pinning decides whether to trust it."""
    parts = urlsplit(url)
    host, port = parts.hostname or "", parts.port or 443
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with socket.create_connection((host, port), timeout=TIMEOUT) as raw:
            with context.wrap_socket(raw, server_hostname=host) as tls:
                der = tls.getpeercert(binary_form=True)
    except OSError as exc:
        raise _cannot_reach(url, str(exc.strerror or exc)) from None
    if der is None:
        raise ServerError(_("{url} showed no certificate").format(url=url))
    return der


@dataclass(frozen=True)
class RemoteConfig:
    root: Path
    url: str
    workspace_id: str
    simulated: bool = False  # a rehearsal's workspace: its server sets the day

    @property
    def certificate(self) -> Path | None:
        path = self.root / CERTIFICATE
        return path if path.exists() else None

    def ssl_context(self) -> ssl.SSLContext | bool:
        """Trust exactly the pinned certificate (or the authority it was checked against)."""
        if urlsplit(self.url).scheme == "http":
            return False
        if self.certificate is None:
            raise WorkspaceError(
                _("{path} is missing: run `remote add` again").format(path=self.root / CERTIFICATE)
            )
        return pinned_context(cafile=str(self.certificate))

    @classmethod
    def read(cls, root: Path, config: dict[str, Any]) -> RemoteConfig:
        remote = config.get("remote")
        if not isinstance(remote, dict) or not isinstance(remote.get("url"), str):
            raise WorkspaceError(_("{path} names no server").format(path=root / CONFIG_NAME))
        if not isinstance(config.get("id"), str):
            raise WorkspaceError(_("{path} lacks the workspace id").format(path=root / CONFIG_NAME))
        return cls(root, check_url(remote["url"]), config["id"], remote.get("simulated") is True)


def add(
    root: Path, url: str, *, expect: str | None, ca_file: Path | None, rehearsal: bool = False
) -> RemoteConfig:
    """Make ``root`` a remote workspace of the server at ``url``, its certificate pinned."""
    url = check_url(url)
    if (root / CONFIG_NAME).exists():
        raise WorkspaceError(_("a workspace already exists at {path}").format(path=root))
    pem = None
    if urlsplit(url).scheme == "https":
        if (expect is None) == (ca_file is None):
            raise InvalidInput(
                _("give the server certificate's --fingerprint (from its admin), or --ca-file")
            )
        der = fetch_certificate(url)
        if expect is not None and not same_fingerprint(expect, der):
            raise NotAuthorised(
                "CERTIFICATE_MISMATCH",
                _(
                    "the server's certificate is {fingerprint}, not the one given: it is "
                    "not the server you were told of, or someone stands in between"
                ).format(fingerprint=fingerprint(der)),
            )
        pem = ssl.DER_cert_to_PEM_cert(der)
        if ca_file is not None:
            pem = _checked_against(url, ca_file)
    health = _get(url, "/healthz", pem)
    workspace_id = health.get("workspace")
    if not isinstance(workspace_id, str):
        raise ServerError(_("{url} does not serve a ctg-exchange workspace").format(url=url))
    simulated = health.get("simulated") is True
    if simulated != rehearsal:  # a rehearsal's events are dated as its server says: say so
        raise InvalidInput(
            _(
                "the server's workspace is a rehearsal (simulated clock): "
                "add --rehearsal to work on it"
            )
            if simulated
            else _("the server's workspace is not a rehearsal: drop --rehearsal")
        )
    ensure_private_dir(root)
    if pem is not None:
        write_atomic(root / CERTIFICATE, pem.encode("ascii"))
    config = {"format": FORMAT, "id": workspace_id, "remote": {"url": url, "simulated": simulated}}
    write_atomic(root / CONFIG_NAME, (json.dumps(config, indent=2) + "\n").encode("utf-8"))
    return RemoteConfig(root, url, workspace_id, simulated)


def _checked_against(url: str, ca_file: Path) -> str:
    """The CA file's text, once the server's certificate verified against it."""
    try:
        text = ca_file.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError):
        raise InvalidInput(
            _("--ca-file {path}: not a readable PEM file").format(path=ca_file)
        ) from None
    _get(url, "/healthz", text)
    return text


def _get(url: str, path: str, pem: str | None) -> dict[str, Any]:
    import httpx

    verify: ssl.SSLContext | bool = False
    if pem is not None:
        try:
            verify = pinned_context(cadata=pem)
        except ssl.SSLError:
            raise InvalidInput(
                _("the certificate authority given is not a PEM certificate")
            ) from None
    try:
        response = httpx.get(url + path, verify=verify, timeout=TIMEOUT)
    except httpx.HTTPError as exc:
        raise _cannot_reach(url, _reason(exc)) from None
    return _answer(response)


def _reason(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    if "CERTIFICATE_VERIFY_FAILED" in text:
        return _("its certificate is not the pinned one (or not for this address)")
    return text.splitlines()[0][:200]


def _answer(response: Any) -> dict[str, Any]:
    try:
        data = response.json()
    except (ValueError, RecursionError):
        data = None
    if not isinstance(data, dict):
        raise ServerError(
            _("the server answered {status} with no JSON document").format(
                status=response.status_code
            )
        )
    if response.status_code >= 400:
        detail = data.get("error")
        detail = detail if isinstance(detail, dict) else {}
        message = str(detail.get("message") or f"HTTP {response.status_code}")[:500]
        if response.status_code in (401, 403, 413) and detail.get("code") in AUTH_CODES:
            raise ServerError(
                _("the server refused: {message}").format(message=message),
                status=response.status_code,
            )
        raise Refusal(message, detail, status=response.status_code)
    return data


def accepts(config: RemoteConfig, signer: Signer) -> bool:
    """Whether the server takes ``signer`` as the member's registered key (a signed call)."""
    try:
        Client(config, signer).call("GET", "/v1/whoami")
    except ServerError as exc:
        if exc.status == 401:
            return False
    return True


MAX_PROBLEMS = 100  # lines of problems shown from a refusal
AUTH_CODES = ("unauthenticated", "replayed", "revoked", "too_large")


class Refusal(ServerError):
    """The procedure's own refusal, from the server: its line, hint and exit code as a local
    command would have given them."""

    def __init__(self, message: str, detail: dict[str, Any], *, status: int) -> None:
        hint = detail.get("hint")
        super().__init__(message, status=status, hint=hint if isinstance(hint, str) else None)
        self.code = str(detail.get("code") or "error")[:40]
        code = detail.get("exit_code")
        self.exit_code = code if isinstance(code, int) and code in (1, 2, 3) else 1
        rule = detail.get("rule")
        self.rule = rule if isinstance(rule, str) else None
        listed = detail.get("problems")  # a request's problems, every one (InvalidRequest)
        self.problems = (
            [str(line)[:500] for line in listed[:MAX_PROBLEMS]] if isinstance(listed, list) else []
        )

    def lines(self) -> list[str]:
        return self.problems or [self.message]

    def to_json(self) -> dict[str, Any]:
        out = {**super().to_json(), "code": self.code}
        out = out if self.rule is None else {**out, "rule": self.rule}
        return {**out, "problems": self.problems} if self.problems else out


PIECE = 1 << 20  # bytes read or written at a time, streaming a package


class Client:
    """Signed calls to the server, as one member."""

    def __init__(self, config: RemoteConfig, signer: Signer) -> None:
        self.config, self.signer = config, signer
        self._http: Any = None

    @property
    def http(self) -> Any:
        """One connection kept alive for the command's calls (TLS set up once)."""
        if self._http is None:
            import weakref

            import httpx

            self._http = httpx.Client(verify=self.config.ssl_context(), timeout=TIMEOUT)
            weakref.finalize(self, self._http.close)
        return self._http

    def _signed(
        self, method: str, url: str, headers: dict[str, str], body: bytes, **streamed: Any
    ) -> dict[str, str]:
        from ..i18n import language

        # the server answers in this member's language (not a signed component)
        headers = {**headers, "Accept-Language": language()}
        message = httpsig.Message(method, url, headers)
        key = self.signer.ed25519_key()
        workspace = self.config.workspace_id
        return httpsig.sign(message, body, self.signer.name, key, workspace=workspace, **streamed)

    def upload(self, path: str, file: Path, request_id: str) -> dict[str, Any]:
        """POST the file at ``file`` as a stream (a package of ``request_id``: never held whole
        in memory), its SHA-256 signed as its ``Content-Digest``."""
        import httpx

        digest, size = hashlib.sha256(), 0
        with open(file, "rb") as handle:
            while piece := handle.read(PIECE):
                digest.update(piece)
                size += len(piece)
        url = self.config.url + path
        headers = {
            "Content-Type": "application/octet-stream",
            "Content-Length": str(size),
            "Ctg-Request": request_id,
        }
        signed = self._signed("POST", url, headers, b"", streamed=digest.digest())

        def pieces() -> Any:
            with open(file, "rb") as handle:
                while piece := handle.read(PIECE):
                    yield piece

        try:
            response = self.http.post(url, content=pieces(), headers=signed)
        except httpx.HTTPError as exc:
            raise _cannot_reach(self.config.url, _reason(exc)) from None
        return _answer(response)

    def download(self, path: str, out: BinaryIO) -> int:
        """GET ``path`` as a stream into ``out``; the number of bytes written."""
        import httpx

        url = self.config.url + path
        signed = self._signed("GET", url, {}, b"")
        written = 0
        try:
            with self.http.stream("GET", url, headers=signed) as response:
                if response.status_code >= 400:
                    response.read()
                    _answer(response)
                for piece in response.iter_bytes(PIECE):
                    out.write(piece)
                    written += len(piece)
        except httpx.HTTPError as exc:
            raise _cannot_reach(self.config.url, _reason(exc)) from None
        return written

    def call(self, method: str, path: str, document: Any = None) -> dict[str, Any]:
        import httpx

        body = b"" if document is None else json.dumps(document).encode("utf-8")
        url = self.config.url + path
        headers = {"Content-Type": "application/json"} if document is not None else {}
        signed = self._signed(method, url, headers, body)
        try:
            response = self.http.request(method, url, content=body, headers=signed)
        except httpx.HTTPError as exc:
            raise _cannot_reach(self.config.url, _reason(exc)) from None
        return _answer(response)
