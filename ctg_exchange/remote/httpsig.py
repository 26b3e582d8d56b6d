"""Every call to a hosted workspace is signed by the member making it (DESIGN §11).

HTTP Message Signatures (RFC 9421) with ``ed25519``, through the ``http-message-signatures``
library: the signature covers ``@method``, ``@target-uri`` and the body's ``content-digest``
(RFC 9530, SHA-256), with ``created``, ``expires``, a fresh ``nonce``, ``keyid`` = the member's
id and ``tag`` = :data:`TAG`. The key is the member's own Ed25519 signing key, the one their
audit events are signed with: a signature base begins with ``"@method"``, never with the
``SSHSIG`` magic every event signature signs, so neither can pass for the other.

The server checks, besides the signature: the nonce never seen before (the caller records it),
``created`` not in the future and ``expires`` not past (both within :data:`SKEW`), a lifetime
no longer than :data:`MAX_LIFETIME`, and the key registered for a member who is not revoked.
"""

from __future__ import annotations

import base64
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ..i18n import N_, _

TAG = "ctg-exchange"
LABEL = "ctg"
COVERED = ("@method", "@target-uri", "ctg-workspace", "content-digest")
WORKSPACE = (
    "Ctg-Workspace"  # the workspace the call is meant for: a server serving another refuses it
)
LIFETIME = timedelta(minutes=2)  # what a client asks for
MAX_LIFETIME = timedelta(minutes=5)  # what a server accepts
SKEW = timedelta(seconds=30)  # between the client's clock and the server's


NOT_A_MEMBER = N_("bad signature: not the key of a member of this workspace")


class Unauthenticated(Exception):
    """The call's signature does not hold; the message is one line for the caller."""


@dataclass(frozen=True)
class Message:
    """A request as both sides see it: method, the absolute URL the client addressed (behind a
    reverse proxy, the public one), header fields and the body."""

    method: str
    url: str
    headers: dict[str, str]


@dataclass(frozen=True)
class Verified:
    member: str
    nonce: str
    expires: datetime
    digest: bytes | None = None  # a streamed body's signed SHA-256, for the caller to check


def content_digest(sha256: bytes) -> str:
    """The ``Content-Digest`` field (RFC 9530) of a body whose SHA-256 is ``sha256``: what a
    streamed body is signed with, its digest computed before it is sent."""
    return f"sha-256=:{base64.b64encode(sha256).decode('ascii')}:"


_SHA256_FIELD = re.compile(r"sha-256=:([A-Za-z0-9+/]{43}=):")


class _Keys:
    """The library's key resolver, over a lookup of registered keys."""

    def __init__(
        self,
        private: Ed25519PrivateKey | None = None,
        public: Callable[[str], Ed25519PublicKey | None] | None = None,
    ) -> None:
        self._private, self._public = private, public
        self.unknown: str | None = None  # a key id no member has
        self.failure: Exception | None = None

    def resolve_private_key(self, key_id: str) -> Ed25519PrivateKey:
        assert self._private is not None
        return self._private

    def resolve_public_key(self, key_id: str) -> Ed25519PublicKey:
        try:
            key = None if self._public is None else self._public(key_id)
        except Exception as exc:  # the lookup's own failure, not the signature's
            self.failure = exc
            raise
        if key is None:
            self.unknown = key_id
            raise Unauthenticated(_("unknown member {id!r}").format(id=key_id[:80]))
        return key


def sign(
    message: Message,
    body: bytes,
    member: str,
    key: Ed25519PrivateKey,
    *,
    workspace: str,
    now: datetime | None = None,
    lifetime: timedelta = LIFETIME,
    nonce: str | None = None,
    streamed: bytes | None = None,
) -> dict[str, str]:
    """The headers ``message`` carries once signed for ``workspace``: Ctg-Workspace,
    Content-Digest, Signature-Input, Signature (added to a copy of its headers).

    A body too large to hold (a package) is sent as a stream: ``streamed`` is its SHA-256,
    computed beforehand, and ``body`` is not read."""
    from http_message_signatures import HTTPMessageSigner, algorithms

    created = now or datetime.now(UTC)
    headers = {**message.headers, WORKSPACE: workspace}
    if streamed is not None:
        headers["Content-Digest"] = content_digest(streamed)
    signable = _Signable(message.method, message.url, headers)
    resolver: Any = _Keys(key)  # the library's resolver interface, without importing it early
    HTTPMessageSigner(signature_algorithm=algorithms.ED25519, key_resolver=resolver).sign(
        signable,
        key_id=member,
        created=created,
        expires=created + lifetime,
        nonce=nonce or secrets.token_urlsafe(18),
        label=LABEL,
        tag=TAG,
        covered_component_ids=COVERED if streamed is not None else COVERED[:3],
        body=None if streamed is not None else body,
        use_existing_digest=streamed is not None,
    )
    return signable.headers


