"""The archived events behind a snapshot as the event suite reads them (`prepare_events`).

Event-level work (employer ids out of the raw JSON, resends, ids shared by two units,
targets in another unit) is vectorised polars; GX then sees a few narrow columns per
event. Which events are effective is the Ledger's answer, handed in by the caller
(`LedgerAnswer`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa

from contracts.events import RETRACTED
from contracts.fold import OpenCase
from contracts.quality.frames import ARCHIVE_COLUMNS, offset_ends

__all__ = ["CONFLICT_SCHEMA", "GX_COLUMNS", "EventTables", "LedgerAnswer", "prepare_events"]

# The employer's code out of the raw JSON line. The employer object holds no nested
# object, so a regex is exact and ~4x faster than a JSON
# path on ten million lines.
_EMPLOYER_ID = r'"employer"\s*:\s*\{[^{}]*?"id"\s*:\s*"([^"]*)"'
#: A retraction's target, read from `raw` as well: the archive's `retracts` column is
#: null in files written before it was folded at archive time (the batch refolds those).
_RETRACTS = r'"retracts"\s*:\s*"([^"]*)"'


@dataclass(frozen=True)
class LedgerAnswer:
    """What `contracts.ledger.Ledger` decided of the archived rows behind a snapshot, applied
    in log order; the command layer gets it from the warehouse batch
    (`pipeline.flows.quality_inputs.ledger_answers`: `BatchRebuild.inactive_ids()`,
    `.conflicts`, `.open_cases`), so the suites judge the Ledger's own verdicts and hold
    no second copy of its rules.

        >>> answer = LedgerAnswer(inactive=pl.Series(["320412|inspection|e-2"]),
        ...                       conflicts=pl.DataFrame(schema=CONFLICT_SCHEMA),
        ...                       open_cases=[])  # doctest: +SKIP
    """

    #: the keys (unit|source|event_id) of the rows' events it does not hold active
    #: (superseded, retracted): a few in a hundred; every other key is active
    inactive: pl.Series
    #: topic, partition, offset of the resends it refused as conflicts
    conflicts: pl.DataFrame
    #: the verified cases open at the snapshot's cutoff among the active events
    open_cases: Sequence[OpenCase]


#: `LedgerAnswer.conflicts`' columns.
CONFLICT_SCHEMA = {"topic": pl.Utf8, "partition": pl.Int32, "offset": pl.Int64}


#: The columns of `EventTables.gx_frame`.
GX_COLUMNS = (
    "received_event",
    "unit_event",
    "foreign_target",
    "source",
    "unit",
    "occurred_at_ms",
    "employer_id",
)


@dataclass
class EventTables:
    """The archived events behind a snapshot, prepared once for GX and for the evidence.

    `rows` holds one narrow row per archived event within the offsets (no content hash, no
    raw JSON: ten million rows stay near 1 GB); `archive` is the same cut, lazily, which
    the evidence reads again for the few rows it names.
    """

    rows: pl.DataFrame  # see prepare_events for the columns
    archive: pl.LazyFrame

    def gx_frame(self, columns: Sequence[str] = GX_COLUMNS) -> pd.DataFrame:
        """These of the narrow columns the event suite runs on (`GX_COLUMNS`), as pandas:
        one conversion, no strings but the rare foreign targets.

        `received_event` numbers each key's first row and every resend the Ledger refuses
        as a conflict by the row of that key's first copy: unique unless a conflicting
        resend reached the log. `unit_event` numbers each key's first row by the first row
        carrying its event_id: unique unless an id is used by two units. Both are
        identities, not the ids themselves: checking ten million strings for uniqueness
        took GX ten times as long, and `name` turns a number back into its key or id for
        the findings. `foreign_target` is the target of a correction or retraction naming
        no event of its own unit but one of another unit's (else null).
        """
        unknown = set(columns) - set(GX_COLUMNS)
        assert not unknown, f"not a column of the event suite: {sorted(unknown)}"
        numbers = [c for c in columns if self.rows.schema[c] != pl.Categorical]
        frame = self.rows.select(numbers).to_pandas(types_mapper=_NULLABLE_INT.get)
        for name in columns:
            if name not in numbers:
                frame[name] = _pandas_categorical(self.rows[name])
        # in the order asked (selecting by a list copies the frame, so only when it differs)
        return frame if list(frame.columns) == list(columns) else frame[list(columns)]

    def name(self, numbers: list[Any], column: str) -> dict[Any, str]:
        """The key (`received_event`) or event_id (`unit_event`) each number stands for."""
        rows = sorted({int(n) for n in numbers})
        picked = self.rows[rows].select(_KEY.alias("key"), "event_id")
        names = picked["key" if column == "received_event" else "event_id"].to_list()
        return {row: name for row, name in zip(rows, names, strict=True)}

    def duplicates(self, numbers: list[Any]) -> pl.DataFrame:
        """The rows behind a non-unique `received_event`: a first row, its conflicts."""
        wanted = pl.Series([int(n) for n in numbers], dtype=pl.Int32)
        found = self.rows.filter(pl.col("received_event").is_in(wanted.implode())).select(
            "event_id", "unit", pl.col("topic").cast(pl.Utf8), "partition", "offset"
        )
        return (
            found.join(
                _at(self.archive, found).select(*_LOG_ORDER, "content_hash").collect(),
                on=_LOG_ORDER,
            )
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
            self.rows.filter(pl.col("employer_id").cast(pl.Utf8).is_in(codes))
            .select(
                pl.col("employer_id").cast(pl.Utf8),
                "event_id",
                pl.col("unit").cast(pl.Utf8),
                pl.col("type").cast(pl.Utf8),
            )
            .sort("employer_id", "event_id")
        )

    def corrections_between(self, previous_meta: Mapping[str, Any] | None) -> pl.DataFrame:
        """Retractions and corrections archived after the previous snapshot's offsets."""
        rows = self.rows.filter(pl.col("target").is_not_null()).with_columns(
            pl.col("topic", "unit", "type", "target").cast(pl.Utf8)
        )
        ends = offset_ends(previous_meta)
        if ends is not None:
            rows = rows.join(ends, on=["topic", "partition"], how="left").filter(
                pl.col("end").is_null() | (pl.col("offset") >= pl.col("end"))
            )
        return rows.select(
            "event_id", "type", "unit", "target", "topic", "partition", "offset"
        ).sort("unit", "topic", "partition", "offset")


