"""Custom expectations on a snapshot's figures (SPEC 7), where GX has no built-in: coverage,
the report's arithmetic, plausibility, and no fall against the previous snapshot.

Each rule is a proper GX Expectation backed by a metric computed on the pandas batch
(`contracts.quality.offending`), so Data Docs and validation results treat it like a
built-in. The work is vectorised pandas/numpy.
"""

from __future__ import annotations

from typing import Any, cast

import numpy as np
import pandas as pd

from contracts.quality._gx import gx  # noqa: F401  (sets the GX environment before any import)
from contracts.quality.offending import OffendingExpectation, as_records, declare_metric

__all__ = [
    "ExpectTableToCoverUnitsAndCells",
    "ExpectTotalRowToEqualSumOfRows",
    "ExpectCellSumsToBeAtMost",
    "ExpectRollupToEqualOwnPlusChildren",
    "ExpectUnitsNotToBeSilent",
    "ExpectAmountPerWorkerToBeBetween",
    "ExpectNoOpenArrearsCases",
    "ExpectFiguresNotToFall",
]

# --- the cells frame, one column per cell ---------------------------------------------------

_KEYS = ["unit", "scope"]


def _wide(df: pd.DataFrame) -> pd.DataFrame:
    """The long cells frame as one row per (unit, scope) and one column per cell (missing = 0)."""
    wide = df.pivot_table(index=_KEYS, columns="cell", values="value", aggfunc="sum", fill_value=0)
    wide.columns.name = None
    return wide


def _col(wide: pd.DataFrame, cell: str) -> pd.Series:
    if cell in wide.columns:
        return wide[cell]
    return pd.Series(0, index=wide.index, dtype="int64")


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return as_records(frame.reset_index())


# --- snapshot: coverage ---------------------------------------------------------------------


def _find_missing(
    df: pd.DataFrame, units: list[str], cells: list[str], scopes: list[str]
) -> list[dict[str, Any]]:
    want = pd.MultiIndex.from_product([units, scopes, cells], names=["unit", "scope", "cell"])
    have = pd.MultiIndex.from_frame(df[["unit", "scope", "cell"]].astype(str))
    missing = want.difference(have).to_frame(index=False)
    if missing.empty:
        return []
    grouped = missing.groupby(_KEYS, sort=True)["cell"].agg(["count", "first"])
    grouped.columns = ["missing_cells", "first_missing"]
    return _records(grouped)


declare_metric("arrears.snapshot.missing_cells", ("units", "cells", "scopes"), _find_missing)


class ExpectTableToCoverUnitsAndCells(OffendingExpectation):
    """Every registry unit appears with every cell of the cell table, in every scope."""

    units: list[str]
    cells: list[str]
    scopes: list[str]
    metric_dependencies = ("arrears.snapshot.missing_cells",)
    success_keys = ("units", "cells", "scopes")
    template = "every unit of the registry must appear with every cell, in every scope."


# --- snapshot: internal arithmetic ----------------------------------------------------------


def _find_total_mismatch(
    df: pd.DataFrame, total: str, rows: list[str], columns: list[str]
) -> list[dict[str, Any]]:
    wide = _wide(df)
    out: list[dict[str, Any]] = []
    for column in columns:
        expected = sum(
            (_col(wide, f"{row}.{column}") for row in rows),
            start=pd.Series(0, index=wide.index, dtype="int64"),
        )
        actual = _col(wide, f"{total}.{column}")
        bad = actual != expected
        if bad.any():
            frame = pd.DataFrame(
                {"cell": f"{total}.{column}", "value": actual[bad], "sum_of_rows": expected[bad]}
            )
            out.extend(_records(frame))
    return sorted(out, key=lambda r: (r["unit"], r["scope"], r["cell"]))


declare_metric(
    "arrears.snapshot.total_mismatches", ("total", "rows", "columns"), _find_total_mismatch
)


