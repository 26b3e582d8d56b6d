"""Options that take an enumerated value: its code, or its French spelling.

``--verdict favorable``, ``--verdict favorable_avec_recommandations`` and ``--verdict
favourable`` are one value; ``--frequency mensuelle`` is ``monthly``. The code is what the
command receives, so what is stored, signed, sent to a remote workspace and printed in JSON is
always the code. The help and shell completion show the codes; a wrong value is a usage error
(exit 2, as click's choices) listing the codes and the French spellings.
"""

from __future__ import annotations

from typing import Any

import click

from ..i18n import _
from ..labels import code_of, french_inputs


class Coded(click.Choice[str]):
    """A choice among the codes of the enumeration ``kind`` labels (:mod:`ctg_exchange.labels`),
    that takes their French spellings too and gives the code."""

    def __init__(self, kind: str, codes: list[str]) -> None:
        super().__init__(codes)
        self.kind = kind

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        codes = [str(code) for code in self.choices]
        if isinstance(value, str):
            code = code_of(self.kind, value, codes)
            if code is not None:
                return code
        self.fail(
            _("{value} is not one of: {codes} (in French: {french})").format(
                value=repr(str(value)),
                codes=", ".join(codes),
                french=", ".join(french_inputs(self.kind, codes)),
            ),
            param,
            ctx,
        )