#: Integers with nulls as pandas' masked Int64, not float64: GX finds duplicates among ten
#: million of them in a quarter of the time (0.9 s against 3.5 s), and numbers stay exact.
#: Every other column is numeric or categorical: GX copies the batch for each expectation.
_NULLABLE_INT = {pa.int64(): pd.Int64Dtype(), pa.int32(): pd.Int32Dtype()}


def _pandas_categorical(column: pl.Series) -> pd.Categorical:
    """A polars Categorical as pandas', by its codes: pyarrow's conversion took 2 s for ten
    million rows of a hundred thousand codes, this a tenth of that. Polars numbers the
    categories of every Categorical column in one space, so the codes present are
    renumbered from 0."""
    present = column.unique().drop_nulls()
    ids = present.to_physical().to_numpy()
    physical = column.to_physical()
    lookup = np.full(int(ids.max(initial=0)) + 2, -1, dtype=np.int32)  # the last: null
    lookup[ids] = np.arange(len(ids), dtype=np.int32)
    codes = lookup[physical.fill_null(len(lookup) - 1).to_numpy()]
    names = pd.Index(present.cast(pl.Utf8).to_list(), dtype=object)
    return pd.Categorical.from_codes(codes, categories=names)


#: A row's Ledger key, `contracts.ledger.scoped(unit, source, event_id)`, as polars.
_KEY = pl.concat_str(
    pl.col("unit").cast(pl.Utf8),
    pl.lit("|"),
    pl.col("source").cast(pl.Utf8),
    pl.lit("|"),
    pl.col("event_id"),
)
_LOG_ORDER = ["topic", "partition", "offset"]


