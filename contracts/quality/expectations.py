"""Custom great-expectations for the report's own rules (SPEC 7), where GX has no built-in.

Each rule is a proper GX Expectation backed by a metric computed on the pandas batch, so
Data Docs and validation results treat it like a built-in. Every metric returns the
offending records (a list of plain dicts); the expectation passes when there are none.
The work is vectorised pandas/numpy: these run on a 10-million-event batch too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, cast

import numpy as np
import pandas as pd
from great_expectations.core.metric_domain_types import MetricDomainTypes

# The defining modules: GX's packages re-export these without __all__, which strict mypy
# does not count as an export.
from great_expectations.execution_engine.pandas_execution_engine import PandasExecutionEngine
from great_expectations.expectations.expectation import BatchExpectation, ColumnMapExpectation
from great_expectations.expectations.metrics.map_metric_provider.column_condition_partial import (
    column_condition_partial,
)
from great_expectations.expectations.metrics.map_metric_provider.column_map_metric_provider import (
    ColumnMapMetricProvider,
)
from great_expectations.expectations.metrics.metric_provider import metric_value
from great_expectations.expectations.metrics.table_metric_provider import TableMetricProvider
from great_expectations.render.renderer_configuration import (
    RendererConfiguration,
    RendererValueType,
)

from contracts.errors import ValidationError
from contracts.quality._gx import gx  # noqa: F401  (sets the GX environment before any import)
from contracts.uscc import validate_uscc

__all__ = [
    "ExpectTableToCoverUnitsAndCells",
    "ExpectTotalRowToEqualSumOfRows",
    "ExpectCellSumsToBeAtMost",
    "ExpectRollupToEqualOwnPlusChildren",
    "ExpectUnitsNotToBeSilent",
    "ExpectAmountPerWorkerToBeBetween",
    "ExpectNoOpenArrearsCases",
    "ExpectFiguresNotToFall",
    "ExpectEverySourceToHaveRecentEvents",
    "ExpectOpenDeadLettersToBeAtMost",
    "ExpectColumnValuesToBeValidUscc",
]

Finder = Callable[..., list[dict[str, Any]]]
_KEYS = ["unit", "scope"]


# --- shared machinery -----------------------------------------------------------------------


class _OffendingRows(TableMetricProvider):
    """A table metric whose value is the list of offending records; subclasses set `find`."""

    find: ClassVar[Finder]

    @metric_value(engine=PandasExecutionEngine)
    def _pandas(
        cls,
        execution_engine: PandasExecutionEngine,
        metric_domain_kwargs: dict[str, Any],
        metric_value_kwargs: dict[str, Any],
        metrics: dict[str, Any],
        runtime_configuration: dict[str, Any],
    ) -> list[dict[str, Any]]:
        df, _, _ = execution_engine.get_compute_domain(
            domain_kwargs=metric_domain_kwargs, domain_type=MetricDomainTypes.TABLE
        )
        kwargs = {k: metric_value_kwargs.get(k) for k in cls.value_keys}
        return cls.find(df, **kwargs)


def _metric(name: str, keys: tuple[str, ...], find: Finder) -> type[_OffendingRows]:
    """Declare (and so register with GX) the metric `name` computed by `find(df, **keys)`."""
    return type(
        f"_Metric_{name.replace('.', '_')}",
        (_OffendingRows,),
        {"metric_name": name, "value_keys": keys, "find": staticmethod(find)},
    )


class _OffendingExpectation(BatchExpectation):
    """Passes when its metric finds no offending record; lists them (up to max_listed)."""

    max_listed: int = 200
    template: ClassVar[str] = ""
    metric_dependencies: ClassVar[tuple[str, ...]] = ()
    domain_keys: ClassVar[tuple[str, ...]] = ("row_condition", "condition_parser")

    @classmethod
    def _prescriptive_template(
        cls, renderer_configuration: RendererConfiguration[Any]
    ) -> RendererConfiguration[Any]:
        renderer_configuration.template_str = f"{cls.expectation_type}: {cls.template}"
        return renderer_configuration

    def _validate(
        self,
        metrics: dict[str, Any],
        runtime_configuration: dict[str, Any] | None = None,
        execution_engine: Any = None,
    ) -> dict[str, Any]:
        found: list[dict[str, Any]] = metrics[self.metric_dependencies[0]]
        return self._outcome(found)

    def _outcome(
        self,
        found: list[dict[str, Any]],
        *,
        success: bool | None = None,
        observed: str | None = None,
    ) -> dict[str, Any]:
        listed = [_plain(r) for r in found[: self.max_listed]]
        if observed is None:
            observed = (
                "none"
                if not found
                else f"{len(found)} offending: "
                + "; ".join(_brief(r) for r in found[:5])
                + (" ..." if len(found) > 5 else "")
            )
        return {
            "success": not found if success is None else success,
            "result": {
                "observed_value": observed,
                "details": {"offending_count": len(found), "offending": listed},
            },
        }


def _plain(record: dict[str, Any]) -> dict[str, Any]:
    """JSON-friendly values (numpy scalars become Python ints/floats/str)."""
    out: dict[str, Any] = {}
    for key, value in record.items():
        if isinstance(value, np.integer):
            value = int(value)
        elif isinstance(value, np.floating):
            value = float(value)
        elif isinstance(value, np.bool_):
            value = bool(value)
        out[key] = value
    return out


def _brief(record: dict[str, Any]) -> str:
    return " ".join(f"{v}" for v in record.values())


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
    return _as_records(frame.reset_index())


def _as_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    # Every column here is named by a str; pandas-stubs types the keys as any Hashable.
    return cast(list[dict[str, Any]], frame.to_dict("records"))


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


_metric("arrears.snapshot.missing_cells", ("units", "cells", "scopes"), _find_missing)


class ExpectTableToCoverUnitsAndCells(_OffendingExpectation):
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


_metric("arrears.snapshot.total_mismatches", ("total", "rows", "columns"), _find_total_mismatch)


class ExpectTotalRowToEqualSumOfRows(_OffendingExpectation):
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


_metric("arrears.snapshot.bound_excess", ("bounds",), _find_excess)


class ExpectCellSumsToBeAtMost(_OffendingExpectation):
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


_metric("arrears.snapshot.tree_mismatches", ("parents",), _find_tree_mismatch)


class ExpectRollupToEqualOwnPlusChildren(_OffendingExpectation):
    """A unit's rollup figure equals its own figure plus its children's rollup figures."""

    parents: dict[str, str | None]
    metric_dependencies = ("arrears.snapshot.tree_mismatches",)
    success_keys = ("parents",)
    template = "each unit's rollup must equal its own figures plus its children's rollups."


def _find_silent(df: pd.DataFrame, units: list[str]) -> list[dict[str, Any]]:
    own = df[(df["scope"] == "own") & df["unit"].isin(units)]
    active = set(own.loc[own["value"] != 0, "unit"])
    return [{"unit": u, "own_figures": "all zero"} for u in sorted(units) if u not in active]


_metric("arrears.snapshot.silent_units", ("units",), _find_silent)


class ExpectUnitsNotToBeSilent(_OffendingExpectation):
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


_metric(
    "arrears.snapshot.implausible_amounts", ("pairs", "min_yuan", "max_yuan"), _find_implausible
)


class ExpectAmountPerWorkerToBeBetween(_OffendingExpectation):
    """Amount (fen) / workers, in yuan, lies within [min_yuan, max_yuan] wherever it is defined."""

    pairs: list[list[str]]
    min_yuan: int
    max_yuan: int
    metric_dependencies = ("arrears.snapshot.implausible_amounts",)
    success_keys = ("pairs", "min_yuan", "max_yuan")
    template = "each amount per worker must lie between $min_yuan and $max_yuan yuan."


def _find_open(df: pd.DataFrame, cell: str) -> list[dict[str, Any]]:
    rows = df[(df["scope"] == "own") & (df["cell"] == cell) & (df["value"] > 0)]
    return _as_records(rows.sort_values("unit")[["unit", "cell", "value"]])


_metric("arrears.snapshot.open_cases", ("cell",), _find_open)


class ExpectNoOpenArrearsCases(_OffendingExpectation):
    """No verified arrears case is still unresolved (the promise: all close before the festival)."""

    cell: str = "aux.open_cases"
    metric_dependencies = ("arrears.snapshot.open_cases",)
    success_keys = ("cell",)
    template = "no unit may have a verified arrears case still unresolved ($cell = 0)."


def _find_falls(df: pd.DataFrame, cells: list[str]) -> list[dict[str, Any]]:
    rows = df[df["cell"].isin(cells) & (df["value"] < df["previous"])]
    frame = rows[["unit", "scope", "cell", "previous", "value"]].copy()
    frame["change"] = frame["value"] - frame["previous"]
    return _as_records(frame.sort_values(["unit", "scope", "cell"]))


_metric("arrears.snapshot.falls", ("cells",), _find_falls)


class ExpectFiguresNotToFall(_OffendingExpectation):
    """Cumulative figures are not below the previous snapshot's (columns value, previous)."""

    cells: list[str]
    metric_dependencies = ("arrears.snapshot.falls",)
    success_keys = ("cells",)
    template = "no cumulative figure may fall below the previous snapshot's value."


