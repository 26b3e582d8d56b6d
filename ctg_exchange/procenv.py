"""The environment a child process gets: the parent's, without its secrets.

A passphrase given in ``CTG_PASSPHRASE`` or ``CTG_IDENTITY_PASSPHRASE`` is for this process
alone; a child (the signature-checking workers) never needs it, and an environment is readable
by every process of the same user (``/proc/PID/environ``) for as long as the child lives.
"""

from __future__ import annotations

import os

SECRETS = frozenset({"CTG_PASSPHRASE", "CTG_IDENTITY_PASSPHRASE", "PGPASSWORD"})


def child_environment(**extra: str) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if name not in SECRETS}
    env.update(extra)
    return env
