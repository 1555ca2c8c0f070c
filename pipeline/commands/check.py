"""`arrears check SNAPSHOT`: run the data-quality contracts, write Data Docs and check-result.json.

Exit codes: 0 every critical expectation passed (warnings are shown, they do not fail);
6 (ExitCode.CRITICAL) a critical expectation failed; 2 bad arguments or a snapshot that
cannot be read; 1 another input (archive, dead letters, Data Docs assets) could not be read.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from contracts.calendar import load_campaign
from contracts.errors import ContractError
from contracts.quality import CheckResult, Outcome, load_quality_config, run_check
from contracts.quality.letters import campaign_cutoffs_ms, letters_for_cutoff
from contracts.quality.offline import OfflineDocsError, make_offline
from contracts.quality.verdict import VERDICT_FILE, render_verdict
from contracts.registry import Registry
from infra.docs_assets import cdn_map, ensure_assets
from infra.errors import InfraError
from pipeline.errors import CliError, ExitCode
from pipeline.flows.quality_inputs import (
    QualityInputError,
    cells_sha256,
    dead_letters_from_file,
    dead_letters_from_kafka,
    default_archive,
    ledger_answers,
    read_snapshot,
    scan_archive,
)
from pipeline.output import add_json, add_quiet, print_json, table_box

__all__ = [
    "QUALITY_DIR",
    "RESULT_FILE",
    "register",
    "run",
    "check_snapshot",
    "print_summary",
    "progress_console",
    "add_check_arguments",
    "check_inputs",
    "dead_letters_of",
    "letters_sha256",
]

#: A critical expectation failed: the snapshot may not be submitted.
#: Beside the snapshot's cells.parquet and meta.json: the check's outputs.
QUALITY_DIR = "quality"
RESULT_FILE = "check-result.json"
DOCS_DIR = "data_docs"
_SHOWN = 3


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "check",
        help="run the data-quality contracts on a snapshot (Data Docs, graded verdict)",
        description=(
            "Run the data-quality suites (great-expectations) on a snapshot and the archived "
            "events "
            "behind it. Writes SNAPSHOT/quality/check-result.json and static Data Docs under "
            "SNAPSHOT/quality/data_docs/, and prints a summary table."
        ),
        codes=(ExitCode.CRITICAL,),
    )
    add_check_arguments(parser)
    add_json(parser, "check-result.json's content")
    parser.set_defaults(func=run)


def add_check_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "snapshot",
        metavar="SNAPSHOT",
        help="snapshot directory (snapshots/<cutoff>/<id>/), or CUTOFF/ID, ID, "
        "CUTOFF@latest, CUTOFF@LABEL under --root",
    )
    parser.add_argument(
        "--previous",
        metavar="SNAPSHOT",
        help="an earlier snapshot: cumulative figures must not fall against it",
    )
    parser.add_argument(
        "--root",
        type=Path,
        metavar="DIR",
        help="snapshot root for references (default: <state dir>/snapshots)",
    )
    parser.add_argument(
        "--archive",
        type=Path,
        metavar="DIR",
        help="event archive (default: <state_dir>/archive when it exists; "
        "without one the event suite is skipped)",
    )
    parser.add_argument(
        "--dead-letters",
        default="kafka",
        metavar="kafka|none|FILE",
        help="where the dead letters come from: the dead-letter topics "
        "(default), none (skip that suite), or a JSON Lines file",
    )
    parser.add_argument(
        "--unit",
        metavar="CODE",
        help="the report's unit (default: meta.json's unit, else the lowest "
        "unit above every unit with figures)",
    )
    parser.add_argument(
        "--config",
        type=Path,
        metavar="TOML",
        help="quality thresholds (default: the shipped quality.toml)",
    )
    add_quiet(parser)


def run(args: argparse.Namespace) -> int:
    result = check_snapshot(args, progress_console(args))
    if args.json:
        print_json(result.to_json())
    else:
        print_summary(result, Console())
    return ExitCode.OK if result.passed else ExitCode.CRITICAL


def progress_console(args: argparse.Namespace) -> Console:
    """Where a check says what it is doing: standard error, nothing with --quiet."""
    return Console(stderr=True, quiet=bool(getattr(args, "quiet", False)))


def check_snapshot(args: argparse.Namespace, console: Console) -> CheckResult:
    """Read the inputs, run the suites, write check-result.json and the Data Docs.
    `console`: for progress (a spinner, asset downloads)."""
    registry = Registry.load()
    if args.unit is not None and args.unit not in registry:
        raise CliError(
            f"--unit {args.unit} is not in the registry ({registry.source})",
            exit_code=ExitCode.USAGE,
        )
    try:  # a snapshot named on the command line that cannot be read: a usage error (2)
        path, snapshot = read_snapshot(args.snapshot, args.root)
        previous = read_snapshot(args.previous, args.root)[1] if args.previous else None
    except QualityInputError as err:
        raise CliError(str(err), exit_code=ExitCode.USAGE) from err
    try:
        config = load_quality_config(args.config)
        archive_dir = args.archive if args.archive is not None else default_archive()
        archive = scan_archive(archive_dir, dict(snapshot.meta)) if archive_dir else None
        letters = _dead_letters(args.dead_letters)
    except QualityInputError as err:
        raise CliError(str(err)) from err
    except ContractError as err:
        raise CliError(str(err), exit_code=ExitCode.USAGE) from err
    out = path / QUALITY_DIR
    try:
        assets = ensure_assets(say=lambda m: console.print(f"[dim]{m}[/dim]"))
    except InfraError as err:
        raise CliError(str(err)) from err
    with console.status("checking") as status:
        answer = None
        if archive is not None and archive_dir is not None:
            # Which archived events are effective is the Ledger's answer (warehouse.batch).
            status.update("checking: resolving the archived events with the ledger")
            try:
                answer = ledger_answers(archive_dir, snapshot.meta, registry)
            except QualityInputError as err:
                raise CliError(str(err)) from err
        try:
            result = run_check(
                snapshot,
                previous=previous,
                archive=archive,
                ledger=answer,
                dead_letters=letters,
                unit=args.unit,
                registry=registry,
                config=config,
                docs_dir=out / DOCS_DIR,
                say=lambda m: status.update(f"checking: {m}"),
            )
        except ValueError as err:
            raise CliError(str(err), exit_code=ExitCode.USAGE) from err
        try:
            make_offline(out / DOCS_DIR, assets, cdn_map())
        except OfflineDocsError as err:
            raise CliError(str(err)) from err
    result.cells_sha256 = cells_sha256(path)
    result.archive = str(archive_dir) if archive is not None and archive_dir else None
    result.inputs = check_inputs(args, config.source, letters)
    write_atomic(out / RESULT_FILE, result.dumps())
    # The page lists the dead letters the gate counted: those of this cutoff.
    mine = (
        None
        if letters is None
        else letters_for_cutoff(letters, snapshot.cutoff_ms, campaign_cutoffs_ms(load_campaign()))
    )
    write_atomic(out / VERDICT_FILE, render_verdict(result, out / DOCS_DIR, mine))
    return result


def check_inputs(args: argparse.Namespace, config_source: str, letters: Any) -> dict[str, Any]:
    """What a check result was computed from, beyond the snapshot's cells: `submit` reuses
    a result only when these are the same."""
    return {
        "dead_letters": args.dead_letters,
        "dead_letters_sha256": letters_sha256(letters),
        "config": str(args.config) if args.config else config_source,
        "unit": args.unit,
    }


def letters_sha256(letters: Any) -> str | None:
    """Digest of the dead letters as read (ids, statuses, everything), order-independent."""
    if letters is None:
        return None
    rows = sorted(json.dumps(r, sort_keys=True, default=str) for r in letters.to_dicts())
    return hashlib.sha256("\n".join(rows).encode()).hexdigest()


def dead_letters_of(spec: str) -> Any:
    """The dead letters `--dead-letters SPEC` names (None for `none`)."""
    return _dead_letters(spec)


def _dead_letters(spec: str) -> Any:
    if spec == "none":
        return None
    if spec == "kafka":
        return dead_letters_from_kafka()
    path = Path(spec)
    if not path.is_file():
        raise CliError(
            f"--dead-letters {spec!r}: expected kafka, none or an existing JSON Lines file",
            exit_code=ExitCode.USAGE,
        )
    return dead_letters_from_file(path)


def write_atomic(path: Path, text: str) -> None:
    """Write to a temporary file in the same folder, fsync, rename into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


