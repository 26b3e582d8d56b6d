"""Register fiches from YAML (``registry/``): every problem as ``path:line: message``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from ..errors import PolicyError
from ..i18n import _
from ..policy.model import Policy
from ..yamlsrc import YamlDocument, parse_yaml, read_source, validation_problems
from .model import RegisterEntry


@dataclass(frozen=True)
class EntryFile:
    path: Path  # as named where it was read (on a hosted workspace: the member's machine)
    doc: YamlDocument
    entry: RegisterEntry


def read_fiches(paths: list[Path]) -> list[tuple[str, str]]:
    """Each fiche file's name and text, read with the YAML sources' limits."""
    return [(str(path), read_source(path)) for path in paths]


def _parse(name: str, text: str, problems: list[str]) -> EntryFile | None:
    try:
        doc = parse_yaml(text, name)
    except PolicyError as exc:
        problems += exc.problems
        return None
    if not isinstance(doc.data, dict):
        problems.append(
            _("{file}:1: a register fiche is a mapping of fields to values").format(file=name)
        )
        return None
    try:
        return EntryFile(Path(name), doc, RegisterEntry.model_validate(doc.data))
    except ValidationError as exc:
        problems += validation_problems(exc, doc)
        return None


def load_entries(paths: list[Path], policy: Policy) -> list[EntryFile]:
    """Parse fiche files, checking shapes, controllers and duplicate references across them."""
    return parse_entries(read_fiches(paths), policy)


def parse_entries(sources: list[tuple[str, str]], policy: Policy) -> list[EntryFile]:
    """Parse fiches given as (name, text), checking as :func:`load_entries` does."""
    problems: list[str] = []
    files = [f for f in (_parse(name, text, problems) for name, text in sources) if f]
    seen: dict[str, Path] = {}
    for item in files:
        entry = item.entry
        if policy.party(entry.controller) is None:
            problems.append(
                item.doc.problem(
                    ("controller",),
                    _("unknown party {party!r}").format(party=entry.controller),
                )
            )
        for index, category in enumerate(entry.ctg_categories):
            if policy.category(category) is None:
                problems.append(
                    item.doc.problem(
                        ("ctg_categories", index),
                        _("unknown data category {category!r}").format(category=category),
                    )
                )
        if entry.ref in seen:
            problems.append(
                item.doc.problem(
                    ("ref",),
                    _("{ref} is also in {file}").format(ref=entry.ref, file=seen[entry.ref]),
                )
            )
        seen.setdefault(entry.ref, item.path)
    if problems:
        raise PolicyError(problems)
    return files


def registry_files(path: Path) -> list[Path]:
    """A fiche, or every ``*.yaml`` below a directory, in a stable order."""
    if path.is_dir():
        return sorted(p for p in path.rglob("*.yaml") if p.is_file())
    return [path]
