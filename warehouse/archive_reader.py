"""One archiver process (`warehouse.readers` runs it): its topic-partitions, from the
committed offset to the round's end, read side by side (`warehouse.log_fetch`), parsed and
folded (`warehouse.record_rows`, as the Kafka replay's readers do) and written as archive
parts, durably, a partition's batch at a time. After each batch's files are renamed and
their directories fsynced it says `written <topic> <partition> <next offset>`; the parent
commits that offset, never before.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from contracts.registry import Registry
from warehouse._durable import fsync_dir, hook
from warehouse.archive_write import write_table_part
from warehouse.errors import WarehouseError
from warehouse.log_fetch import plan_batches
from warehouse.record_rows import RecordRows, archive_date, valid_event

__all__ = ["ArchiveJob", "Span"]


class _Writer:
    """One writing thread with at most one batch waiting: `submit` waits for the batch
    before, so the parts (and the offsets reported) follow the order of the batches."""

    def __init__(self) -> None:
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="archive-writer")
        self.pending: Future[None] | None = None

    def submit(self, fn: Callable[..., None], *args: Any) -> None:
        self.wait()
        self.pending = self.pool.submit(fn, *args)

    def wait(self) -> None:
        """Wait for the batch being written; its failure is raised here."""
        if self.pending is not None:
            pending, self.pending = self.pending, None
            pending.result()


@dataclass(frozen=True)
class Span:
    """A topic-partition to archive: offsets [start, end), less those already archived
    (`skip`: a crashed run's files past the committed offset)."""

    topic: str
    partition: int
    start: int
    end: int
    skip: frozenset[int] = frozenset()


@dataclass
class _Buffered:
    """One span's records read and not yet written: by (source, date), and how many."""

    span: Span
    buckets: dict[tuple[str, str], RecordRows] = field(default_factory=dict)
    count: int = 0
    next: int = 0  # the offset after the last record read (the span's start before any)


@dataclass(frozen=True)
class ArchiveJob:
    """What one archiver process is asked to do."""

    bootstrap: str
    root: Path
    spans: list[Span]
    registry: Registry
    client_id: str
    flush_records: int

    def __call__(self, say: Callable[[str], None]) -> None:
        totals = {"read": 0, "archived": 0, "invalid": 0, "skipped": 0, "files": 0}
        by_source: dict[str, int] = {}
        lock = threading.Lock()

        def tell(line: str) -> None:  # from both threads
            with lock:
                say(line)

        # Parts are written (Arrow, Parquet, fsync: mostly outside the GIL) by a thread while
        # the next records are parsed; one batch waits at most, so memory stays two batches.
        writer = _Writer()
        try:
            try:
                self._read(totals, by_source, tell, writer)
                writer.wait()
            finally:
                writer.pool.shutdown(wait=False, cancel_futures=True)
        except (WarehouseError, OSError, pa.ArrowException) as err:
            tell("error archiving failed: " + " ".join(str(err).split()))
            return
        tell("done " + json.dumps({**totals, "by_source": by_source}))

    def _read(
        self,
        totals: dict[str, int],
        by_source: dict[str, int],
        say: Callable[[str], None],
        writer: _Writer,
    ) -> None:
        """The spans read side by side (`warehouse.log_fetch`), each into its own buckets;
        when the buffered records reach `flush_records`, the span holding most is written."""
        spans = {(s.topic, s.partition): _Buffered(s, next=s.start) for s in self.spans}
        buffered = 0

        def flush(b: _Buffered, next_offset: int) -> None:
            nonlocal buffered
            writer.submit(self._write, b.span, b.buckets, next_offset, totals, by_source, say)
            buffered -= b.count
            b.buckets, b.count = {}, 0

        plan = [(s.topic, s.partition, s.end) for s in self.spans]
        starts = {(s.topic, s.partition): s.start for s in self.spans}
        for topic, partition, values in plan_batches(self.bootstrap, self.client_id, plan, starts):
            b = spans[(topic, partition)]
            skip, buckets = b.span.skip, b.buckets
            for offset, value, key in values:
                if offset in skip:
                    totals["skipped"] += 1
                    continue
                event = valid_event(value, key, self.registry)
                if event is None:
                    totals["invalid"] += 1
                    continue
                where = (event.source, archive_date(event.occurred_at))
                rows = buckets.get(where)
                if rows is None:
                    rows = buckets[where] = RecordRows(topic, partition, archive=True)
                rows.append(offset, value, event)
                b.count += 1
                buffered += 1
            if values:
                b.next = values[-1][0] + 1
            totals["read"] += len(values)
            say(f"progress {len(values)}")
            if buffered >= self.flush_records:
                largest = max(spans.values(), key=lambda x: x.count)
                flush(largest, largest.next)
        for b in spans.values():  # each span is read to its end: say so, files or none
            flush(b, b.span.end)

    def _write(
        self,
        span: Span,
        buckets: dict[tuple[str, str], RecordRows],
        next_offset: int,
        totals: dict[str, int],
        by_source: dict[str, int],
        say: Callable[[str], None],
    ) -> None:
        """The buckets' parts, durably; then `written` (the offset the parent may commit)."""
        directories = set()
        for (source, date), rows in sorted(buckets.items()):
            table = rows.archive_table()
            directories.add(write_table_part(self.root, source, date, table, sync_dir=False).parent)
            totals["files"] += 1
            totals["archived"] += len(rows)
            by_source[source] = by_source.get(source, 0) + len(rows)
        for directory in sorted(directories):  # the renames are durable before the commit
            fsync_dir(directory)
        hook("archive.files-written")
        say(f"written {span.topic} {span.partition} {next_offset}")
