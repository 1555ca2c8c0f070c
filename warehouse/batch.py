"""The archive batch recompute, vectorised: the same answer as pushing every event through
the Ledger in log order, without touching most events in Python.

Most events are never resent, corrected or retracted. An event whose event_id occurs once
in the archive, that no event supersedes or retracts, and that itself supersedes and
retracts nothing, meets the Ledger exactly once, with no earlier entry: it is `applied`
and its contributions count. No other event's resolution reads or writes its entry, since
the Ledger only follows `supersedes`, `retracts`, the `by` links those leave and the case
links; and a case moves its follow-ups only while one of its verified events names a
project, and only those whose own row is not 建筑业. So:

1. read the archived rows (`contributions` and `retracts` were folded at archive time;
   rows without them, or from a file folded by other contracts code, are folded here);
2. the *involved* event_ids (duplicated, superseding or superseded, retracting or
   retracted; or of a case with a verified event naming a project and a follow-up of
   another row: SPEC 4.1 puts the follow-ups in the case's row) go through
   `contracts.ledger.Ledger.apply_record` in log order;
3. the rest are effective as they are;
4. the effective contributions are tallied with polars group_by (`tally_frame`), the same
   aggregation as `contracts.fold.tally` (checked by a property test).

Size: `fold_rows` and its helpers (which events are involved, the cases whose follow-ups
move, the repeated hashes) are one query over the same frames; split, each module would
take all of them, and the involvement rule would read in two places.
"""

from __future__ import annotations

import contextlib
import gc
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from contracts.cutoff import Cutoff
from contracts.events import content_hash_of
from contracts.fold import (
    CONSTRUCTION,
    FOLLOW_UP,
    ON_PROJECT,
    OPEN_CASES,
    CaseLink,
    Contribution,
    Figures,
    OpenCase,
    open_cases,
)
from contracts.industry import ROW_KEYS
from contracts.ledger import ACTIVE, Ledger, scoped
from contracts.registry import Registry
from warehouse.archive_rows import archive_rows
from warehouse.errors import ArchiveError
from warehouse.offsets import Offsets
from warehouse.schema import ROW_COLUMNS
from warehouse.tally import CONTRIBUTION_SCHEMA, contributions_frame, tally_frame

__all__ = ["BatchRebuild", "batch_rebuild", "fold_rows"]

Progress = Callable[[int], None]


@dataclass
class BatchRebuild:
    """What `batch_rebuild` found; reads figures at any cutoff like `warehouse.rebuild.Rebuild`."""

    registry: Registry
    #: CONTRIBUTION_SCHEMA, lazily: every contribution of every counting event. A plan over
    #: the row files, not a table in memory; `own_figures` runs it with polars' streaming engine.
    effective: pl.LazyFrame
    #: The `effective` contributions to OPEN_CASES, planned over the case events' rows alone.
    case_items: pl.LazyFrame
    events: int = 0  # events read (duplicates included)
    invalid: int = 0  # records that do not validate (read and skipped)
    refolded: int = 0  # rows folded on read (older files, or folded by other contracts code)
    involved: int = 0  # rows that went through the Python Ledger
    outcomes: Counter[str] = field(default_factory=Counter)
    #: The Ledger keys among the rows that it does not hold active (superseded, retracted;
    #: a few in a hundred): every other row's key is active.
    inactive: list[str] = field(default_factory=list)
    #: topic, partition, offset of the resends the Ledger refused as conflicts
    conflicts: pl.DataFrame = field(default_factory=pl.DataFrame)
    #: The log positions (topic, partition, offset; and `raw_row` for the Kafka replay's rows)
    #: of the rows whose content counts: one per active Ledger key, the row the Ledger took
    #: its contributions from. What the supervision views read the events' payloads from.
    positions: pl.LazyFrame | None = None
    #: The records of rows that carry `raw_row` (the Kafka replay's), by row number.
    raws: Callable[[Iterable[int]], list[bytes]] | None = None
    #: Scratch files `effective` reads (the Kafka replay's rows): removed with this object.
    scratch: tempfile.TemporaryDirectory[str] | None = None

    def own_figures(self, cutoff: Cutoff) -> Figures:
        return tally_frame(self.effective, since_ms=cutoff.since_ms, cutoff_ms=cutoff.cutoff_ms)

    def open_cases(self, cutoff: Cutoff) -> list[OpenCase]:
        """The verified cases open at `cutoff` among the events the Ledger holds effective:
        `contracts.fold.open_cases` over this rebuild's effective contributions, the same
        ones `own_figures` tallies into `aux.open_cases`. The problem ledger and the
        `no_open_cases` expectation's list both take this answer."""
        rows = self.case_items.select(list(CONTRIBUTION_SCHEMA)).collect(engine="streaming")
        return open_cases(
            (Contribution(*row) for row in rows.iter_rows()),
            since_ms=cutoff.since_ms,
            cutoff_ms=cutoff.cutoff_ms,
        )

    def inactive_ids(self) -> pl.Series:
        """The Ledger keys of the rows' events that it does not hold active: superseded,
        retracted, or named by a correction or retraction before they arrived. Every other
        key of the rows is active (a row outside the Ledger has a key seen once): what the
        quality suites call effective events, given by its short side."""
        return pl.Series("key", self.inactive, dtype=pl.String)


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
    rows, invalid, refolded = archive_rows(root, upto, set(topics), registry)
    result = fold_rows(rows, registry, origin=f"the archive under {root}")
    result.invalid, result.refolded = invalid, refolded
    if progress is not None:
        progress(result.events)
    return result


