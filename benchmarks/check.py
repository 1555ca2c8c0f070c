"""Benchmark of `arrears check` on the December snapshot of a large campaign (not a test).

Builds (once, cached in a work folder) a synthetic event archive of N events in the
archive layout, vectorised with polars: four sources, every event type, identical
resends, corrections and retractions, valid credit codes, times from the campaign start
into January. The December snapshot is written with the warehouse's writer. Then it times
the full check (the Ledger's answer from the warehouse batch, snapshot suites,
event suites on every archived row, Data Docs) and the peak resident memory. Target:
under 25 s and 2,000 MB peak for 10,000,000 events (issue 18).

The rows are shaped like events, not validated ones (the check never parses `raw`), and
no figure is read from them: each carries its `retracts` target and an empty fold
(`contributions` []), stamped with the running code's fold fingerprint, so the batch
resolves them from the fold columns as it does a real archive's, without re-parsing.
The cache is rebuilt when that fingerprint changes.
"""

from __future__ import annotations

import datetime as dt
import json
import multiprocessing
import os
import platform
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from benchmarks.common import peak_rss_mb, proc_memory_mb
from contracts.calendar import load_campaign
from contracts.clock import CST
from contracts.fold import with_totals
from contracts.quality import run_check
from contracts.registry import Registry
from contracts.uscc import make_uscc
from pipeline.flows.quality_inputs import ledger_answers, read_snapshot, scan_archive
from warehouse.archive_files import FOLD_KEY, UNFOLDED_KEY, fold_fingerprint
from warehouse.schema import ARCHIVE_SCHEMA, CONTRIBUTION_TYPE

__all__ = ["CheckBench", "build_campaign", "run_bench", "TARGET_SECONDS", "TARGET_PEAK_MB"]

TARGET_SECONDS = 25.0
TARGET_PEAK_MB = 2000.0
UNITS = ("320400", "320402", "320404", "320411", "320412", "320413", "320471", "320481")
PARTITIONS = 6
#: (type, source, share of clean events)
MIX = (
    ("employer.inspected", "inspection", 0.40),
    ("arrears.verified", "inspection", 0.08),
    ("arrears.resolved", "inspection", 0.08),
    ("order.issued", "inspection", 0.06),
    ("case.transferred", "inspection", 0.02),
    ("case.filed", "inspection", 0.015),
    ("employer.published", "inspection", 0.005),
    ("employer.blacklisted", "inspection", 0.005),
    ("dispute.resolved", "mediation", 0.10),
    ("execution.concluded", "court", 0.05),
    ("lead.received", "complaint", 0.12),
    ("lead.merged", "complaint", 0.015),
    ("lead.verified", "complaint", 0.03),
    ("lead.closed", "complaint", 0.02),
)
P_RESEND, P_CORRECTION, P_RETRACTION = 0.01, 0.004, 0.002


@dataclass
class CheckBench:
    events: int
    archive_rows: int
    archive_mb: float
    setup_seconds: float
    check_seconds: float
    phases: dict[str, float]
    passed: bool
    critical_failures: list[str]
    warnings: list[str]
    peak_rss_mb: float
    target_seconds: float = TARGET_SECONDS
    target_peak_mb: float = TARGET_PEAK_MB
    machine: dict[str, Any] = field(default_factory=dict)

    @property
    def events_per_s(self) -> int:
        return int(self.archive_rows / self.check_seconds) if self.check_seconds else 0

    @property
    def meets_target(self) -> bool:
        return self.check_seconds < self.target_seconds and self.peak_rss_mb < self.target_peak_mb

    def as_json(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "events_per_s": self.events_per_s,
            "meets_target": self.meets_target,
        }