def verify(
    message: Message,
    body: bytes | None,
    key_of: Callable[[str], Ed25519PublicKey | None],
    *,
    now: datetime | None = None,
) -> Verified:
    """The member who signed ``message``, or :class:`Unauthenticated` saying what is wrong.

    ``body`` None: the body is streamed after this check; the signed ``Content-Digest`` must
    then be a single SHA-256, returned for the caller to compare with what arrives."""
    from http_message_signatures import HTTPMessageVerifier, algorithms
    from http_message_signatures.exceptions import HTTPMessageSignaturesException

    lower = {name.lower(): value for name, value in message.headers.items()}
    if "signature" not in lower or "signature-input" not in lower:
        raise Unauthenticated(_("the call is not signed (RFC 9421 Signature and Signature-Input)"))
    if WORKSPACE.lower() not in lower:
        raise Unauthenticated(
            _("the call does not name its workspace ({header})").format(header=WORKSPACE)
        )
    keys = _Keys(public=key_of)
    resolver: Any = keys
    verifier = HTTPMessageVerifier(signature_algorithm=algorithms.ED25519, key_resolver=resolver)
    verifier.max_clock_skew = SKEW  # ours, so that our own message says what is wrong
    try:
        (result,) = verifier.verify(
            _Signable(message.method, message.url, dict(message.headers)),
            max_age=MAX_LIFETIME + SKEW,
            expect_tag=TAG,
            require_components=COVERED,
            body=body,
        )
    except (Unauthenticated, HTTPMessageSignaturesException, ValueError, TypeError) as exc:
        if keys.failure is not None:
            raise keys.failure from None
        if keys.unknown is not None:  # said as a bad signature: no list of members to probe
            raise Unauthenticated(_(NOT_A_MEMBER)) from None
        raise Unauthenticated(
            _("bad signature: {reason}").format(reason=_first_line(exc))
        ) from None
    params: Mapping[str, Any] = result.parameters
    checked = _checked(params, now or datetime.now(UTC))
    if keys.unknown is not None:
        raise Unauthenticated(_(NOT_A_MEMBER))
    if body is None:
        signed = _SHA256_FIELD.fullmatch(str(result.covered_components.get('"content-digest"')))
        if signed is None:
            raise Unauthenticated(
                _("a streamed body is signed with its SHA-256 Content-Digest only")
            )
        return replace(checked, digest=base64.b64decode(signed.group(1)))
    return checked


def _checked(params: Mapping[str, Any], now: datetime) -> Verified:
    created, expires = params.get("created"), params.get("expires")
    nonce, member = params.get("nonce"), params.get("keyid")
    if not isinstance(created, int) or not isinstance(expires, int):
        raise Unauthenticated(_("the signature must say when it was made and when it expires"))
    if not isinstance(nonce, str) or not 16 <= len(nonce) <= 128:
        raise Unauthenticated(_("the signature must carry a nonce of 16 to 128 characters"))
    made, ends = datetime.fromtimestamp(created, UTC), datetime.fromtimestamp(expires, UTC)
    if made > now + SKEW:
        raise Unauthenticated(_("the signature is dated in the future: check this machine's clock"))
    if ends < now - SKEW:
        raise Unauthenticated(_("the signature has expired"))
    if ends - made > MAX_LIFETIME:
        raise Unauthenticated(
            _("a signature lives at most {minutes} minutes").format(
                minutes=MAX_LIFETIME.seconds // 60
            )
        )
    assert isinstance(member, str)  # the key resolver found a member by it
    return Verified(member, nonce, ends)


def _first_line(exc: BaseException) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0][:200]


class _Signable:
    """What the library reads (and, signing, writes) of a request."""

    def __init__(self, method: str, url: str, headers: dict[str, str]) -> None:
        self.method, self.url, self.headers = method, url, headers


def raw_signature(header: str) -> bytes:
    """The signature bytes of a ``Signature`` field (``label=:base64:``), for tests and logs."""
    return base64.b64decode(header.split("=:", 1)[1].rstrip(":"))
