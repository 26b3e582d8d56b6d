"""The Article 30 register: entries, their versions, completeness, exports."""

from .model import EntryVersion, RegisterEntry

__all__ = ["EntryVersion", "RegisterEntry"]
