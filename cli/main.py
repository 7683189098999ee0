"""The `lungscreen` command: parses arguments, calls one library function, prints.

Each subcommand lives in its own module under cli/commands/ and exposes
`register(subparsers)`, which adds its parser and sets `func(args) -> int`.
Exit codes: 0 done, 1 failed, 2 bad input.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from types import ModuleType

from cli.commands import (
    audit,
    bench,
    campaign,
    demo,
    export,
    model,
    recall,
    release,
    report,
    review,
    scan,
    serve,
    status,
    store,
    synth,
    token,
    triton,
)
from cli.examples import EXAMPLES
from kernel.errors import BadInput, LungscreenError
from kernel.version import installed_version

__all__ = ["COMMANDS", "build_parser", "main"]

# Subcommand modules, each with `register(subparsers)`, in the order `--help` lists them.
COMMANDS: tuple[ModuleType, ...] = (
    demo, synth, scan, campaign, status, report, release, review, recall, export, audit, serve,
    token, store, triton, model, bench)

log = logging.getLogger("lungscreen")


def _finish(parser: argparse.ArgumentParser, words: tuple[str, ...]) -> None:
    """Give every command `-v` (before or after its name) and its examples."""
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if words:
        # SUPPRESS: an absent -v here leaves the top-level value alone
        parser.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                            help="log at DEBUG level")
    if words and not subs:
        lines = EXAMPLES.get(" ".join(words), ())
        if lines:
            parser.epilog = "examples:\n" + "\n".join(f"  {line}" for line in lines)
            parser.formatter_class = argparse.RawDescriptionHelpFormatter
    for action in subs:
        for name, child in action.choices.items():
            _finish(child, (*words, name))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lungscreen",
        description="Population lung-cancer screening campaigns over low-dose CT.",
        epilog="examples:\n  lungscreen demo\n  lungscreen campaign run campaign.yaml\n"
               "  lungscreen report ID --by region\n\n"
               "`lungscreen COMMAND --help` shows each command's options and examples.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log at DEBUG level")
    parser.add_argument("-V", "--version", action="version",
                        version=f"lungscreen {installed_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in COMMANDS:
        module.register(sub)
    _finish(parser, ())
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        return int(args.func(args))
    except BadInput as exc:
        print(f"lungscreen: error: {exc}", file=sys.stderr)
        return 2
    except LungscreenError as exc:
        print(f"lungscreen: failed: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("lungscreen: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader stopped (`status | head`): not an error of ours
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # Python's exit flush would fail again
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
