"""Load and validate a policy file; every problem is reported as ``path:line: message``."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from pydantic import ValidationError

from ..errors import PolicyError
from ..i18n import _
from ..yamlsrc import parse_yaml, read_source, validation_problems
from .model import Policy, reference_problems

SHIPPED_POLICY = "ctg-sceaux-caf92.yaml"


@dataclass(frozen=True)
class LoadedPolicy:
    """A validated policy with the exact text it came from and that text's SHA-256."""

    policy: Policy
    text: str
    sha256: str
    source: str


def parse_policy(text: str, source: str) -> LoadedPolicy:
    doc = parse_yaml(text, source)
    if not isinstance(doc.data, dict):
        raise PolicyError([f"{source}:1: " + _("a policy is a mapping of keys to values")])
    try:
        policy = Policy.model_validate(doc.data)
    except ValidationError as exc:
        raise PolicyError(validation_problems(exc, doc)) from None
    problems = [doc.problem(loc, message) for loc, message in reference_problems(policy)]
    if problems:
        raise PolicyError(problems)
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return LoadedPolicy(policy=policy, text=text, sha256=digest, source=source)


def load_policy(path: Path) -> LoadedPolicy:
    return parse_policy(read_source(path), str(path))


def shipped_dir(kind: str) -> Path:
    """Where the shipped ``policies/`` (or ``registry/``) files are.

    In an installed package they are inside it (``ctg_exchange/_shipped/``); in a source checkout
    (an editable install, or the tests run from the repository) they are at the top of the tree.
    """
    inside = Path(str(resources.files("ctg_exchange"))) / "_shipped" / kind
    if inside.is_dir():
        return inside
    return Path(__file__).resolve().parents[2] / kind


def shipped_policy_path() -> Path:
    return shipped_dir("policies") / SHIPPED_POLICY
