"""Compaction: the archive's small parts of settled days merged into large files, atomically.

The archiver writes a part per (source, day, topic-partition) and batch, a few hundred rows
each; reading thousands of them costs the batch more than their rows do. Once a day is
settled (`settle_days` before the newest day the archive holds: late arrivals after that
land in new small parts, merged by the next compaction) its parts are merged, per topic
and fold fingerprint, into files of up to `max_rows` rows, sorted by (partition, offset):

    <root>/source=<source>/compacted/compact-<topic>-<digest>.parquet

Such a file names the parts it replaces in its metadata (`REPLACES_KEY`, paths relative
to the root) and holds its partitions' offset spans (`SPANS_KEY`). `archive_files` counts
a compacted file and not the files it replaces, so the rename that makes it visible is the
one step that switches the old rows for the new: a compaction killed before it leaves the
old files counted (and its temp file, removed by the next run), one killed after it
leaves the new file counted and replaced files that the next run deletes. The rows, their
fold (`contributions`, the fingerprint) and their log positions are copied unchanged, so
every reader gives the same answer before and after. One compaction or archiver at a
time per archive directory.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from warehouse._durable import fsync_dir, fsync_file, hook
from warehouse.archive_files import (
    REPLACES_KEY,
    SPANS_KEY,
    ArchiveFile,
    archive_files,
    compacted_files,
)
from warehouse.archive_write import FOLD_KEY, PARQUET_OPTIONS, UNFOLDED_KEY
from warehouse.schema import ARCHIVE_SCHEMA

__all__ = ["CompactRun", "compact"]

#: A compacted file holds at most this many rows: compaction holds one file's rows in memory.
MAX_ROWS = 500_000
#: Days this close to the newest archived day are not compacted yet (late arrivals).
SETTLE_DAYS = 2
_ROW_GROUP = 64 * 1024


@dataclass
class CompactRun:
    """What one `compact` did: files and rows before and after (counted files)."""

    files_before: int = 0
    files_after: int = 0
    rows: int = 0
    merged: int = 0  # files replaced
    written: int = 0  # compacted files written
    removed_leftovers: int = 0  # replaced files a killed compaction left, deleted now

    @property
    def rows_per_file(self) -> float:
        return self.rows / self.files_after if self.files_after else 0.0


def compact(root: Path, *, settle_days: int = SETTLE_DAYS, max_rows: int = MAX_ROWS) -> CompactRun:
    """Merge the parts of days settled `settle_days` before the newest archived day (and
    compacted files under half of `max_rows`), per topic and fold, into compacted files."""
    run = CompactRun(removed_leftovers=_remove_leftovers(root))
    files = archive_files(root)
    paths = {f.path for f in files}
    run.files_before = len(paths)
    run.rows = sum(pq.read_metadata(p).num_rows for p in paths)
    for group in _groups(root, files, settle_days, max_rows):
        for chunk in _chunks(group, max_rows):
            if len(chunk) > 1:
                _merge(root, chunk)
                run.merged += len(chunk)
                run.written += 1
    run.files_after = len({f.path for f in archive_files(root)})
    return run


def _day(path: Path) -> dt.date | None:
    name = path.parent.name
    return dt.date.fromisoformat(name[len("date=") :]) if name.startswith("date=") else None


def _groups(
    root: Path, files: list[ArchiveFile], settle_days: int, max_rows: int
) -> list[list[tuple[Path, int]]]:
    """(path, rows) to merge, per (source, topic, fold fingerprint, unfolded known): settled parts
    and small compacted files whose schema is the archive's."""
    days = [d for f in files if (d := _day(f.path)) is not None]
    if not days:
        return []
    settled = max(days) - dt.timedelta(days=settle_days)
    groups: dict[tuple[str, str, bytes, bool], list[tuple[Path, int]]] = defaultdict(list)
    seen: set[Path] = set()
    for f in files:
        if f.path in seen:
            continue
        seen.add(f.path)
        day = _day(f.path)
        meta = pq.read_metadata(f.path)
        if day is None and meta.num_rows >= max_rows // 2:
            continue  # a compacted file large enough already
        if day is not None and day > settled:
            continue
        schema = pq.read_schema(f.path)
        if not schema.remove_metadata().equals(ARCHIVE_SCHEMA):
            continue  # an older layout: left as it is, read as it is
        kv = schema.metadata or {}
        fold = kv.get(FOLD_KEY, b"")
        source = f.path.parent.parent.name  # source=<source>: a compacted file stays there
        known = kv.get(UNFOLDED_KEY, b"").isdigit()
        groups[(source, f.topic, fold, known)].append((f.path, meta.num_rows))
    return [sorted(g) for _, g in sorted(groups.items())]