#: Narrower than this, the summary table keeps expectation, grade and result, and each
#: finding's offending cells and events follow it as indented lines.
_TABLE_WIDTH = 140


def print_summary(result: CheckResult, console: Console) -> None:
    wide = console.width >= _TABLE_WIDTH
    table = Table(
        title=f"quality check: {Path(result.snapshot).name}  cutoff {result.cutoff}  "
        f"unit {result.unit}",
        title_justify="left",
        box=table_box(console),
    )
    table.add_column("expectation", overflow="fold")
    table.add_column("grade")
    table.add_column("result")
    if wide:
        table.add_column("offending units / cells", overflow="fold")
        table.add_column("events behind them", overflow="fold")
    style = {"passed": "green", "failed": "red", "error": "red", "skipped": "dim"}
    for o in result.outcomes:
        status = o.status if o.status != "failed" or o.grade == "critical" else "warning"
        colour = "yellow" if status == "warning" else style[o.status]
        found = (_offending(o), _evidence(o)) if wide else ()
        table.add_row(o.check, o.grade, f"[{colour}]{status}[/{colour}]", *found)
    console.print(table)
    if not wide:
        for o in result.outcomes:
            offending, evidence = _offending(o), _evidence(o)
            if not (offending or evidence):
                continue
            console.print(f"{o.check}:", style="bold", overflow="fold")
            for text in (offending, evidence):
                if text:
                    console.print(Padding(Text(text), (0, 0, 0, 4)), overflow="fold")
    fails, warns = result.critical_failures, result.warnings
    if not fails:
        tail = f" with {len(warns)} warning(s)" if warns else ""
        console.print(f"[green]passed[/green]{tail}: no critical expectation failed")
    else:
        console.print(
            f"[red]FAILED[/red]: {len(fails)} critical expectation(s): "
            + ", ".join(o.check for o in fails)
        )
    # Each path alone on its line, whole (a terminal may wrap it; copying keeps it whole).
    if result.data_docs:
        console.print("Data Docs:")
        console.print(result.data_docs, soft_wrap=True, highlight=False)
    console.print(f"result ({result.seconds:.1f}s):")
    console.print(
        str(Path(result.snapshot) / QUALITY_DIR / RESULT_FILE), soft_wrap=True, highlight=False
    )


def _offending(o: Outcome) -> str:
    if o.status == "skipped":
        return o.note
    if not o.failed:
        return ""
    # own-scope rows first: they are where a wrong figure starts; rollups inherit it
    first = sorted(o.offending, key=lambda r: r.get("scope") == "rollup")
    shown = "; ".join(_record(r) for r in first[:_SHOWN])
    more = o.offending_count - min(len(o.offending), _SHOWN)
    return shown + (f"; (+{more} more)" if more > 0 else "")


def _evidence(o: Outcome) -> str:
    if not o.evidence:
        return o.note if o.failed else ""
    shown = "; ".join(_record(r) for r in o.evidence[:_SHOWN])
    more = len(o.evidence) - _SHOWN
    return shown + (f"; (+{more} more)" if more > 0 else "")


def _record(record: dict[str, Any]) -> str:
    return " ".join(f"{k}={v}" for k, v in record.items() if v is not None)
