"""`arrears archive`: copy every accepted event from the source topics into Parquet."""

from __future__ import annotations

import argparse
from dataclasses import asdict
from pathlib import Path

from kafka.errors import KafkaError
from rich.console import Console

from pipeline.commands.snapshot import Context
from pipeline.errors import CliError
from pipeline.output import add_json, add_quiet, print_json
from warehouse.archive import Archiver, ArchiveRun, archiver_group
from warehouse.compaction import SETTLE_DAYS, CompactRun, compact
from warehouse.errors import WarehouseError


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "archive",
        help="archive the source topics as Parquet (durable, exactly once per offset)",
        description=(
            "Consume the four source topics as consumer group <prefix>archiver and write every "
            "valid event to <archive>/source=<source>/date=<YYYY-MM-DD>/part-<topic>-<partition>-"
            "<first>-<last>.parquet (temp file, fsync, rename), committing offsets only after "
            "the files are durable. A killed run loses nothing and duplicates nothing when "
            "re-run. Invalid records are skipped (they are in the dead-letter topic). Run one "
            "archiver per archive directory. The partitions are read by one process per core. "
            "--compact merges the parts of settled days into files of up to 500,000 rows under "
            "source=<source>/compacted/ (one rename switches old for new, so a killed "
            "compaction leaves one or the other counted)."
        ),
    )
    parser.add_argument(
        "--until-end",
        action="store_true",
        help="stop at the log end seen at start (default: keep following; Ctrl-C stops it cleanly)",
    )
    parser.add_argument(
        "--archive",
        type=Path,
        metavar="DIR",
        help="archive directory (default: <state dir>/archive)",
    )
    parser.add_argument("--units", metavar="PATH", help="unit registry TOML (default: shipped)")
    parser.add_argument(
        "--compact",
        action="store_true",
        help="merge the parts of settled days into large files (after archiving, with "
        "--until-end; alone, without reading Kafka)",
    )
    parser.add_argument(
        "--settle-days",
        type=int,
        default=SETTLE_DAYS,
        metavar="N",
        help="with --compact: leave the newest N days' parts for late arrivals",
    )
    add_quiet(parser)
    add_json(parser, "the counts of the run")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    ctx = Context(args)
    if args.compact and not args.until_end:  # compaction alone: no Kafka
        alone = _compact(args, ctx)
        if args.json:
            print_json({**asdict(alone), "archive": str(ctx.archive)})
        else:
            _say_compacted(alone, ctx.archive)
        return 0
    console = Console(stderr=True)
    archiver = Archiver(ctx.bootstrap(), ctx.settings, ctx.archive, ctx.registry)

    def report(r: ArchiveRun) -> None:
        if not ctx.quiet:
            console.print(
                f"[dim]read {r.read:,}, archived {r.archived:,}, invalid {r.invalid:,}[/dim]",
                highlight=False,
            )

    try:
        result = archiver.run(until_end=args.until_end, progress=report)
    except KeyboardInterrupt:
        Console(soft_wrap=True, highlight=False).print(
            "stopped; everything archived so far is committed"
        )
        return 0
    except (WarehouseError, KafkaError) as err:
        raise CliError(str(err)) from err
    compacted = _compact(args, ctx) if args.compact else None
    if args.json:
        print_json(
            {
                "archived": result.archived,
                "files": result.files,
                "invalid": result.invalid,
                "skipped_already_archived": result.skipped_already_archived,
                "archive": str(ctx.archive),
                "group": archiver_group(ctx.settings),
                **({} if compacted is None else {"compaction": asdict(compacted)}),
            }
        )
        return 0
    _say(
        f"archived {result.archived:,} events into {result.files:,} files under {ctx.archive} "
        f"(group {archiver_group(ctx.settings)}); {result.invalid:,} invalid records skipped, "
        f"{result.skipped_already_archived:,} already archived by an interrupted run"
    )
    if compacted is not None:
        _say_compacted(compacted, ctx.archive)
    return 0


def _compact(args: argparse.Namespace, ctx: Context) -> CompactRun:
    try:
        return compact(ctx.archive, settle_days=args.settle_days)
    except (WarehouseError, OSError) as err:
        raise CliError(
            f"compaction failed: {err}; the archive counts either the old files or the new"
        ) from err


def _say_compacted(result: CompactRun, archive: Path) -> None:
    _say(
        f"compacted {result.merged:,} files into {result.written:,} under {archive}: "
        f"{result.files_before:,} files before, {result.files_after:,} after, "
        f"{result.rows_per_file:,.0f} rows a file"
    )


def _say(message: str) -> None:
    """A result line, wrapped by the terminal, not by rich (paths stay whole)."""
    Console(soft_wrap=True, highlight=False).print(message)
