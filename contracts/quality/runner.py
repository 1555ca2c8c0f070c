"""Run the suites on a snapshot and the events behind it; write Data Docs; grade the result.

>>> result = run_check(snapshot, archive=pl.scan_parquet(...), ledger=answer,
...                    docs_dir=Path("docs"))  # doctest: +SKIP
>>> result.passed, [o.check for o in result.critical_failures]
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import polars as pl

from contracts.calendar import Campaign, load_campaign
from contracts.clock import CST
from contracts.events import SOURCES
from contracts.fold import OpenCase
from contracts.quality._gx import gx
from contracts.quality.catalogue import CHECKS
from contracts.quality.config import QualityConfig, load_quality_config
from contracts.quality.docs_marks import describe_batches, mark_docs
from contracts.quality.event_rows import EventTables, LedgerAnswer, prepare_events
from contracts.quality.frames import SnapshotInput, cells_frame, changes_frame
from contracts.quality.letters import campaign_cutoffs_ms, dead_letters_frame
from contracts.quality.result import CheckResult, Outcome
from contracts.quality.suites import SuiteContext
from contracts.quality.validation import SuiteRunner
from contracts.registry import Registry

__all__ = ["run_check", "reporting_unit", "DOCS_SITE"]

DOCS_SITE = "arrears"


def run_check(
    snapshot: SnapshotInput,
    *,
    previous: SnapshotInput | None = None,
    archive: pl.LazyFrame | None = None,
    ledger: LedgerAnswer | None = None,
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
    comes `ledger`: what the Ledger decided of those rows in log order (`LedgerAnswer`:
    the keys it does not hold active, the resends it refused, and the verified cases open
    at the snapshot's cutoff, which the `no_open_cases` expectation lists when it fails);
    the command layer gets it from `warehouse.batch`.
    """
    if archive is not None and ledger is None:
        raise ValueError(
            "run_check: an archive needs what the Ledger decided of its rows (ledger=...): "
            "which archived events are effective is the Ledger's answer, e.g. "
            "pipeline.flows.quality_inputs.ledger_answers(archive_dir, meta, registry), "
            "from warehouse.batch.batch_rebuild"
        )
    started = time.monotonic()
    registry = registry or Registry.load()
    config = config or load_quality_config()
    campaign = campaign or load_campaign()
    cutoff_ms = snapshot.cutoff_ms
    final = campaign.cutoff("final").at

    context = _context(docs_dir)
    runner = SuiteRunner(context, config, _run_name(snapshot))

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
        assert ledger is not None  # checked on entry
        events = prepare_events(archive, snapshot.meta, ledger)
        say(f"event suite on {events.rows.height:,} archived events")
        runner.run_by_columns("events", events.gx_frame, ctx)

    if dead_letters is None:
        runner.skip("dead_letters", "not run: no dead letters given")
    else:
        say("dead letters")
        frame = dead_letters_frame(dead_letters, cutoff_ms, campaign_cutoffs_ms(campaign))
        runner.run("dead_letters", frame, ctx)

    if events is not None:
        assert ledger is not None  # checked on entry
        _add_evidence(runner.outcomes, events, ledger.open_cases, previous, config.max_listed)

    index = None
    if docs_dir is not None:
        say("writing Data Docs")
        context.build_data_docs(site_names=[DOCS_SITE])
        # GX marks a failed warning like a critical failure and names no in-memory batch.
        described = describe_batches(snapshot.meta, previous.meta if previous else None)
        mark_docs(docs_dir, runner.outcomes.values(), described, runner.suite_of)
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
        freshness=_freshness(events, config, cutoff_ms) if events is not None else [],
    )


def _run_name(snapshot: SnapshotInput) -> str:
    """`<snapshot id>@<cutoff>`, safe as a folder name and in a URL."""
    cutoff = re.sub(r"[^0-9A-Za-z+-]", "", str(snapshot.meta.get("cutoff") or ""))
    name = str(snapshot.meta.get("snapshot_id") or snapshot.label.rsplit("/", 1)[-1])
    return re.sub(r"[^0-9A-Za-z._@+-]", "_", f"{name}@{cutoff}")


def _freshness(events: EventTables, config: QualityConfig, cutoff_ms: int) -> list[dict[str, Any]]:
    """Each source's last event at or before the cutoff, and its silence against the limit."""
    last = dict(
        # the two columns first: filtering all of ten million rows held 700 MB more
        events.rows.select("source", "occurred_at_ms")
        .filter(pl.col("occurred_at_ms") <= cutoff_ms)
        .group_by("source")
        .agg(pl.col("occurred_at_ms").max())
        .iter_rows()
    )
    out = []
    for source in SOURCES:
        at = last.get(source)
        allowed = config.max_silence_s(source) * 1000
        out.append(
            {
                "source": source,
                "last_event": None
                if at is None
                else dt.datetime.fromtimestamp(at / 1000, CST).isoformat(timespec="seconds"),
                "silent_days": None if at is None else round((cutoff_ms - at) / 86_400_000, 1),
                "allowed_days": round(allowed / 86_400_000, 1),
                "alive": at is not None and cutoff_ms - at < allowed,
            }
        )
    return out


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


def _add_evidence(
    outcomes: dict[str, Outcome],
    events: EventTables,
    open_cases: Sequence[OpenCase],
    previous: SnapshotInput | None,
    limit: int,
) -> None:
    """Name the events behind a failure, where that helps the person fixing it."""
    still = outcomes["snapshot.no_open_cases"]
    if still.failed:
        still.evidence = [case._asdict() for case in open_cases[:limit]]
        still.note = f"{len(open_cases)} verified case(s) open at the cutoff"
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
    for check, column in (
        ("events.event_id_unique", "received_event"),
        ("events.event_id_one_unit", "unit_event"),
    ):
        found = outcomes[check]
        if found.failed:  # GX saw numbers standing for keys or ids: name them
            numbers = [r["value"] for r in found.offending if r.get("value") is not None]
            names = events.name(numbers, column)
            for r in found.offending:
                if r.get("value") is not None:
                    r["value"] = names[int(r["value"])]
            if column == "received_event":
                found.evidence = events.duplicates(numbers).head(limit).to_dicts()
    for check in ("events.valid_credit_codes", "events.org_code_check_digits"):
        codes = outcomes[check]
        if codes.failed:
            bad = [str(r["value"]) for r in codes.offending if "value" in r]
            codes.evidence = events.bad_codes(bad).head(limit).to_dicts()
