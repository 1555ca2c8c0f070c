"""`arrears generate`: a realistic synthetic campaign as JSON Lines, with a manifest."""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from contracts.calendar import CalendarError
from contracts.errors import ContractError
from pipeline.errors import CliError, ExitCode
from pipeline.generate import GenerateOptions, generate, manifest_path
from pipeline.output import add_quiet

#: Below this many lines the run is too short for a progress bar to help.
PROGRESS_FROM = 100_000


def register(sub: Any) -> None:
    p = sub.add_parser(
        "generate",
        help="write a realistic synthetic campaign (JSON Lines) and its manifest",
        description=(
            "Generate a synthetic winter campaign for the reporting units under --unit: "
            "all four sources, every event type, deterministic per --seed, streamed in "
            "constant memory, with counted dirt (resends, conflicts, corrections, retractions, "
            "late arrivals, bad records). The manifest is written to FILE.manifest.json."
        ),
    )
    p.add_argument("--unit", default="320400", help="root of the unit subtree (default 320400)")
    p.add_argument(
        "--events",
        type=int,
        required=True,
        metavar="N",
        help="lines to write in all, dirt included",
    )
    p.add_argument("--seed", type=int, default=1, metavar="S", help="random seed (default 1)")
    p.add_argument("--out", type=Path, required=True, metavar="FILE", help="output .jsonl file")
    p.add_argument(
        "--split-at",
        metavar="TIME",
        help="write lines recorded after TIME (ISO 8601 with offset, e.g. "
        "2024-12-31T17:30:00+08:00) to FILE's .after-split.jsonl sibling",
    )
    p.add_argument(
        "--campaign",
        type=Path,
        metavar="PATH",
        help="campaign calendar TOML (default: the shipped one)",
    )
    p.add_argument(
        "--registry",
        type=Path,
        metavar="PATH",
        help="unit registry TOML (default: contracts/units.toml)",
    )
    p.add_argument(
        "--lead-waves",
        type=int,
        default=0,
        metavar="N",
        help="N construction projects whose leads jump in the supervision window before "
        "the progress cutoff (hotspots to find; named in the manifest) (default 0)",
    )
    add_quiet(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    options = _options(args)
    stderr = Console(stderr=True)
    try:
        if args.quiet or options.events < PROGRESS_FROM:
            manifest = generate(options)
        else:
            columns = (
                TextColumn("generating"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
            )
            with Progress(*columns, console=stderr) as bar:
                task = bar.add_task("generate", total=options.events)
                manifest = generate(options, progress=lambda n: bar.update(task, completed=n))
    except (ContractError, CalendarError) as err:
        raise CliError(str(err), exit_code=ExitCode.USAGE) from err
    except OSError as err:
        raise CliError(f"cannot write {options.out}: {err.strerror}") from err
    totals = manifest["totals"]
    files = ", ".join(f"{f['path']} ({f['lines']} lines)" for f in manifest["files"])
    dirt = totals["dirt"]
    stderr.print(
        f"wrote {files}; {totals['events']} events, {dirt['exact_resend']} exact resends, "
        f"{dirt['conflicting_resend']} conflicts, {dirt['correction']} corrections, "
        f"{dirt['retraction']} retractions, {dirt['late_arrival']} late, {dirt['bad']} bad; "
        f"manifest {manifest_path(options.out)}",
        highlight=False,
    )
    return 0


def _options(args: argparse.Namespace) -> GenerateOptions:
    if args.events < 0:
        raise CliError(f"--events must be >= 0, got {args.events}", exit_code=ExitCode.USAGE)
    if args.lead_waves < 0:
        raise CliError(
            f"--lead-waves must be >= 0, got {args.lead_waves}", exit_code=ExitCode.USAGE
        )
    split = None
    if args.split_at is not None:
        try:
            split = dt.datetime.fromisoformat(args.split_at)
        except ValueError:
            split = None
        if split is None or split.utcoffset() is None:
            raise CliError(
                f"--split-at {args.split_at!r}: expected an ISO 8601 time with an "
                "offset, e.g. 2024-12-31T17:30:00+08:00",
                exit_code=ExitCode.USAGE,
            )
    out: Path = args.out
    if not out.parent.is_dir():
        raise CliError(
            f"--out {out}: directory {out.parent} does not exist", exit_code=ExitCode.USAGE
        )
    return GenerateOptions(
        unit=args.unit,
        events=args.events,
        seed=args.seed,
        out=out,
        split_at=split,
        campaign_path=args.campaign,
        registry_path=args.registry,
        lead_waves=args.lead_waves,
    )
