"""Canonical JSON (docs/audit-format.md §2).

Object keys sorted by code point, no insignificant whitespace, UTF-8 without escaping non-ASCII,
and only strings, integers, booleans, null, arrays and objects: floats are refused because their
text form is not canonical across implementations.
"""

from __future__ import annotations

import hashlib
import json
from json.encoder import c_make_encoder, encode_basestring  # type: ignore[attr-defined]
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


_PLAIN = frozenset({str, int, bool, type(None)})
_ENCODER = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
)


def _plain(value: Any) -> bool:
    """True when ``value`` holds only plain JSON types (the common case, checked fast)."""
    stack = [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind in _PLAIN:
            continue
        if kind is dict:
            if not all(type(key) is str for key in item):
                return False
            stack.extend(item.values())
        elif kind is list or kind is tuple:
            stack.extend(item)
        else:
            return False
    return True


def canonical_json(value: Any) -> bytes:
    """The canonical UTF-8 bytes of ``value``."""
    if not _plain(value):
        _check(value, "$")  # subclasses (enums) are fine; a float or an object is not
    return _ENCODER.encode(value).encode("utf-8")


# the C encoder _ENCODER makes at each call, made once; without the check for circular
# references, which a value parsed from JSON cannot hold (the same bytes: see test_audit_spec)
_PARSED = (
    c_make_encoder(None, _ENCODER.default, encode_basestring, None, ":", ",", True, False, False)
    if c_make_encoder is not None
    else None
)


def parsed_json(value: Any) -> bytes:
    """The canonical UTF-8 bytes of a value parsed from JSON (:func:`.events.loads_canonical`:
    no float, only JSON's types), without checking its types again."""
    if _PARSED is None or type(value) is not dict:
        return _ENCODER.encode(value).encode("utf-8")
    return "".join(_PARSED(value, 0)).encode("utf-8")


def text_digest(text: str) -> str:
    """SHA-256 (hex) of a free text, so the log binds a note without holding it."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def document_digest(value: Any) -> str:
    """SHA-256 (hex) of the canonical JSON of a document (a request's content, a fiche)."""
    return hashlib.sha256(canonical_json(value)).hexdigest()
