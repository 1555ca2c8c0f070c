"""`arrears bench replay`: rebuild time of the December snapshot, from Kafka and from the
archive, against a bare kafka-python consumer reading the same topics and doing nothing
(and, beside it, a bare confluent-kafka one: the Kafka replay's reads use that client).

Not a test: it measures on the machine at hand. Each phase runs in its own forked
process so its peak resident memory is its own. Steps: generate N lines with
`arrears generate` (realistic dirt: resends, conflicts, corrections, retractions,
late arrivals, bad records), produce them to fresh bench topics keyed by unit,
then time (1) the bare consumers, (2) the replay from Kafka through the fold,
(3) archiving, (4) the batch recompute from the archive; and check that (2) and
(4) give the same cells. With --rounds N, (1) and (2) run N times in turns and the target
is judged on the median ratio, the rounds' cells checked equal.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import re
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from rich.console import Console
from rich.table import Table

from benchmarks.common import (
    add_output,
    children_peak_rss_mb,
    count,
    peak_rss_mb,
    progress,
    publish,
)
from benchmarks.replay_data import archive_lines, replicate_archive
from contracts.clock import CST
from contracts.cutoff import parse_cutoff
from contracts.registry import Registry
from infra.admin import bootstrap_servers, ensure_topics
from infra.errors import InfraError
from infra.settings import Settings
from infra.topics import declared_topics, run_prefix, source_topic
from pipeline.errors import CliError
from warehouse.archive import Archiver
from warehouse.archive_files import archive_files, archive_paths
from warehouse.batch import BatchRebuild
from warehouse.kafka_log import log_end, source_topics
from warehouse.log_fetch import plan_batches
from warehouse.replay import rebuild_from_archive, rebuild_from_kafka
from warehouse.snapshot import compare

_UNIT = re.compile(rb'"unit"\s*:\s*"(\d{6})"')
_SOURCE = re.compile(rb'"source"\s*:\s*"([a-z]+)"')
TARGET_ARCHIVE_10M_S = 60.0
TARGET_KAFKA_RATIO = 0.7
#: Archiving (`arrears archive --until-end`) against the bare consumer of the same run.
TARGET_ARCHIVE_WRITE_RATIO = 0.5
#: The archive batch of a compacted archive against a bare polars fold of its contributions.
TARGET_BATCH_OVER_BARE_FOLD = 2.0


def register_replay(actions: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Join the `arrears bench` group (called from pipeline/commands/bench.py)."""
    p = actions.add_parser(
        "replay",
        help="December snapshot rebuild time from Kafka and from the archive, vs a bare "
        "consumer; peak memory",
        description=__doc__,
    )
    p.add_argument(
        "--events",
        type=count,
        default=1_000_000,
        metavar="N",
        help="lines to generate (default 1,000,000)",
    )
    p.add_argument("--cutoff", default="2024-12-31", help="snapshot cutoff (default 2024-12-31)")
    p.add_argument(
        "--workdir",
        type=Path,
        metavar="DIR",
        help="where the temp files go (default: the system's temp dir, $TMPDIR)",
    )
    p.add_argument("--keep-topics", action="store_true", help="do not delete the bench topics")
    p.add_argument(
        "--archive-only",
        action="store_true",
        help="time the archive batch alone, on a synthetic archive written without "
        "Kafka (generate up to --base lines, archive them, copy the files up to "
        "N events); for 10M events",
    )
    p.add_argument(
        "--base",
        type=count,
        default=1_000_000,
        metavar="N",
        help="with --archive-only: lines generated and archived before copying (default 1,000,000)",
    )
    p.add_argument(
        "--kafka-only",
        action="store_true",
        help="time the bare consumer and the Kafka replay only (no archive write, no "
        "batch, no cross-check): for 10M events, whose archive batch "
        "--archive-only times",
    )
    p.add_argument(
        "--rounds",
        type=count,
        default=1,
        metavar="N",
        help="time the bare consumer and the Kafka replay N times, in turns, and "
        "judge the target on the median ratio: this machine's speed drifts "
        "by 10%% or more between minutes (default 1)",
    )
    p.add_argument(
        "--reference",
        action="store_true",
        help="also time the record-by-record archive path (parse, Ledger.apply) and "
        "check it gives the same cells",
    )
    add_output(p, "replay.json")
    p.set_defaults(func=run)


