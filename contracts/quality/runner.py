"""Run the suites on a snapshot and the events behind it; write Data Docs; grade the result.

>>> result = run_check(snapshot, archive=pl.scan_parquet(...), active=active_ids,
...                    docs_dir=Path("docs"))  # doctest: +SKIP
>>> result.passed, [o.check for o in result.critical_failures]
"""

from __future__ import annotations

import datetime as dt
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import polars as pl

from contracts.calendar import Campaign, load_campaign
from contracts.clock import CST
from contracts.quality._gx import gx
from contracts.quality.catalogue import CHECKS, Check
from contracts.quality.config import QualityConfig, load_quality_config
from contracts.quality.frames import (
    EventTables,
    SnapshotInput,
    cells_frame,
    changes_frame,
    dead_letters_frame,
    prepare_events,
)
from contracts.quality.result import ERROR, FAILED, PASSED, SKIPPED, CheckResult, Outcome
from contracts.quality.suites import SuiteContext, build_expectations
from contracts.registry import Registry

__all__ = ["run_check", "reporting_unit", "DOCS_SITE"]

DOCS_SITE = "arrears"
_INDEX_COLUMNS = ["unit", "scope", "cell"]


def run_check(
    snapshot: SnapshotInput,
    *,
    previous: SnapshotInput | None = None,
    archive: pl.LazyFrame | None = None,
    active: pl.Series | None = None,
    dead_letters: pl.DataFrame | None = None,
    unit: str | None = None,
    registry: Registry | None = None,
    config: QualityConfig | None = None,
    campaign: Campaign | None = None,
    docs_dir: Path | None = None,
    say: Callable[[str], None] = lambda _m: None,
) -> CheckResult:
    """Every expectation of the catalogue, graded; Data Docs under `docs_dir` if given.

    Batches without input are reported as skipped: no `previous` (the fall check), no
    `archive` (the event suite), no `dead_letters` (the dead-letter suite). With `archive`
    comes `active`: the event_ids the Ledger holds active after those rows in log order
    (`prepare_events`; the command layer gets them from `warehouse.batch`).
    """
    if archive is not None and active is None:
        raise ValueError(
            "run_check: an archive needs the event_ids the Ledger holds active after it "
            "(active=...): which archived events are effective is the Ledger's answer, e.g. "
            "warehouse.batch.batch_rebuild(archive_dir, offsets, topics, registry).active_ids()"
        )
    started = time.monotonic()
    registry = registry or Registry.load()
    config = config or load_quality_config()
    campaign = campaign or load_campaign()
    cutoff_ms = snapshot.cutoff_ms
    final = campaign.cutoff("final").at
    since_ms = int(campaign.window_start.timestamp() * 1000)

    context = _context(docs_dir)
    runner = _Runner(context, config)

    say("snapshot schema")
    cells = cells_frame(snapshot)
    schema_ok = runner.run("cells_schema", cells, SuiteContext(registry, config, cutoff_ms, ()))
    report_unit = (
        unit
        or _meta_unit(snapshot, registry)
        or (reporting_unit(snapshot.cells, registry) if schema_ok else _root(registry))
    )
    ctx = SuiteContext(registry, config, cutoff_ms, _leaves(registry, report_unit))

    if schema_ok:
        say("snapshot figures")
        runner.run("cells", cells, ctx)
    else:
        runner.skip("cells", "not run: the snapshot's schema checks failed")

    if previous is None:
        runner.skip("changes", "not run: no previous snapshot given (--previous)")
    elif not schema_ok:
        runner.skip("changes", "not run: the snapshot's schema checks failed")
    else:
        if previous.cutoff_ms > cutoff_ms:
            raise ValueError(
                f"the previous snapshot {previous.label} has a later cutoff "
                f"({previous.meta.get('cutoff')}) than {snapshot.label} "
                f"({snapshot.meta.get('cutoff')}); pass an earlier snapshot"
            )
        say("against the previous snapshot")
        runner.run("changes", changes_frame(snapshot, previous), ctx)

    events: EventTables | None = None
    if archive is None:
        runner.skip("events", "not run: no event archive given (--archive)")
    else:
        say("reading the archived events behind the snapshot")
        assert active is not None  # checked on entry
        events = prepare_events(archive, snapshot.meta, active)
        say(f"event suite on {events.rows.height:,} archived events")
        runner.run("events", events.gx_frame(), ctx)

    if dead_letters is None:
        runner.skip("dead_letters", "not run: no dead letters given")
    else:
        say("dead letters")
        runner.run("dead_letters", dead_letters_frame(dead_letters, cutoff_ms), ctx)

    if events is not None:
        _add_evidence(runner.outcomes, events, previous, since_ms, cutoff_ms, config.max_listed)

    index = None
    if docs_dir is not None:
        say("writing Data Docs")
        context.build_data_docs(site_names=[DOCS_SITE])
        index = str(docs_dir / "index.html")

    return CheckResult(
        snapshot=snapshot.label,
        snapshot_id=snapshot.meta.get("snapshot_id"),
        cutoff=str(snapshot.meta.get("cutoff")),
        unit=report_unit,
        final_cutoff=final.isoformat(),
        is_final=cutoff_ms >= int(final.timestamp() * 1000),
        outcomes=[runner.outcomes[c.id] for c in CHECKS],
        previous=previous.label if previous is not None else None,
        data_docs=index,
        checked_at=dt.datetime.now(CST).isoformat(timespec="seconds"),
        seconds=round(time.monotonic() - started, 2),
        event_rows=events.rows.height if events is not None else None,
    )


