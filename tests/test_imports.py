"""The package's modules import one another without a circle, type-only and lazy imports too.

A circle between modules is a seam kept by hand: each side must be read to change either. The
layers of DESIGN §2 point one way; this walks every import statement of ``ctg_exchange`` (at
the top, under ``TYPE_CHECKING``, inside functions) and fails on any circle, naming it.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "ctg_exchange"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(path): path for path in PACKAGE.rglob("*.py")}


def _ancestors(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def imports(name: str, path: Path, known: dict[str, Path]) -> Iterator[str]:
    """The package's modules ``name`` imports (and the packages it enters to reach them)."""
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".")
                base = base if is_package else base[:-1]
                base = base[: len(base) - (node.level - 1)]
                origin = ".".join(base + ([node.module] if node.module else []))
            else:
                origin = node.module or ""
            targets = [origin]
            targets += [f"{origin}.{alias.name}" for alias in node.names]
        own = {name, *_ancestors(name)}  # a module's own packages are entered before it runs
        for target in targets:
            if target in known and target not in own:
                yield from (a for a in _ancestors(target) if a in known and a not in own)
                yield target
        if isinstance(node, ast.ImportFrom) and targets[0] in own and targets[0] != name:
            # names (not submodules) taken from a package still being initialised: a circle
            # whenever that package imports this module
            if any(target not in known for target in targets[1:]):
                yield targets[0]


def graph_of(known: dict[str, Path]) -> dict[str, set[str]]:
    """Every module's imports, plus the command modules ``cli.app`` loads by name."""
    from ctg_exchange.cli.app import COMMANDS

    graph = {name: set(imports(name, path, known)) for name, path in known.items()}
    graph["ctg_exchange.cli.app"] |= {
        f"ctg_exchange.cli.{module}" for module, _ in COMMANDS.values()
    }
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for successor in sorted(graph[node]):
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_module_imports_itself_back() -> None:
    assert circles(graph_of(modules())) == []


def test_the_walk_sees_type_only_lazy_parent_and_by_name_imports(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    package.mkdir()
    sources = {
        "__init__": "from .a import thing\n",
        "a": "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from .b import Typed\n"
        "def later():\n    from . import c\n"
        "from . import Failure\n",
        "b": "",
        "c": "",
    }
    known = {}
    for stem, text in sources.items():
        (package / f"{stem}.py").write_text(text)
        known["pkg" if stem == "__init__" else f"pkg.{stem}"] = package / f"{stem}.py"
    found = set(imports("pkg.a", known["pkg.a"], known))

    assert {"pkg.b", "pkg.c", "pkg"} <= found  # type-only, lazy, a name from its own package
    assert circles({n: set(imports(n, p, known)) for n, p in known.items()}) == [["pkg", "pkg.a"]]
    assert "ctg_exchange.cli.audit_cmd" in graph_of(modules())["ctg_exchange.cli.app"]
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
