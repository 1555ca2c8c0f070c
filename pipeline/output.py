"""What every command prints alike: `--json` (one spelling, one encoder), `--quiet`, and
tables that draw boxes only on a terminal (in a pipe, plain columns)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from rich import box
from rich.console import Console
from rich.text import Text

__all__ = ["add_json", "add_quiet", "print_json", "table_box", "warn"]


def add_json(parser: argparse.ArgumentParser, what: str = "") -> None:
    """`--json`: print the command's result as JSON (README, "JSON output") instead."""
    parser.add_argument(
        "--json",
        action="store_true",
        help="print JSON instead of text" + (f": {what}" if what else ""),
    )


def add_quiet(parser: argparse.ArgumentParser) -> None:
    """`--quiet`: no progress (bars, spinners, running counts); results and errors stay."""
    parser.add_argument(
        "--quiet", "-q", action="store_true", help="no progress output; results and errors only"
    )


def print_json(body: Any) -> None:
    """Indented, UTF-8 as is (Chinese names stay readable), one trailing newline."""
    sys.stdout.write(json.dumps(body, ensure_ascii=False, indent=2, default=str) + "\n")


def table_box(console: Console) -> box.Box | None:
    """Box lines on a terminal; none off it (a file or a pipe gets plain columns)."""
    return box.HEAVY_HEAD if console.is_terminal else None


def warn(text: str) -> None:
    """A note on standard error, whatever the format and --quiet: why a command waits or
    what its result lacks (standard output stays the result)."""
    Console(stderr=True).print(Text(text, style="yellow"))  # Text: a "[...]" is not markup
