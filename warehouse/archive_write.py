"""Writing an archive part durably (temp file, fsync, rename), with the fold it carries;
no polars, so the archiver's reader processes (`warehouse.archive_reader`) start light.
`warehouse.archive_files` lists and reads the parts."""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

import contracts
from warehouse._durable import fsync_dir, fsync_file
from warehouse.errors import ArchiveError
from warehouse.schema import ARCHIVE_SCHEMA

__all__ = [
    "FOLD_KEY",
    "PARQUET_OPTIONS",
    "UNFOLDED_KEY",
    "fold_fingerprint",
    "write_part",
    "write_table_part",
]

_FEW_VALUES = ["topic", "source", "type", "unit"]
#: How every archive file is written (parts and compacted files). Dictionaries only for the
#: columns of few values, and statistics only for the columns readers filter on: building
#: a dictionary of `raw` or the content hashes until it overflows, or min/max of `raw`,
#: is work no reader uses.
PARQUET_OPTIONS: dict[str, Any] = {
    "compression": "zstd",
    "use_dictionary": _FEW_VALUES,
    "write_statistics": ["partition", "offset", "occurred_at", *_FEW_VALUES],
}

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
    # By column, not from_pylist: half its time (4 µs a row instead of 6-10). A key a row
    # lacks is null, as from_pylist has it.
    table = pa.Table.from_pydict(
        {c: [row.get(c) for row in rows] for c in ARCHIVE_SCHEMA.names}, schema=ARCHIVE_SCHEMA
    )
    unfolded = sum(1 for row in rows if row.get("contributions") is None)
    return write_table_part(root, source, date, table, unfolded=unfolded, sync_dir=sync_dir)


def write_table_part(
    root: Path, source: str, date: str, table: pa.Table, *, unfolded: int = 0, sync_dir: bool = True
) -> Path:
    """`write_part` of an ARCHIVE_SCHEMA table (one topic-partition, in offset order) with
    `unfolded` rows lacking contributions."""
    directory = root / f"source={source}" / f"date={date}"
    directory.mkdir(parents=True, exist_ok=True)
    offsets = table.column("offset")
    topic, partition = table.column("topic")[0].as_py(), table.column("partition")[0].as_py()
    first, last = offsets[0].as_py(), offsets[len(offsets) - 1].as_py()
    final = directory / f"part-{topic}-{partition}-{first}-{last}.parquet"
    if final.exists():
        raise ArchiveError(
            f"{final} already exists; the archive and the committed offsets "
            "disagree (two archivers on one directory?)"
        )
    temp = directory / f".{final.name}.tmp"
    table = table.replace_schema_metadata(
        {FOLD_KEY: fold_fingerprint(), UNFOLDED_KEY: str(unfolded)}
    )
    pq.write_table(table, temp, **PARQUET_OPTIONS)
    fsync_file(temp)
    temp.rename(final)
    if sync_dir:
        fsync_dir(directory)
    return final
