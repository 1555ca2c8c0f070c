"""The Kafka replay's reading half: the source topics turned into fold rows, on every core.

The replay from Kafka and the archive batch fold the same rows (`warehouse.schema.
ROW_COLUMNS`). The archive holds them in Parquet; here each topic-partition up to its end
in `upto` is read with kafka-python, every record parsed, validated with its key and
folded as the stream workers do, and the rows go to an Arrow IPC file.

Why processes: parsing and validating a record in Python costs several times what
kafka-python spends fetching and decoding it, so one process cannot keep up with even a
bare consumer. The topic-partitions are dealt out to one reader process per core (largest
first, to the reader with the fewest records so far); each writes its own row files. Row
order does not matter to the fold: it sorts the few rows the Ledger must see by log
position, so the answer is the one a single reader in log order would give.

Size: the readers' launch, their report protocol, the row buffers and the look-up of their
records are one process boundary, kept together so its two sides cannot drift.
"""

from __future__ import annotations

import bisect
import gc
import itertools
import os
import pickle
import selectors
import subprocess
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
from kafka import TopicPartition
from kafka.errors import KafkaError

from contracts.errors import ValidationError
from contracts.events import check_key, parse_event
from contracts.fold import Contribution, case_link, contributions
from contracts.payloads import EventRetracted
from contracts.registry import Registry
from warehouse._durable import hook
from warehouse.errors import WarehouseError
from warehouse.kafka_log import consumer_for, partition_batches
from warehouse.offsets import Offsets
from warehouse.schema import ARCHIVE_SCHEMA, CONTRIBUTION_TYPE, ROW_COLUMNS

__all__ = ["ROW_SCHEMA", "RAW_SCHEMA", "RowFiles", "read_rows", "plan_readers"]

#: The fold rows as the readers write them: the archive's columns the fold reads
#: (warehouse.schema.ROW_COLUMNS), then `raw_row`. `content_hash` is left null:
#: `warehouse.batch.fold_rows` hashes only the rows whose event_id repeats (the only hashes
#: the Ledger compares), from the record itself, kept in the reader's raw file (RAW_SCHEMA)
#: at this row number: reader << 32 | row.
ROW_SCHEMA = pa.schema(
    [ARCHIVE_SCHEMA.field(c) for c in ROW_COLUMNS] + [pa.field("raw_row", pa.int64())]
)
#: The records, one a row, in the order of the reader's row file.
RAW_SCHEMA = pa.schema([("raw", pa.binary())])
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
    work = sorted(
        ((t, p, end) for t, parts in upto.items() for p, end in parts.items() if end > 0),
        key=lambda w: (-w[2], w[0], w[1]),
    )
    plans: list[list[tuple[str, int, int]]] = [[] for _ in range(max(1, readers))]
    loads = [0] * len(plans)
    for item in work:
        k = loads.index(min(loads))
        plans[k].append(item)
        loads[k] += item[2]
    return [sorted(plan) for plan in plans if plan]


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
    # Each reader is a fresh interpreter (running `_main`), not a fork: a
    # fork taken while polars' or Arrow's thread pools hold a lock can hang, and
    # multiprocessing's spawn would import the caller's main module again. Starting one
    # costs about a second of imports.
    procs: dict[int, subprocess.Popen[bytes]] = {}
    paths = []
    try:
        for k, plan in enumerate(plans):
            path = workdir / f"rows-{k}.arrow"
            job = _Job(bootstrap, plan, registry, path, k, f"{client_id}-{k}", _FLUSH_ROWS)
            proc = subprocess.Popen(
                [sys.executable, "-c", _LAUNCH], stdin=subprocess.PIPE, stdout=subprocess.PIPE
            )
            assert proc.stdin is not None and proc.stdout is not None
            proc.stdin.write(pickle.dumps(job))
            proc.stdin.close()
            procs[proc.stdout.fileno()] = proc
            paths.append(path)
        records, invalid = _follow(procs, progress)
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=10)
            assert proc.stdout is not None
            proc.stdout.close()
    return RowFiles(paths, records, invalid)


def _follow(
    procs: dict[int, subprocess.Popen[bytes]], progress: Progress | None
) -> tuple[int, int]:
    """Read the readers' report lines until each says `done`; fail on `error` or death."""
    records = invalid = 0
    running = dict(procs)
    with selectors.DefaultSelector() as selector:
        for fd, proc in running.items():
            selector.register(proc.stdout, selectors.EVENT_READ, fd)  # type: ignore[arg-type]
        while running:
            for key, _ in selector.select():
                proc = running[key.data]
                line = proc.stdout.readline().decode().rstrip("\n")  # type: ignore[union-attr]
                kind, _, body = line.partition(" ")
                if kind == "progress":
                    if progress is not None:
                        progress(int(body))
                elif kind == "done":
                    done_records, done_invalid = map(int, body.split())
                    records, invalid = records + done_records, invalid + done_invalid
                    selector.unregister(key.fileobj)
                    del running[key.data]
                elif kind == "error":
                    raise WarehouseError(body)
                else:  # end of file: the reader is gone
                    code = proc.wait(timeout=10)
                    how = f"killed by signal {-code}" if code < 0 else f"exit status {code}"
                    raise WarehouseError(
                        f"a log reader process died ({how}) before the end "
                        "of the replay; run it again"
                    )
    return records, invalid


@dataclass(frozen=True)
class _Job:
    """What one reader is asked to do (sent to it pickled on its standard input)."""

    bootstrap: str
    plan: list[tuple[str, int, int]]
    registry: Registry
    path: Path
    number: int  # this reader's k, the high half of its raw_row numbers
    client_id: str
    flush_rows: int


