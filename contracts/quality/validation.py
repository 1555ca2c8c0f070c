"""One batch validated: its GX suite run on a frame, each result read as a graded Outcome."""

from __future__ import annotations

import gc
from collections.abc import Callable
from typing import Any

import pandas as pd

from contracts.quality._gx import gx
from contracts.quality.catalogue import CHECKS, Check
from contracts.quality.config import QualityConfig
from contracts.quality.result import ERROR, FAILED, PASSED, SKIPPED, Outcome
from contracts.quality.suites import SuiteContext, build_expectations

__all__ = ["SuiteRunner"]

_INDEX_COLUMNS = ["unit", "scope", "cell"]


class SuiteRunner:
    """Runs one GX suite per batch and turns its results into Outcomes."""

    def __init__(self, context: Any, config: QualityConfig, run_name: str | None = None) -> None:
        self.context = context
        self.config = config
        #: what the Data Docs name each run by (snapshot id and cutoff), not `__none__`
        self.run_name = run_name
        self.outcomes: dict[str, Outcome] = {}
        #: check id -> the suite it ran in, without `arrears.` (its Data Docs page)
        self.suite_of: dict[str, str] = {}

    def skip(self, batch: str, note: str) -> None:
        for check in _checks(batch):
            self.outcomes[check.id] = _outcome(check, SKIPPED, note=note)

    def run(self, batch: str, frame: pd.DataFrame, ctx: SuiteContext) -> bool:
        """Validate `frame` against the batch's suite; True if nothing failed."""
        return self._validate(batch, batch, frame, build_expectations(ctx, batch))

    def run_by_columns(
        self, batch: str, frame_of: Callable[[list[str]], pd.DataFrame], ctx: SuiteContext
    ) -> bool:
        """Validate the batch's suite a column at a time: the expectations naming the same
        columns run together on a frame of those columns alone (`frame_of(columns)`), one
        group after another, each its own page in the Data Docs (`arrears.<batch>.<column>`).

        For the event suite's ten million rows: GX copies its whole batch for each metric
        of a column expectation (the rows whose column is not null), and keeps every
        metric until the run ends, so one frame of all the columns peaked 930 MB over the
        rows for the first expectation alone. True if nothing failed.
        """
        groups: dict[tuple[str, ...], list[Any]] = {}
        for expectation in build_expectations(ctx, batch):
            columns = _columns_named(expectation)
            if not columns:
                raise ValueError(f"{batch}: {type(expectation).__name__} names no column")
            groups.setdefault(columns, []).append(expectation)
        firsts = [columns[0] for columns in groups]
        ok = True
        for columns, expectations in groups.items():
            # a page is named by its first column, or by all of them where two share it
            page = columns[0] if firsts.count(columns[0]) == 1 else ".".join(columns)
            name = f"{batch}.{page}"
            ok = self._validate(batch, name, frame_of(list(columns)), expectations) and ok
        return ok

    def _validate(
        self, batch: str, name: str, frame: pd.DataFrame, expectations: list[Any]
    ) -> bool:
        """Run `expectations` as the suite `arrears.<name>` on `frame`, with a data source
        of its own that is dropped afterwards: GX's execution engine (one a data source)
        keeps each batch it loaded and every metric it computed for as long as it lives."""
        suite = self.context.suites.add(gx.ExpectationSuite(name=f"arrears.{name}"))
        for expectation in expectations:
            suite.add_expectation(expectation)
        source = self.context.data_sources.add_pandas(f"arrears.{name}")
        asset = source.add_dataframe_asset(name)
        definition = self.context.validation_definitions.add(
            gx.ValidationDefinition(
                name=f"arrears.{name}",
                data=asset.add_batch_definition_whole_dataframe(name),
                suite=suite,
            )
        )
        result_format: dict[str, Any] = {
            "result_format": "COMPLETE",
            "partial_unexpected_count": self.config.max_listed,
        }
        index = [c for c in _INDEX_COLUMNS if c in frame.columns]
        if batch.startswith("cells") and index:
            result_format["unexpected_index_column_names"] = index
        elif batch == "events":
            result_format["result_format"] = "SUMMARY"  # bounded lists on millions of rows
        from great_expectations.core.run_identifier import RunIdentifier

        try:
            validation = definition.run(
                batch_parameters={"dataframe": frame},
                result_format=result_format,
                run_id=RunIdentifier(run_name=self.run_name) if self.run_name else None,
            )
        finally:
            self.context.data_sources.delete(source.name)
            # GX leaves reference cycles that hold its metrics' arrays: collected now, the
            # event suite's RSS stays level from one column to the next instead of growing
            # by some 100 MB a column (measured at ten million rows).
            gc.collect()
        ok = True
        for item in validation.results:
            check = _check_of(item.expectation_config.meta)
            self.suite_of[check.id] = name
            outcome = _from_gx(check, item, self.config.max_listed)
            self.outcomes[check.id] = outcome
            ok = ok and not outcome.failed
        return ok


