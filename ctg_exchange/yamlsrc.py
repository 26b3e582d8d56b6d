"""YAML documents that remember where each value came from.

Policies and request files are written by people; an error must point at the line to fix
(``policies/x.yaml:12: parties[0].adress: unknown key``), never at a traceback. ``load_yaml``
composes the document with PyYAML's safe loader, builds plain Python values, and records the line
of every mapping key and sequence item under its path. Timestamps are left as strings so that
dates are parsed (and reported) by the pydantic models; duplicate keys, which PyYAML silently
accepts, are errors.

Such files may be hostile. Anchors and aliases are refused: nothing a policy or a request says
needs them, and a few lines of nested aliases expand into billions of values (a "billion
laughs"); so are tags other than the plain types (``!!python/object``, ``!!binary``), and a
value its tag cannot be (``!!int "zz"``) is one error line. A file larger than
:data:`MAX_BYTES` or nested deeper than :data:`MAX_DEPTH` is refused before it is built, so any
file is answered in a moment.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import Loc, PolicyError, cut, format_loc
from .i18n import N_, _

if TYPE_CHECKING:
    from pydantic import ValidationError

MAX_BYTES = 1024 * 1024  # the shipped policy is 12 KB; a request file, one or two
MAX_DEPTH = 32  # the policy nests six levels
_YAML = "tag:yaml.org,2002:"
_NUMBERS = {f"{_YAML}int", f"{_YAML}float"}
MAX_NUMBER = 64
# the values a policy or a request is made of; any other tag (!!python/object, !!binary…) is
# refused: nothing there needs it, and a loader's constructors are not a place for strangers
_TAGS = {
    "scalar": {f"{_YAML}{name}" for name in ("str", "int", "float", "bool", "null")},
    "mapping": {f"{_YAML}map"},
    "sequence": {f"{_YAML}seq"},
}


@dataclass
class YamlDocument:
    """A parsed YAML document and the line of each path in it."""

    source: str
    data: Any
    lines: dict[Loc, int] = field(default_factory=dict)

    def line_of(self, loc: Sequence[str | int]) -> int:
        """The line of the longest prefix of ``loc`` present in the document (1 if none)."""
        path = tuple(loc)
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get((), 1)

    def problem(self, loc: Sequence[str | int], message: str) -> str:
        """One ``source:line: where: message`` line."""
        where = format_loc(loc)
        prefix = f"{self.source}:{self.line_of(loc)}: "
        return prefix + (f"{where}: {message}" if where else message)


def _loader_class() -> type[Any]:
    import yaml

    # libyaml's parser when PyYAML has it (about 5x faster on a policy); the same nodes and marks
    base = yaml.CSafeLoader if getattr(yaml, "__with_libyaml__", False) else yaml.SafeLoader

    class _Loader(base):  # type: ignore[valid-type,misc]
        pass

    _Loader.yaml_implicit_resolvers = {
        first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    return _Loader


def parse_yaml(text: str, source: str) -> YamlDocument:
    """Parse ``text`` (named ``source`` in messages) into a :class:`YamlDocument`."""
    import yaml

    if len(text) > MAX_BYTES:
        raise PolicyError([f"{source}:1: {_too_large()}"])
    loader = _loader_class()(text)
    try:
        root = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        reason = exc.problem or exc.context
        raise PolicyError([f"{source}:{line}: {_invalid_yaml(reason)}"]) from None
    except yaml.YAMLError as exc:
        raise PolicyError([f"{source}:1: {_invalid_yaml(exc)}"]) from None
    except RecursionError:
        raise PolicyError([f"{source}:1: {_too_deep()}"]) from None
    finally:
        loader.dispose()
    doc = YamlDocument(source=source, data=None)
    if root is None:
        raise PolicyError([f"{source}:1: " + _("the file is empty")])
    problems: list[str] = []
    doc.lines[()] = root.start_mark.line + 1
    doc.data = _Builder(doc, problems, loader).build(root, ())
    if problems:
        raise PolicyError(problems)
    return doc


def read_source(path: Path) -> str:
    """A source file's text; an unreadable file is a one-line ``path:1:`` error."""
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_BYTES + 1)
        if len(data) > MAX_BYTES:
            raise PolicyError([f"{path}:1: {_too_large()}"])
        return data.decode("utf-8")
    except FileNotFoundError:
        raise PolicyError([f"{path}:1: " + _("no such file")]) from None
    except UnicodeDecodeError:
        raise PolicyError([f"{path}:1: " + _("not a UTF-8 text file")]) from None
    except OSError as exc:
        reason = _("cannot read: {reason}").format(reason=exc.strerror)
        raise PolicyError([f"{path}:1: {reason}"]) from None


