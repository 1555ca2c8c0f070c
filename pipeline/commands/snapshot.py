"""`arrears snapshot`: cut a bitemporal Parquet snapshot (cutoff x offset vector)."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from kafka.errors import KafkaError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from contracts.calendar import load_campaign
from contracts.cutoff import Cutoff, CutoffError, parse_cutoff
from contracts.errors import ContractError
from contracts.registry import Registry
from infra.admin import bootstrap_servers
from infra.errors import InfraError
from infra.settings import Settings
from pipeline.commands.snapshots import print_snapshot
from pipeline.errors import CliError, ExitCode
from pipeline.output import add_json, add_quiet, warn
from streams.tallies import Window
from warehouse.archive_files import archive_end
from warehouse.cells_table import cells_frame
from warehouse.errors import OffsetsError, WarehouseError
from warehouse.kafka_log import log_end, source_topics
from warehouse.offsets import OFFSETS_HELP, Offsets, behind, offsets_to_json, parse_offsets, total
from warehouse.replay import Rebuilt, rebuild_from_archive, rebuild_from_kafka
from warehouse.snapshot import write_snapshot


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "snapshot",
        help="cut a Parquet snapshot of every unit's figures at a cutoff",
        description=(
            "Rebuild every unit's figures (own and rolled up, every cell of 附件2, exact values: "
            "persons, fen, counts) for events with event time in the campaign window and at or "
            "before --cutoff, from the log as of an offset vector, and write "
            "<root>/<cutoff>/<snapshot-id>/{cells.parquet,meta.json} atomically. "
            "Snapshots of one cutoff sit side by side (close of business, restated, ...).\n\n"
            "--from live reads the running `arrears worker`s' tallies instead of replaying, "
            "and records the offset vector they reflect (where the workers are, so --as-of "
            "does not apply); they keep figures by event day, so --cutoff must be the end of "
            "a day. `arrears replay --verify SNAPSHOT` rebuilds it from the log.\n\n"
            f"OFFSETS: {OFFSETS_HELP}."
        ),
    )
    add_cutoff(parser, required=True)
    parser.add_argument(
        "--as-of",
        default="now",
        metavar="now|OFFSETS",
        help="what the snapshot knows: `now` (the log end at start, or with "
        "--from live the workers' position) or OFFSETS (not with live)",
    )
    parser.add_argument("--label", help="a name kept in meta.json, e.g. close-of-business")
    parser.add_argument(
        "--from",
        dest="source",
        choices=("kafka", "archive", "live"),
        default="kafka",
        help="rebuild from Kafka (default) or the archive, or read the running "
        "workers' tallies (`live`, a day-end cutoff)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=30.0,
        metavar="S",
        help="--from live: how long to wait for the workers to cover every partition (default 30)",
    )
    add_common(parser)
    add_json(parser, "the snapshot written, as `arrears snapshots list --json` shows it")
    parser.set_defaults(func=run)


def add_cutoff(parser: argparse.ArgumentParser, *, required: bool) -> None:
    parser.add_argument(
        "--cutoff",
        required=required,
        metavar="DATE",
        help="YYYY-MM-DD (through 23:59:59 +08:00), an ISO time with offset, "
        "or a campaign cutoff name (progress, final)",
    )


def add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--root", type=Path, metavar="DIR", help="snapshot root (default: <state dir>/snapshots)"
    )
    parser.add_argument(
        "--archive", type=Path, metavar="DIR", help="event archive (default: <state dir>/archive)"
    )
    parser.add_argument("--units", metavar="PATH", help="unit registry TOML (default: shipped)")
    parser.add_argument(
        "--campaign", metavar="PATH", help="campaign calendar TOML (default: shipped)"
    )
    parser.add_argument(
        "--scratch",
        type=Path,
        metavar="DIR",
        help="where a replay from Kafka keeps its row files while it runs, about "
        "600 bytes a record, removed at the end (default: the system's "
        "temp dir, $TMPDIR)",
    )
    add_quiet(parser)


class Context:
    """What every warehouse command needs, built from the arguments once."""

    def __init__(self, args: argparse.Namespace) -> None:
        try:
            self.settings = Settings.from_env()
            self.registry = Registry.load(getattr(args, "units", None))
            self.campaign = load_campaign(getattr(args, "campaign", None))
        except (InfraError, ContractError, WarehouseError, OSError) as err:
            raise CliError(str(err)) from err
        root = getattr(args, "root", None)
        self.root: Path = root or self.settings.state_dir / "snapshots"
        archive = getattr(args, "archive", None)
        self.archive: Path = archive or self.settings.state_dir / "archive"
        self.topics = source_topics(self.settings)
        self.quiet = bool(getattr(args, "quiet", False))
        self.scratch: Path | None = getattr(args, "scratch", None)

    def cutoff(self, text: str) -> Cutoff:
        try:
            return parse_cutoff(text, self.campaign)
        except CutoffError as err:
            raise CliError(str(err), ExitCode.USAGE) from err

    def bootstrap(self) -> str:
        try:
            return bootstrap_servers(self.settings)
        except InfraError as err:
            raise CliError(str(err)) from err

    def rebuild(self, source: str, upto: Offsets | None, *, keep_info: bool = False) -> Rebuilt:
        """Rebuild from `source` ("kafka" | "archive") up to `upto` (None = the end)."""
        try:
            with self.progress(f"replaying from {source}", upto) as advance:
                if source == "kafka":
                    if self.scratch is not None and not self.scratch.is_dir():
                        raise CliError(
                            f"--scratch {self.scratch} is not a directory", ExitCode.USAGE
                        )
                    return rebuild_from_kafka(
                        self.bootstrap(),
                        self.topics,
                        upto,
                        self.registry,
                        keep_info=keep_info,
                        progress=advance,
                        workdir=self.scratch,
                    )
                if source == "archive":
                    if not self.archive.is_dir():
                        raise CliError(
                            f"no archive at {self.archive}; run `arrears archive "
                            "--until-end` first (or pass --archive DIR)"
                        )
                    self._warn_if_archive_short(upto)
                    return rebuild_from_archive(
                        self.archive,
                        self.topics,
                        upto,
                        self.registry,
                        keep_info=keep_info,
                        progress=advance,
                    )
                raise CliError(
                    f"cannot replay from {source!r}: choose kafka or archive", ExitCode.USAGE
                )
        except OffsetsError as err:
            raise CliError(str(err), ExitCode.USAGE) from err
        except WarehouseError as err:
            raise CliError(str(err)) from err
        except KafkaError as err:
            raise CliError(f"Kafka failed during the replay: {err!r}") from err

    def _warn_if_archive_short(self, upto: Offsets | None) -> None:
        """The archive holds accepted events only, so it cannot prove it is complete up to an
        offset; a partition whose last archived offset is below the vector is worth a word."""
        if upto is None:
            return
        have = archive_end(self.archive)
        short = [
            f"{t}:{p} archived to {have.get(t, {}).get(p, 0)}, asked {o}"
            for t, parts in sorted(upto.items())
            for p, o in sorted(parts.items())
            if have.get(t, {}).get(p, 0) < o
        ]
        if short:
            Console(stderr=True).print(
                "[yellow]note:[/yellow] the archive ends before the offsets asked for on "
                + "; ".join(short[:6])
                + ("; ..." if len(short) > 6 else "")
                + ". Invalid records at the end of a partition look like this too; if the "
                "archiver is behind, run `arrears archive --until-end` first.",
                highlight=False,
            )

    @contextmanager
    def progress(self, what: str, upto: Offsets | None) -> Iterator[Callable[[int], None]]:
        if self.quiet:
            yield lambda n: None
            return
        columns: list[Any] = [
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
        ]
        with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
            task = bar.add_task(what, total=total(upto) if upto else None)
            yield lambda n: bar.advance(task, n)


def offsets_arg(text: str, flag: str) -> Offsets | None:
    """`now` / `end` -> None (the log end); anything else is an offset vector."""
    if text.strip() in ("now", "end"):
        return None
    try:
        return parse_offsets(text)
    except OffsetsError as err:
        raise CliError(f"{flag}: {err}", ExitCode.USAGE) from err


def run(args: argparse.Namespace) -> int:
    ctx = Context(args)
    cutoff = ctx.cutoff(args.cutoff)
    upto = offsets_arg(args.as_of, "--as-of")
    if args.source == "live":
        return _run_live(ctx, args, cutoff, upto)
    rebuilt = ctx.rebuild(args.source, upto)
    from pipeline.flows.supervision import stored_views

    try:
        snap = write_snapshot(
            ctx.root,
            cutoff,
            rebuilt.cells(cutoff),
            rebuilt.offsets,
            source=rebuilt.source,
            event_count=rebuilt.rebuild.events,
            label=args.label,
            registry=ctx.registry,
            **stored_views(ctx, rebuilt, cutoff),
        )
    except WarehouseError as err:
        raise CliError(str(err)) from err
    r = rebuilt.rebuild
    if args.json:
        return print_snapshot(snap)
    console = Console(soft_wrap=True, highlight=False)
    console.print(
        f"snapshot {snap.id} (cutoff {cutoff.iso()}, from {rebuilt.source}): "
        f"{r.events:,} events read, {r.outcomes['duplicate']:,} duplicates, "
        f"{r.outcomes['conflict']:,} conflicts, {r.invalid:,} invalid records skipped"
    )
    console.print(str(snap.path), highlight=False, soft_wrap=True)
    return 0


def _live_day(cutoff: Cutoff) -> int:
    """The event day whose end `cutoff` is: the live tallies keep figures by day (+08:00).

    A cutoff past the campaign window counts as its end, as the replay does.
    """
    if not cutoff.is_day_end:
        raise CliError(
            f"--cutoff {cutoff.iso()}: --from live reads the workers' tallies, which are kept "
            "by event day, so the cutoff must be the end of a day (a date such as 2024-12-31, "
            "meaning 23:59:59+08:00); for a cutoff inside a day use --from kafka or --from "
            "archive",
            ExitCode.USAGE,
        )
    try:
        return Window.of(cutoff.campaign).cutoff_day(min(cutoff.at, cutoff.campaign.window_end))
    except ValueError as err:
        raise CliError(f"--cutoff: {err}", ExitCode.USAGE) from err


def _run_live(ctx: Context, args: argparse.Namespace, cutoff: Cutoff, upto: Offsets | None) -> int:
    """Cut the snapshot from the running workers: their figures and the offsets they reflect."""
    from streams.live import Incomplete, gather

    if upto is not None:
        raise CliError(
            "--as-of OFFSETS cannot be used with --from live: the workers' tallies reflect the "
            "offsets they have applied, and that position (recorded in meta.json) is what a "
            "live snapshot knows. For a snapshot as of given offsets use --from kafka or "
            "--from archive",
            ExitCode.USAGE,
        )
    day = _live_day(cutoff)
    try:
        live = gather(ctx.settings, day, timeout=args.timeout, on_wait=warn)
    except Incomplete as err:
        raise CliError(f"cannot cut a live snapshot: {err}") from err
    if set(live.offsets) != set(ctx.topics):
        raise CliError(
            f"the workers report offsets of {sorted(live.offsets)}, not of the "
            f"source topics {ctx.topics}: are they running with other settings?"
        )
    events = live.events  # None: a worker's state predates counting them (streams.engine)
    try:
        # The log's end just after the workers answered: what a live snapshot leaves out.
        end = log_end(ctx.bootstrap(), ctx.topics)
        lagging = behind(end, live.offsets)
        snap = write_snapshot(
            ctx.root,
            cutoff,
            cells_frame(live.own, ctx.registry),
            live.offsets,
            source="live",
            event_count=events,
            label=args.label,
            notes={"log_end": offsets_to_json(end), "records_behind_log_end": lagging},
            registry=ctx.registry,
        )
    except WarehouseError as err:
        raise CliError(str(err)) from err
    if args.json:
        return print_snapshot(snap)
    console = Console(soft_wrap=True, highlight=False)
    counted = f"{events:,} events" if events is not None else "an unknown number of events"
    console.print(
        f"snapshot {snap.id} (cutoff {cutoff.iso()}, from live): {counted} in the "
        f"{total(live.offsets):,} records the workers had applied "
        f"({', '.join(live.workers)})"
    )
    if lagging:
        console.print(
            f"note: the log held {lagging:,} records past the workers' position "
            "(recorded in meta.json as records_behind_log_end); a snapshot "
            "--from kafka includes them"
        )
    else:
        console.print("the workers were at the log end")
    console.print(str(snap.path), highlight=False, soft_wrap=True)
    return 0
