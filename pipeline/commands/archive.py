"""`arrears archive`: copy every accepted event from the source topics into Parquet."""

from __future__ import annotations

import argparse
from pathlib import Path

from kafka.errors import KafkaError
from rich.console import Console

from pipeline.commands.snapshot import Context
from pipeline.errors import CliError
from pipeline.output import add_json, add_quiet, print_json
from warehouse.archive import Archiver, ArchiveRun, archiver_group
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
            "archiver per archive directory."
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
    add_quiet(parser)
    add_json(parser, "the counts of the run")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    ctx = Context(args)
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
    if args.json:
        print_json(
            {
                "archived": result.archived,
                "files": result.files,
                "invalid": result.invalid,
                "skipped_already_archived": result.skipped_already_archived,
                "archive": str(ctx.archive),
                "group": archiver_group(ctx.settings),
            }
        )
        return 0
    Console(soft_wrap=True, highlight=False).print(
        f"archived {result.archived:,} events into {result.files:,} files under {ctx.archive} "
        f"(group {archiver_group(ctx.settings)}); {result.invalid:,} invalid records skipped, "
        f"{result.skipped_already_archived:,} already archived by an interrupted run",
        highlight=False,
        soft_wrap=True,
    )
    return 0