# --- events ----------------------------------------------------------------------------------


def _find_dead_feeds(
    df: pd.DataFrame,
    column: str,
    time_column: str,
    sources: list[str],
    cutoff_ms: int,
    max_silence_ms: dict[str, int],
) -> list[dict[str, Any]]:
    times = df[time_column]
    known = df.loc[times <= cutoff_ms, [column, time_column]]
    last = known.groupby(column, observed=True)[time_column].max()
    out = []
    for source in sources:
        at = last.get(source)
        silence = max_silence_ms[source]
        if at is None or pd.isna(at) or cutoff_ms - int(at) >= silence:
            out.append(
                {
                    "source": source,
                    "last_event_ms": None if at is None or pd.isna(at) else int(at),
                    "silent_days": None
                    if at is None or pd.isna(at)
                    else round((cutoff_ms - int(at)) / 86_400_000, 1),
                    "allowed_days": round(silence / 86_400_000, 1),
                }
            )
    return out


_metric(
    "arrears.events.dead_feeds",
    ("column", "time_column", "sources", "cutoff_ms", "max_silence_ms"),
    _find_dead_feeds,
)


class ExpectEverySourceToHaveRecentEvents(_OffendingExpectation):
    """Each source has an event with time in (cutoff - max_silence, cutoff]: no dead feed."""

    column: str
    time_column: str
    sources: list[str]
    cutoff_ms: int
    max_silence_ms: dict[str, int]
    metric_dependencies = ("arrears.events.dead_feeds",)
    success_keys = ("column", "time_column", "sources", "cutoff_ms", "max_silence_ms")
    template = "every source system must have sent events shortly before the cutoff."