def _columns_named(expectation: Any) -> tuple[str, ...]:
    """The columns an expectation reads: its `column` and any other `..._column` field."""
    fields = sorted(vars(expectation).items())
    named = [v for k, v in fields if k == "column" and isinstance(v, str)]
    others = (v for k, v in fields if k.endswith("_column") and isinstance(v, str))
    return tuple(dict.fromkeys([*named, *others]))  # each once, in that order


def _checks(batch: str) -> list[Check]:
    return [c for c in CHECKS if c.batch == batch]


def _check_of(meta: dict[str, Any] | None) -> Check:
    from contracts.quality.catalogue import CHECK_BY_ID

    return CHECK_BY_ID[(meta or {})["check"]]


def _outcome(check: Check, status: str, **kw: Any) -> Outcome:
    return Outcome(
        check=check.id,
        grade=check.grade,
        title=check.title,
        expectation_type=kw.pop("expectation_type", ""),
        status=status,
        **kw,
    )


def _from_gx(check: Check, item: Any, limit: int) -> Outcome:
    etype = item.expectation_config.type
    info = item.exception_info or {}
    if info.get("raised_exception"):
        message = str(info.get("exception_message") or "raised an exception")
        return _outcome(
            check,
            ERROR,
            expectation_type=etype,
            observed=message[:500],
            offending_count=1,
            note="the expectation raised instead of evaluating",
        )
    result = item.result or {}
    details = result.get("details") or {}
    if "offending" in details:  # our custom expectations
        offending = list(details["offending"])
        count = int(details.get("offending_count", len(offending)))
    elif result.get("unexpected_index_list"):
        offending = [
            dict(r) if isinstance(r, dict) else {"row": r}
            for r in result["unexpected_index_list"][:limit]
        ]
        count = int(result.get("unexpected_count") or len(offending))
    elif result.get("partial_unexpected_counts"):
        offending = [
            {"value": r["value"], "count": r["count"]}
            for r in result["partial_unexpected_counts"][:limit]
        ]
        count = int(result.get("unexpected_count") or len(offending))
    elif details.get("mismatched"):
        offending = [{"mismatched": details["mismatched"]}]
        count = 1
    else:  # a table-level built-in: what it observed is what offends
        offending = [] if item.success else [{"observed": result.get("observed_value")}]
        count = len(offending)
    observed = result.get("observed_value")
    if observed is None and "unexpected_count" in result:
        observed = f"{result['unexpected_count']} unexpected of {result.get('element_count')}"
    return _outcome(
        check,
        PASSED if item.success else FAILED,
        expectation_type=etype,
        observed=_short(observed),
        offending_count=count if not item.success else 0,
        offending=[_jsonable(r) for r in offending] if not item.success else [],
    )


def _short(value: Any) -> str:
    text = "" if value is None else str(value)
    return text if len(text) <= 300 else text[:297] + "..."


def _jsonable(record: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for key, value in record.items():
        if hasattr(value, "item"):
            value = value.item()
        elif isinstance(value, (list, tuple, set)) and not isinstance(value, str):
            value = [v.item() if hasattr(v, "item") else v for v in value]
        out[str(key)] = value
    return out
