"""The event archive's files: every accepted event as Parquet, with its topic, partition
and offset; listing, reading back, writing a part durably, and the fold they carry.

Layout (ARCHITECTURE.md):

    <root>/source=<source>/date=<YYYY-MM-DD, +08:00>/part-<topic>-<partition>-<first>-<last>.parquet

A part is written to a hidden temp file, fsynced and renamed (`write_part`); `warehouse.
archive.Archiver` fills the archive from Kafka.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

import polars as pl
import pyarrow.parquet as pq

from contracts.errors import ValidationError
from contracts.events import check_key, parse_event
from contracts.fold import case_link, contributions
from contracts.payloads import EventRetracted
from contracts.registry import Registry
from warehouse.archive_write import (
    FOLD_KEY,
    UNFOLDED_KEY,
    fold_fingerprint,
    write_part,
    write_table_part,
)
from warehouse.errors import ArchiveError
from warehouse.offsets import Offsets
from warehouse.rebuild import LogRecord
from warehouse.record_rows import archive_date
from warehouse.schema import ARCHIVE_SCHEMA, CONTRIBUTION_TYPE

__all__ = [
    "ARCHIVE_SCHEMA",
    "CONTRIBUTION_TYPE",
    "FOLD_KEY",
    "UNFOLDED_KEY",
    "fold_fingerprint",
    "ArchiveFile",
    "CompactedFile",
    "REPLACES_KEY",
    "SPANS_KEY",
    "compacted_files",
    "archive_files",
    "archive_paths",
    "archive_end",
    "read_archive",
    "archive_records",
    "event_row",
    "write_part",
    "write_table_part",
]


#: Parquet key-value metadata of a compacted file (`warehouse.compaction`): its partitions'
#: offset spans, `{"<partition>": [first, last]}`, and the files it replaces (paths
#: relative to the archive root), which are then not counted.
SPANS_KEY = b"arrears.spans"
REPLACES_KEY = b"arrears.replaces"


class ArchiveFile(NamedTuple):
    """A counted archive file's rows of one topic-partition, offsets `first` to `last`.
    A compacted file holds several partitions (`shared`): one ArchiveFile each, the same
    path, so a reader of one partition filters on `partition`."""

    path: Path
    topic: str
    partition: int
    first: int
    last: int
    shared: bool = False


class CompactedFile(NamedTuple):
    path: Path
    topic: str
    spans: dict[int, tuple[int, int]]
    replaces: tuple[str, ...]


def _parse_name(path: Path) -> ArchiveFile | None:
    stem = path.name
    if not (stem.startswith("part-") and stem.endswith(".parquet")):
        return None
    parts = stem[len("part-") : -len(".parquet")].rsplit("-", 3)
    if len(parts) != 4 or not all(p.isdigit() for p in parts[1:]):
        return None
    return ArchiveFile(path, parts[0], int(parts[1]), int(parts[2]), int(parts[3]))


def compacted_files(root: Path) -> list[CompactedFile]:
    """Every compacted file, counted or replaced by a later one; temp files excluded."""
    out = []
    for path in sorted(root.glob("source=*/compacted/compact-*.parquet")):
        meta = pq.read_schema(path).metadata or {}
        if SPANS_KEY not in meta:
            raise ArchiveError(
                f"{path} has no {SPANS_KEY.decode()} metadata; it was not written by "
                "`arrears archive --compact`: move it out of the archive"
            )
        spans = json.loads(meta[SPANS_KEY])
        topic = path.name[len("compact-") : -len(".parquet")].rsplit("-", 1)[0]
        out.append(
            CompactedFile(
                path,
                topic,
                {int(p): (first, last) for p, (first, last) in spans.items()},
                tuple(json.loads(meta.get(REPLACES_KEY, b"[]"))),
            )
        )
    return out


def archive_files(root: Path) -> list[ArchiveFile]:
    """Every counted archive file, by (topic, partition, first offset): the parts and the
    compacted files that no compacted file replaces; temp files excluded."""
    compacted = compacted_files(root)
    replaced = {root / name for c in compacted for name in c.replaces}
    found = [
        f
        for p in root.glob("source=*/date=*/part-*.parquet")
        if p not in replaced and (f := _parse_name(p))
    ]
    found += [
        ArchiveFile(c.path, c.topic, partition, first, last, shared=True)
        for c in compacted
        if c.path not in replaced
        for partition, (first, last) in c.spans.items()
    ]
    return sorted(found, key=lambda f: (f.topic, f.partition, f.first, f.path.name))


def archive_paths(files: Iterable[ArchiveFile]) -> list[Path]:
    """The files' paths, each once, in order."""
    return list(dict.fromkeys(f.path for f in files))


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
        chosen = archive_paths(f for f in files if end is None or f.first < end)
        if not chosen:
            continue
        frame = pl.scan_parquet(chosen, hive_partitioning=False)
        if any(f.shared for f in files):  # a compacted file holds other partitions too
            frame = frame.filter(pl.col("partition") == partition)
        frame = frame.select("offset", "raw")
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
    link = case_link(event)
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
        "case_id": None if link is None else link.case,
        "case_role": None if link is None else link.role,
    }


def group_of(row: dict[str, Any]) -> tuple[str, str, str, int]:
    return (row["source"], archive_date(row["occurred_at"]), row["topic"], row["partition"])


def archive_records(root: Path, records: Iterable[LogRecord], registry: Registry) -> int:
    """Archive records without Kafka (tests, imports); returns how many were valid events."""
    groups: dict[tuple[str, str, str, int], list[dict[str, Any]]] = defaultdict(list)
    for r in records:
        row = event_row(r.topic, r.partition, r.offset, r.value, registry, key=r.key, keyed=r.keyed)
        if row is not None:
            groups[group_of(row)].append(row)
    for (source, date, topic, partition), rows in sorted(groups.items()):
        rows.sort(key=lambda row: row["offset"])
        write_part(root, source, date, topic, partition, rows)
    return sum(len(rows) for rows in groups.values())
