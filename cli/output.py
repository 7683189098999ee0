"""One output flag for every command that prints results: `--format`, with `--json` kept as
the short form of `--format json`."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

__all__ = ["add_format"]


def add_format(parser: argparse.ArgumentParser, choices: Sequence[str] = ("table", "json"),
               help: str = "table for a terminal (default), json for tools") -> None:
    parser.add_argument("--format", choices=tuple(choices), default=choices[0], help=help)
    parser.add_argument("--json", dest="format", action="store_const", const="json",
                        help="the same as --format json")
