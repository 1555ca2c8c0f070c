"""What every `arrears bench` shares: parsing counts like 1,000,000, peak memory, and how
the figures come out (the --out file, then a table, or `--json`; progress on stderr)."""

from __future__ import annotations

import argparse
import json
import resource
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console

from pipeline.errors import CliError
from pipeline.output import add_json, add_quiet, print_json


def count(text: str) -> int:
    """A positive whole number, `_` and `,` allowed as separators (`--events 10_000_000`)."""
    try:
        value = int(text.replace("_", "").replace(",", ""))
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got {text!r}")
    return value


def peak_rss_mb() -> float:
    """This process's peak resident memory in MB (ru_maxrss: KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def proc_memory_mb(pid: int | str = "self") -> dict[str, float]:
    """VmRSS and VmHWM (the peak, which exec resets) of process `pid` in MB, from
    /proc/<pid>/status; empty where there is no /proc or the process is gone."""
    out: dict[str, float] = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = round(int(value.split()[0]) / 1024, 1)
    except OSError:
        pass
    return out


def children_peak_rss_mb() -> float:
    """The largest peak RSS among this process's finished, waited-for children (ru_maxrss).

    Linux carries a parent's peak across fork and exec, so a child reports at least what
    its parent held when it started: an upper bound, close when the parent is small.
    """
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def add_output(parser: argparse.ArgumentParser, out: str) -> None:
    """`--out FILE` (default `benchmarks/results/<out>`), `--json` and `--quiet`."""
    default = Path("benchmarks/results") / out
    parser.add_argument(
        "--out",
        type=Path,
        default=default,
        metavar="FILE",
        help=f"where to write the figures (default {default})",
    )
    add_json(parser, "the figures, as written to --out")
    add_quiet(parser)


def progress(args: argparse.Namespace) -> Callable[[str], None]:
    """Where a benchmark says what it is doing: standard error (standard output is the
    figures), nothing with --quiet."""
    if args.quiet:
        return lambda _message: None
    console = Console(stderr=True, highlight=False)
    return lambda message: console.print(f"[dim]{message}[/dim]")


def publish(
    args: argparse.Namespace, figures: dict[str, Any], show: Callable[[Console], None]
) -> None:
    """Write `figures` to --out, then print them: as JSON with --json, else `show` them."""
    try:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(
            json.dumps(figures, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
    except OSError as err:
        raise CliError(f"cannot write {args.out}: {err.strerror or err}") from err
    if args.json:
        print_json(figures)
        return
    console = Console(highlight=False)
    show(console)
    console.print(f"figures written to {args.out}")
