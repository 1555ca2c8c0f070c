"""What every `arrears bench` shares: parsing counts like 1,000,000 and peak memory."""

from __future__ import annotations

import argparse
import resource
import sys


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


def children_peak_rss_mb() -> float:
    """The largest peak RSS among this process's finished, waited-for children (ru_maxrss).

    Linux carries a parent's peak across fork and exec, so a child reports at least what
    its parent held when it started: an upper bound, close when the parent is small.
    """
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024
