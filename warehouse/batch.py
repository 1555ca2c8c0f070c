"""The archive batch recompute, vectorised: the same answer as pushing every event through
the Ledger in log order, without touching most events in Python.

Most events are never resent, corrected or retracted. An event whose event_id occurs once
in the archive, that no event supersedes or retracts, and that itself supersedes and
retracts nothing, meets the Ledger exactly once, with no earlier entry: it is `applied`
and its contributions count. No other event's resolution reads or writes its entry, since
the Ledger only follows `supersedes`, `retracts` and the `by` links those leave. So:

1. read the archived rows (`contributions` and `retracts` were folded at archive time;
   rows without them, or from a file folded by other contracts code, are folded here);
2. the *involved* event_ids (duplicated, superseding or superseded, retracting or
   retracted) go through `contracts.ledger.Ledger.apply_record` in log order;
3. the rest are effective as they are;
4. the effective contributions are tallied with polars group_by (`tally_frame`), the same
   aggregation as `contracts.fold.tally` (checked by a property test).
"""

from __future__ import annotations

import functools
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow.parquet as pq

from contracts.cells import CELL_BY_ID
from contracts.cutoff import Cutoff
from contracts.events import content_hash_of
from contracts.fold import Contribution, Figures, with_totals
from contracts.ledger import ACTIVE, Ledger, scoped
from contracts.registry import Registry
from warehouse.archive import (
    FOLD_KEY,
    UNFOLDED_KEY,
    ArchiveFile,
    archive_files,
    event_row,
    fold_fingerprint,
)
from warehouse.errors import ArchiveError
from warehouse.offsets import Offsets
from warehouse.schema import ROW_COLUMNS

__all__ = [
    "BatchRebuild",
    "batch_rebuild",
    "tally_frame",
    "contributions_frame",
    "CONTRIBUTION_SCHEMA",
]

#: The effective contributions, one row each (contracts.fold.Contribution as a frame).
CONTRIBUTION_SCHEMA = pl.Schema(
    {
        "cell": pl.String,
        "unit": pl.String,
        "key": pl.String,
        "at": pl.Int64,
        "value": pl.Int64,
        "event_id": pl.String,
    }
)
_RAW_COLUMNS = ["topic", "partition", "offset", "raw"]
_AGG = pl.DataFrame({"cell": list(CELL_BY_ID), "agg": [c.agg.value for c in CELL_BY_ID.values()]})
Progress = Callable[[int], None]


@dataclass
class BatchRebuild:
    """What `batch_rebuild` found; reads figures at any cutoff like `warehouse.rebuild.Rebuild`."""

    registry: Registry
    #: CONTRIBUTION_SCHEMA, lazily: every contribution of every counting event. A plan over
    #: the row files, not a table in memory; `own_figures` runs it with polars' streaming engine.
    effective: pl.LazyFrame
    events: int = 0  # events read (duplicates included)
    invalid: int = 0  # records that do not validate (read and skipped)
    refolded: int = 0  # rows folded on read (older files, or folded by other contracts code)
    involved: int = 0  # rows that went through the Python Ledger
    outcomes: Counter[str] = field(default_factory=Counter)
    #: One column, key: the Ledger keys of the events it holds active (lazily, like `effective`).
    active: pl.LazyFrame | None = None
    #: Scratch files `effective` reads (the Kafka replay's rows): removed with this object.
    scratch: tempfile.TemporaryDirectory[str] | None = None

    def own_figures(self, cutoff: Cutoff) -> Figures:
        return tally_frame(self.effective, since_ms=cutoff.since_ms, cutoff_ms=cutoff.cutoff_ms)

    def active_ids(self) -> pl.Series:
        """The Ledger keys (`contracts.ledger.scoped`: unit|event_id) of the events the
        Ledger holds active (arrived, not superseded or retracted; a conflicting resend
        does not make its key count twice), each once: what the quality suites call
        effective events. Contributions or not."""
        if self.active is None:
            raise ValueError("this rebuild keeps no active ids")
        # Unique by construction: a row outside the Ledger has a key seen once, and the
        # Ledger's entries are keyed by it.
        return self.active.collect(engine="streaming")["key"]


