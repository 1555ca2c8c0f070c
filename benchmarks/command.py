"""`arrears bench ...`: performance benchmarks (not tests); each writes its figures as JSON."""

from __future__ import annotations

import argparse

from kafka.errors import KafkaError
from rich.table import Table

from benchmarks.common import add_output, count, progress, publish
from infra.admin import bootstrap_servers
from infra.errors import InfraError
from infra.settings import Settings
from pipeline.errors import CliError


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "bench",
        help="benchmarks: measure throughput and memory, write JSON",
        description="Performance benchmarks against the configured broker (bench check "
        "needs none). Each writes its figures as JSON to --out and prints them: a table, or "
        "with --json the same JSON. Progress goes to standard error.",
    )
    # A group: `bench streams`, `bench replay`, ... register here as further actions.
    actions = parser.add_subparsers(title="benchmarks", metavar="BENCH", required=True)
    ingest = actions.add_parser(
        "ingest",
        help="validate-and-produce rate vs. a bare producer, peak memory",
        description="Generate N valid events, send them once with a bare kafka-python producer "
        "and once through `arrears ingest`'s path (validate, dedupe, produce), into "
        "fresh bench topics that are deleted afterwards; report events/s of both, "
        "their ratio and the peak resident memory. Targets: >= 20,000 events/s and "
        ">= half the bare rate.",
    )
    ingest.add_argument(
        "--events",
        type=count,
        default=1_000_000,
        metavar="N",
        help="number of events (default 1,000,000)",
    )
    add_output(ingest, "ingest.json")
    ingest.add_argument(
        "--keep-topics", action="store_true", help="do not delete the bench topics afterwards"
    )
    ingest.set_defaults(func=run_ingest)
    from benchmarks.streams import register_streams  # the stream workers' benchmark

    register_streams(actions, count)
    from benchmarks.recovery import register_recovery  # a worker's death, the survivor's view

    register_recovery(actions, count)
    from benchmarks.replay import register_replay  # the warehouse's benchmark

    register_replay(actions)
    from benchmarks.check_command import register_action as register_check

    register_check(actions, count)


def run_ingest(args: argparse.Namespace) -> int:
    from benchmarks.ingest import run_bench  # the generator and bench code load on demand

    try:
        settings = Settings.from_env()
        bootstrap = bootstrap_servers(settings)
        result = run_bench(
            bootstrap, settings, args.events, keep_topics=args.keep_topics, say=progress(args)
        )
    except InfraError as err:
        raise CliError(str(err)) from err
    except KafkaError as err:
        raise CliError(f"Kafka failed during the benchmark: {err!r}") from err
    table = Table(
        title=f"bench ingest: {result.events:,} events ({result.file_bytes / 1e6:,.0f} MB)"
    )
    table.add_column("figure")
    table.add_column("value", justify="right")
    table.add_row(
        "bare producer", f"{result.bare_events_per_s:,} events/s ({result.bare_seconds:.1f}s)"
    )
    table.add_row(
        "validate and produce",
        f"{result.ingest_events_per_s:,} events/s ({result.ingest_seconds:.1f}s)",
    )
    table.add_row("ratio to bare", f"{result.ratio_to_bare:.2f}")
    table.add_row("peak RSS", f"{result.peak_rss_mb_after_ingest:,.0f} MB")
    table.add_row(
        "targets (>= 20,000/s, >= 0.5 of bare)", "met" if result.meets_targets else "NOT met"
    )
    publish(args, result.as_json(), lambda console: console.print(table))
    return 0
