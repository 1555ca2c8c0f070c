"""The boundary: polars inputs become the pandas batches GX reads, each converted once.

Event-level work (employer ids out of the raw JSON, the retractions between two snapshots)
is vectorised polars; GX then sees a few narrow columns per event. Which
events are effective is the Ledger's answer, handed in by the caller (`prepare_events`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd
import polars as pl

from contracts.clock import second_end_ms
from contracts.ledger import Ledger, scoped

__all__ = [
    "ARCHIVE_COLUMNS",
    "SnapshotInput",
    "EventTables",
    "cells_frame",
    "changes_frame",
    "prepare_events",
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
RETRACTED = "event.retracted"

# Field extraction from the raw JSON line. Each object the patterns look into (employer,
# payload scalars) holds no nested object, so a regex is exact and ~4x faster than a JSON
# path on ten million lines.
_EMPLOYER_ID = r'"employer"\s*:\s*\{[^{}]*?"id"\s*:\s*"([^"]*)"'
_RETRACTS = r'"retracts"\s*:\s*"([^"]*)"'


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


@dataclass
class EventTables:
    """The archived events behind a snapshot, prepared once for GX and for the evidence."""

    rows: pl.DataFrame  # every archived row within the offsets, with derived columns

    def gx_frame(self) -> pd.DataFrame:
        """The narrow pandas batch the event suite runs on (one conversion).

        `received_event_id` is the Ledger key (unit|event_id: ids are scoped by unit) of
        each key's first row and of every resend the Ledger refuses as a conflict: unique
        unless a conflicting resend reached the log. `unit_event_id` is the event_id of each
        key's first row: unique unless an id is used by two units. `foreign_target` is the
        target of a correction or retraction naming no event of its own unit but one of
        another unit's (else null).
        """
        rows = self.rows
        target = pl.coalesce("supersedes", "retracts")
        own = pl.concat_str(
            pl.col("unit"), pl.lit("|"), pl.col("source"), pl.lit("|"), target
        ).is_in(rows["key"].implode())
        elsewhere = target.is_in(rows["event_id"].implode())
        return rows.select(
            pl.when(pl.col("first") | pl.col("conflict"))
            .then(pl.col("key"))
            .alias("received_event_id"),
            pl.when(pl.col("first")).then(pl.col("event_id")).alias("unit_event_id"),
            pl.when(target.is_not_null() & ~own & elsewhere).then(target).alias("foreign_target"),
            pl.col("source").cast(pl.Categorical),
            pl.col("unit").cast(pl.Categorical),
            "occurred_at_ms",
            pl.col("employer_id").cast(pl.Categorical),
        ).to_pandas(use_pyarrow_extension_array=False)

    def duplicates(self, keys: list[str]) -> pl.DataFrame:
        """The rows behind a non-unique `received_event_id` (Ledger keys): a first row, its
        conflicts."""
        return (
            self.rows.filter((pl.col("first") | pl.col("conflict")) & pl.col("key").is_in(keys))
            .select(
                "event_id",
                "unit",
                "topic",
                "partition",
                "offset",
                pl.col("content_hash").str.slice(0, 12),
            )
            .sort("event_id", "topic", "partition", "offset")
        )

    def bad_codes(self, codes: list[str]) -> pl.DataFrame:
        return (
            self.rows.filter(pl.col("employer_id").is_in(codes))
            .select("employer_id", "event_id", "unit", "type")
            .sort("employer_id", "event_id")
        )

    def corrections_between(self, previous_meta: Mapping[str, Any] | None) -> pl.DataFrame:
        """Retractions and corrections archived after the previous snapshot's offsets."""
        rows = self.rows
        ends = offset_ends(previous_meta)
        if ends is not None:
            rows = rows.join(ends, on=["topic", "partition"], how="left").filter(
                pl.col("end").is_null() | (pl.col("offset") >= pl.col("end"))
            )
        return (
            rows.filter((pl.col("type") == RETRACTED) | pl.col("supersedes").is_not_null())
            .select(
                "event_id",
                "type",
                "unit",
                pl.coalesce("supersedes", "retracts").alias("target"),
                "topic",
                "partition",
                "offset",
            )
            .sort("unit", "topic", "partition", "offset")
        )


