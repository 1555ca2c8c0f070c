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
from contracts.errors import ContractError
from contracts.quality import CheckResult, load_quality_config
from contracts.quality.verdict import VERDICT_FILE
from pipeline.commands.check import (
    DOCS_DIR,
    QUALITY_DIR,
    RESULT_FILE,
    add_check_arguments,
    check_inputs,
    check_snapshot,
    dead_letters_of,
    print_summary,
    progress_console,
    write_atomic,
)
from pipeline.errors import CliError, ExitCode
from pipeline.flows.quality_inputs import (
    QualityInputError,
    cells_sha256,
    default_archive,
    read_snapshot,
)
from pipeline.output import add_json, print_json

__all__ = [
    "SUBMITTED_FILE",
    "SUBMITTED_FORMAT",
    "register",
    "run",
    "read_submitted",
    "reusable_check",
]

SUBMITTED_FILE = "submitted.json"
SUBMITTED_FORMAT = "arrears-submitted/1"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "submit",
        help="gate: check a snapshot and mark it as submitted for its cutoff and unit",
        description=(
            "Run `arrears check` on SNAPSHOT (or reuse the check result written for the same "
            "cells, dead letters, archive, config and previous snapshot; a check made with "
            "--previous keeps it); if no critical expectation fails, record it in "
            "<cutoff folder>/submitted.json as the snapshot submitted for its cutoff and unit "
            "(replacing an earlier submission, which the entry names). Refuses, listing the "
            "failing critical expectations, otherwise."
        ),
        codes=(ExitCode.CRITICAL,),
    )
    add_check_arguments(parser)
    add_json(parser, "whether it was submitted, its entry or the failures")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    console = Console(quiet=args.json)  # with --json, standard output is the JSON alone
    result = reusable_check(args)
    if result is not None:
        console.print(
            f"reusing the check of {result.checked_at} (same cells, dead letters, archive, "
            f"config{', previous ' + Path(result.previous).name if result.previous else ''}): "
            f"{Path(result.snapshot) / QUALITY_DIR / RESULT_FILE}"
        )
    else:
        result = check_snapshot(args, progress_console(args))
    print_summary(result, console)
    if not result.passed:
        if args.json:
            print_json(_as_json(result, None))
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
        "verdict": f"{snapshot.name}/{QUALITY_DIR}/{VERDICT_FILE}",
        "previous": result.previous,
        "warnings": [o.check for o in result.warnings],
    }
    replaced = _record(folder, result.unit, entry)
    if args.json:
        print_json(_as_json(result, entry))
    note = f" (replaces {replaced})" if replaced and replaced != snapshot.name else ""
    console.print(
        f"[green]submitted[/green]: {snapshot.name} for unit {result.unit}, cutoff "
        f"{result.cutoff}{note} -> {folder / SUBMITTED_FILE}",
        soft_wrap=True,
    )
    return 0


def _as_json(result: CheckResult, entry: dict[str, Any] | None) -> dict[str, Any]:
    """What `submit --json` prints: the verdict and, when submitted, the entry written."""
    return {
        "submitted": entry is not None,
        "snapshot_id": result.snapshot_id,
        "unit": result.unit,
        "cutoff": result.cutoff,
        "critical_failures": [o.check for o in result.critical_failures],
        "warnings": [o.check for o in result.warnings],
        "entry": entry,
    }


def reusable_check(args: argparse.Namespace) -> CheckResult | None:
    """The check result written for this snapshot when its inputs are the ones `args` name.

    One check per snapshot state: a result computed with `--previous` stands for a submit
    without it (the fall check was run), and a re-run keeps that previous snapshot, so a
    submit never overwrites a check against the previous snapshot by one without.
    """
    try:
        path, _ = read_snapshot(args.snapshot, args.root)
        stored = CheckResult.from_json(
            json.loads((path / QUALITY_DIR / RESULT_FILE).read_text("utf-8"))
        )
    except (OSError, ValueError, TypeError, QualityInputError, ContractError):
        return None  # no usable result: the check runs (and reports a bad input itself)
    if args.previous is None and stored.previous:
        args.previous = stored.previous
    try:
        previous = read_snapshot(args.previous, args.root)[1].label if args.previous else None
        config = load_quality_config(args.config)
        archive = args.archive if args.archive is not None else default_archive()
        letters = dead_letters_of(args.dead_letters)
    except (QualityInputError, ContractError, CliError):
        return None
    same = (
        stored.cells_sha256 == cells_sha256(path)
        and stored.previous == previous
        and stored.archive == (str(archive) if archive else None)
        and stored.inputs == check_inputs(args, config.source, letters)
        and (path / QUALITY_DIR / VERDICT_FILE).is_file()
        and stored.data_docs is not None
        and Path(stored.data_docs).is_file()
    )
    return stored if same else None


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
