"""The Kafka replay's reading half: the source topics turned into fold rows, on every core.

The replay from Kafka and the archive batch fold the same rows (`warehouse.schema.
ROW_COLUMNS`). The archive holds them in Parquet; here each topic-partition up to its end
in `upto` is read (with confluent-kafka: `warehouse.log_fetch` says why), every record
parsed, validated with its key and folded as the stream workers do, and the rows go to an
Arrow IPC file.

Why processes: parsing and validating a record in Python costs several times what the
client spends fetching and decoding it, so one process cannot keep up with even a bare
consumer. The topic-partitions are dealt out to one reader process per core (largest
first, to the reader with the fewest records so far); each writes its own row files. Row
order does not matter to the fold: it sorts the few rows the Ledger must see by log
position, so the answer is the one a single reader in log order would give.

Size: the readers' launch, their report protocol, the row buffers and the look-up of their
records are one process boundary, kept together so its two sides cannot drift.
"""

from __future__ import annotations

import bisect
import itertools
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from contracts.registry import Registry
from warehouse._durable import hook
from warehouse.errors import WarehouseError
from warehouse.log_fetch import plan_batches
from warehouse.offsets import Offsets
from warehouse.readers import deal, run_readers
from warehouse.record_rows import RAW_SCHEMA, ROW_SCHEMA, RecordRows

__all__ = ["ROW_SCHEMA", "RAW_SCHEMA", "RowFiles", "read_rows", "plan_readers"]

_FLUSH_ROWS = 50_000
Progress = Callable[[int], None]


@dataclass(frozen=True)
class RowFiles:
    """What the readers wrote: Arrow IPC files of ROW_SCHEMA, and the records they skipped."""

    paths: list[Path]
    records: int  # records read (valid or not)
    invalid: int  # records that do not validate: the dead letters' business, not the fold's

    def raws(self, raw_rows: Iterable[int]) -> list[bytes]:
        """The records at these `raw_row` numbers, from the memory-mapped raw files: only
        the pages of the rows asked for are read. (Not `take`: it copies a file's batches
        into one array first, and pyarrow.compute loads pandas.)"""
        wanted = list(raw_rows)
        by_reader: dict[int, list[int]] = {}
        for at in wanted:
            by_reader.setdefault(at >> 32, []).append(at & 0xFFFF_FFFF)
        found: dict[int, bytes] = {}
        for k, rows in by_reader.items():
            with pa.memory_map(str(_raw_path(self.paths[k]))) as source:
                reader = pa.ipc.open_file(source)
                batches = [reader.get_batch(i).column(0) for i in range(reader.num_record_batches)]
                starts = list(itertools.accumulate((len(b) for b in batches), initial=0))
                for row in rows:
                    i = bisect.bisect_right(starts, row) - 1
                    found[k << 32 | row] = batches[i][row - starts[i]].as_py()
        return [found[at] for at in wanted]


def plan_readers(upto: Offsets, readers: int) -> list[list[tuple[str, int, int]]]:
    """Deal the (topic, partition, end) to read out to `readers`, balancing record counts."""
    work = [((t, p, end), end) for t, parts in upto.items() for p, end in parts.items() if end > 0]
    return [sorted(plan) for plan in deal(sorted(work), readers)]


def read_rows(
    bootstrap: str,
    upto: Offsets,
    registry: Registry,
    workdir: Path,
    *,
    readers: int | None = None,
    progress: Progress | None = None,
    client_id: str = "arrears-replay",
) -> RowFiles:
    """Every record before `upto` as fold rows in IPC files under `workdir` (which must exist).

    `readers` defaults to the number of cores. Fails with WarehouseError if a reader fails
    or dies; the files are then incomplete and the caller removes `workdir`.
    """
    plans = plan_readers(upto, readers or os.cpu_count() or 1)
    if not plans:
        return RowFiles([], 0, 0)
    jobs = [
        _Job(
            bootstrap,
            plan,
            registry,
            workdir / f"rows-{k}.arrow",
            k,
            f"{client_id}-{k}",
            _FLUSH_ROWS,
        )
        for k, plan in enumerate(plans)
    ]
    records = invalid = 0
    for body in run_readers(jobs, progress=progress):
        done_records, done_invalid = map(int, body.split())
        records, invalid = records + done_records, invalid + done_invalid
    return RowFiles([job.path for job in jobs], records, invalid)


@dataclass(frozen=True)
class _Job:
    """What one reader is asked to do (`warehouse.readers` runs it in a process)."""

    bootstrap: str
    plan: list[tuple[str, int, int]]
    registry: Registry
    path: Path
    number: int  # this reader's k, the high half of its raw_row numbers
    client_id: str
    flush_rows: int

    def __call__(self, say: Callable[[str], None]) -> None:
        _reader(self, say)


def _raw_path(rows_path: Path) -> Path:
    return rows_path.with_name(rows_path.name.replace("rows-", "raw-", 1))


def _reader(job: _Job, say: Callable[[str], None]) -> None:
    """One reader process: its topic-partitions, in offset order, into one IPC file."""
    try:
        records = invalid = 0
        first_row = job.number << 32
        with (
            pa.OSFile(str(job.path), "wb") as sink,
            pa.ipc.new_file(sink, ROW_SCHEMA) as writer,
            pa.OSFile(str(_raw_path(job.path)), "wb") as raw_sink,
            pa.ipc.new_file(raw_sink, RAW_SCHEMA) as raw_writer,
        ):

            def flush(rows: RecordRows) -> None:
                nonlocal first_row
                batch, raws = rows.batch(first_row)
                writer.write_batch(batch)
                raw_writer.write_batch(raws)
                first_row += len(rows)

            # The partitions are read side by side (`warehouse.log_fetch`): one row buffer each.
            buffers: dict[tuple[str, int], RecordRows] = {}
            for topic, partition, values in plan_batches(job.bootstrap, job.client_id, job.plan):
                rows = buffers.get((topic, partition))
                if rows is None:
                    rows = buffers[(topic, partition)] = RecordRows(topic, partition)
                for offset, value, key in values:
                    if not rows.add(offset, value, key, job.registry):
                        invalid += 1
                records += len(values)
                say(f"progress {len(values)}")
                hook("replay.reader-batch")
                if len(rows) >= job.flush_rows:
                    flush(rows)
                    buffers[(topic, partition)] = RecordRows(topic, partition)
            for rows in buffers.values():
                if len(rows):
                    flush(rows)
        say(f"done {records} {invalid}")
    except (WarehouseError, OSError, pa.ArrowException) as err:
        say("error reading the log failed: " + " ".join(str(err).split()))