def _in_child(fn: Callable[..., dict[str, Any]], *args: Any) -> dict[str, Any]:
    """Run `fn(*args)` in a forked process; its result plus seconds and its own peak RSS."""
    ctx = multiprocessing.get_context("fork")
    queue = ctx.SimpleQueue()

    def body() -> None:
        began = time.perf_counter()
        try:
            out = fn(*args)
            out["seconds"] = round(time.perf_counter() - began, 3)
            out["peak_rss_mb"] = round(peak_rss_mb(), 1)
        except Exception as err:  # noqa: BLE001 - reported to the parent, which fails the run
            out = {"error": f"{type(err).__name__}: {err}"}
        queue.put(out)

    load_before = os.getloadavg()[0]
    child = ctx.Process(target=body)
    child.start()
    result = queue.get()
    child.join()
    if "error" in result:
        raise CliError(f"{fn.__name__} failed: {result['error']}")
    # The machine is shared: its 1-minute load average beside each phase's figures.
    result["load_average"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
    return dict(result)


def _bare(bootstrap: str, topics: list[str]) -> dict[str, Any]:
    end = log_end(bootstrap, topics)
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        fetch_max_bytes=64 * 1024 * 1024,
        max_partition_fetch_bytes=16 * 1024 * 1024,
        receive_buffer_bytes=4 * 1024 * 1024,
    )
    tps = [TopicPartition(t, p) for t in topics for p in end[t] if end[t][p] > 0]
    consumer.assign(tps)
    for tp in tps:
        consumer.seek_to_beginning(tp)
    n = 0
    pending = set(tps)
    while pending:
        for records in consumer.poll(timeout_ms=500, max_records=50_000).values():
            n += len(records)
        pending = {tp for tp in pending if consumer.position(tp) < end[tp.topic][tp.partition]}
    consumer.close()
    return {"records": n}


def _bare_rdkafka(bootstrap: str, topics: list[str]) -> dict[str, Any]:
    """The floor with the replay's own client: confluent-kafka reading every partition in one
    process, as `warehouse.log_fetch` reads a reader's, and doing nothing with the records."""
    end = log_end(bootstrap, topics)
    plan = [(t, p, end[t][p]) for t in topics for p in end[t]]
    n = sum(len(batch) for _, _, batch in plan_batches(bootstrap, "arrears-bench", plan))
    return {"records": n}


def _kafka(bootstrap: str, topics: list[str], cutoff_text: str, out: str) -> dict[str, Any]:
    readers = os.cpu_count() or 1
    rebuilt = rebuild_from_kafka(bootstrap, topics, None, Registry.load(), readers=readers)
    rebuilt.cells(parse_cutoff(cutoff_text)).write_parquet(out)
    r = rebuilt.rebuild
    # The readers ran side by side: each one's peak adds to this process's.
    return {
        "events": r.events,
        "invalid": r.invalid,
        "outcomes": dict(r.outcomes),
        "readers": readers,
        "reader_peak_rss_mb": round(children_peak_rss_mb(), 1),
    }


def _archive(bootstrap: str, settings: Settings, root: str) -> dict[str, Any]:
    readers = os.cpu_count() or 1
    run = Archiver(bootstrap, settings, Path(root)).run(until_end=True, readers=readers)
    return {
        "archived": run.archived,
        "invalid": run.invalid,
        "files": run.files,
        "readers": readers,
        "reader_peak_rss_mb": round(children_peak_rss_mb(), 1),
    }