def prepare_events(
    archive: pl.LazyFrame, meta: Mapping[str, Any] | None, ledger: LedgerAnswer
) -> EventTables:
    """The archived rows within the snapshot's offsets, with `effective` as the Ledger decided.

    A row is `effective` iff its key (`contracts.ledger.scoped`: unit|source|event_id, ids
    are scoped by unit and source) is not among `ledger.inactive` and it is that key's
    `first` row in log order (topic, partition, offset): a resend, identical or
    conflicting, never counts twice. `conflict` marks the resends the Ledger refused
    (`ledger.conflicts`). `employer_id`, `target` (what a correction supersedes or a
    retraction retracts), `occurred_at_ms` and the GX columns (`EventTables.gx_frame`) are
    derived here.

    One streamed pass reads the archive's narrow columns (`raw` only for the employer's
    code, a batch at a time). Only rows whose key's 64-bit hash repeats, a few in a
    hundred, are told apart by their keys.

        >>> answer = LedgerAnswer(pl.Series(["320412|inspection|e-2"]), conflicts, [])
        >>> tables = prepare_events(archive, meta, answer)  # doctest: +SKIP
        >>> tables.rows.filter("effective")["event_id"].to_list()  # doctest: +SKIP
        ['e-1', 'e-3']
    """
    lazy = archive.select(*ARCHIVE_COLUMNS).with_columns(pl.col("partition").cast(pl.Int32))
    ends = offset_ends(meta)
    if ends is not None:
        lazy = (
            lazy.join(ends.lazy(), on=["topic", "partition"], how="inner")
            .filter(pl.col("offset") < pl.col("end"))
            .drop("end")
        )
    rows = lazy.select(
        pl.col("topic").cast(pl.Categorical),  # sorts as text: log order stays
        "partition",
        "offset",
        "event_id",
        pl.col("source", "type", "unit").cast(pl.Categorical),
        pl.col("occurred_at").dt.epoch("ms").alias("occurred_at_ms"),
        pl.col("raw").str.extract(_EMPLOYER_ID).cast(pl.Categorical).alias("employer_id"),
        pl.coalesce(
            "supersedes",
            # the regex runs on the retractions' lines only (the rest are null by then):
            # `when(...).then(raw.str.extract(...))` would run it on every line
            pl.when(pl.col("type") == RETRACTED).then(pl.col("raw")).str.extract(_RETRACTS),
        )
        .cast(pl.Categorical)
        .alias("target"),
        _KEY.hash().alias("_key_hash"),
        ~_KEY.is_in(ledger.inactive.cast(pl.Utf8).implode()).alias("_active"),
    ).collect(engine="streaming")
    later = _resends(rows)
    conflicts = _rows_at(rows, ledger.conflicts)
    row = pl.int_range(pl.len(), dtype=pl.Int32)  # a row number names an event to GX
    rows = rows.with_columns(
        (~row.is_in(later["_row"].implode())).alias("first"),
        row.is_in(conflicts.implode()).alias("conflict"),
    ).with_columns((pl.col("first") & pl.col("_active")).alias("effective"))
    return EventTables(
        rows.with_columns(
            pl.when(pl.col("first"))
            .then(row)
            .when(pl.col("conflict"))
            .then(
                row.replace_strict(
                    later["_row"], later["_first"], default=None, return_dtype=pl.Int32
                )
            )
            .alias("received_event"),
            pl.when(pl.col("first")).then(row.replace(*_first_with_id(rows))).alias("unit_event"),
            _foreign_targets(rows),
        ).drop("_key_hash", "_active"),
        lazy,
    )