#: A row's Ledger key, `contracts.ledger.scoped(unit, source, event_id)`, as polars.
_KEY = pl.concat_str(pl.col("unit"), pl.lit("|"), pl.col("source"), pl.lit("|"), pl.col("event_id"))


def prepare_events(
    archive: pl.LazyFrame, meta: Mapping[str, Any] | None, active: pl.Series
) -> EventTables:
    """The archived rows within the snapshot's offsets, with `effective` as the Ledger decided.

    `active` holds the keys (`contracts.ledger.scoped`: unit|source|event_id, ids are
    scoped by unit and source) of the events `contracts.ledger.Ledger` holds active after
    these rows in log order, each once; the caller resolves them (the command layer runs
    the warehouse batch, which applies `Ledger.apply_record`), so there is one
    implementation of the rules.
    A row is `effective` iff its key is active and it is that key's `first` row in log
    order (topic, partition, offset): a resend, identical or conflicting, never counts
    twice. `conflict` marks the resends the Ledger refuses. `employer_id`, `retracts` and
    `occurred_at_ms` are derived here.

        >>> active = pl.Series(["320412|inspection|e-1", "320412|inspection|e-2"])
        >>> tables = prepare_events(archive, meta, active=active)  # doctest: +SKIP
        >>> tables.rows.filter("effective")["event_id"].to_list()  # doctest: +SKIP
        ['e-1', 'e-2']
    """
    lazy = archive.select(*ARCHIVE_COLUMNS)
    ends = offset_ends(meta)
    if ends is not None:
        lazy = (
            lazy.with_columns(pl.col("partition").cast(pl.Int32))
            .join(ends.lazy(), on=["topic", "partition"], how="inner")
            .filter(pl.col("offset") < pl.col("end"))
            .drop("end")
        )
    scan = (
        lazy.with_columns(
            pl.col("occurred_at").dt.epoch("ms").alias("occurred_at_ms"),
            pl.col("raw").str.extract(_EMPLOYER_ID).alias("employer_id"),
            pl.when(pl.col("type") == RETRACTED)
            .then(pl.col("raw").str.extract(_RETRACTS))
            .alias("retracts"),
            _KEY.alias("key"),
            # in the scan, not after it: ~2 s less on ten million rows
            _KEY.is_in(active.cast(pl.Utf8).implode()).alias("_active"),
        )
        .drop("raw", "recorded_at")  # read only to derive the columns above
        .with_columns(
            pl.col("source", "type", "unit").cast(pl.Categorical)  # topic is a join key: str
        )
    )
    rows = scan.collect(engine="streaming")  # in batches: `raw` is never held whole
    later, conflicts = _resends(rows)
    row = pl.int_range(pl.len(), dtype=pl.UInt32)
    first = ~row.is_in(later.implode())
    return EventTables(
        rows.with_columns(
            first.alias("first"),
            row.is_in(conflicts.implode()).alias("conflict"),
            (first & pl.col("_active")).alias("effective"),
        ).drop("_active")
    )


def _resends(rows: pl.DataFrame) -> tuple[pl.Series, pl.Series]:
    """Row numbers of the resends (an event_id's second and later rows in log order), and
    of those the Ledger refuses as conflicts.

    Only rows whose event_id repeats can be resends, so only they go through a Ledger, in
    log order: whether a row conflicts depends on its own event_id's earlier rows alone.
    They are found by a 64-bit hash of the event_id (~2x faster on ten million rows); two
    ids that collide only add rows here, which the exact steps below tell apart.
    """
    repeated = (
        rows.with_row_index("_row")
        .filter(pl.col("key").hash().is_duplicated())
        .sort("topic", "partition", "offset")
    )
    later = repeated.filter(~pl.col("key").is_first_distinct())["_row"]
    ledger = Ledger()
    conflicts = [
        row
        for row, unit, source, eid, digest, supersedes, retracts in repeated.select(
            "_row", "unit", "source", "event_id", "content_hash", "supersedes", "retracts"
        ).iter_rows()
        if ledger.apply_record(
            scoped(unit, source, eid),
            digest,
            supersedes=None if supersedes is None else scoped(unit, source, supersedes),
            retracts=None if retracts is None else scoped(unit, source, retracts),
            contributions=(),
        ).status
        == "conflict"
    ]
    return later, pl.Series(conflicts, dtype=pl.UInt32)
