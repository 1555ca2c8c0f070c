"""The event archive: every accepted event as Parquet, with its topic, partition and offset.

Layout (ARCHITECTURE.md):

    <root>/source=<source>/date=<YYYY-MM-DD, +08:00>/part-<topic>-<partition>-<first>-<last>.parquet

The archiver reads the four source topics as consumer group `<prefix>archiver`
(auto-commit off). Each poll's events are written per (source, date) to a hidden
temp file, fsynced and renamed; only then are the offsets committed. A crash
before the commit re-reads those records on the next run, and the offsets the
archive already holds for that partition are skipped: nothing lost, nothing twice.
Invalid records are skipped (the dead-letter path reports them).
One archiver runs at a time per archive directory.
"""

from __future__ import annotations

import functools
import hashlib
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple, cast

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
from kafka import KafkaConsumer, TopicPartition
from kafka.errors import KafkaError
from kafka.structs import OffsetAndMetadata

import contracts
from contracts.clock import CST
from contracts.errors import ValidationError
from contracts.events import check_key, parse_event
from contracts.fold import contributions
from contracts.payloads import EventRetracted
from contracts.registry import Registry
from infra.settings import Settings
from warehouse._durable import fsync_dir, fsync_file, hook
from warehouse.errors import ArchiveError
from warehouse.kafka_log import source_topics
from warehouse.offsets import Offsets
from warehouse.rebuild import LogRecord
from warehouse.schema import ARCHIVE_SCHEMA, CONTRIBUTION_TYPE

__all__ = [
    "ARCHIVE_SCHEMA",
    "CONTRIBUTION_TYPE",
    "FOLD_KEY",
    "UNFOLDED_KEY",
    "fold_fingerprint",
    "ArchiveFile",
    "ArchiveRun",
    "Archiver",
    "archive_files",
    "archive_end",
    "read_archive",
    "archiver_group",
    "archive_records",
    "event_row",
    "write_part",
]

_CONTRACTS = Path(contracts.__file__).parent
#: Parquet key-value metadata naming the fold the `contributions` column was made with.
FOLD_KEY = b"arrears.fold"
#: Parquet key-value metadata: how many rows of the file have no `contributions` (rows a
#: caller handed in unfolded). "0" lets the batch trust the column without scanning it.
UNFOLDED_KEY = b"arrears.unfolded"
#: The contracts code that turns a raw line into contributions; an edit to any of it makes
#: older files' `contributions` stale, and they are folded again on read.
_FOLD_SOURCES = (
    "_parse.py",
    "calendar.py",
    "cells.py",
    "clock.py",
    "events.py",
    "fields.py",
    "fold.py",
    "industry.py",
    "objects.py",
    "payloads.py",
    "records.py",
    "registry.py",
    "units.toml",
    "uscc.py",
)
_POLL_RECORDS = 50_000
#: A batch (one set of files, one offset commit) holds at most this many records or seconds.
_BATCH_RECORDS = 250_000
_BATCH_SECONDS = 5.0


@functools.cache
def fold_fingerprint() -> str:
    """sha256 of the contracts sources the fold depends on (see `_FOLD_SOURCES`).

    Stored in each archive file; `warehouse.batch` trusts a file's `contributions` only
    when its fingerprint is the running code's, so stale folds are never read.
    """
    digest = hashlib.sha256()
    for name in _FOLD_SOURCES:
        digest.update(name.encode() + b"\0" + (_CONTRACTS / name).read_bytes() + b"\0")
    return digest.hexdigest()[:32]


def archiver_group(settings: Settings) -> str:
    return f"{settings.topic_prefix}archiver"


class ArchiveFile(NamedTuple):
    path: Path
    topic: str
    partition: int
    first: int
    last: int


def _parse_name(path: Path) -> ArchiveFile | None:
    stem = path.name
    if not (stem.startswith("part-") and stem.endswith(".parquet")):
        return None
    parts = stem[len("part-") : -len(".parquet")].rsplit("-", 3)
    if len(parts) != 4 or not all(p.isdigit() for p in parts[1:]):
        return None
    return ArchiveFile(path, parts[0], int(parts[1]), int(parts[2]), int(parts[3]))


def archive_files(root: Path) -> list[ArchiveFile]:
    """Every archive file, by (topic, partition, first offset); temp files excluded."""
    found = [f for p in root.glob("source=*/date=*/part-*.parquet") if (f := _parse_name(p))]
    return sorted(found, key=lambda f: (f.topic, f.partition, f.first, f.path.name))


def archive_end(root: Path) -> Offsets:
    """Per topic and partition, one past the highest archived offset."""
    out: Offsets = {}
    for f in archive_files(root):
        parts = out.setdefault(f.topic, {})
        parts[f.partition] = max(parts.get(f.partition, 0), f.last + 1)
    return out


