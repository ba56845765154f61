"""The ``rlhw`` command: ``rlhw --help`` lists what it can do."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version


def _version() -> str:
    try:
        return version("rlhw")
    except PackageNotFoundError:  # running from a source tree that was not installed
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rlhw",
        description="Deep RL homework in a box: release homework, check and grade submissions.",
        epilog="Grading commands (release, check, grade, calibrate, audit) arrive with the "
        "autograder; see README.md.",
        allow_abbrev=False,
    )
    parser.add_argument("--version", action="version", version=f"rlhw {_version()}")
    parser.add_subparsers(dest="command", metavar="COMMAND")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
