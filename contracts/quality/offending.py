"""The shape of every custom expectation (SPEC 7): a metric that finds the offending records,
an expectation that passes when there are none.

A metric returns the offending records (a list of plain dicts), so Data Docs and the
validation results list exactly what offends; the expectation lists up to `max_listed`.
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
from great_expectations.expectations.expectation import BatchExpectation
from great_expectations.expectations.metrics.metric_provider import metric_value
from great_expectations.expectations.metrics.table_metric_provider import TableMetricProvider
from great_expectations.render.renderer_configuration import RendererConfiguration

from contracts.quality._gx import gx  # noqa: F401  (sets the GX environment before any import)

__all__ = [
    "Finder",
    "declare_metric",
    "OffendingExpectation",
    "as_records",
]

#: Finds the offending records of a frame, given the expectation's value keys.
Finder = Callable[..., list[dict[str, Any]]]


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


def declare_metric(name: str, keys: tuple[str, ...], find: Finder) -> type[_OffendingRows]:
    """Declare (and so register with GX) the metric `name` computed by `find(df, **keys)`."""
    return type(
        f"_Metric_{name.replace('.', '_')}",
        (_OffendingRows,),
        {"metric_name": name, "value_keys": keys, "find": staticmethod(find)},
    )


class OffendingExpectation(BatchExpectation):
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


def as_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    # Every column here is named by a str; pandas-stubs types the keys as any Hashable.
    return cast(list[dict[str, Any]], frame.to_dict("records"))
