"""Instructor tools: train the experts with the homework-3 SAC reference and record their
demonstrations. Students get what these write (``hw1_imitation/experts/``), not these tools."""

from __future__ import annotations

import argparse
from pathlib import Path

from hw1_imitation.expert import EXPERT_DIR


def tool_parser(prog: str, doc: str | None) -> argparse.ArgumentParser:
    """The command line every tool starts from: ``--env`` and ``--expert-dir``."""
    parser = argparse.ArgumentParser(
        prog=f"python -m hw1_imitation.tools.{prog}",
        description=doc,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,
    )
    parser.add_argument("--env", required=True, help="Gymnasium id, e.g. Hopper-v5")
    parser.add_argument("--expert-dir", type=Path, default=EXPERT_DIR, help="default: %(default)s")
    return parser