def _batch(
    root: str, topics: list[str], cutoff_text: str, out: str, vectorised: bool = True
) -> dict[str, Any]:
    rebuilt = rebuild_from_archive(Path(root), topics, None, Registry.load(), vectorised=vectorised)
    rebuilt.cells(parse_cutoff(cutoff_text)).write_parquet(out)
    r = rebuilt.rebuild
    found = {"events": r.events, "invalid": r.invalid, "outcomes": dict(r.outcomes)}
    if isinstance(r, BatchRebuild):
        found.update(involved=r.involved, refolded=r.refolded)
    return found


def _bare_fold(root: str, topics: list[str], cutoff_text: str) -> dict[str, Any]:
    """The floor of the archive batch: every archived contribution tallied as the batch
    tallies them (`tally_frame`), with no Ledger, no dedupe and no cut at offsets."""
    import polars as pl

    from warehouse.tally import tally_frame

    paths = archive_paths(f for f in archive_files(Path(root)) if f.topic in set(topics))
    items = (
        pl.scan_parquet(paths, hive_partitioning=False)
        .select("event_id", "contributions")
        .explode("contributions")
        .unnest("contributions")
        .drop_nulls("cell")
    )
    cutoff = parse_cutoff(cutoff_text)
    figures = tally_frame(items, since_ms=cutoff.since_ms, cutoff_ms=cutoff.cutoff_ms)
    return {"cells": len(figures)}


def _floor_and_compaction(
    work: Path, topics: list[str], cutoff: str, say: Callable[[str], None]
) -> dict[str, Any]:
    """After the batch over `work`/archive: the bare fold (its floor), compaction, then the
    batch and the bare fold again over the compacted files (the batch's cells in
    `compacted.parquet`, to compare with `batch.parquet`)."""
    root, out = str(work / "archive"), {}
    say("bare polars fold of the archive's contributions (the batch's floor) ...")
    out["bare_fold"] = _in_child(_bare_fold, root, topics, cutoff)
    say("compaction ...")
    out["compaction"] = _in_child(_compact, root)
    say("batch and bare fold of the compacted archive ...")
    out["batch_compacted"] = _in_child(
        _batch, root, topics, cutoff, str(work / "compacted.parquet")
    )
    out["bare_fold_compacted"] = _in_child(_bare_fold, root, topics, cutoff)
    return out


def _fold_ratios(figures: dict[str, Any]) -> None:
    """The batch over its floor, before and after compaction (target: within
    TARGET_BATCH_OVER_BARE_FOLD of it once compacted)."""
    if "bare_fold" in figures:
        figures["batch_over_bare_fold"] = round(
            figures["batch"]["seconds"] / figures["bare_fold"]["seconds"], 3
        )
    if "bare_fold_compacted" in figures:
        ratio = figures["batch_compacted"]["seconds"] / figures["bare_fold_compacted"]["seconds"]
        figures["compacted_batch_over_bare_fold"] = round(ratio, 3)
        figures.setdefault("targets", {}).update(
            compacted_batch_over_bare_fold=TARGET_BATCH_OVER_BARE_FOLD,
            compacted_batch_met=ratio <= TARGET_BATCH_OVER_BARE_FOLD,
        )


def _compact(root: str) -> dict[str, Any]:
    """Compaction of the whole archive: a backfill's days are all settled."""
    from dataclasses import asdict

    from warehouse.compaction import compact

    run = compact(Path(root), settle_days=0)
    return {**asdict(run), "rows_per_file": round(run.rows_per_file)}


def _batch_reference(root: str, topics: list[str], cutoff_text: str, out: str) -> dict[str, Any]:
    return _batch(root, topics, cutoff_text, out, vectorised=False)


def _synthetic(
    data: str, root: str, topics: dict[str, str], partitions: int, copies: int
) -> dict[str, Any]:
    began = time.perf_counter()
    base = archive_lines(Path(data), Path(root), topics, partitions, Registry.load())
    base["seconds"] = round(time.perf_counter() - began, 3)
    began = time.perf_counter()
    out = replicate_archive(Path(root), copies)
    out["replicate_seconds"] = round(time.perf_counter() - began, 3)
    return {"base": base, **out}


