"""What a read works out from stored text and would work out the same next time, kept on this
machine: the findings of a request screened again, the few facts the lists read of a policy.

Both need the policy's text parsed, the slowest thing a read command would do: screening again
needs the whole policy model (pydantic), a list's time zone and labels need its YAML. What each
gives depends only on its inputs (the policy's text by its SHA-256, a request's content by its
canonical digest, the language) and on the tool that works it out, so it is kept under those,
in the user's cache (``$XDG_CACHE_HOME/ctg-exchange/KIND/``, else ``~/.cache/…``), never in the
workspace, and never holding more than the workspace already shows its reader.

An entry is written atomically and names its whole key inside. An entry missing, unreadable or
naming another key is no entry: the caller works the value out again and keeps it anew, and
checks the shape of what it reads as it would check a row. A cache that cannot be written is no
error: nothing is kept.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

FORMAT = "1"  # the entries' layout; another layout is another key


def cache_dir(kind: str) -> Path | None:
    """Where the entries of ``kind`` live, or None when this user has no home to keep them."""
    base = os.environ.get("XDG_CACHE_HOME")
    if not base:
        try:
            base = str(Path.home() / ".cache")
        except RuntimeError:
            return None
    return Path(base) / "ctg-exchange" / kind


def _key(parts: list[str]) -> list[str]:
    from .. import __version__

    return [FORMAT, __version__, *parts]


def _file(kind: str, key: list[str]) -> Path | None:
    directory = cache_dir(kind)
    if directory is None:
        return None
    return directory / (hashlib.sha256("\n".join(key).encode("utf-8")).hexdigest() + ".json")


def cached(kind: str, parts: list[str]) -> Any:
    """The value kept under ``parts`` (and this tool's version), or None."""
    key = _key(parts)
    path = _file(kind, key)
    if path is None:
        return None
    try:
        entry = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None
    if not isinstance(entry, dict) or entry.get("key") != key:
        return None
    return entry.get("value")


def keep(kind: str, parts: list[str], value: Any) -> None:
    """Keep ``value`` under ``parts`` (atomically; silently not when the cache is unwritable)."""
    from ..fsutil import ensure_private_dir, write_atomic

    key = _key(parts)
    path = _file(kind, key)
    if path is None:
        return
    data = json.dumps({"key": key, "value": value}, ensure_ascii=False, separators=(",", ":"))
    try:
        ensure_private_dir(path.parent)
        write_atomic(path, data.encode("utf-8"), mode=0o600)
    except OSError:
        return