def _find_open_letters(df: pd.DataFrame, status_column: str) -> list[dict[str, Any]]:
    rows = df[df[status_column] == "open"]
    keep = [c for c in ("id", "where", "reason", "message", "rejected_at") if c in rows.columns]
    return _as_records(rows[keep])


_metric("arrears.deadletters.open", ("status_column",), _find_open_letters)


class ExpectOpenDeadLettersToBeAtMost(_OffendingExpectation):
    """At most `max_open` unresolved dead letters; above `hand_over_above` another grade reports."""

    status_column: str = "status"
    max_open: int
    #: above this count a stricter expectation fails instead, so each count fails exactly one grade
    hand_over_above: int | None = None
    metric_dependencies = ("arrears.deadletters.open",)
    success_keys = ("status_column", "max_open", "hand_over_above")
    template = "at most $max_open unresolved dead letters for the cutoff."

    def _validate(
        self,
        metrics: dict[str, Any],
        runtime_configuration: dict[str, Any] | None = None,
        execution_engine: Any = None,
    ) -> dict[str, Any]:
        found: list[dict[str, Any]] = metrics[self.metric_dependencies[0]]
        n = len(found)
        over = n > self.max_open
        if self.hand_over_above is not None and n > self.hand_over_above:
            over = False  # the stricter grade reports it
        return self._outcome(
            found, success=not over, observed=f"{n} unresolved (allowed {self.max_open})"
        )


class _ValidUscc(ColumnMapMetricProvider):
    condition_metric_name = "column_values.arrears_valid_uscc"

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column: pd.Series, **kwargs: Any) -> pd.Series:
        # Vectorised: validate each distinct code once, then look every row up.
        codes = pd.unique(column.dropna())
        good = [c for c in codes if _is_uscc(c)]
        return column.isin(good)


def _is_uscc(code: object) -> bool:
    try:
        validate_uscc(code)
    except (ValidationError, TypeError, KeyError, ValueError):
        return False
    return True


class ExpectColumnValuesToBeValidUscc(ColumnMapExpectation):
    """Each value is a unified social credit code with a right check character (GB 32100-2015)."""

    map_metric = "column_values.arrears_valid_uscc"
    success_keys = ("mostly",)

    @classmethod
    def _prescriptive_template(
        cls, renderer_configuration: RendererConfiguration[Any]
    ) -> RendererConfiguration[Any]:
        renderer_configuration.add_param(name="column", param_type=RendererValueType.STRING)
        renderer_configuration.template_str = (
            "$column values must be unified social credit codes with a valid check character."
        )
        return renderer_configuration