#: A reader's interpreter, told that pandas is absent: pyarrow imports pandas (when it is
#: installed, as great-expectations has it) on the first array it builds, a quarter second
#: and 80 MB a reader spent on nothing. A finder first on sys.meta_path refuses the import,
#: which pyarrow takes as "no pandas".
_LAUNCH = f"""
import sys

class NoPandas:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] == "pandas":
            raise ImportError("the Kafka replay's readers do without pandas")
        return None

sys.meta_path.insert(0, NoPandas())
from {__name__} import _main
_main()
"""


def _raw_path(rows_path: Path) -> Path:
    return rows_path.with_name(rows_path.name.replace("rows-", "raw-", 1))


def _reader(job: _Job, say: Callable[[str], None]) -> None:
    """One reader process: its topic-partitions, in offset order, into one IPC file."""
    # Only short-lived objects are made here; the collector's passes over the modules'
    # objects cost more than the cycles it would find (a rejected record's traceback), so
    # it runs once per flushed batch instead.
    gc.freeze()
    gc.disable()
    try:
        consumer = consumer_for(job.bootstrap, job.client_id)
        records = invalid = 0
        first_row = job.number << 32
        with (
            pa.OSFile(str(job.path), "wb") as sink,
            pa.ipc.new_file(sink, ROW_SCHEMA) as writer,
            pa.OSFile(str(_raw_path(job.path)), "wb") as raw_sink,
            pa.ipc.new_file(raw_sink, RAW_SCHEMA) as raw_writer,
        ):

            def flush(rows: _Rows) -> int:
                batch, raws = rows.batch(first_row)
                writer.write_batch(batch)
                raw_writer.write_batch(raws)
                return first_row + len(rows)

            for topic, partition, end in job.plan:
                rows = _Rows(topic, partition)
                for values in partition_batches(consumer, TopicPartition(topic, partition), end):
                    for offset, value, key in values:
                        if not rows.add(offset, value, key, job.registry):
                            invalid += 1
                    records += len(values)
                    say(f"progress {len(values)}")
                    hook("replay.reader-batch")
                    if len(rows) >= job.flush_rows:
                        first_row = flush(rows)
                        rows = _Rows(topic, partition)
                        gc.collect(0)
                if len(rows):
                    first_row = flush(rows)
        consumer.close()
        say(f"done {records} {invalid}")
    except (WarehouseError, KafkaError, OSError, pa.ArrowException) as err:
        say("error reading the log failed: " + " ".join(str(err).split()))


def _main() -> None:
    job = pickle.loads(sys.stdin.buffer.read())
    out = sys.stdout

    def say(line: str) -> None:
        out.write(line + "\n")
        out.flush()

    _reader(job, say)


#: offset, event_id, unit, source, supersedes, retracts, case_id, case_role, raw
_Row = tuple[int, str, str, str, str | None, str | None, str | None, str | None, bytes]


class _Rows:
    """Column buffers of one topic-partition's rows, turned into an Arrow batch by `batch`."""

    def __init__(self, topic: str, partition: int) -> None:
        self.topic, self.partition = topic, partition
        self.rows: list[_Row] = []
        self.ends: list[int] = [0]  # contributions of row i: items[ends[i]:ends[i + 1]]
        self.items: list[Contribution] = []

    def __len__(self) -> int:
        return len(self.rows)

    def add(self, offset: int, value: bytes, key: bytes | None, registry: Registry) -> bool:
        """Parse, validate (with its key) and fold one record; False if it is not a valid event."""
        try:
            event = parse_event(value, registry)
            check_key(event, key)
        except ValidationError:
            return False
        payload = event.payload
        case, role = case_link(event) or (None, None)
        self.rows.append(
            (
                offset,
                event.event_id,
                event.unit,
                event.source,
                event.supersedes,
                payload.retracts if isinstance(payload, EventRetracted) else None,
                case,
                role,
                value,
            )
        )
        self.items.extend(contributions(event))
        self.ends.append(len(self.items))
        return True

    def batch(self, first_row: int) -> tuple[pa.RecordBatch, pa.RecordBatch]:
        """The rows (ROW_SCHEMA, numbered from `first_row`) and their records (RAW_SCHEMA)."""
        # Columns by transposing with zip: one C-level pass instead of five appends a row.
        n = len(self.rows)
        offsets, ids, units_, sources, supersedes, retracts, case_ids, case_roles, raws = (
            zip(*self.rows, strict=True) if n else ((),) * 9
        )
        cells, units, keys, ats, values, _ = (
            zip(*self.items, strict=True) if self.items else ((),) * 6
        )
        items = pa.StructArray.from_arrays(
            [
                pa.array(cells, pa.string()),
                pa.array(units, pa.string()),
                pa.array(keys, pa.string()),
                pa.array(ats, pa.int64()),
                pa.array(values, pa.int64()),
            ],
            fields=list(CONTRIBUTION_TYPE),
        )
        return pa.record_batch(
            [
                pa.array([self.topic] * n, pa.string()),
                pa.array([self.partition] * n, pa.int32()),
                pa.array(offsets, pa.int64()),
                pa.array(ids, pa.string()),
                pa.array(units_, pa.string()),
                pa.array(sources, pa.string()),
                pa.nulls(n, pa.string()),
                pa.array(supersedes, pa.string()),
                pa.array(retracts, pa.string()),
                pa.ListArray.from_arrays(
                    pa.array(self.ends, pa.int32()), items, type=pa.list_(CONTRIBUTION_TYPE)
                ),
                pa.array(case_ids, pa.string()),
                pa.array(case_roles, pa.string()),
                pa.array(range(first_row, first_row + n), pa.int64()),
            ],
            schema=ROW_SCHEMA,
        ), pa.record_batch([pa.array(raws, pa.binary())], schema=RAW_SCHEMA)
