"""The tally of effective contributions as a polars plan: `contracts.fold.tally`'s
aggregation (sums, distinct keys, latest per key by (at, event_id)) for frames of millions
of rows, read by both batch rebuilds (archive and Kafka)."""

from __future__ import annotations

from collections.abc import Iterable

import polars as pl

from contracts.cells import CELL_BY_ID
from contracts.fold import Contribution, Figures, with_totals

__all__ = ["CONTRIBUTION_SCHEMA", "contributions_frame", "tally_frame"]

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
_AGG = pl.DataFrame({"cell": list(CELL_BY_ID), "agg": [c.agg.value for c in CELL_BY_ID.values()]})


def contributions_frame(items: Iterable[Contribution]) -> pl.DataFrame:
    """Contributions as a frame of CONTRIBUTION_SCHEMA."""
    return pl.DataFrame(list(items), schema=CONTRIBUTION_SCHEMA, orient="row")


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
