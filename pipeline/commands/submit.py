"""`arrears submit SNAPSHOT`: the submission gate. Checks the snapshot and, when no critical
expectation fails, marks it as the one submitted for its cutoff and unit.

The mark is `<cutoff folder>/submitted.json` (the folder holding the snapshot), one entry
per unit, replaced atomically under a lock; the check result and Data Docs stay beside the
snapshot in SNAPSHOT/quality/. Exit codes as `arrears check`: 6 when refused.
"""

from __future__ import annotations

import argparse
import datetime as dt
import fcntl
import json
from pathlib import Path
from typing import Any

from rich.console import Console

from contracts.clock import CST
from pipeline.commands.check import (
    DOCS_DIR,
    QUALITY_DIR,
    RESULT_FILE,
    add_check_arguments,
    check_snapshot,
    print_summary,
    write_atomic,
)
from pipeline.errors import CliError, ExitCode

__all__ = ["SUBMITTED_FILE", "SUBMITTED_FORMAT", "register", "run", "read_submitted"]

SUBMITTED_FILE = "submitted.json"
SUBMITTED_FORMAT = "arrears-submitted/1"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "submit",
        help="gate: check a snapshot and mark it as submitted for its cutoff and unit",
        description=(
            "Run `arrears check` on SNAPSHOT; if no critical expectation fails, record it in "
            "<cutoff folder>/submitted.json as the snapshot submitted for its cutoff and unit "
            "(replacing an earlier submission, which the entry names). Refuses, listing the "
            "failing critical expectations, otherwise."
        ),
        epilog=f"exit codes: 0 submitted, {ExitCode.CRITICAL} refused (a critical expectation "
        "failed), 2 bad arguments, 1 an input could not be read",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_check_arguments(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    console = Console()
    result = check_snapshot(args, console)
    print_summary(result, console)
    if not result.passed:
        console.print(
            f"[red]refused[/red]: {result.snapshot} is not submitted; fix these critical "
            "expectations first:"
        )
        for o in result.critical_failures:
            console.print(f"  - {o.check}: {o.title} ({o.offending_count} offending: {o.observed})")
        return ExitCode.CRITICAL
    snapshot = Path(result.snapshot).resolve()
    folder = snapshot.parent
    entry = {
        "snapshot": snapshot.name,
        "snapshot_id": result.snapshot_id,
        "cutoff": result.cutoff,
        "submitted_at": dt.datetime.now(CST).isoformat(timespec="seconds"),
        "cells_sha256": result.cells_sha256,
        "check_result": f"{snapshot.name}/{QUALITY_DIR}/{RESULT_FILE}",
        "data_docs": f"{snapshot.name}/{QUALITY_DIR}/{DOCS_DIR}/index.html",
        "warnings": [o.check for o in result.warnings],
    }
    replaced = _record(folder, result.unit, entry)
    note = f" (replaces {replaced})" if replaced and replaced != snapshot.name else ""
    console.print(
        f"[green]submitted[/green]: {snapshot.name} for unit {result.unit}, cutoff "
        f"{result.cutoff}{note} -> {folder / SUBMITTED_FILE}"
    )
    return 0


def read_submitted(folder: Path) -> dict[str, Any]:
    """The cutoff folder's submissions ({"units": {unit: entry}}); empty if none yet."""
    path = folder / SUBMITTED_FILE
    if not path.exists():
        return {"format": SUBMITTED_FORMAT, "units": {}}
    try:
        body: dict[str, Any] = json.loads(path.read_text("utf-8"))
    except ValueError as err:
        raise CliError(
            f"{path} is not valid JSON ({err}); restore it or remove it to start over"
        ) from None
    if body.get("format") != SUBMITTED_FORMAT:
        raise CliError(f"{path} is not a submissions file ({SUBMITTED_FORMAT})")
    return body


def _record(folder: Path, unit: str, entry: dict[str, Any]) -> str | None:
    """Write the unit's entry; return the snapshot it replaces. One writer at a time."""
    with open(folder / f".{SUBMITTED_FILE}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        body = read_submitted(folder)
        before = body["units"].get(unit)
        replaces: str | None = before["snapshot"] if before else None
        entry["replaces"] = replaces
        body["units"][unit] = entry
        write_atomic(folder / SUBMITTED_FILE, json.dumps(body, ensure_ascii=False, indent=2) + "\n")
    return replaces
