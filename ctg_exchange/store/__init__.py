"""Storage behind one interface (DESIGN §6): SQLite by default."""

from .base import PolicyRecord, Store, Tx
from .migrations import LATEST, MIGRATIONS

__all__ = ["LATEST", "MIGRATIONS", "PolicyRecord", "Store", "Tx"]
