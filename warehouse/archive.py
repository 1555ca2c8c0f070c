"""The archiver: every accepted event of the source topics into the archive
(`warehouse.archive_files`: its layout, parts and fold).

The archiver keeps its offsets as consumer group `<prefix>archiver` (no auto-commit). It
works in rounds: each reads every partition from its committed offset to the log end seen
when the round starts, the partitions dealt out to one process per core like the Kafka
replay's readers (`warehouse.readers`, `warehouse.archive_reader`). A process writes a
partition's events per (source, date) to hidden temp files, fsyncs and renames them and
fsyncs their directories; only then does it tell this process, which commits the offset.
A crash before the commit re-reads those records on the next run, and the offsets the
archive already holds for that partition are skipped: nothing lost, nothing twice.
A reader process dies with this one (it could otherwise write beside the next run).
Invalid records are skipped (the dead-letter path reports them).
One archiver runs at a time per archive directory.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

import pyarrow.parquet as pq
from kafka import KafkaConsumer, TopicPartition
from kafka.errors import KafkaError
from kafka.structs import OffsetAndMetadata

from contracts.registry import Registry
from infra.settings import Settings
from infra.topics import archiver_group
from warehouse.archive_files import archive_files
from warehouse.archive_reader import ArchiveJob, Span
from warehouse.errors import ArchiveError, WarehouseError
from warehouse.kafka_log import source_topics
from warehouse.readers import deal, run_readers

__all__ = ["ArchiveRun", "Archiver", "archiver_group"]

#: A reader process writes its partition's files (and the offset is committed) every this
#: many events: its memory is about that many events' rows.
FLUSH_RECORDS = 200_000
#: A round of fewer records than this a core reads in one process: starting one costs
#: about a second.
_RECORDS_PER_READER = 20_000
_IDLE_POLL_SECONDS = 1.0


@dataclass
class ArchiveRun:
    """What one `Archiver.run` did."""

    read: int = 0
    archived: int = 0
    invalid: int = 0
    skipped_already_archived: int = 0
    files: int = 0
    by_source: Counter[str] = field(default_factory=Counter)


class Archiver:
    """Copy the source topics into the archive, durably, exactly once per offset."""

    def __init__(
        self, bootstrap: str, settings: Settings, root: Path, registry: Registry | None = None
    ) -> None:
        self.bootstrap, self.settings, self.root = bootstrap, settings, root
        self.registry = registry or Registry.load()
        self.topics = source_topics(settings)

    def run(
        self,
        *,
        until_end: bool = True,
        idle_exit_s: float | None = None,
        progress: Callable[[ArchiveRun], None] | None = None,
        readers: int | None = None,
    ) -> ArchiveRun:
        """Archive until the log end seen at start (`until_end`) or until interrupted (or
        idle for `idle_exit_s`). `readers` defaults to the number of cores."""
        self.root.mkdir(parents=True, exist_ok=True)
        self._remove_temps()
        try:
            consumer = KafkaConsumer(
                bootstrap_servers=self.bootstrap,
                group_id=archiver_group(self.settings),
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                client_id="arrears-archiver",
            )
        except KafkaError as err:
            raise ArchiveError(f"cannot reach Kafka at {self.bootstrap}: {err}") from err
        run = ArchiveRun()
        try:
            tps = self._assign(consumer)
            idle_since = time.monotonic()
            while True:
                ends = consumer.end_offsets(tps)
                spans = self._spans(consumer, tps, ends)
                if spans:
                    self._round(consumer, spans, run, progress, readers or os.cpu_count() or 1)
                    idle_since = time.monotonic()
                if until_end:
                    break
                if idle_exit_s is not None and time.monotonic() - idle_since > idle_exit_s:
                    break
                if not spans:
                    time.sleep(_IDLE_POLL_SECONDS)
        except KafkaError as err:
            raise ArchiveError(
                f"Kafka failed while archiving: {err!r}; offsets are committed "
                "only after files are durable, so re-run to continue"
            ) from err
        finally:
            consumer.close(autocommit=False)
        return run

    def _spans(
        self, consumer: KafkaConsumer, tps: list[TopicPartition], ends: dict[TopicPartition, int]
    ) -> list[Span]:
        """Each partition's work of a round: its position to `ends`, less what the archive
        already holds past the position."""
        starts = {tp: consumer.position(tp) for tp in tps}
        skip = self._already_archived(starts)
        return [
            Span(tp.topic, tp.partition, starts[tp], ends[tp], frozenset(skip.get(tp, ())))
            for tp in tps
            if ends[tp] > starts[tp]
        ]

    def _round(
        self,
        consumer: KafkaConsumer,
        spans: list[Span],
        run: ArchiveRun,
        progress: Callable[[ArchiveRun], None] | None,
        cores: int,
    ) -> None:
        """Archive the spans in reader processes, committing each offset they report written."""
        records = sum(s.end - s.start for s in spans)
        readers = max(1, min(cores, records // _RECORDS_PER_READER))
        plans = deal([(s, s.end - s.start) for s in spans], readers)
        jobs = [
            ArchiveJob(
                self.bootstrap,
                self.root,
                sorted(plan, key=lambda s: (s.topic, s.partition)),
                self.registry,
                f"arrears-archiver-{k}",
                FLUSH_RECORDS,
            )
            for k, plan in enumerate(plans)
        ]

        def read(n: int) -> None:
            run.read += n
            if progress is not None:
                progress(run)

        def written(kind: str, body: str) -> None:
            if kind != "written":
                return
            topic, partition, offset = body.split()
            tp = TopicPartition(topic, int(partition))
            consumer.commit({tp: OffsetAndMetadata(int(offset), "", -1)})
            consumer.seek(tp, int(offset))

        try:
            done = run_readers(jobs, progress=read, on_line=written)
        except WarehouseError as err:
            raise ArchiveError(
                f"{err}; offsets are committed only after files are durable, so re-run to continue"
            ) from err
        for body in done:
            totals = json.loads(body)
            run.archived += totals["archived"]
            run.invalid += totals["invalid"]
            run.skipped_already_archived += totals["skipped"]
            run.files += totals["files"]
            run.by_source.update(totals["by_source"])
        if progress is not None:
            progress(run)

    def _assign(self, consumer: KafkaConsumer) -> list[TopicPartition]:
        tps: list[TopicPartition] = []
        for topic in self.topics:
            parts = consumer.partitions_for_topic(topic)
            if not parts:
                raise ArchiveError(
                    f"source topic {topic} does not exist on {self.bootstrap}; "
                    "run `arrears infra up` (or check ARREARS_TOPIC_PREFIX)"
                )
            tps.extend(TopicPartition(topic, p) for p in sorted(parts))
        consumer.assign(tps)
        for tp in tps:
            committed = consumer.committed(tp)
            if committed is None:
                consumer.seek_to_beginning(tp)
            else:
                consumer.seek(tp, committed)
        return tps

    def _already_archived(
        self, starts: dict[TopicPartition, int]
    ) -> dict[TopicPartition, set[int]]:
        """Offsets at or past the committed position that a crashed run already wrote."""
        start = {(tp.topic, tp.partition): at for tp, at in starts.items()}
        skip: dict[TopicPartition, set[int]] = defaultdict(set)
        for f in archive_files(self.root):
            begin = start.get((f.topic, f.partition))
            if begin is None or f.last < begin:
                continue
            # Every archived row has its offset: the column holds no nulls.
            table = pq.read_table(
                f.path, columns=["offset"], filters=[("partition", "=", f.partition)]
            )
            column = cast(list[int], table.column("offset").to_pylist())
            skip[TopicPartition(f.topic, f.partition)].update(o for o in column if o >= begin)
        return skip

    def _remove_temps(self) -> None:
        for temp in self.root.glob("source=*/date=*/.part-*.tmp"):
            temp.unlink(missing_ok=True)