def batch_rebuild(
    root: Path,
    upto: Offsets,
    topics: Iterable[str],
    registry: Registry,
    *,
    progress: Progress | None = None,
) -> BatchRebuild:
    """The archived events before `upto` (exclusive ends per topic and partition), resolved
    and folded: `Rebuild` fed `read_archive(root, upto, topics)` gives the same figures."""
    rows, invalid, refolded = _read_rows(root, upto, set(topics), registry)
    result = fold_rows(rows, registry, origin=f"the archive under {root}")
    result.invalid, result.refolded = invalid, refolded
    if progress is not None:
        progress(result.events)
    return result


#: A row's Ledger key (unit and event_id, `contracts.ledger.scoped`) as a 64-bit hash. Rows
#: are told apart by it only to find the few the Ledger must see: two keys that collide just
#: send both rows through the Ledger, which resolves them exactly as it would anyway, so a
#: collision costs time, never correctness.
def _key(column: str) -> pl.Expr:
    return pl.concat_str(pl.col("unit"), pl.lit("|"), pl.col(column))


def _key_hash(column: str) -> pl.Expr:
    return _key(column).hash()


_KEY = _key("event_id")
_ID_HASH = _KEY.hash().alias("h")
#: The columns by which an event names another of its unit (a correction's, a retraction's).
_NAMING = ("supersedes", "retracts")


def fold_rows(
    rows: pl.LazyFrame,
    registry: Registry,
    *,
    origin: str,
    raws: Callable[[Iterable[int]], list[bytes]] | None = None,
) -> BatchRebuild:
    """Resolve and fold event rows (`ROW_COLUMNS`, any order) as the Ledger would in log order.

    The rows are scanned three times (ids, the involved rows, then the effective
    contributions when figures are asked for) and never held in memory whole: the ids
    take 32 bytes a row; only the involved rows are materialised. A log position (topic,
    partition, offset) found twice is an error naming `origin`. Rows without a content
    hash (the Kafka replay's) carry `raw_row`, which `raws` turns into their records.
    """
    hashed = rows.with_columns(_ID_HASH)
    # One pass over the cheap columns: 8 bytes a row each for the id, the log position,
    # and (null for most rows) the ids a correction or retraction names.
    named = [pl.when(pl.col(c).is_not_null()).then(_key_hash(c)) for c in _NAMING]
    ids = hashed.select(
        "h",
        pl.struct("topic", "partition", "offset").hash().alias("at"),
        named[0].alias("hs"),
        named[1].alias("hr"),
    ).collect(engine="streaming")
    events = ids.height
    if ids["at"].is_duplicated().any():
        _raise_repeated(rows, origin)
    acting = ids.filter(pl.col("hs").is_not_null() | pl.col("hr").is_not_null())
    repeated = ids["h"].filter(ids["h"].is_duplicated()).unique()
    involved = pl.concat(
        [
            repeated,
            acting["h"],
            acting["hs"].drop_nulls(),
            acting["hr"].drop_nulls(),
        ]
    ).unique()
    del ids, acting
    is_involved = pl.col("h").is_in(involved.implode())
    numbered = "raw_row" in rows.collect_schema().names()
    tricky = (
        hashed.filter(is_involved)
        .select(*ROW_COLUMNS, "h", *(["raw_row"] if numbered else []))
        .collect(engine="streaming")
        .sort("topic", "partition", "offset")
    )
    if tricky["content_hash"].null_count():
        tricky = _hash_repeated(tricky, repeated, raws)

    ledger = Ledger()
    outcomes: Counter[str] = Counter({"applied": events - tricky.height})
    for eid, unit, digest, supersedes, retracts, items in tricky.select(
        "event_id", "unit", "content_hash", "supersedes", "retracts", "contributions"
    ).iter_rows():
        outcome = ledger.apply_record(
            scoped(unit, eid),
            digest,
            supersedes=None if supersedes is None else scoped(unit, supersedes),
            retracts=None if retracts is None else scoped(unit, retracts),
            contributions=functools.partial(_contributions, items, eid),
        )
        outcomes[outcome.status] += 1
    plain = _explode(hashed.filter(~is_involved).select("event_id", "contributions"))
    effective = pl.concat(
        [
            plain,
            contributions_frame(c for cs in ledger.effective().values() for c in cs).lazy(),
        ]
    )
    active = pl.concat(
        [
            hashed.filter(~is_involved).select(_KEY.alias("key")),
            pl.LazyFrame(
                {
                    "key": [
                        k
                        for k, e in ledger.entries.items()
                        if e["s"] == ACTIVE and e["h"] is not None
                    ]
                },
                schema={"key": pl.String},
            ),
        ]
    )
    return BatchRebuild(
        registry, effective, events=events, involved=tricky.height, outcomes=outcomes, active=active
    )


