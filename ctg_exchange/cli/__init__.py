"""The ``ctg-exchange`` command line: click commands only (parse, call a service, render)."""

from __future__ import annotations


def main() -> None:
    from .app import cli

    cli(prog_name="ctg-exchange")


__all__ = ["main"]
