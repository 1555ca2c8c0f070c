"""The Kafka replay's reading half: the source topics turned into fold rows, on every core.

The replay from Kafka and the archive batch fold the same rows (`warehouse.batch.fold_rows`:
event_id, content hash, supersedes, retracts, contributions, log position). The archive
holds them in Parquet; here they are made from the log itself: each topic-partition up to
its end in `upto` is read with kafka-python, every record is parsed and validated
(`contracts.events.parse_event`, as the stream workers do) and folded
(`contracts.fold.contributions`), and the rows go to an Arrow IPC file.

Why processes: parsing and validating a record in Python costs several times what
kafka-python spends fetching and decoding it, so one process cannot keep up with even a
bare consumer. The topic-partitions are dealt out to one reader process per core (largest
first, to the reader with the fewest records so far); each writes its own row files. Row
order does not matter to the fold: it sorts the few rows the Ledger must see by log
position, so the answer is the one a single reader in log order would give.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from pathlib import Path

import pyarrow as pa
from kafka import TopicPartition
from kafka.errors import KafkaError

from contracts.errors import ValidationError
from contracts.events import parse_event
from contracts.fold import contributions
from contracts.payloads import EventRetracted
from contracts.registry import Registry
from warehouse._durable import hook
from warehouse.archive import CONTRIBUTION_TYPE
from warehouse.errors import WarehouseError
from warehouse.kafka_log import consumer_for, partition_batches
from warehouse.offsets import Offsets

__all__ = ["ROW_SCHEMA", "RowFiles", "read_rows", "plan_readers"]

#: The fold rows (warehouse.batch.ROW_COLUMNS), as the readers write them.
ROW_SCHEMA = pa.schema([
    ("topic", pa.string()), ("partition", pa.int32()), ("offset", pa.int64()),
    ("event_id", pa.string()), ("content_hash", pa.string()), ("supersedes", pa.string()),
    ("retracts", pa.string()), ("contributions", pa.list_(CONTRIBUTION_TYPE)),
])
_FLUSH_ROWS = 50_000
Progress = Callable[[int], None]


@dataclass(frozen=True)
class RowFiles:
    """What the readers wrote: Arrow IPC files of ROW_SCHEMA, and the records they skipped."""

    paths: list[Path]
    records: int  # records read (valid or not)
    invalid: int  # records that do not validate: the dead letters' business, not the fold's


def plan_readers(upto: Offsets, readers: int) -> list[list[tuple[str, int, int]]]:
    """Deal the (topic, partition, end) to read out to `readers`, balancing record counts."""
    work = sorted(((t, p, end) for t, parts in upto.items() for p, end in parts.items()
                   if end > 0), key=lambda w: (-w[2], w[0], w[1]))
    plans: list[list[tuple[str, int, int]]] = [[] for _ in range(max(1, readers))]
    loads = [0] * len(plans)
    for item in work:
        k = loads.index(min(loads))
        plans[k].append(item)
        loads[k] += item[2]
    return [sorted(plan) for plan in plans if plan]


def read_rows(bootstrap: str, upto: Offsets, registry: Registry, workdir: Path, *,
              readers: int | None = None, progress: Progress | None = None,
              client_id: str = "arrears-replay") -> RowFiles:
    """Every record before `upto` as fold rows in IPC files under `workdir` (which must exist).

    `readers` defaults to the number of cores. Fails with WarehouseError if a reader fails
    or dies; the files are then incomplete and the caller removes `workdir`.
    """
    plans = plan_readers(upto, readers or os.cpu_count() or 1)
    if not plans:
        return RowFiles([], 0, 0)
    # Spawned, not forked: a fork taken while polars' or Arrow's thread pools hold a lock
    # can hang the child. Starting a reader costs about a second of imports.
    ctx = multiprocessing.get_context("spawn")
    pipes: dict[Connection, multiprocessing.process.BaseProcess] = {}
    paths = []
    for k, plan in enumerate(plans):
        path = workdir / f"rows-{k}.arrow"
        receiver, sender = ctx.Pipe(duplex=False)
        proc = ctx.Process(target=_reader, args=(sender, bootstrap, plan, registry, path,
                                                 f"{client_id}-{k}"), daemon=True)
        proc.start()
        sender.close()
        pipes[receiver] = proc
        paths.append(path)
    records = invalid = 0
    try:
        while pipes:
            for conn in wait(list(pipes)):
                assert isinstance(conn, Connection)
                try:
                    kind, body = conn.recv()
                except EOFError:
                    code = pipes[conn].exitcode
                    raise WarehouseError(f"a log reader process died (exit {code}, killed?) "
                                         "before the end of the replay; run it again") from None
                if kind == "progress" and progress is not None:
                    progress(body)
                elif kind == "error":
                    raise WarehouseError(str(body))
                elif kind == "done":
                    records += body[0]
                    invalid += body[1]
                    pipes.pop(conn).join(timeout=10)
                    conn.close()
    finally:
        for conn, proc in pipes.items():
            conn.close()
            if proc.is_alive():
                proc.terminate()
            proc.join(timeout=10)
    return RowFiles(paths, records, invalid)


def _reader(sender: Connection, bootstrap: str, plan: list[tuple[str, int, int]],
            registry: Registry, path: Path, client_id: str) -> None:
    """One reader process: its topic-partitions, in offset order, into one IPC file."""
    # Only short-lived objects are made here; the collector's passes over the modules'
    # objects cost more than the cycles it would find (a rejected record's traceback), so
    # it runs once per flushed batch instead.
    gc.freeze()
    gc.disable()
    try:
        consumer = consumer_for(bootstrap, client_id)
        records = invalid = 0
        with pa.OSFile(str(path), "wb") as sink, \
                pa.ipc.new_file(sink, ROW_SCHEMA) as writer:
            for topic, partition, end in plan:
                rows = _Rows(topic, partition)
                for values in partition_batches(consumer, TopicPartition(topic, partition), end):
                    for offset, value in values:
                        if not rows.add(offset, value, registry):
                            invalid += 1
                    records += len(values)
                    sender.send(("progress", len(values)))
                    hook("replay.reader-batch")
                    if len(rows) >= _FLUSH_ROWS:
                        writer.write_batch(rows.batch())
                        rows = _Rows(topic, partition)
                        gc.collect(0)
                if len(rows):
                    writer.write_batch(rows.batch())
        consumer.close()
        sender.send(("done", (records, invalid)))
    except (WarehouseError, KafkaError, OSError, pa.ArrowException) as err:
        sender.send(("error", f"reading the log failed: {err}"))
    finally:
        sender.close()


class _Rows:
    """Column buffers of one topic-partition's rows; contributions kept flat until `batch`."""

    def __init__(self, topic: str, partition: int) -> None:
        self.topic, self.partition = topic, partition
        self.offsets: list[int] = []
        self.ids: list[str] = []
        self.hashes: list[str] = []
        self.supersedes: list[str | None] = []
        self.retracts: list[str | None] = []
        self.ends: list[int] = [0]  # contributions of row i: [ends[i], ends[i + 1])
        self.cells: list[str] = []
        self.units: list[str] = []
        self.keys: list[str] = []
        self.ats: list[int] = []
        self.values: list[int] = []

    def __len__(self) -> int:
        return len(self.offsets)

    def add(self, offset: int, value: bytes, registry: Registry) -> bool:
        """Parse, validate and fold one record; False if it is not a valid event."""
        try:
            event = parse_event(value, registry)
        except ValidationError:
            return False
        self.offsets.append(offset)
        self.ids.append(event.event_id)
        self.hashes.append(event.content_hash)
        self.supersedes.append(event.supersedes)
        payload = event.payload
        self.retracts.append(payload.retracts if isinstance(payload, EventRetracted) else None)
        for c in contributions(event):
            self.cells.append(c.cell)
            self.units.append(c.unit)
            self.keys.append(c.key)
            self.ats.append(c.at)
            self.values.append(c.value)
        self.ends.append(len(self.cells))
        return True

    def batch(self) -> pa.RecordBatch:
        n = len(self.offsets)
        items = pa.StructArray.from_arrays(
            [pa.array(self.cells, pa.string()), pa.array(self.units, pa.string()),
             pa.array(self.keys, pa.string()), pa.array(self.ats, pa.int64()),
             pa.array(self.values, pa.int64())],
            fields=list(CONTRIBUTION_TYPE))
        return pa.record_batch([
            pa.array([self.topic] * n, pa.string()),
            pa.array([self.partition] * n, pa.int32()),
            pa.array(self.offsets, pa.int64()),
            pa.array(self.ids, pa.string()),
            pa.array(self.hashes, pa.string()),
            pa.array(self.supersedes, pa.string()),
            pa.array(self.retracts, pa.string()),
            pa.ListArray.from_arrays(pa.array(self.ends, pa.int32()), items,
                                     type=pa.list_(CONTRIBUTION_TYPE)),
        ], schema=ROW_SCHEMA)
