"""Signed webhooks: the workspace's own Ed25519 key, and the posts it signs (RFC 9421).

The key is the workspace's, not a member's: a post is made by a machine (the server's loop, a
command after its commit), with nobody to type a passphrase, and it must never pass for a
member's act. It lives outside the database, in ``<workspace>/webhook/`` (``0700``): the
private key unencrypted in OpenSSH form (``ed25519``, ``0600``, refused if others may read it,
as a member's key is), the public one beside it (``ed25519.pub``), published by
``ctg-exchange notify key`` for receivers to verify with.

A shared PostgreSQL workspace is used from several machines, each with its own workspace
directory: the database keeps the public key of the one machine that signs (:data:`REGISTERED`,
set by the first ``notify webhook`` or ``notify key``, or the first delivery from a machine that
already has a key). Only that machine posts webhooks (:func:`held_key`); another leaves them
queued for it (its server's loop, its ``remind --send`` or ``notify flush``), and makes no key.

A post carries a JSON body and is signed as a member's call to a served workspace is
(:mod:`ctg_exchange.remote.httpsig`): ``@method``, ``@target-uri``, ``ctg-workspace`` and the
body's ``content-digest``, with ``created``, ``expires``, a nonce, ``keyid`` =
:func:`key_id` and ``tag`` = ``ctg-exchange``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..crypto.keys import read_private_file
from ..crypto.publickey import PublicKey
from ..fsutil import ensure_private_dir, write_exclusive
from ..remote import httpsig

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from ..services.workspace import Workspace

TIMEOUT_S = 10.0
REGISTERED = "notify.webhook_key"  # meta: the OpenSSH public key of the machine that signs


def key_dir(root: Path) -> Path:
    return root / "webhook"


def key_id(workspace_id: str) -> str:
    return f"ctg-exchange-workspace:{workspace_id}"


def workspace_key(root: Path) -> Ed25519PrivateKey:
    """The workspace's signing key, made at its first use."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    path = key_dir(root) / "ed25519"
    if not path.exists():
        ensure_private_dir(key_dir(root))
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.OpenSSH,
            serialization.NoEncryption(),
        )
        public = PublicKey(key.public_key().public_bytes_raw())
        try:
            write_exclusive(path, pem, mode=0o600)
            write_exclusive(
                path.with_name("ed25519.pub"), f"{public.openssh}\n".encode(), mode=0o644
            )
        except FileExistsError:  # another process made it meanwhile: use theirs
            pass
    loaded = serialization.load_ssh_private_key(read_private_file(path), None)
    assert isinstance(loaded, Ed25519PrivateKey)
    return loaded


def public_key(root: Path) -> PublicKey:
    return PublicKey(workspace_key(root).public_key().public_bytes_raw())


def registered_key(workspace: Workspace) -> str | None:
    """The public key the database keeps for the workspace's webhooks (OpenSSH), if any."""
    with workspace.store.transaction() as tx:
        return tx.get_meta(REGISTERED)


def held_key(workspace: Workspace, *, make: bool = False) -> Ed25519PrivateKey | None:
    """The workspace's webhook key if this machine holds it, else None (another machine signs:
    its webhooks wait for it). With none registered, this machine's key is registered (made
    first if ``make``: ``notify webhook``, ``notify key``)."""
    path = key_dir(workspace.root) / "ed25519"
    registered = registered_key(workspace)
    if not path.exists() and (registered is not None or not make):
        return None
    key = workspace_key(workspace.root)
    mine = PublicKey(key.public_key().public_bytes_raw()).openssh
    if registered is None:
        with workspace.store.transaction(write=True) as tx:
            registered = tx.get_meta(REGISTERED)
            if registered is None:  # the first machine to ask holds it
                tx.set_meta(REGISTERED, mine)
                registered = mine
    return key if registered == mine else None


def body_of(workspace_id: str, facts: dict[str, Any]) -> bytes:
    document = {"workspace": workspace_id, **{k: v for k, v in facts.items() if k != "why"}}
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


def post(url: str, body: bytes, workspace_id: str, key: Ed25519PrivateKey) -> str | None:
    """Post ``body`` to ``url``, signed; None once a 2xx answers, else what failed (a status
    or the kind of error, never the answer's text)."""
    import httpx

    message = httpsig.Message("POST", url, {"Content-Type": "application/json"})
    headers = httpsig.sign(message, body, key_id(workspace_id), key, workspace=workspace_id)
    try:
        with httpx.Client(timeout=TIMEOUT_S, follow_redirects=False) as client:
            answer = client.post(url, content=body, headers=headers)
    except httpx.HTTPError as exc:
        return type(exc).__name__
    return None if 200 <= answer.status_code < 300 else f"HTTP {answer.status_code}"