#: The content hash given to an event whose event_id occurs once: the Ledger compares a
#: hash only with another row of the same event_id, so no comparison ever reads it.
UNCOMPARED = "-"


def _hash_repeated(
    tricky: pl.DataFrame, repeated: pl.Series, raws: Callable[[Iterable[int]], list[bytes]] | None
) -> pl.DataFrame:
    """Fill the content hashes rows arrived without (the Kafka replay's readers leave them
    out: the canonical JSON and sha256 were a seventh of a reader's time, and only resent
    event_ids need them). A row whose event_id repeats is hashed from its record
    (`content_hash_of`: it validated in the reader); any other gets UNCOMPARED."""
    if raws is None or "raw_row" not in tricky.columns:
        raise ArchiveError("rows without content hashes must come with their records")
    needs = tricky["content_hash"].is_null() & tricky["h"].is_in(repeated.implode())
    records = iter(raws(tricky.filter(needs)["raw_row"].to_list()))
    hashes = [content_hash_of(next(records)) if need else UNCOMPARED for need in needs]
    return tricky.with_columns(pl.coalesce("content_hash", pl.Series(hashes, dtype=pl.String)))


def _contributions(items: list[dict[str, Any]], event_id: str) -> tuple[Contribution, ...]:
    return tuple(
        Contribution(i["cell"], i["unit"], i["key"], i["at"], i["value"], event_id) for i in items
    )


def _explode(frame: pl.LazyFrame) -> pl.LazyFrame:
    """(event_id, contributions list) -> one row per contribution, CONTRIBUTION_SCHEMA."""
    return (
        frame.explode("contributions")
        .drop_nulls("contributions")
        .unnest("contributions")
        .select(list(CONTRIBUTION_SCHEMA))
    )


def contributions_frame(items: Iterable[Contribution]) -> pl.DataFrame:
    """Contributions as a frame of CONTRIBUTION_SCHEMA."""
    return pl.DataFrame(list(items), schema=CONTRIBUTION_SCHEMA, orient="row")


def _read_rows(
    root: Path, upto: Offsets, topics: set[str], registry: Registry
) -> tuple[pl.LazyFrame, int, int]:
    """The archived rows before `upto` in ROW_COLUMNS (any order, lazily); invalid and
    refolded counts. Rows the files hold no fold for are parsed and folded here."""
    files = [f for f in archive_files(root) if f.topic in topics]
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
        rows = _scan(folded)
        if maybe_unfolded:  # rows written without a fold (a tool that left the columns empty)
            keys = (
                _scan(maybe_unfolded)
                .filter(pl.col("contributions").is_null())
                .select("topic", "partition", "offset")
                .collect(engine="streaming")
            )
            if keys.height:
                to_fold.append(_raw_of(maybe_unfolded, keys))
                rows = rows.filter(pl.col("contributions").is_not_null())
        parts.append(rows)
    if stale:
        to_fold.append(_scan(stale, _RAW_COLUMNS).collect())
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


