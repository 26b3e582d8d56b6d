"""Conventions as policy files: load, validate (``path:line: message``), query."""

from .loader import LoadedPolicy, load_policy, parse_policy, shipped_dir, shipped_policy_path
from .model import Category, Party, Policy, Sensitivity

__all__ = [
    "Category",
    "LoadedPolicy",
    "Party",
    "Policy",
    "Sensitivity",
    "load_policy",
    "parse_policy",
    "shipped_dir",
    "shipped_policy_path",
]
