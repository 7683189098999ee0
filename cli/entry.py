"""The `lungscreen` console script: `--version` answers before the command modules (and the
campaign stack they import) load; everything else is cli.main."""

from __future__ import annotations

import sys

__all__ = ["main"]


def main() -> int:
    if sys.argv[1:] in (["--version"], ["-V"]):
        # not kernel.version: importing the kernel package loads numpy
        from importlib.metadata import PackageNotFoundError, version  # --version only

        try:
            print(f"lungscreen {version('lungscreen')}")
        except PackageNotFoundError:
            print("lungscreen unknown")
        return 0
    from cli.main import main as run  # the parser and every command: seconds to import

    return run()