def _produce(path: Path, bootstrap: str, settings: Settings) -> int:
    producer = KafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        enable_idempotence=True,
        linger_ms=20,
        batch_size=512 * 1024,
        max_request_size=4 * 1024 * 1024,
    )
    topics = {
        s: source_topic(settings, s) for s in ("inspection", "mediation", "court", "complaint")
    }
    n = 0
    with path.open("rb") as lines:
        for line in lines:
            raw = line.rstrip(b"\r\n")
            unit, source = _UNIT.search(raw), _SOURCE.search(raw)
            topic = topics.get(source.group(1).decode() if source else "", topics["inspection"])
            producer.send(topic, key=unit.group(1) if unit else b"", value=raw)
            n += 1
    producer.flush(timeout=600)
    producer.close()
    return n


def run(args: argparse.Namespace) -> int:
    from pipeline.generate import GenerateOptions, generate

    say = progress(args)
    if args.workdir is not None:
        Path(args.workdir).mkdir(parents=True, exist_ok=True)
    if args.archive_only:
        return _run_archive_only(args, say)
    try:
        base = Settings.from_env()
        bootstrap = bootstrap_servers(base)
    except InfraError as err:
        raise CliError(str(err)) from err
    bench = base.with_overrides(topic_prefix=run_prefix("bench", uuid.uuid4().hex[:8]))
    specs = [s for s in declared_topics(bench) if s.name in set(source_topics(bench))]
    topics = source_topics(bench)
    started = datetime.now(CST).isoformat(timespec="seconds")
    figures: dict[str, Any] = {
        "events": args.events,
        "cutoff": args.cutoff,
        "partitions": bench.partitions,
        "started_at": started,
        "python": platform.python_version(),
        "machine": f"{platform.machine()} {os.cpu_count()} CPUs",
        "topics": topics,
        "topics_kept": args.keep_topics,
    }
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        work = Path(tmp)
        data = work / "campaign.jsonl"
        say(f"generating {args.events:,} lines (arrears generate) ...")
        manifest = generate(GenerateOptions(unit="320400", events=args.events, seed=1, out=data))
        figures["file_bytes"] = data.stat().st_size
        figures["manifest_counts"] = manifest.get("counts", manifest.get("totals"))
        ensure_topics(bootstrap, bench, specs)
        try:
            say(f"producing to {bench.topic_prefix}* ...")
            began = time.perf_counter()
            figures["produced"] = _produce(data, bootstrap, bench)
            figures["produce_seconds"] = round(time.perf_counter() - began, 3)
            rounds = figures["rounds"] = []
            for k in range(args.rounds):
                of = f" (round {k + 1} of {args.rounds})" if args.rounds > 1 else ""
                say(f"bare consumer{of} ...")
                bare = _in_child(_bare, bootstrap, topics)
                say(f"bare confluent-kafka consumer{of} ...")
                rdkafka = _in_child(_bare_rdkafka, bootstrap, topics)
                say(f"replay from Kafka through the fold{of} ...")
                kafka = _in_child(
                    _kafka, bootstrap, topics, args.cutoff, str(work / f"kafka-{k}.parquet")
                )
                rounds.append(
                    {
                        "bare": bare,
                        "bare_rdkafka": rdkafka,
                        "kafka": kafka,
                        "ratio": round(bare["seconds"] / kafka["seconds"], 4),
                        "ratio_rdkafka": round(rdkafka["seconds"] / kafka["seconds"], 4),
                    }
                )
            # The round of the median ratio stands for the run (the lower one of two).
            middle = sorted(rounds, key=lambda r: r["ratio"])[(len(rounds) - 1) // 2]
            figures["bare"], figures["kafka"] = middle["bare"], middle["kafka"]
            figures["bare_rdkafka"] = middle["bare_rdkafka"]
            figures["kafka_ratio_to_bare"] = middle["ratio"]
            figures["kafka_ratio_to_rdkafka"] = middle["ratio_rdkafka"]
            if not args.kafka_only:
                say("archiving ...")
                figures["archive_write"] = _in_child(
                    _archive, bootstrap, bench, str(work / "archive")
                )
                say("batch recompute from the archive ...")
                figures["batch"] = _in_child(
                    _batch, str(work / "archive"), topics, args.cutoff, str(work / "batch.parquet")
                )
                figures.update(_floor_and_compaction(work, topics, args.cutoff, say))
            if args.reference and not args.kafka_only:
                say("record-by-record batch from the archive (reference) ...")
                figures["batch_reference"] = _in_child(
                    _batch_reference,
                    str(work / "archive"),
                    topics,
                    args.cutoff,
                    str(work / "reference.parquet"),
                )
            # polars runs in this process only now: a child forked after polars has started
            # its thread pool can deadlock.
            import polars as pl

            first = pl.read_parquet(work / "kafka-0.parquet")
            figures["rounds_agree"] = all(
                not compare(first, pl.read_parquet(work / f"kafka-{k}.parquet"))
                for k in range(1, args.rounds)
            )
            if not args.kafka_only:
                diffs = compare(first, pl.read_parquet(work / "batch.parquet"))
                figures["kafka_equals_archive"] = not diffs
                figures["compacted_equals_archive"] = not compare(
                    pl.read_parquet(work / "batch.parquet"),
                    pl.read_parquet(work / "compacted.parquet"),
                )
            if "batch_reference" in figures:
                figures["batch_equals_reference"] = not compare(
                    pl.read_parquet(work / "reference.parquet"),
                    pl.read_parquet(work / "batch.parquet"),
                )
        finally:
            if not args.keep_topics:
                admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="arrears-bench")
                try:
                    admin.delete_topics([s.name for s in specs])
                finally:
                    admin.close()
    n = figures["produced"]
    phases = (
        "bare",
        "bare_rdkafka",
        "kafka",
        "archive_write",
        "batch",
        "bare_fold",
        "compaction",
        "batch_compacted",
        "bare_fold_compacted",
        "batch_reference",
    )
    for phase in (p for p in phases if p in figures):
        figures[phase]["records_per_s"] = round(n / figures[phase]["seconds"])
    ratios = [r["ratio"] for r in figures["rounds"]]
    figures["kafka_ratio_range"] = [min(ratios), max(ratios)]
    figures["targets"] = {
        "kafka_ratio_to_bare": TARGET_KAFKA_RATIO,
        "kafka_met": figures["kafka_ratio_to_bare"] >= TARGET_KAFKA_RATIO,
    }
    if "archive_write" in figures:
        figures["archive_ratio_to_bare"] = round(
            figures["bare"]["seconds"] / figures["archive_write"]["seconds"], 4
        )
        figures["targets"].update(
            archive_write_ratio_to_bare=TARGET_ARCHIVE_WRITE_RATIO,
            archive_write_met=figures["archive_ratio_to_bare"] >= TARGET_ARCHIVE_WRITE_RATIO,
        )
    _fold_ratios(figures)
    if "batch" in figures:
        batch_10m = figures["batch"]["seconds"] * 10_000_000 / n
        figures["batch_seconds_scaled_to_10m"] = round(batch_10m, 1)
        figures["targets"].update(
            archive_10m_seconds=TARGET_ARCHIVE_10M_S, archive_met=batch_10m <= TARGET_ARCHIVE_10M_S
        )
    publish(args, figures, lambda console: _show(console, figures, args.cutoff))
    same = (
        figures.get("kafka_equals_archive", True)
        and figures.get("compacted_equals_archive", True)
        and figures.get("batch_equals_reference", True)
        and figures["rounds_agree"]
    )
    return 0 if same else 1


