"""`arrears bench check`: the full quality check on the December snapshot of a large campaign."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rich.table import Table

from benchmarks.common import add_output, progress, publish

__all__ = ["register_action", "run"]


def register_action(actions: Any, count: Any) -> None:
    """Join the `arrears bench` group as `bench check` (`count` parses --events)."""
    p = actions.add_parser(
        "check",
        help="the full quality check on a December snapshot of N archived events",
        description="Build (once, cached in --workdir) a synthetic archive of N events in the "
        "archive layout (resends, corrections, retractions included) and its "
        "December snapshot, then time `arrears check` on it with the event-level "
        "suites and Data Docs; report seconds per phase and peak memory. Target: "
        "under 25 s and 2,000 MB peak for 10,000,000 events. No broker needed.",
    )
    p.add_argument(
        "--events",
        type=count,
        default=10_000_000,
        metavar="N",
        help="archived events (default 10,000,000)",
    )
    p.add_argument(
        "--workdir",
        type=Path,
        metavar="DIR",
        help="where the synthetic campaign is built and kept, several GB for 10M "
        "events (default: <state dir>/bench-check)",
    )
    add_output(p, "check.json")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from benchmarks.check import run_bench  # polars-heavy: load on demand

    workdir = args.workdir
    if workdir is None:
        from infra.settings import Settings

        workdir = Path(Settings.from_env().state_dir) / "bench-check"
    result = run_bench(workdir, args.events, say=progress(args))
    table = Table(
        title=f"bench check: {result.archive_rows:,} archived events "
        f"({result.archive_mb:,.0f} MB Parquet)"
    )
    table.add_column("figure")
    table.add_column("value", justify="right")
    for phase, seconds in result.phases.items():
        table.add_row(f"  {phase}", f"{seconds:.2f}s")
    table.add_row("full check", f"{result.check_seconds:.1f}s ({result.events_per_s:,} events/s)")
    table.add_row(
        "verdict", "passed" if result.passed else "critical: " + ", ".join(result.critical_failures)
    )
    table.add_row("peak RSS", f"{result.peak_rss_mb:,.0f} MB")
    table.add_row(
        f"target (< {result.target_seconds:.0f} s, < {result.target_peak_mb:,.0f} MB)",
        "met" if result.meets_target else "NOT met",
    )
    publish(args, result.as_json(), lambda console: console.print(table))
    return 0
