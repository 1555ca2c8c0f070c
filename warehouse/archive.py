"""The archiver: every accepted event of the source topics into the archive
(`warehouse.archive_files`: its layout, parts and fold).

The archiver reads the four source topics as consumer group `<prefix>archiver`
(auto-commit off). Each poll's events are written per (source, date) to a hidden
temp file, fsynced and renamed; only then are the offsets committed. A crash
before the commit re-reads those records on the next run, and the offsets the
archive already holds for that partition are skipped: nothing lost, nothing twice.
Invalid records are skipped (the dead-letter path reports them).
One archiver runs at a time per archive directory.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import pyarrow.parquet as pq
from kafka import KafkaConsumer, TopicPartition
from kafka.errors import KafkaError
from kafka.structs import OffsetAndMetadata

from contracts.registry import Registry
from infra.settings import Settings
from infra.topics import archiver_group
from warehouse._durable import fsync_dir, hook
from warehouse.archive_files import archive_files, event_row, group_of, write_part
from warehouse.errors import ArchiveError
from warehouse.kafka_log import source_topics

__all__ = ["ArchiveRun", "Archiver", "archiver_group"]

_POLL_RECORDS = 50_000
#: A batch (one set of files, one offset commit) holds at most this many records or seconds.
_BATCH_RECORDS = 250_000
_BATCH_SECONDS = 5.0


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
    ) -> ArchiveRun:
        """Archive until the log end seen at start (`until_end`) or until interrupted."""
        self.root.mkdir(parents=True, exist_ok=True)
        self._remove_temps()
        try:
            consumer = KafkaConsumer(
                bootstrap_servers=self.bootstrap,
                group_id=archiver_group(self.settings),
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                client_id="arrears-archiver",
                fetch_max_bytes=64 * 1024 * 1024,
                max_partition_fetch_bytes=16 * 1024 * 1024,
            )
        except KafkaError as err:
            raise ArchiveError(f"cannot reach Kafka at {self.bootstrap}: {err}") from err
        run = ArchiveRun()
        try:
            tps = self._assign(consumer)
            ends = consumer.end_offsets(tps) if until_end else {}
            skip = self._already_archived(consumer, tps)
            idle_since = time.monotonic()
            while True:
                if until_end and all(consumer.position(tp) >= ends[tp] for tp in tps):
                    break
                polled = self._gather(consumer)
                if not polled:
                    if idle_exit_s is not None and time.monotonic() - idle_since > idle_exit_s:
                        break
                    continue
                idle_since = time.monotonic()
                self._archive_batch(consumer, polled, ends, skip, run)
                if progress is not None:
                    progress(run)
        except KafkaError as err:
            raise ArchiveError(
                f"Kafka failed while archiving: {err!r}; offsets are committed "
                "only after files are durable, so re-run to continue"
            ) from err
        finally:
            consumer.close(autocommit=False)
        return run

    def _gather(self, consumer: KafkaConsumer) -> dict[TopicPartition, list[Any]]:
        """Polls merged into one batch of up to _BATCH_RECORDS or _BATCH_SECONDS: fewer,
        larger files and one commit per batch."""
        merged: dict[TopicPartition, list[Any]] = defaultdict(list)
        n, began = 0, time.monotonic()
        while n < _BATCH_RECORDS and time.monotonic() - began < _BATCH_SECONDS:
            polled = consumer.poll(timeout_ms=200, max_records=_POLL_RECORDS)
            if not polled:
                break  # caught up: write what we have
            for tp, records in polled.items():
                merged[tp].extend(records)
                n += len(records)
        return dict(merged)

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
        self, consumer: KafkaConsumer, tps: list[TopicPartition]
    ) -> dict[TopicPartition, set[int]]:
        """Offsets at or past the committed position that a crashed run already wrote."""
        start = {(tp.topic, tp.partition): consumer.position(tp) for tp in tps}
        skip: dict[TopicPartition, set[int]] = defaultdict(set)
        for f in archive_files(self.root):
            begin = start.get((f.topic, f.partition))
            if begin is None or f.last < begin:
                continue
            # Every archived row has its offset: the column holds no nulls.
            column = cast(
                list[int], pq.read_table(f.path, columns=["offset"]).column("offset").to_pylist()
            )
            skip[TopicPartition(f.topic, f.partition)].update(o for o in column if o >= begin)
        return skip

    def _archive_batch(
        self,
        consumer: KafkaConsumer,
        polled: dict[TopicPartition, list[Any]],
        ends: dict[TopicPartition, int],
        skip: dict[TopicPartition, set[int]],
        run: ArchiveRun,
    ) -> None:
        groups: dict[tuple[str, str, str, int], list[dict[str, Any]]] = defaultdict(list)
        commit: dict[TopicPartition, OffsetAndMetadata] = {}
        for tp, records in polled.items():
            end = ends.get(tp)
            last = None
            for r in records:
                if end is not None and r.offset >= end:
                    break
                last = r.offset
                run.read += 1
                if r.offset in skip.get(tp, ()):
                    run.skipped_already_archived += 1
                    continue
                row = event_row(
                    tp.topic, tp.partition, r.offset, r.value, self.registry, key=r.key, keyed=True
                )
                if row is None:
                    run.invalid += 1
                    continue
                groups[group_of(row)].append(row)
            if last is not None:
                commit[tp] = OffsetAndMetadata(last + 1, "", -1)
        directories: set[Path] = set()
        for (source, date, topic, partition), rows in sorted(groups.items()):
            directories.add(
                write_part(self.root, source, date, topic, partition, rows, sync_dir=False).parent
            )
            run.files += 1
            run.archived += len(rows)
            run.by_source[source] += len(rows)
        for directory in sorted(directories):  # the renames are durable before the commit
            fsync_dir(directory)
        hook("archive.files-written")
        if commit:
            consumer.commit(commit)
            for tp, mark in commit.items():  # committed: the skip set below is no longer needed
                if tp in skip:
                    skip[tp] = {o for o in skip[tp] if o >= mark.offset}

    def _remove_temps(self) -> None:
        for temp in self.root.glob("source=*/date=*/.part-*.tmp"):
            temp.unlink(missing_ok=True)
