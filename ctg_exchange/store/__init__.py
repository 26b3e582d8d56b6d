"""Storage behind one interface (DESIGN §6): SQLite by default.

The names below load with the module that defines them, on first use: the read commands open
a store without loading the models its interface is typed by.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import attributes

if TYPE_CHECKING:
    from .base import PolicyRecord, Store, Tx
    from .migrations import LATEST, MIGRATIONS

_HOME = {
    "PolicyRecord": "base",
    "Store": "base",
    "Tx": "base",
    "LATEST": "migrations",
    "MIGRATIONS": "migrations",
}

__all__ = ["LATEST", "MIGRATIONS", "PolicyRecord", "Store", "Tx"]


__getattr__ = attributes(__name__, _HOME)