def read_archive(
    root: Path, upto: Offsets | None = None, topics: Iterable[str] | None = None
) -> Iterator[LogRecord]:
    """Archived events before `upto` (all when None), in log order (topic, partition, offset).

    Polars reads and sorts one partition at a time, so memory is one partition's events.
    """
    by_tp: dict[tuple[str, int], list[ArchiveFile]] = defaultdict(list)
    wanted = None if topics is None else set(topics)
    for f in archive_files(root):
        if wanted is None or f.topic in wanted:
            by_tp[(f.topic, f.partition)].append(f)
    for (topic, partition), files in sorted(by_tp.items()):
        end = None if upto is None else upto.get(topic, {}).get(partition, 0)
        chosen = [f.path for f in files if end is None or f.first < end]
        if not chosen:
            continue
        frame = pl.scan_parquet(chosen, hive_partitioning=False).select("offset", "raw")
        if end is not None:
            frame = frame.filter(pl.col("offset") < end)
        table = frame.sort("offset").collect()
        offsets = table["offset"]
        if offsets.is_duplicated().any():
            dup = offsets.filter(offsets.is_duplicated()).head(5).to_list()
            raise ArchiveError(
                f"the archive holds {topic}:{partition} offsets {dup} more than "
                f"once under {root}; this is an archiver bug, keep the files for "
                "diagnosis and rebuild the archive from Kafka"
            )
        for offset, raw in zip(offsets.to_list(), table["raw"].to_list(), strict=True):
            yield LogRecord(topic, partition, offset, raw)


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
                groups[_group(row)].append(row)
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


def event_row(
    topic: str,
    partition: int,
    offset: int,
    value: bytes | str,
    registry: Registry,
    *,
    key: bytes | None = None,
    keyed: bool = False,
) -> dict[str, Any] | None:
    """The archive row of one record, or None if it is not a valid event (with `keyed`, its
    `key` must be its unit: `contracts.events.check_key`)."""
    try:
        event = parse_event(value, registry)
        if keyed:
            check_key(event, key)
    except ValidationError:
        return None
    raw = value.decode("utf-8") if isinstance(value, bytes) else value
    return {
        "topic": topic,
        "partition": partition,
        "offset": offset,
        "event_id": event.event_id,
        "source": event.source,
        "type": event.type,
        "unit": event.unit,
        "occurred_at": event.occurred_at,
        "recorded_at": event.recorded_at,
        "supersedes": event.supersedes,
        "content_hash": event.content_hash,
        "raw": raw,
        "retracts": event.payload.retracts if isinstance(event.payload, EventRetracted) else None,
        "contributions": [
            {"cell": c.cell, "unit": c.unit, "key": c.key, "at": c.at, "value": c.value}
            for c in contributions(event)
        ],
    }


def _group(row: dict[str, Any]) -> tuple[str, str, str, int]:
    date = row["occurred_at"].astimezone(CST).date().isoformat()
    return (row["source"], date, row["topic"], row["partition"])


def write_part(
    root: Path,
    source: str,
    date: str,
    topic: str,
    partition: int,
    rows: list[dict[str, Any]],
    *,
    sync_dir: bool = True,
) -> Path:
    """One archive file (rows of one topic-partition, in offset order): temp, fsync, rename."""
    directory = root / f"source={source}" / f"date={date}"
    directory.mkdir(parents=True, exist_ok=True)
    first, last = rows[0]["offset"], rows[-1]["offset"]
    final = directory / f"part-{topic}-{partition}-{first}-{last}.parquet"
    if final.exists():
        raise ArchiveError(
            f"{final} already exists; the archive and the committed offsets "
            "disagree (two archivers on one directory?)"
        )
    temp = directory / f".{final.name}.tmp"
    # By column, not from_pylist: half its time (4 µs a row instead of 6-10). A key a row
    # lacks is null, as from_pylist has it.
    table = pa.Table.from_pydict(
        {c: [row.get(c) for row in rows] for c in ARCHIVE_SCHEMA.names}, schema=ARCHIVE_SCHEMA
    )
    unfolded = sum(1 for row in rows if row.get("contributions") is None)
    table = table.replace_schema_metadata(
        {FOLD_KEY: fold_fingerprint(), UNFOLDED_KEY: str(unfolded)}
    )
    pq.write_table(table, temp, compression="zstd")
    fsync_file(temp)
    temp.rename(final)
    if sync_dir:
        fsync_dir(directory)
    return final


def archive_records(root: Path, records: Iterable[LogRecord], registry: Registry) -> int:
    """Archive records without Kafka (tests, imports); returns how many were valid events."""
    groups: dict[tuple[str, str, str, int], list[dict[str, Any]]] = defaultdict(list)
    for r in records:
        row = event_row(r.topic, r.partition, r.offset, r.value, registry, key=r.key, keyed=r.keyed)
        if row is not None:
            groups[_group(row)].append(row)
    for (source, date, topic, partition), rows in sorted(groups.items()):
        rows.sort(key=lambda row: row["offset"])
        write_part(root, source, date, topic, partition, rows)
    return sum(len(rows) for rows in groups.values())