def _too_large() -> str:
    return _("the file is larger than {size} KiB").format(size=MAX_BYTES // 1024)


def _too_deep() -> str:
    return _("nested deeper than {depth} levels").format(depth=MAX_DEPTH)


def _invalid_yaml(reason: object) -> str:
    """PyYAML's own words (English) after ours."""
    return _("invalid YAML: {reason}").format(reason=reason)


def load_yaml(path: Path) -> YamlDocument:
    """Read and parse a YAML file."""
    return parse_yaml(read_source(path), str(path))


class _Builder:
    """Plain values from the composed nodes, with the line of each path; refuses aliases (a
    node met a second time) and nesting deeper than :data:`MAX_DEPTH`."""

    def __init__(self, doc: YamlDocument, problems: list[str], loader: Any) -> None:
        self.doc, self.problems, self.loader = doc, problems, loader
        self.seen: set[int] = set()

    def build(self, node: Any, path: Loc) -> Any:
        import yaml

        doc, problems = self.doc, self.problems
        line = node.start_mark.line + 1
        if id(node) in self.seen:  # the composer gives an alias the very node it names
            refused = _("anchors and aliases (& and *) are refused")
            raise PolicyError([f"{doc.source}:{line}: {refused}"])
        self.seen.add(id(node))
        if len(path) > MAX_DEPTH:
            problems.append(f"{doc.source}:{line}: {_too_deep()}")
            return None
        if node.tag not in _TAGS[node.id]:
            shown = cut(str(node.tag).removeprefix(_YAML))
            refused = _("the tag {tag!r} is refused").format(tag=shown)
            problems.append(f"{doc.source}:{line}: {refused}")
            return None
        if isinstance(node, yaml.MappingNode):
            out: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                if not isinstance(key_node, yaml.ScalarNode):
                    plain = _("keys must be plain")
                    problems.append(f"{doc.source}:{key_node.start_mark.line + 1}: {plain}")
                    continue
                known = len(problems)
                key = self.build(key_node, path)
                if len(problems) > known:
                    continue  # the key itself is refused
                if not isinstance(key, str | int):
                    key = str(key)
                line = key_node.start_mark.line + 1
                if key in out:
                    where = format_loc((*path, key))
                    problems.append(f"{doc.source}:{line}: {where}: " + _("duplicate key"))
                    continue
                doc.lines[(*path, key)] = line
                out[key] = self.build(value_node, (*path, key))
            return out
        if isinstance(node, yaml.SequenceNode):
            items = []
            for index, item in enumerate(node.value):
                doc.lines[(*path, index)] = item.start_mark.line + 1
                items.append(self.build(item, (*path, index)))
            return items
        if node.tag in _NUMBERS and len(node.value) > MAX_NUMBER:
            # YAML 1.1 reads 1:1:1… as a base-60 integer: a long one costs minutes to build
            longest = _("a number is at most {count} characters").format(count=MAX_NUMBER)
            problems.append(f"{doc.source}:{line}: {longest}")
            return None
        try:
            return self.loader.construct_object(node, deep=True)
        except (yaml.YAMLError, ValueError, TypeError, KeyError, IndexError, OverflowError):
            shown = cut(str(node.value))
            tag = str(node.tag).removeprefix(_YAML)
            wrong = _("{value!r} is not a value of type {tag}").format(value=shown, tag=tag)
            problems.append(f"{doc.source}:{line}: {wrong}")
            return None


_PYDANTIC_MESSAGES = {  # translated where shown; pydantic's own are English
    "extra_forbidden": N_("unknown key"),
    "missing": N_("required key is missing"),
}


def pydantic_items(error: ValidationError) -> list[tuple[Loc, dict[str, Any]]]:
    """The errors of ``error``, each with its location in the document (pydantic's union
    member names left out); a container whose item failed also fails its length check: only
    the item is kept."""
    items = [
        (tuple(part for part in item["loc"] if not _is_union_tag(part)), dict(item))
        for item in error.errors(include_url=False)
    ]
    nested = {loc[:i] for loc, _ in items for i in range(len(loc))}
    return [
        (loc, item) for loc, item in items if not (item["type"] == "too_short" and loc in nested)
    ]


def validation_problems(error: ValidationError, doc: YamlDocument) -> list[str]:
    """Turn a pydantic ``ValidationError`` into ``path:line: message`` lines."""
    problems = []
    for loc, item in pydantic_items(error):
        ours = _PYDANTIC_MESSAGES.get(item["type"])
        message = _(ours) if ours is not None else str(item["msg"])
        if message.startswith("Value error, "):
            message = message[len("Value error, ") :]
        message = message[:1].lower() + message[1:]
        problems.append((loc, message))
    return located(problems, doc)


def located(problems: Sequence[tuple[Loc, str]], doc: YamlDocument) -> list[str]:
    """``(location, message)`` problems as ``path:line: where: message`` lines, by line."""
    lines = sorted(
        ((doc.line_of(loc), doc.problem(loc, message)) for loc, message in problems),
        key=lambda p: p[0],
    )
    return [line for _, line in lines]


def _is_union_tag(part: str | int) -> bool:
    # pydantic adds the member type's name to the location of errors inside unions
    return isinstance(part, str) and (part.startswith("function-") or "[" in part)