def _employers(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [make_uscc(rng, rng.choice(UNITS)) for _ in range(n)]


def _json_str(expr: pl.Expr) -> pl.Expr:
    return pl.concat_str([pl.lit('"'), expr, pl.lit('"')])


def build_campaign(
    folder: Path, n: int, *, seed: int = 7, say: Callable[[str], None] = lambda _m: None
) -> tuple[Path, Path]:
    """Write the archive and the December snapshot under `folder`; reuse them if present."""
    archive, snapshots = folder / "archive", folder / "snapshots"
    stamp = folder / "campaign.json"
    wanted = {"events": n, "seed": seed, "fold": fold_fingerprint()}
    if stamp.exists() and json.loads(stamp.read_text()) == wanted:
        return archive, next(p.parent for p in snapshots.rglob("meta.json"))
    if folder.exists():
        import shutil

        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    campaign = load_campaign()
    start = int(campaign.window_start.timestamp() * 1000)
    end = int(dt.datetime(2025, 1, 6, tzinfo=CST).timestamp() * 1000)
    say(f"generating {n:,} events")
    employers = _employers(min(200_000, max(1000, n // 50)), seed)
    n_dirty = int(n * (P_RESEND + P_CORRECTION + P_RETRACTION))
    n_clean = n - n_dirty
    shares = np.array([m[2] for m in MIX])
    kinds = rng.choice(len(MIX), size=n_clean, p=shares / shares.sum())
    at = np.sort(rng.integers(start, end, size=n_clean))
    frame = pl.DataFrame(
        {
            "i": np.arange(n_clean),
            "kind": kinds.astype(np.int16),
            "at": at,
            "unit": np.array(UNITS)[rng.integers(0, len(UNITS), size=n_clean)],
            "emp": np.array(employers)[rng.integers(0, len(employers), size=n_clean)],
            "workers": rng.integers(1, 200, size=n_clean),
            "fen": rng.integers(100_000, 50_000_000, size=n_clean),
        }
    ).with_columns(
        pl.col("kind").replace_strict(list(range(len(MIX))), [m[0] for m in MIX]).alias("type"),
        pl.col("kind").replace_strict(list(range(len(MIX))), [m[1] for m in MIX]).alias("source"),
        pl.format("ev-{}", pl.col("i")).alias("event_id"),
        pl.lit(None, pl.Utf8).alias("supersedes"),
        pl.lit(None, pl.Utf8).alias("retracts"),
    )
    frame = frame.with_columns(_raw(frame))
    dirty = _dirt(
        frame,
        rng,
        int(n * P_RESEND),
        int(n * P_CORRECTION),
        n_dirty - int(n * P_RESEND) - int(n * P_CORRECTION),
    )
    rows = pl.concat([frame.select(dirty.columns), dirty]).sort("at")
    say("writing the archive")
    rows = _place(rows)
    _write_archive(archive, rows)
    say("writing the December snapshot")
    snap_path = _write_snapshot(snapshots, rows, rng)
    stamp.write_text(json.dumps(wanted))
    return archive, snap_path


def _raw(frame: pl.DataFrame) -> pl.Expr:
    """The event's JSON line, built column-wise (one template per payload shape)."""
    emp = pl.concat_str(
        [pl.lit('{"id":"'), pl.col("emp"), pl.lit('","name":"常州某有限公司","industry":"3411"}')]
    )
    yuan = pl.format(
        "{}.{}", pl.col("fen") // 100, (pl.col("fen") % 100).cast(pl.Utf8).str.zfill(2)
    )
    case = _json_str(pl.format("C-{}", pl.col("i") // 2))
    lead = _json_str(pl.format("L-{}", pl.col("i") // 3))
    t = pl.col("type")
    payload = (
        pl.when(t == "employer.inspected")
        .then(
            pl.concat_str(
                [
                    pl.lit('{"employer":'),
                    emp,
                    pl.lit(',"workers":'),
                    pl.col("workers").cast(pl.Utf8),
                    pl.lit(',"migrant_workers":'),
                    (pl.col("workers") // 2).cast(pl.Utf8),
                    pl.lit(',"method":"onsite"}'),
                ]
            )
        )
        .when(t.is_in(["arrears.verified", "arrears.resolved"]))
        .then(
            pl.concat_str(
                [
                    pl.lit('{"case_id":'),
                    case,
                    pl.lit(',"employer":'),
                    emp,
                    pl.lit(',"workers":'),
                    pl.col("workers").cast(pl.Utf8),
                    pl.lit(',"amount":"'),
                    yuan,
                    pl.lit('","channel":"inspection","new_employment_form":false}'),
                ]
            )
        )
        .when(t.is_in(["dispute.resolved", "execution.concluded"]))
        .then(
            pl.concat_str(
                [
                    pl.lit('{"case_no":'),
                    case,
                    pl.lit(',"employer":'),
                    emp,
                    pl.lit(',"workers":'),
                    pl.col("workers").cast(pl.Utf8),
                    pl.lit(',"amount":"'),
                    yuan,
                    pl.lit('","channel":"mediation","new_employment_form":false}'),
                ]
            )
        )
        .when(t.str.starts_with("lead."))
        .then(
            pl.concat_str(
                [pl.lit('{"lead_id":'), lead, pl.lit(',"intake":"centralized_reception"}')]
            )
        )
        .otherwise(
            pl.concat_str([pl.lit('{"case_id":'), case, pl.lit(',"employer":'), emp, pl.lit("}")])
        )
    )
    occurred = (
        pl.from_epoch(pl.col("at"), "ms")
        .dt.convert_time_zone("Asia/Shanghai")
        .dt.strftime("%Y-%m-%dT%H:%M:%S+08:00")
    )
    return pl.concat_str(
        [
            pl.lit('{"event_id":'),
            _json_str(pl.col("event_id")),
            pl.lit(',"source":'),
            _json_str(pl.col("source")),
            pl.lit(',"type":'),
            _json_str(t),
            pl.lit(',"occurred_at":'),
            _json_str(occurred),
            pl.lit(',"unit":'),
            _json_str(pl.col("unit")),
            pl.lit(',"payload":'),
            payload,
            pl.lit("}"),
        ]
    ).alias("raw")


def _dirt(
    frame: pl.DataFrame, rng: np.random.Generator, resends: int, corrections: int, retractions: int
) -> pl.DataFrame:
    """Identical resends, corrections (supersedes) and retractions of earlier events."""
    cols = ["event_id", "source", "type", "unit", "at", "supersedes", "retracts", "raw"]
    n = frame.height
    resent = (
        frame[rng.integers(0, n, size=resends)].select(cols).with_columns(pl.col("at") + 60_000)
    )
    corrected = (
        frame[rng.integers(0, n, size=corrections)]
        .select(cols)
        .with_columns(
            pl.col("event_id").alias("supersedes"),
            pl.format("fix-{}", pl.int_range(pl.len())).alias("event_id"),
            pl.col("at") + 3_600_000,
        )
    )
    corrected = corrected.with_columns(
        pl.concat_str(
            [
                pl.lit('{"event_id":"'),
                pl.col("event_id"),
                pl.lit('","supersedes":"'),
                pl.col("supersedes"),
                pl.lit('",'),
                pl.col("raw").str.split_exact('",', 1).struct.field("field_1"),
            ]
        ).alias("raw")
    )
    targets = frame[rng.integers(0, n, size=retractions)]
    retracted = targets.select(
        pl.format("ret-{}", pl.int_range(pl.len())).alias("event_id"),
        pl.lit("inspection").alias("source"),
        pl.lit("event.retracted").alias("type"),
        "unit",
        (pl.col("at") + 7_200_000).alias("at"),
        pl.lit(None, pl.Utf8).alias("supersedes"),
        pl.col("event_id").alias("retracts"),
        pl.concat_str(
            [
                pl.lit(
                    '{"event_id":"ret-x","source":"inspection","type":"event.retracted","unit":"'
                ),
                pl.col("unit"),
                pl.lit('","payload":{"retracts":"'),
                pl.col("event_id"),
                pl.lit('","reason":"entered twice"}}'),
            ]
        ).alias("raw"),
    )
    return pl.concat([resent, corrected, retracted])


def _place(rows: pl.DataFrame) -> pl.DataFrame:
    """Topic per source, partition by unit, offsets in arrival order; the archive's columns."""
    tz = "+08:00"
    rows = rows.with_columns(
        pl.format("arrears.source.{}", pl.col("source")).alias("topic"),
        (pl.col("unit").hash(seed=1) % PARTITIONS).cast(pl.Int32).alias("partition"),
    )
    rows = rows.with_columns(
        pl.int_range(pl.len()).over("topic", "partition").cast(pl.Int64).alias("offset")
    )
    return rows.select(
        "topic",
        "partition",
        "offset",
        "event_id",
        "source",
        "type",
        "unit",
        pl.from_epoch(pl.col("at"), "ms")
        .dt.replace_time_zone("UTC")
        .dt.convert_time_zone(tz)
        .alias("occurred_at"),
        pl.lit(None, pl.Datetime("ms", tz)).alias("recorded_at"),
        "supersedes",
        pl.col("raw").hash(seed=3).cast(pl.Utf8).alias("content_hash"),
        "raw",
        "retracts",
    )


def _write_archive(root: Path, rows: pl.DataFrame) -> None:
    """The files as `warehouse.archive_files.write_part` lays them out (schema, fold metadata),
    written column-wise; every row's fold is empty (see the module docstring)."""
    dated = rows.with_columns(pl.col("occurred_at").dt.strftime("%Y-%m-%d").alias("_date"))
    metadata = {FOLD_KEY: fold_fingerprint().encode(), UNFOLDED_KEY: b"0"}
    no_fold = pa.array([], type=CONTRIBUTION_TYPE)
    for (source, date, topic, partition), part in dated.group_by(
        "source", "_date", "topic", "partition"
    ):
        part = part.sort("offset").drop("_date")
        folder = root / f"source={source}" / f"date={date}"
        folder.mkdir(parents=True, exist_ok=True)
        first, last = part["offset"][0], part["offset"][-1]
        offsets = pa.array(np.zeros(part.height + 1, np.int32), type=pa.int32())
        empty = pa.ListArray.from_arrays(offsets, no_fold)
        table = (
            part.to_arrow()
            .append_column("contributions", empty)
            .append_column("case_id", pa.nulls(part.height, pa.string()))
            .append_column("case_role", pa.nulls(part.height, pa.string()))
            .select(ARCHIVE_SCHEMA.names)
            .cast(ARCHIVE_SCHEMA)
            .replace_schema_metadata(metadata)
        )
        pq.write_table(
            table, folder / f"part-{topic}-{partition}-{first}-{last}.parquet", compression="zstd"
        )


def _write_snapshot(root: Path, rows: pl.DataFrame, rng: np.random.Generator) -> Path:
    """The December snapshot: plausible own figures per unit (the check does not refold the
    events), rolled up and written by the warehouse's own writer at the archive's end."""
    from contracts.cutoff import parse_cutoff
    from warehouse.cells_table import cells_frame
    from warehouse.snapshot import write_snapshot

    registry = Registry.load()
    own: dict[tuple[str, str], int] = {}
    counts = rows.group_by("unit", "type").len()
    per = {(u, t): c for u, t, c in counts.iter_rows()}
    for unit in UNITS:
        n_resolved = per.get((unit, "arrears.resolved"), 0)
        for row, share in (
            ("construction", 4),
            ("manufacturing", 3),
            ("services", 2),
            ("other", 1),
        ):
            k = share / 10
            employers = int(per.get((unit, "employer.inspected"), 0) * k * 0.6)
            resolved = int(n_resolved * k)
            workers = int(rng.integers(20, 60)) * max(employers, 1)
            own.update(
                {
                    (unit, f"{row}.employers"): employers,
                    (unit, f"{row}.workers"): workers,
                    (unit, f"{row}.migrant_workers"): workers // 2,
                    (unit, f"{row}.resolved"): resolved,
                    (unit, f"{row}.resolved_workers"): resolved * 12,
                    (unit, f"{row}.resolved_amount"): resolved * 12 * 300_000,
                    (unit, f"{row}.police_transfers"): resolved // 50,
                    (unit, f"{row}.police_filings"): resolved // 80,
                }
            )
        for item in (3, 4, 5):
            own[(unit, f"item{item}.cases")] = n_resolved // 10
            own[(unit, f"item{item}.workers")] = n_resolved // 10 * 12
            own[(unit, f"item{item}.amount")] = n_resolved // 10 * 12 * 300_000
    cells = cells_frame(with_totals(own), registry)
    offsets: dict[str, dict[int, int]] = {}
    for topic, partition, last in (
        rows.group_by("topic", "partition").agg(pl.col("offset").max()).iter_rows()
    ):
        offsets.setdefault(topic, {})[int(partition)] = int(last) + 1
    snap = write_snapshot(
        root,
        parse_cutoff("progress"),
        cells,
        offsets,
        source="archive",
        event_count=rows.height,
        label="bench",
    )
    return snap.path


def run_bench(folder: Path, n: int, *, say: Callable[[str], None] = lambda _m: None) -> CheckBench:
    """Build (or reuse) the campaign, then time the check in a process of its own, so its
    peak memory is the check's (building 10M events holds about 7 GB in this one)."""
    started = time.monotonic()
    archive, snapshot_path = build_campaign(folder, n, say=say)
    setup = time.monotonic() - started
    archive_mb = sum(p.stat().st_size for p in archive.rglob("*.parquet")) / 1e6
    say("running the check (in a process of its own)")
    context = multiprocessing.get_context("spawn")
    answers, answer_in = context.Pipe(duplex=False)
    child = context.Process(target=_check_child, args=(archive, snapshot_path, answer_in))
    child.start()
    answer_in.close()
    figures: dict[str, Any] | None = None
    while figures is None:
        try:
            kind, value = answers.recv()
        except EOFError:
            child.join()
            raise RuntimeError(
                f"the check's process died (exit status {child.exitcode}; out of memory?)"
            ) from None
        if kind == "say":
            say(value)
        else:
            figures = value
    child.join()
    return CheckBench(
        events=n,
        archive_mb=round(archive_mb, 1),
        setup_seconds=round(setup, 1),
        machine={
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        **figures,
    )


def _check_child(archive: Path, snapshot_path: Path, answers: Connection) -> None:
    """The timed check, in a spawned process: sends ("say", message) lines, then
    ("figures", {...}) with its peak resident memory (VmHWM: this process's alone)."""
    phases: dict[str, float] = {}
    t0 = time.monotonic()
    since, phase = t0, "read inputs"

    def mark(message: str) -> None:
        nonlocal since, phase
        now = time.monotonic()
        phases[phase] = round(now - since, 2)
        since, phase = now, message
        answers.send(("say", f"  {message}"))

    _, snapshot = read_snapshot(snapshot_path)
    lazy = scan_archive(archive, dict(snapshot.meta))
    registry = Registry.load()
    mark("the Ledger's answer (warehouse batch)")
    answer = ledger_answers(archive, snapshot.meta, registry)
    letters = pl.DataFrame(schema={"id": pl.Utf8, "original": pl.Utf8, "status": pl.Utf8})
    result = run_check(
        snapshot,
        archive=lazy,
        ledger=answer,
        registry=registry,
        dead_letters=letters,
        docs_dir=snapshot_path / "quality" / "data_docs",
        say=mark,
    )
    mark("done")
    answers.send(
        (
            "figures",
            {
                "archive_rows": result.event_rows or 0,
                "check_seconds": round(time.monotonic() - t0, 2),
                "phases": phases,
                "passed": result.passed,
                "critical_failures": [o.check for o in result.critical_failures],
                "warnings": [o.check for o in result.warnings],
                "peak_rss_mb": round(_high_water_mb(), 0),
            },
        )
    )


def _high_water_mb() -> float:
    """This process's peak resident memory in MB: VmHWM, which exec resets (ru_maxrss of a
    spawned child starts at its parent's peak on Linux); ru_maxrss where /proc is absent."""
    return proc_memory_mb().get("VmHWM") or peak_rss_mb()