def _resends(rows: pl.DataFrame) -> pl.DataFrame:
    """The resends: each key's second and later rows in log order (`_row`), with the row of
    that key's first copy (`_first`).

    Only rows whose key repeats can be resends. They are found by a 64-bit hash of the
    key (`_repeating`); two keys that collide only add rows here, which their keys then tell apart.
    """
    repeated = (
        rows.with_row_index("_row")
        .filter(pl.col("_key_hash").is_in(_repeating(rows["_key_hash"]).implode()))
        .select(pl.col("_row").cast(pl.Int32), *_LOG_ORDER, _KEY.alias("key"))
        .sort(_LOG_ORDER)
        .with_columns(pl.col("_row").first().over("key").alias("_first"))
    )
    return repeated.filter(~pl.col("key").is_first_distinct()).select("_row", "_first")


def _rows_at(rows: pl.DataFrame, positions: pl.DataFrame) -> pl.Series:
    """The row numbers of `rows` at these log positions (topic, partition, offset)."""
    if positions.is_empty():
        return pl.Series([], dtype=pl.Int32)
    numbered = rows.lazy().with_row_index("_row").with_columns(pl.col("topic").cast(pl.Utf8))
    return _at(numbered, positions).collect()["_row"].cast(pl.Int32)


def _at(lazy: pl.LazyFrame, positions: pl.DataFrame) -> pl.LazyFrame:
    """The rows of `lazy` (topic as text) at the log positions of `positions` (few)."""
    at = positions.select(
        pl.col("topic").cast(pl.Utf8), pl.col("partition").cast(pl.Int32), pl.col("offset")
    ).unique()
    return lazy.filter(pl.col("offset").is_in(at["offset"].implode())).join(
        at.lazy(), on=_LOG_ORDER, how="semi"
    )


def _first_with_id(rows: pl.DataFrame) -> tuple[pl.Series, pl.Series]:
    """For the first rows whose event_id another key's first row shares (an id used by two
    units or sources): each row, and the first row carrying that event_id. Found by a
    64-bit hash of the event_id, as `_resends` finds repeated keys; only the rows whose
    hash repeats are copied with their ids (copying every first row's id took 400 MB at
    ten million rows, the top of the check's peak)."""
    hashes = rows["event_id"].hash()
    repeating = _repeating(hashes.filter(rows["first"]))
    shared = (
        rows.select(pl.int_range(pl.len(), dtype=pl.Int32).alias("_row"), "event_id")
        .filter(rows["first"] & hashes.is_in(repeating.implode()))
        .select("_row", pl.col("_row").min().over("event_id").alias("_first"))
    )
    return shared.to_series(0), shared.to_series(1)


def _repeating(hashes: pl.Series) -> pl.Series:
    """The values that occur more than once, by sorting: 0.5 s for ten million 64-bit
    hashes, where polars' `is_duplicated` took 2.5-3.7 s."""
    ordered = np.sort(hashes.to_numpy())
    return pl.Series(np.unique(ordered[1:][ordered[1:] == ordered[:-1]]), dtype=hashes.dtype)


def _foreign_targets(rows: pl.DataFrame) -> pl.Expr:
    """`foreign_target`: a target naming no event of its own unit and source, but another's."""
    pointing = (
        rows.with_row_index("_row")
        .filter(pl.col("target").is_not_null())
        .select("_row", "unit", "source", pl.col("target").cast(pl.Utf8))
    )
    named = rows.filter(pl.col("event_id").is_in(pointing["target"].implode())).select(
        "unit", "source", "event_id"
    )
    foreign = pointing.filter(pl.col("target").is_in(named["event_id"].implode())).join(
        named.unique(),
        left_on=["unit", "source", "target"],
        right_on=["unit", "source", "event_id"],
        how="anti",
    )
    row = pl.int_range(pl.len(), dtype=pl.UInt32)
    return pl.when(row.is_in(foreign["_row"].implode())).then("target").alias("foreign_target")