#: A row's Ledger key (unit, source and event_id, `contracts.ledger.scoped`) as a 64-bit hash. Rows
#: are told apart by it only to find the few the Ledger must see: two keys that collide just
#: send both rows through the Ledger, which resolves them exactly as it would anyway, so a
#: collision costs time, never correctness.
def _key(column: str) -> pl.Expr:
    return pl.concat_str(pl.col("unit"), pl.lit("|"), pl.col("source"), pl.lit("|"), pl.col(column))


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
        pl.when(pl.col("case_id").is_not_null()).then(_key_hash("case_id")).alias("hc"),
        (pl.col("case_role") == ON_PROJECT).alias("on_project"),
    ).collect(engine="streaming")
    events = ids.height
    if not _repeated(ids["at"]).is_empty():
        _raise_repeated(rows, origin)
    acting = ids.filter(pl.col("hs").is_not_null() | pl.col("hr").is_not_null())
    repeated = _repeated(ids["h"])
    moving = _moving_cases(hashed, ids.filter(pl.col("on_project"))["hc"].unique())
    involved = pl.concat(
        [
            repeated,
            acting["h"],
            acting["hs"].drop_nulls(),
            acting["hr"].drop_nulls(),
            ids.filter(pl.col("hc").is_in(moving.implode()))["h"],
        ]
    ).unique()
    del ids, acting, moving
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
    #: Ledger key -> the row whose content the Ledger last took in (first arrival, or a
    #: correction of itself): the row an active key's figures come from.
    taken: dict[str, int] = {}
    refused: list[int] = []  # rows of the resends refused as conflicts
    with _collector_paused():
        folds = _folds(tricky)
        # what follows the log position, but the contributions (`folds`)
        for row, (eid, unit, source, digest, supersedes, retracts, case, role) in enumerate(
            tricky.select(c for c in ROW_COLUMNS[3:] if c != "contributions").iter_rows()
        ):
            key = scoped(unit, source, eid)
            outcome = ledger.apply_record(
                key,
                digest,
                supersedes=None if supersedes is None else scoped(unit, source, supersedes),
                retracts=None if retracts is None else scoped(unit, source, retracts),
                contributions=folds[row],
                case=None if case is None else CaseLink(scoped(unit, source, case), role),
            )
            outcomes[outcome.status] += 1
            if outcome.status == "applied":
                taken[key] = row
            elif outcome.status == "conflict":
                refused.append(row)
        effective = [c for cs in ledger.effective().values() for c in cs]
    plain = hashed.filter(~is_involved)
    resolved = contributions_frame(effective).lazy()
    everything = pl.concat([_explode(plain.select("event_id", "contributions")), resolved])
    # Only a case's events (a case_id: verified, resolved) count in OPEN_CASES; the rest
    # need not be exploded to find them (2.7 s -> 0.6 s at 10M rows).
    case_items = pl.concat(
        [
            _explode(
                plain.filter(pl.col("case_id").is_not_null()).select("event_id", "contributions")
            ),
            resolved,
        ]
    ).filter(pl.col("cell") == OPEN_CASES)
    where = ["topic", "partition", "offset", *(["raw_row"] if numbered else [])]
    rows_taken = sorted(r for k, r in taken.items() if ledger.entries[k]["s"] == ACTIVE)
    positions = pl.concat(
        [
            hashed.filter(~is_involved).select(where),
            # selected first and eagerly: only the position columns outlive this call
            tricky.select(where)
            .with_row_index("_row")
            .filter(pl.col("_row").is_in(pl.Series(rows_taken, dtype=pl.UInt32).implode()))
            .drop("_row")
            .lazy(),
        ]
    )
    return BatchRebuild(
        registry,
        everything,
        case_items,
        events=events,
        involved=tricky.height,
        outcomes=outcomes,
        inactive=[k for k, e in ledger.entries.items() if e["s"] != ACTIVE or e["h"] is None],
        conflicts=tricky.select(
            "topic", pl.col("partition").cast(pl.Int32), pl.col("offset").cast(pl.Int64)
        )[refused],
        positions=positions,
        raws=raws,
    )


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """No cyclic collection while the Ledger resolves the involved rows: it makes only
    containers that live on (its entries, their contributions), which every young pass
    walked again (the batch of a compacted 1M-event archive: 2.2 s with them, 1.8 s
    without); the rows are bounded (the involved ones, a few in a hundred)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _repeated(hashes: pl.Series) -> pl.Series:
    """The values of `hashes` that occur more than once, each once: by a numpy sort, 0.5 s
    for ten million 64-bit hashes where polars' `is_duplicated` took 2.7 s (measured at
    10M archived rows, polars 2.1). Nulls are not values here (the hashes have none).
    (`contracts.quality.event_rows._repeating` is the same method on the check's side of
    the layout, which may not import the warehouse.)"""
    ordered = np.sort(hashes.drop_nulls().to_numpy())
    twice = ordered[1:][ordered[1:] == ordered[:-1]]
    return pl.Series(hashes.name, np.unique(twice), dtype=hashes.dtype)


#: The rows a case's verified event naming a project can move: its follow-ups whose own fold
#: chose a row other than 建筑业 (a table cell of another row).
_OFF_CONSTRUCTION = (
    pl.col("contributions")
    .list.eval(
        pl.element()
        .struct.field("cell")
        .str.split(".")
        .list.first()
        .is_in([r for r in ROW_KEYS if r != CONSTRUCTION])
    )
    .list.any()
)


def _moving_cases(rows: pl.LazyFrame, on_project: pl.Series) -> pl.Series:
    """Hashes of the cases (`_key_hash("case_id")`) whose rows the Ledger must see: one of
    their verified events names a project (`on_project`) and one of their follow-ups
    counts in another row by its own fold. In any other case the Ledger moves nothing, so
    its rows count as they were folded."""
    if on_project.is_empty():
        return on_project
    return (
        rows.filter(
            (pl.col("case_role") == FOLLOW_UP)
            & _key_hash("case_id").is_in(on_project.implode())
            & _OFF_CONSTRUCTION
        )
        .select(_key_hash("case_id").alias("hc"))
        .collect(engine="streaming")["hc"]
        .unique()
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


def _folds(rows: pl.DataFrame) -> list[tuple[Contribution, ...]]:
    """Each row's contributions as the Ledger takes them, built from the exploded columns:
    reading the lists row by row made a dict of every contribution first (a third of the
    Ledger's loop)."""
    flat = _explode(rows.lazy().select("event_id", "contributions")).collect()
    items = list(map(Contribution, *(flat[c] for c in CONTRIBUTION_SCHEMA)))
    ends = rows["contributions"].list.len().fill_null(0).cum_sum().to_list()
    return [tuple(items[start:end]) for start, end in zip([0, *ends], ends, strict=False)]


def _explode(frame: pl.LazyFrame) -> pl.LazyFrame:
    """(event_id, contributions list) -> one row per contribution, CONTRIBUTION_SCHEMA."""
    return (
        frame.explode("contributions")
        .drop_nulls("contributions")
        .unnest("contributions")
        .select(list(CONTRIBUTION_SCHEMA))
    )


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
