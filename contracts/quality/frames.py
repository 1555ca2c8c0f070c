"""The boundary: polars inputs become the pandas batches GX reads, each converted once.

The snapshot's side is here; the archived events' is `contracts.quality.event_rows`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd
import polars as pl

from contracts.clock import second_end_ms

__all__ = [
    "ARCHIVE_COLUMNS",
    "SnapshotInput",
    "cells_frame",
    "changes_frame",
    "parse_cutoff_ms",
    "offset_ends",
]

#: The archive's columns (ARCHITECTURE.md, the event archive).
ARCHIVE_COLUMNS = (
    "topic",
    "partition",
    "offset",
    "event_id",
    "source",
    "type",
    "unit",
    "occurred_at",
    "recorded_at",
    "supersedes",
    "content_hash",
    "raw",
)


@dataclass(frozen=True)
class SnapshotInput:
    """A snapshot as read from its directory: cells.parquet (polars) and meta.json."""

    cells: pl.DataFrame
    meta: Mapping[str, Any]
    label: str = ""  # how to name it in messages, e.g. its path

    @property
    def cutoff_ms(self) -> int:
        return parse_cutoff_ms(self.meta.get("cutoff"), self.label)


def parse_cutoff_ms(value: object, where: str = "") -> int:
    """meta.json's cutoff (ISO 8601 with offset) as epoch milliseconds."""
    try:
        moment = dt.datetime.fromisoformat(str(value))
    except ValueError:
        moment = None
    if moment is None or moment.utcoffset() is None:
        raise ValueError(
            f"{where} meta.json cutoff {value!r} is not an ISO 8601 time with an "
            "offset, e.g. 2024-12-31T23:59:59+08:00".strip()
        )
    return second_end_ms(moment)


def cells_frame(snapshot: SnapshotInput) -> pd.DataFrame:
    """The snapshot's cells as pandas, types untouched (the schema suite judges them)."""
    return snapshot.cells.to_pandas()


def changes_frame(current: SnapshotInput, previous: SnapshotInput) -> pd.DataFrame:
    """unit, scope, cell, value, previous: the cells both snapshots hold."""
    keys = ["unit", "scope", "cell"]
    joined = current.cells.select(*keys, "value").join(
        previous.cells.select(*keys, pl.col("value").alias("previous")), on=keys, how="inner"
    )
    return joined.to_pandas()


def offset_ends(meta: Mapping[str, Any] | None) -> pl.DataFrame | None:
    """meta.json's offset vector as (topic, partition, end) rows; None if it has none."""
    offsets = (meta or {}).get("offsets") or {}
    rows = [(str(t), int(p), int(end)) for t, parts in offsets.items() for p, end in parts.items()]
    if not rows:
        return None
    return pl.DataFrame(
        rows, schema={"topic": pl.Utf8, "partition": pl.Int32, "end": pl.Int64}, orient="row"
    )
