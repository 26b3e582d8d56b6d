"""Keys at rest and signatures (DESIGN §3): OpenSSH Ed25519 keys, SSHSIG statements."""

from .keys import KeyDir, Signer, default_key_dir
from .publickey import PublicKey
from .sshsig import NAMESPACE_EVENT, NAMESPACES, sign, verify

__all__ = [
    "NAMESPACES",
    "NAMESPACE_EVENT",
    "KeyDir",
    "PublicKey",
    "Signer",
    "default_key_dir",
    "sign",
    "verify",
]
