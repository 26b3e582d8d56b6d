"""Canonical JSON (docs/spec/audit-log.md §2).

Object keys sorted by code point, no insignificant whitespace, UTF-8 without escaping non-ASCII,
and only strings, integers, booleans, null, arrays and objects: floats are refused because their
text form is not canonical across implementations.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any


def _check(value: Any, path: str) -> None:
    if value is None or isinstance(value, bool | int | str):
        return
    if isinstance(value, float):
        raise TypeError(f"{path}: floats are not allowed in canonical JSON")
    if isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _check(item, f"{path}[{index}]")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"{path}: object keys must be strings")
            _check(item, f"{path}.{key}")
        return
    raise TypeError(f"{path}: {type(value).__name__} is not a JSON value")


def canonical_json(value: Any) -> bytes:
    """The canonical UTF-8 bytes of ``value``."""
    _check(value, "$")
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def text_digest(text: str) -> str:
    """SHA-256 (hex) of a free text, so the log binds a note without holding it."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