def _show(console: Console, figures: dict[str, Any], cutoff: str) -> None:
    """The Kafka-and-archive run's figures as a table, its rounds and the targets."""
    n = figures["produced"]
    ratios = [r["ratio"] for r in figures["rounds"]]
    table = Table(title=f"bench replay: {n:,} records, cutoff {cutoff}")
    for col in ("phase", "seconds", "records/s", "peak RSS MB"):
        table.add_column(col, justify="left" if col == "phase" else "right")
    for phase, name in (
        ("bare", "bare kafka-python consumer (floor)"),
        ("bare_rdkafka", "bare confluent-kafka consumer"),
        ("kafka", "replay from Kafka"),
        ("archive_write", "archive (write)"),
        ("batch", "batch from archive"),
        ("bare_fold", "bare polars fold (floor)"),
        ("compaction", "compaction"),
        ("batch_compacted", "batch, compacted archive"),
        ("bare_fold_compacted", "bare fold, compacted archive"),
        ("batch_reference", "batch, record by record"),
    ):
        if phase not in figures:
            continue
        f = figures[phase]
        rss = f"{f['peak_rss_mb']:,.0f}"
        if "reader_peak_rss_mb" in f:
            rss += f" + {f['readers']} x {f['reader_peak_rss_mb']:,.0f}"
        table.add_row(name, f"{f['seconds']:.1f}", f"{f['records_per_s']:,}", rss)
    console.print(table)
    if len(ratios) > 1:
        console.print(
            "rounds (bare s / Kafka s = ratio): "
            + "; ".join(
                f"{r['bare']['seconds']:.1f} / {r['kafka']['seconds']:.1f} = {r['ratio']:.3f}"
                for r in figures["rounds"]
            )
            + ("" if figures["rounds_agree"] else " - the rounds' cells DIFFER"),
            highlight=False,
        )
    t = figures["targets"]
    median = " (median of the rounds; the table shows that round)" if len(ratios) > 1 else ""
    summary = (
        f"Kafka replay / bare = {figures['kafka_ratio_to_bare']:.3f}{median} (target >= "
        f"{TARGET_KAFKA_RATIO}: {'met' if t['kafka_met'] else 'NOT met'}); / bare "
        f"confluent-kafka = {figures['kafka_ratio_to_rdkafka']:.3f}"
    )
    if "archive_write" in figures:
        summary += (
            f"; archiving / bare = {figures['archive_ratio_to_bare']:.3f} (target >= "
            f"{TARGET_ARCHIVE_WRITE_RATIO}: {'met' if t['archive_write_met'] else 'NOT met'})"
        )
    if "bare_fold" in figures:
        summary += f"; batch / bare fold = {figures['batch_over_bare_fold']:.2f}x"
    if "compaction" in figures:
        c = figures["compaction"]
        summary += (
            f"; compaction: {c['files_before']:,} files -> {c['files_after']:,} "
            f"({c['rows_per_file']:,} rows a file), batch / bare fold then "
            f"{figures['compacted_batch_over_bare_fold']:.2f}x, same cells: "
            f"{figures['compacted_equals_archive']}"
        )
    if "batch" in figures:
        summary += (
            f"; archive batch scaled to 10M = {figures['batch_seconds_scaled_to_10m']:,.0f}s"
            f" (target <= {TARGET_ARCHIVE_10M_S:.0f}s: "
            f"{'met' if t['archive_met'] else 'NOT met'}); Kafka == archive: "
            f"{figures['kafka_equals_archive']}"
        )
    console.print(summary, highlight=False)