def _chunks(group: list[tuple[Path, int]], max_rows: int) -> list[list[Path]]:
    """The group's files packed into chunks of at most `max_rows` rows (a file alone may
    be more)."""
    chunks: list[list[Path]] = [[]]
    rows = 0
    for path, n in group:
        if chunks[-1] and rows + n > max_rows:
            chunks.append([])
            rows = 0
        chunks[-1].append(path)
        rows += n
    return chunks


def _merge(root: Path, paths: list[Path]) -> Path:
    """One compacted file of `paths`' rows: temp, fsync, rename (the switch), then the
    replaced files deleted."""
    tables = [pq.read_table(p) for p in paths]
    kv = dict(tables[0].schema.metadata or {})
    table = pa.concat_tables([t.replace_schema_metadata(None) for t in tables])
    table = table.sort_by([("partition", "ascending"), ("offset", "ascending")])
    ranges = table.group_by("partition").aggregate([("offset", "min"), ("offset", "max")])
    spans = {
        str(p): [lo, hi]
        for p, lo, hi in zip(
            ranges.column("partition").to_pylist(),
            ranges.column("offset_min").to_pylist(),
            ranges.column("offset_max").to_pylist(),
            strict=True,
        )
    }
    replaces = sorted(str(p.relative_to(root)) for p in paths)
    unfolded = [(t.schema.metadata or {}).get(UNFOLDED_KEY, b"") for t in tables]
    meta = {
        FOLD_KEY: kv.get(FOLD_KEY, b""),
        SPANS_KEY: json.dumps(spans, sort_keys=True).encode(),
        REPLACES_KEY: json.dumps(replaces).encode(),
    }
    if all(u.isdigit() for u in unfolded):
        meta[UNFOLDED_KEY] = str(sum(int(u) for u in unfolded)).encode()
    topic = table.column("topic")[0].as_py()
    source = paths[0].parent.parent.name  # source=<source>
    digest = hashlib.sha256("\n".join(replaces).encode()).hexdigest()[:16]
    directory = root / source / "compacted"
    directory.mkdir(parents=True, exist_ok=True)
    final = directory / f"compact-{topic}-{digest}.parquet"
    temp = directory / f".{final.name}.tmp"
    pq.write_table(
        table.replace_schema_metadata(meta), temp, row_group_size=_ROW_GROUP, **PARQUET_OPTIONS
    )
    fsync_file(temp)
    hook("compact.temp-written")
    temp.rename(final)
    fsync_dir(directory)
    hook("compact.renamed")
    _delete(paths)
    return final


def _delete(paths: list[Path]) -> None:
    """Delete replaced files (durably), then their directories left empty."""
    directories = set()
    for k, path in enumerate(paths):
        path.unlink(missing_ok=True)
        directories.add(path.parent)
        if k == 0:
            hook("compact.removed-one")
    for directory in sorted(directories):
        fsync_dir(directory)
        if not any(directory.iterdir()):
            directory.rmdir()
            fsync_dir(directory.parent)


def _remove_leftovers(root: Path) -> int:
    """A killed compaction's temp files, and the files a compacted file replaces."""
    for temp in root.glob("source=*/compacted/.compact-*.tmp"):
        temp.unlink(missing_ok=True)
    replaced = [root / name for c in compacted_files(root) for name in c.replaces]
    present = [p for p in replaced if p.exists()]
    _delete(present)
    return len(present)
