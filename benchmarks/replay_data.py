"""A synthetic event archive for `arrears bench replay --archive-only`, written without Kafka.

Loading 10,000,000 events through the broker (produce, archive) takes far longer than the
batch being measured, so this writes the archive directly: `arrears generate` lines (with
their dirt) are archived by the warehouse's own writer (`archive_records`: parse, fold,
Parquet), two processes at once, split by partition; then the files are copied until the
archive holds `copies` times as many events. Each copy gets fresh offsets (after the
previous copy's, per topic and partition) and fresh ids (`event_id`, `supersedes`,
`retracts` suffixed `~<copy>`), so its resends, conflicts, corrections and retractions
resolve within the copy, at the generator's rates; the ids in `raw` are renamed alike, so
the record-by-record path reads the same events. The copies keep the base's
`content_hash` (equal within an event_id exactly where the base's is) and its keys
(employers, projects, leads), so distinct counts do not grow with the copies.
"""

from __future__ import annotations

import multiprocessing
import re
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow.parquet as pq
from kafka.partitioner.default import murmur2

from contracts.registry import Registry
from warehouse.archive_files import archive_end, archive_files, archive_records
from warehouse.rebuild import LogRecord

__all__ = ["archive_lines", "replicate_archive"]

_UNIT = re.compile(rb'"unit"\s*:\s*"(\d{6})"')
_SOURCE = re.compile(rb'"source"\s*:\s*"([a-z]+)"')
_ID_FIELDS = ("event_id", "supersedes", "retracts")


def _records(lines: Path, topics: dict[str, str], partitions: int) -> Iterator[LogRecord]:
    """The lines as the bench's producer sends them: topic by source, partition by the
    unit key (Kafka's murmur2, as the default partitioner), offsets in order."""
    offsets: dict[tuple[str, int], int] = defaultdict(int)
    with lines.open("rb") as f:
        for line in f:
            raw = line.rstrip(b"\r\n")
            unit, source = _UNIT.search(raw), _SOURCE.search(raw)
            topic = topics.get(source.group(1).decode() if source else "", topics["inspection"])
            key = unit.group(1) if unit else b""
            partition = (murmur2(key) & 0x7FFFFFFF) % partitions
            offset = offsets[(topic, partition)]
            offsets[(topic, partition)] += 1
            yield LogRecord(topic, partition, offset, raw)


def archive_lines(
    lines: Path, root: Path, topics: dict[str, str], partitions: int, registry: Registry
) -> dict[str, Any]:
    """Archive a JSON Lines file as the archiver would have; two processes, by partition."""
    ctx = multiprocessing.get_context("fork")

    def worker(share: int) -> None:
        archive_records(
            root,
            (r for r in _records(lines, topics, partitions) if r.partition % 2 == share),
            registry,
        )

    children = [ctx.Process(target=worker, args=(share,)) for share in (0, 1)]
    for child in children:
        child.start()
    for child in children:
        child.join()
        if child.exitcode != 0:
            raise RuntimeError(f"archiving {lines} failed in a worker (exit {child.exitcode})")
    return {
        "archived": sum(pq.read_metadata(f.path).num_rows for f in archive_files(root)),
        "files": len(archive_files(root)),
    }


def _renamed_raw(table: pl.DataFrame, suffix: str) -> pl.Series:
    """`raw` with its ids suffixed too, so re-parsing a copy gives the copy's ids."""
    out = []
    for raw, *ids in table.select("raw", *_ID_FIELDS).iter_rows():
        for name, value in zip(_ID_FIELDS, ids, strict=True):
            if value is not None:
                for sep in (":", ": "):
                    raw = raw.replace(f'"{name}"{sep}"{value}"', f'"{name}"{sep}"{value}{suffix}"')
        out.append(raw)
    return pl.Series("raw", out, dtype=pl.String)


def replicate_archive(root: Path, copies: int) -> dict[str, Any]:
    """Add `copies - 1` copies of the archive's files under fresh offsets and ids."""
    span = archive_end(root)
    base = archive_files(root)
    for k in range(1, copies):
        suffix = f"~{k}"
        for f in base:
            shift = k * span[f.topic][f.partition]
            table = pl.read_parquet(f.path)
            table = table.with_columns(
                _renamed_raw(table, suffix),
                pl.col("offset") + shift,
                *(pl.col(c) + suffix for c in _ID_FIELDS),
            )
            name = f"part-{f.topic}-{f.partition}-{f.first + shift}-{f.last + shift}.parquet"
            arrow = table.to_arrow().cast(pq.read_schema(f.path))  # same schema and metadata
            pq.write_table(arrow, f.path.with_name(name), compression="zstd")
    files = archive_files(root)
    return {
        "rows": sum(pq.read_metadata(f.path).num_rows for f in files),
        "files": len(files),
        "copies": copies,
    }