def _raise_repeated(rows: pl.LazyFrame, origin: str) -> None:
    """Name the log positions that occur twice (their hashes did) and fail."""
    twice = (
        rows.group_by("topic", "partition", "offset")
        .len()
        .filter(pl.col("len") > 1)
        .sort("topic", "partition", "offset")
        .collect(engine="streaming")
    )
    if not twice.height:
        return  # two positions' hashes collided; each occurs once
    topic, partition = twice.row(0)[:2]
    offsets = twice.filter((pl.col("topic") == topic) & (pl.col("partition") == partition))
    raise ArchiveError(
        f"{origin} holds {topic}:{partition} offsets "
        f"{offsets['offset'].head(5).to_list()} more than once; this is an "
        "archiver bug, keep the files for diagnosis and rebuild the archive "
        "from Kafka"
    )


def _scan(
    files: list[tuple[ArchiveFile, int | None]], columns: list[str] | None = None
) -> pl.LazyFrame:
    """One lazy scan of whole files, plus one per file cut by `upto`."""
    columns = columns or ROW_COLUMNS
    whole = [f.path for f, cut in files if cut is None]
    scans = [pl.scan_parquet(whole, hive_partitioning=False).select(columns)] if whole else []
    scans += [
        pl.scan_parquet(f.path, hive_partitioning=False)
        .select(columns)
        .filter(pl.col("offset") < cut)
        for f, cut in files
        if cut is not None
    ]
    return pl.concat(scans, how="vertical_relaxed")


def _raw_of(files: list[tuple[ArchiveFile, int | None]], keys: pl.DataFrame) -> pl.DataFrame:
    lazy = _scan(files, _RAW_COLUMNS)
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
            "content_hash": pl.String,
            "supersedes": pl.String,
            "retracts": pl.String,
            "contributions": pl.List(item),
        }
    )


def tally_frame(frame: pl.DataFrame | pl.LazyFrame, *, since_ms: int, cutoff_ms: int) -> Figures:
    """`contracts.fold.tally` over a frame of CONTRIBUTION_SCHEMA, with polars group_by.

    SUM: sum of value; DISTINCT: keys whose summed value is positive; LATEST: per key the
    value with the greatest (at, event_id) (on a tie, the earliest row, as `tally` keeps the
    first it sees); every (unit, cell) with a contribution in the window appears.
    """
    window = (
        frame.lazy()
        .filter(pl.col("at").is_between(since_ms, cutoff_ms))
        .join(_AGG.lazy(), on="cell", how="left")
    )
    sums = window.filter(pl.col("agg") == "sum").group_by("unit", "cell").agg(pl.col("value").sum())
    distinct = (
        window.filter(pl.col("agg") == "distinct")
        .group_by("unit", "cell", "key")
        .agg(pl.col("value").sum())
        .group_by("unit", "cell")
        .agg((pl.col("value") > 0).sum().cast(pl.Int64).alias("value"))
    )
    latest = (
        window.filter(pl.col("agg") == "latest")
        .with_row_index("row")
        .sort(["at", "event_id", "row"], descending=[True, True, False])
        .group_by("unit", "cell", "key")
        .agg(pl.col("value").first())
        .group_by("unit", "cell")
        .agg(pl.col("value").sum())
    )
    unknown = window.filter(pl.col("agg").is_null()).select("cell").unique()
    out, stray = pl.collect_all(
        [
            pl.concat(
                [
                    q.select("unit", "cell", pl.col("value").cast(pl.Int64))
                    for q in (sums, distinct, latest)
                ]
            ),
            unknown,
        ]
    )
    if stray.height:
        raise KeyError(
            f"contributions name cells not in contracts.cells: {sorted(stray['cell'])[:5]}"
        )
    return with_totals({(u, c): v for u, c, v in out.iter_rows()})