def reporting_unit(cells: pl.DataFrame, registry: Registry) -> str:
    """The report's unit when none is named: the lowest unit above every unit with figures."""
    active = (
        cells.filter((pl.col("scope") == "own") & (pl.col("value") != 0))
        .get_column("unit")
        .unique()
        .to_list()
    )
    chains: list[list[str]] = []
    for code in active:
        if code in registry:
            chains.append([code] + [u.code for u in registry.ancestors(code)])
    if not chains:
        return _root(registry)
    common = set(chains[0]).intersection(*map(set, chains[1:]))
    return next(c for c in chains[0] if c in common)


def _root(registry: Registry) -> str:
    return next(u.code for u in registry if u.parent is None)


def _meta_unit(snapshot: SnapshotInput, registry: Registry) -> str | None:
    code = snapshot.meta.get("unit")
    return code if isinstance(code, str) and code in registry else None


def _leaves(registry: Registry, unit: str) -> tuple[str, ...]:
    return tuple(u.code for u in registry.subtree(unit) if not registry.children(u.code))


def _context(docs_dir: Path | None) -> Any:
    context = gx.get_context(mode="ephemeral")
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    if docs_dir is not None:
        if docs_dir.exists():
            shutil.rmtree(docs_dir)  # the docs show this check, not an accumulation of runs
        docs_dir.mkdir(parents=True)
        context.add_data_docs_site(
            DOCS_SITE,
            {
                "class_name": "SiteBuilder",
                "store_backend": {
                    "class_name": "TupleFilesystemStoreBackend",
                    "base_directory": str(docs_dir),
                },
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            },
        )
    return context


class _Runner:
    """Runs one GX suite per batch and turns its results into Outcomes."""

    def __init__(self, context: Any, config: QualityConfig) -> None:
        self.context = context
        self.config = config
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
        validation = definition.run(
            batch_parameters={"dataframe": frame}, result_format=result_format
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


def _add_evidence(
    outcomes: dict[str, Outcome],
    events: EventTables,
    previous: SnapshotInput | None,
    since_ms: int,
    cutoff_ms: int,
    limit: int,
) -> None:
    """Name the events behind a failure, where that helps the person fixing it."""
    open_cases = outcomes["snapshot.no_open_cases"]
    if open_cases.failed:
        open_cases.evidence = events.open_cases(since_ms, cutoff_ms).head(limit).to_dicts()
    falls = outcomes["snapshot.no_fall_against_previous"]
    if falls.failed and previous is not None:
        units = {r["unit"] for r in falls.offending}
        corrections = events.corrections_between(previous.meta)
        falls.evidence = corrections.head(limit).to_dicts()
        named = corrections.filter(pl.col("unit").is_in(list(units))).height
        falls.note = (
            f"{corrections.height} retraction(s)/correction(s) since the previous "
            f"snapshot, {named} of them in the units that fell"
        )
    dups = outcomes["events.event_id_unique"]
    if dups.failed:
        ids = [str(r["value"]) for r in dups.offending if "value" in r]
        dups.evidence = events.duplicates(ids).head(limit).to_dicts()
    codes = outcomes["events.valid_credit_codes"]
    if codes.failed:
        bad = [str(r["value"]) for r in codes.offending if "value" in r]
        codes.evidence = events.bad_codes(bad).head(limit).to_dicts()