class ExpectTotalRowToEqualSumOfRows(OffendingExpectation):
    """Row 合计 equals the exact sum of the other rows, column by column."""

    total: str
    rows: list[str]
    columns: list[str]
    metric_dependencies = ("arrears.snapshot.total_mismatches",)
    success_keys = ("total", "rows", "columns")
    template = "the total row must equal the exact sum of the other rows in every column."


def _find_excess(df: pd.DataFrame, bounds: list[dict[str, list[str]]]) -> list[dict[str, Any]]:
    wide = _wide(df)
    out: list[dict[str, Any]] = []
    for bound in bounds:
        zero = pd.Series(0, index=wide.index, dtype="int64")
        lhs = sum((_col(wide, c) for c in bound["lhs"]), start=zero)
        rhs = sum((_col(wide, c) for c in bound["rhs"]), start=zero)
        bad = lhs > rhs
        if bad.any():
            rule = f"{' + '.join(bound['lhs'])} <= {' + '.join(bound['rhs'])}"
            out.extend(_records(pd.DataFrame({"rule": rule, "lhs": lhs[bad], "rhs": rhs[bad]})))
    return sorted(out, key=lambda r: (r["unit"], r["scope"], r["rule"]))


declare_metric("arrears.snapshot.bound_excess", ("bounds",), _find_excess)


class ExpectCellSumsToBeAtMost(OffendingExpectation):
    """For every unit and scope: sum of the `lhs` cells <= sum of the `rhs` cells, per bound."""

    bounds: list[dict[str, list[str]]]
    metric_dependencies = ("arrears.snapshot.bound_excess",)
    success_keys = ("bounds",)
    template = "for every unit, each sum of left-hand cells must not exceed its right-hand cells."


def _find_tree_mismatch(df: pd.DataFrame, parents: dict[str, str | None]) -> list[dict[str, Any]]:
    wide = _wide(df)
    if wide.empty:
        return []
    # xs of an index level of a frame is a frame; pandas-stubs allows a Series too.
    own = (
        cast(pd.DataFrame, wide.xs("own", level="scope"))
        if "own" in wide.index.get_level_values("scope")
        else None
    )
    roll = (
        cast(pd.DataFrame, wide.xs("rollup", level="scope"))
        if "rollup" in wide.index.get_level_values("scope")
        else None
    )
    if own is None or roll is None:
        return []
    cells = own.columns.union(roll.columns)
    own = own.reindex(columns=cells, fill_value=0)
    roll = roll.reindex(columns=cells, fill_value=0)
    kids = pd.Series({u: p for u, p in parents.items() if p is not None}, dtype=object)
    kids = kids[kids.isin(roll.index) & kids.index.isin(roll.index)]
    children_sum = roll.loc[kids.index].groupby(kids.to_numpy()).sum()
    expected = own.add(children_sum.reindex(own.index, fill_value=0), fill_value=0)
    units = roll.index.intersection(expected.index)
    diff = roll.loc[units] != expected.loc[units]
    if not diff.to_numpy().any():
        return []
    # One level of columns: stack() gives a Series; pandas-stubs allows a frame too.
    stacked = cast("pd.Series[bool]", diff.stack())
    bad = stacked[stacked].index
    out = [
        {
            "unit": u,
            "cell": c,
            "rollup": roll.at[u, c],
            "own": own.at[u, c],
            "own_plus_children": expected.at[u, c],
        }
        for u, c in bad
    ]
    return sorted(out, key=lambda r: (r["unit"], r["cell"]))


declare_metric("arrears.snapshot.tree_mismatches", ("parents",), _find_tree_mismatch)


class ExpectRollupToEqualOwnPlusChildren(OffendingExpectation):
    """A unit's rollup figure equals its own figure plus its children's rollup figures."""

    parents: dict[str, str | None]
    metric_dependencies = ("arrears.snapshot.tree_mismatches",)
    success_keys = ("parents",)
    template = "each unit's rollup must equal its own figures plus its children's rollups."


