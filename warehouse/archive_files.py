"""The event archive's files: every accepted event as Parquet, with its topic, partition
and offset; listing, reading back, writing a part durably, and the fold they carry.

Layout (ARCHITECTURE.md):

    <root>/source=<source>/date=<YYYY-MM-DD, +08:00>/part-<topic>-<partition>-<first>-<last>.parquet

A part is written to a hidden temp file, fsynced and renamed (`write_part`); `warehouse.
archive.Archiver` fills the archive from Kafka.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

import contracts
from contracts.clock import CST
from contracts.errors import ValidationError
from contracts.events import check_key, parse_event
from contracts.fold import case_link, contributions
from contracts.payloads import EventRetracted
from contracts.registry import Registry
from warehouse._durable import fsync_dir, fsync_file
from warehouse.errors import ArchiveError
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
    "archive_files",
    "archive_end",
    "read_archive",
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


def fold_fingerprint() -> str:
    """sha256 of the contracts sources the fold depends on (see `_FOLD_SOURCES`).

    Stored in each archive file; `warehouse.batch` trusts a file's `contributions` only
    when its fingerprint is the running code's, so stale folds are never read.
    """
    digest = hashlib.sha256()
    for name in _FOLD_SOURCES:
        digest.update(name.encode() + b"\0" + (_CONTRACTS / name).read_bytes() + b"\0")
    return digest.hexdigest()[:32]


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
            groups[group_of(row)].append(row)
    for (source, date, topic, partition), rows in sorted(groups.items()):
        rows.sort(key=lambda row: row["offset"])
        write_part(root, source, date, topic, partition, rows)
    return sum(len(rows) for rows in groups.values())