def _run_archive_only(args: argparse.Namespace, say: Callable[[str], None]) -> int:
    """The archive batch alone, on a synthetic archive of `--events` rows (no broker)."""
    import polars as pl

    from pipeline.generate import GenerateOptions, generate

    settings = Settings.from_env().with_overrides(topic_prefix="bench.")
    topics = {
        s: source_topic(settings, s) for s in ("inspection", "mediation", "court", "complaint")
    }
    base = min(args.base, args.events)
    copies = -(-args.events // base)
    figures: dict[str, Any] = {
        "mode": "archive-only (a synthetic archive written without Kafka)",
        "events_asked": args.events,
        "base_lines": base,
        "cutoff": args.cutoff,
        "partitions": settings.partitions,
        "started_at": datetime.now(CST).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "machine": f"{platform.machine()} {os.cpu_count()} CPUs",
    }
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        work = Path(tmp)
        data = work / "campaign.jsonl"
        say(f"generating {base:,} lines (arrears generate) ...")
        generate(GenerateOptions(unit="320400", events=base, seed=1, out=data))
        say(f"archiving them directly and copying the files x{copies} ...")
        figures["archive_synthetic"] = _in_child(
            _synthetic, str(data), str(work / "archive"), topics, settings.partitions, copies
        )
        names = sorted(topics.values())
        say(f"batch recompute from the archive ({figures['archive_synthetic']['rows']:,} rows) ...")
        figures["batch"] = _in_child(
            _batch, str(work / "archive"), names, args.cutoff, str(work / "batch.parquet")
        )
        if args.reference:  # on the same files as the batch, before compaction
            say("record-by-record batch from the archive (reference) ...")
            figures["batch_reference"] = _in_child(
                _batch_reference,
                str(work / "archive"),
                names,
                args.cutoff,
                str(work / "reference.parquet"),
            )
        figures.update(_floor_and_compaction(work, names, args.cutoff, say))
        # polars in this process only after the last forked child (see `run`)
        if args.reference:
            figures["batch_equals_reference"] = not compare(
                pl.read_parquet(work / "reference.parquet"), pl.read_parquet(work / "batch.parquet")
            )
        figures["compacted_equals_archive"] = not compare(
            pl.read_parquet(work / "batch.parquet"), pl.read_parquet(work / "compacted.parquet")
        )
    rows = figures["archive_synthetic"]["rows"]
    batch = figures["batch"]
    batch["records_per_s"] = round(rows / batch["seconds"])
    scaled = batch["seconds"] * 10_000_000 / rows
    figures["batch_seconds_scaled_to_10m"] = round(scaled, 1)
    figures["targets"] = {
        "archive_10m_seconds": TARGET_ARCHIVE_10M_S,
        "archive_met": scaled <= TARGET_ARCHIVE_10M_S,
    }
    _fold_ratios(figures)
    publish(args, figures, lambda console: _show_archive_only(console, figures))
    same = figures["compacted_equals_archive"] and figures.get("batch_equals_reference", True)
    return 0 if same else 1


def _show_archive_only(console: Console, figures: dict[str, Any]) -> None:
    rows = figures["archive_synthetic"]["rows"]
    batch = figures["batch"]
    scaled = figures["batch_seconds_scaled_to_10m"]
    console.print(
        f"archive batch: {rows:,} rows in {batch['seconds']:.1f}s "
        f"({batch['records_per_s']:,}/s), peak RSS {batch['peak_rss_mb']:,.0f} MB; "
        f"scaled to 10M = {scaled:,.0f}s (target <= {TARGET_ARCHIVE_10M_S:.0f}s: "
        f"{'met' if figures['targets']['archive_met'] else 'NOT met'})",
        highlight=False,
    )
    console.print(
        f"bare polars fold (floor): {figures['bare_fold']['seconds']:.1f}s, batch / bare fold "
        f"= {figures['batch_over_bare_fold']:.2f}x; compacted "
        f"({figures['compaction']['rows_per_file']:,} rows a file): batch "
        f"{figures['batch_compacted']['seconds']:.1f}s / bare fold "
        f"{figures['bare_fold_compacted']['seconds']:.1f}s = "
        f"{figures['compacted_batch_over_bare_fold']:.2f}x (target <= "
        f"{TARGET_BATCH_OVER_BARE_FOLD:.0f}x: "
        f"{'met' if figures['targets']['compacted_batch_met'] else 'NOT met'}); same cells: "
        f"{figures['compacted_equals_archive']}",
        highlight=False,
    )
    if "batch_reference" in figures:
        console.print(
            f"record by record: {figures['batch_reference']['seconds']:.1f}s, peak RSS "
            f"{figures['batch_reference']['peak_rss_mb']:,.0f} MB; same cells: "
            f"{figures['batch_equals_reference']}",
            highlight=False,
        )