def _find_silent(df: pd.DataFrame, units: list[str]) -> list[dict[str, Any]]:
    own = df[(df["scope"] == "own") & df["unit"].isin(units)]
    active = set(own.loc[own["value"] != 0, "unit"])
    return [{"unit": u, "own_figures": "all zero"} for u in sorted(units) if u not in active]


declare_metric("arrears.snapshot.silent_units", ("units",), _find_silent)


class ExpectUnitsNotToBeSilent(OffendingExpectation):
    """Each listed reporting unit has at least one non-zero figure of its own."""

    units: list[str]
    metric_dependencies = ("arrears.snapshot.silent_units",)
    success_keys = ("units",)
    template = "every listed unit must report at least one non-zero figure of its own."


def _find_implausible(
    df: pd.DataFrame, pairs: list[list[str]], min_yuan: int, max_yuan: int
) -> list[dict[str, Any]]:
    wide = _wide(df)
    out: list[dict[str, Any]] = []
    for amount_cell, workers_cell in pairs:
        fen = _col(wide, amount_cell)
        workers = _col(wide, workers_cell)
        with np.errstate(divide="ignore", invalid="ignore"):
            per = (fen / 100) / workers.where(workers > 0)
        bad = ((workers > 0) & ((per < min_yuan) | (per > max_yuan))) | ((workers == 0) & (fen > 0))
        if bad.any():
            frame = pd.DataFrame(
                {
                    "cells": f"{amount_cell} / {workers_cell}",
                    "amount_yuan": (fen[bad] / 100).round(2),
                    "workers": workers[bad],
                    "yuan_per_worker": per[bad].round(2).fillna(float("inf")),
                }
            )
            out.extend(_records(frame))
    return sorted(out, key=lambda r: (r["unit"], r["scope"], r["cells"]))


declare_metric(
    "arrears.snapshot.implausible_amounts", ("pairs", "min_yuan", "max_yuan"), _find_implausible
)


class ExpectAmountPerWorkerToBeBetween(OffendingExpectation):
    """Amount (fen) / workers, in yuan, lies within [min_yuan, max_yuan] wherever it is defined."""

    pairs: list[list[str]]
    min_yuan: int
    max_yuan: int
    metric_dependencies = ("arrears.snapshot.implausible_amounts",)
    success_keys = ("pairs", "min_yuan", "max_yuan")
    template = "each amount per worker must lie between $min_yuan and $max_yuan yuan."


def _find_open(df: pd.DataFrame, cell: str) -> list[dict[str, Any]]:
    rows = df[(df["scope"] == "own") & (df["cell"] == cell) & (df["value"] > 0)]
    return as_records(rows.sort_values("unit")[["unit", "cell", "value"]])


declare_metric("arrears.snapshot.open_cases", ("cell",), _find_open)


class ExpectNoOpenArrearsCases(OffendingExpectation):
    """No verified arrears case is still unresolved (the promise: all close before the festival)."""

    cell: str = "aux.open_cases"
    metric_dependencies = ("arrears.snapshot.open_cases",)
    success_keys = ("cell",)
    template = "no unit may have a verified arrears case still unresolved ($cell = 0)."


def _find_falls(df: pd.DataFrame, cells: list[str]) -> list[dict[str, Any]]:
    rows = df[df["cell"].isin(cells) & (df["value"] < df["previous"])]
    frame = rows[["unit", "scope", "cell", "previous", "value"]].copy()
    frame["change"] = frame["value"] - frame["previous"]
    return as_records(frame.sort_values(["unit", "scope", "cell"]))


declare_metric("arrears.snapshot.falls", ("cells",), _find_falls)


class ExpectFiguresNotToFall(OffendingExpectation):
    """Cumulative figures are not below the previous snapshot's (columns value, previous)."""

    cells: list[str]
    metric_dependencies = ("arrears.snapshot.falls",)
    success_keys = ("cells",)
    template = "no cumulative figure may fall below the previous snapshot's value."
