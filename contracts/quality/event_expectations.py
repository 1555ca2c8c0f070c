"""Custom expectations on what lies behind a snapshot (SPEC 7): the archived events (live
feeds, valid credit codes) and the dead letters still open.

Vectorised pandas: the event suite runs on a 10-million-event batch too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

# The defining modules: GX's packages re-export these without __all__, which strict mypy
# does not count as an export.
from great_expectations.execution_engine.pandas_execution_engine import PandasExecutionEngine
from great_expectations.expectations.expectation import ColumnMapExpectation
from great_expectations.expectations.metrics.map_metric_provider.column_condition_partial import (
    column_condition_partial,
)
from great_expectations.expectations.metrics.map_metric_provider.column_map_metric_provider import (
    ColumnMapMetricProvider,
)
from great_expectations.render.renderer_configuration import (
    RendererConfiguration,
    RendererValueType,
)

from contracts.errors import ValidationError
from contracts.quality._gx import gx  # noqa: F401  (sets the GX environment before any import)
from contracts.quality.offending import OffendingExpectation, as_records, declare_metric
from contracts.uscc import org_code_ok, validate_uscc

__all__ = [
    "ExpectEverySourceToHaveRecentEvents",
    "ExpectOpenDeadLettersToBeAtMost",
    "ExpectColumnValuesToBeValidUscc",
    "ExpectColumnValuesToHaveOrgCheckDigits",
]


# --- events ---------------------------------------------------------------------------------


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


declare_metric(
    "arrears.events.dead_feeds",
    ("column", "time_column", "sources", "cutoff_ms", "max_silence_ms"),
    _find_dead_feeds,
)


class ExpectEverySourceToHaveRecentEvents(OffendingExpectation):
    """Each source has an event with time in (cutoff - max_silence, cutoff]: no dead feed."""

    column: str
    time_column: str
    sources: list[str]
    cutoff_ms: int
    max_silence_ms: dict[str, int]
    metric_dependencies = ("arrears.events.dead_feeds",)
    success_keys = ("column", "time_column", "sources", "cutoff_ms", "max_silence_ms")
    template = "every source system must have sent events shortly before the cutoff."


# --- dead letters ---------------------------------------------------------------------------


def _find_open_letters(df: pd.DataFrame, status_column: str) -> list[dict[str, Any]]:
    rows = df[df[status_column] == "open"]
    keep = [c for c in ("id", "where", "reason", "message", "rejected_at") if c in rows.columns]
    return as_records(rows[keep])


declare_metric("arrears.deadletters.open", ("status_column",), _find_open_letters)


class ExpectOpenDeadLettersToBeAtMost(OffendingExpectation):
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
        observed = f"{n} unresolved (allowed {self.max_open})"
        if self.hand_over_above is not None and n > self.hand_over_above:
            over = False  # the stricter grade reports it, and this one says so
            observed = (
                f"{n} unresolved: more than {self.hand_over_above}, so the critical "
                "expectation reports them"
            )
        return self._outcome(found, success=not over, observed=observed)


# --- events: credit codes -------------------------------------------------------------------


def _column_template(
    renderer_configuration: RendererConfiguration[Any], text: str
) -> RendererConfiguration[Any]:
    """The Data Docs' sentence for a column expectation ("$column" is the column's name)."""
    renderer_configuration.add_param(name="column", param_type=RendererValueType.STRING)
    renderer_configuration.template_str = text
    return renderer_configuration


class _ValidUscc(ColumnMapMetricProvider):
    condition_metric_name = "column_values.arrears_valid_uscc"

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column: pd.Series, **kwargs: Any) -> pd.Series:
        return _each_distinct(column, _is_uscc)


def _each_distinct(column: pd.Series, good: Callable[[Any], bool]) -> pd.Series:
    """`good` of each row's value, judging each distinct value once (ten million rows carry
    some ten thousand codes); a categorical column is looked up by its codes."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        ok = np.fromiter((good(c) for c in column.cat.categories), bool, len(column.cat.categories))
        positions = column.cat.codes.to_numpy()
        return pd.Series(np.append(ok, False)[positions], index=column.index)  # -1: missing
    values = pd.unique(column.dropna())
    return column.isin([c for c in values if good(c)])


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
        return _column_template(
            renderer_configuration,
            "$column values must be unified social credit codes with a valid check character.",
        )


class _OrgCodeOk(ColumnMapMetricProvider):
    condition_metric_name = "column_values.arrears_org_code_ok"

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column: pd.Series, **kwargs: Any) -> pd.Series:
        # Codes that fail validation are the critical check's (valid_credit_codes), not ours.
        return _each_distinct(column, lambda c: not _is_uscc(c) or org_code_ok(c))


class ExpectColumnValuesToHaveOrgCheckDigits(ColumnMapExpectation):
    """Each valid credit code's embedded organisation code has its GB 11714 check digit."""

    map_metric = "column_values.arrears_org_code_ok"
    success_keys = ("mostly",)

    @classmethod
    def _prescriptive_template(
        cls, renderer_configuration: RendererConfiguration[Any]
    ) -> RendererConfiguration[Any]:
        return _column_template(
            renderer_configuration,
            "$column values should embed an organisation code with its GB 11714 check digit.",
        )
