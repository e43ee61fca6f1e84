"""Console entry point; the full CLI arrives with the project runtime."""

from __future__ import annotations

import sys

from . import __version__


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] in ("--version", "version"):
        print(f"treadle {__version__}")
        return 0
    print("treadle: the command line arrives with the project runtime; try --version")
    return 2
