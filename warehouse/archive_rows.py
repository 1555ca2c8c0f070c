"""The archive's fold rows before an offset vector: the files cut at the offsets, lazily,
with the rows of files folded by other contracts code (or not at all) folded again from
`raw`, so a stale fold is never read (`warehouse.batch` resolves and tallies them)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq

from contracts.registry import Registry
from warehouse.archive_files import (
    FOLD_KEY,
    UNFOLDED_KEY,
    ArchiveFile,
    archive_files,
    event_row,
    fold_fingerprint,
)
from warehouse.offsets import Offsets
from warehouse.schema import ROW_COLUMNS

__all__ = ["archive_rows"]

_RAW_COLUMNS = ["topic", "partition", "offset", "raw"]


def archive_rows(
    root: Path, upto: Offsets, topics: set[str], registry: Registry
) -> tuple[pl.LazyFrame, int, int]:
    """The archived rows before `upto` in ROW_COLUMNS (any order, lazily); invalid and
    refolded counts. Rows the files hold no fold for are parsed and folded here."""
    files = [f for f in archive_files(root) if f.topic in topics]
    spans = Counter(f.path for f in files)  # a compacted file's partitions, one entry each
    current = fold_fingerprint().encode()
    folded: list[tuple[ArchiveFile, int | None]] = []
    stale: list[tuple[ArchiveFile, int | None]] = []
    maybe_unfolded: list[tuple[ArchiveFile, int | None]] = []
    for f in files:
        end = upto.get(f.topic, {}).get(f.partition, 0)
        if f.first >= end:
            continue
        cut = end if f.last >= end else None
        meta = pq.read_schema(f.path).metadata or {}
        if meta.get(FOLD_KEY) != current:
            stale.append((f, cut))
            continue
        folded.append((f, cut))
        if meta.get(UNFOLDED_KEY) != b"0":  # not written by `write_part`: look
            maybe_unfolded.append((f, cut))

    parts: list[pl.LazyFrame] = []
    to_fold: list[pl.DataFrame] = []
    if folded:
        rows = _scan(folded, spans)
        if maybe_unfolded:  # rows written without a fold (a tool that left the columns empty)
            keys = (
                _scan(maybe_unfolded, spans)
                .filter(pl.col("contributions").is_null())
                .select("topic", "partition", "offset")
                .collect(engine="streaming")
            )
            if keys.height:
                to_fold.append(_raw_of(maybe_unfolded, spans, keys))
                rows = rows.filter(pl.col("contributions").is_not_null())
        parts.append(rows)
    if stale:
        to_fold.append(_scan(stale, spans, _RAW_COLUMNS).collect())
    invalid = refolded = 0
    for frame in to_fold:
        refolded += frame.height
        fresh, bad = _fold_on_read(frame, registry)
        invalid += bad
        parts.append(fresh.lazy())
    if not parts:
        return _empty_rows().lazy(), 0, 0
    if len(parts) == 1:
        return parts[0], invalid, refolded
    return pl.concat(parts, how="vertical_relaxed"), invalid, refolded


def _scan(
    files: list[tuple[ArchiveFile, int | None]],
    spans: Counter[Path],
    columns: list[str] | None = None,
) -> pl.LazyFrame:
    """One lazy scan of the files read whole, plus one per partition of a file cut by
    `upto`, or of a compacted file (`spans`: its partitions) only some of whose partitions
    are read whole. A compacted file whose every partition is read whole is read once:
    read partition by partition, the batch over a compacted archive read each file once
    for each of its partitions in every pass (six times, with six partitions)."""
    columns = columns or ROW_COLUMNS
    read_whole = Counter(f.path for f, cut in files if cut is None)

    def whole_file(f: ArchiveFile, cut: int | None) -> bool:
        return cut is None and (not f.shared or read_whole[f.path] == spans[f.path])

    whole = list(dict.fromkeys(f.path for f, cut in files if whole_file(f, cut)))
    scans = [pl.scan_parquet(whole, hive_partitioning=False).select(columns)] if whole else []
    for f, cut in files:
        if whole_file(f, cut):
            continue
        rows = pl.scan_parquet(f.path, hive_partitioning=False)
        if f.shared:
            rows = rows.filter(pl.col("partition") == f.partition)
        if cut is not None:
            rows = rows.filter(pl.col("offset") < cut)
        scans.append(rows.select(columns))
    return pl.concat(scans, how="vertical_relaxed")


def _raw_of(
    files: list[tuple[ArchiveFile, int | None]], spans: Counter[Path], keys: pl.DataFrame
) -> pl.DataFrame:
    lazy = _scan(files, spans, _RAW_COLUMNS)
    return lazy.join(keys.lazy(), on=["topic", "partition", "offset"], how="semi").collect()


def _fold_on_read(frame: pl.DataFrame, registry: Registry) -> tuple[pl.DataFrame, int]:
    """Parse and fold rows whose archive file did not (or with other contracts code)."""
    rows = []
    for topic, partition, offset, raw in frame.iter_rows():
        row = event_row(topic, partition, offset, raw, registry)
        if row is not None:
            rows.append({k: row[k] for k in ROW_COLUMNS})
    out = pl.DataFrame(rows, schema=_empty_rows().schema) if rows else _empty_rows()
    return out, frame.height - len(rows)


def _empty_rows() -> pl.DataFrame:
    item = pl.Struct(
        {"cell": pl.String, "unit": pl.String, "key": pl.String, "at": pl.Int64, "value": pl.Int64}
    )
    return pl.DataFrame(
        schema={
            "topic": pl.String,
            "partition": pl.Int32,
            "offset": pl.Int64,
            "event_id": pl.String,
            "unit": pl.String,
            "source": pl.String,
            "content_hash": pl.String,
            "supersedes": pl.String,
            "retracts": pl.String,
            "contributions": pl.List(item),
            "case_id": pl.String,
            "case_role": pl.String,
        }
    )
