"""Whether output goes to a terminal: decided before rich is loaded, which only a terminal
needs (a pipe or a file gets plain text)."""

from __future__ import annotations

from typing import IO, Any


def is_terminal(stream: IO[Any] | None) -> bool:
    """Whether ``stream`` is a terminal (a closed or odd stream is not)."""
    try:
        return stream is not None and stream.isatty()
    except (AttributeError, ValueError, OSError):
        return False
