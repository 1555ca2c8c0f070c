"""One batch validated: its GX suite run on a frame, each result read as a graded Outcome."""

from __future__ import annotations

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
        self.source = context.data_sources.add_pandas("arrears")
        self.outcomes: dict[str, Outcome] = {}

    def skip(self, batch: str, note: str) -> None:
        for check in _checks(batch):
            self.outcomes[check.id] = _outcome(check, SKIPPED, note=note)

    def run(self, batch: str, frame: pd.DataFrame, ctx: SuiteContext) -> bool:
        """Validate `frame` against the batch's suite; True if nothing failed."""
        suite = self.context.suites.add(gx.ExpectationSuite(name=f"arrears.{batch}"))
        for expectation in build_expectations(ctx, batch):
            suite.add_expectation(expectation)
        asset = self.source.add_dataframe_asset(batch)
        definition = self.context.validation_definitions.add(
            gx.ValidationDefinition(
                name=f"arrears.{batch}",
                data=asset.add_batch_definition_whole_dataframe(batch),
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

        validation = definition.run(
            batch_parameters={"dataframe": frame},
            result_format=result_format,
            run_id=RunIdentifier(run_name=self.run_name) if self.run_name else None,
        )
        ok = True
        for item in validation.results:
            check = _check_of(item.expectation_config.meta)
            outcome = _from_gx(check, item, self.config.max_listed)
            self.outcomes[check.id] = outcome
            ok = ok and not outcome.failed
        return ok


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
