"""The expectation suites, built in code from the catalogue: one GX expectation per check."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# The defining modules: great_expectations.expectations re-exports these without __all__,
# which strict mypy does not count as an export.
from great_expectations.expectations.core.expect_column_values_to_be_between import (
    ExpectColumnValuesToBeBetween,
)
from great_expectations.expectations.core.expect_column_values_to_be_in_set import (
    ExpectColumnValuesToBeInSet,
)
from great_expectations.expectations.core.expect_column_values_to_be_null import (
    ExpectColumnValuesToBeNull,
)
from great_expectations.expectations.core.expect_column_values_to_be_of_type import (
    ExpectColumnValuesToBeOfType,
)
from great_expectations.expectations.core.expect_column_values_to_be_unique import (
    ExpectColumnValuesToBeUnique,
)
from great_expectations.expectations.core.expect_compound_columns_to_be_unique import (
    ExpectCompoundColumnsToBeUnique,
)
from great_expectations.expectations.core.expect_table_columns_to_match_set import (
    ExpectTableColumnsToMatchSet,
)

from contracts.cells import AUX, CELLS, COLUMNS, ROWS, TOTAL, Agg, row_cell
from contracts.events import SOURCES
from contracts.quality import event_expectations as ev
from contracts.quality import expectations as x
from contracts.quality._gx import gx  # noqa: F401  (sets the GX environment before any import)
from contracts.quality.catalogue import CHECK_BY_ID, CHECKS
from contracts.quality.config import QualityConfig
from contracts.registry import Registry

__all__ = ["SuiteContext", "build_expectations", "CUMULATIVE_CELLS", "SNAPSHOT_COLUMNS"]

SNAPSHOT_COLUMNS = ["unit", "scope", "cell", "value"]
SCOPES = ["own", "rollup"]
_BODY_ROWS = [r.key for r in ROWS if r.key != TOTAL]

#: Cells whose value only grows as events arrive. Latest headcounts (cols 2-3) may go down
#: on re-inspection, merged leads leave item 6, and open cases close: those are not checked.
CUMULATIVE_CELLS: tuple[str, ...] = tuple(
    c.id
    for c in CELLS
    if c.agg is not Agg.LATEST and c not in AUX and c.id != "item6.reception_leads"
)


@dataclass(frozen=True)
class SuiteContext:
    """What the expectations are parameterised with for one check run."""

    registry: Registry
    config: QualityConfig
    cutoff_ms: int
    #: reporting units that must not be silent (the leaves under the report's unit)
    reporting_units: tuple[str, ...]


def _pairs() -> list[list[str]]:
    """(amount cell, workers cell) of every figure that has both."""
    out = [[row_cell(r.key, "resolved_amount"), row_cell(r.key, "resolved_workers")] for r in ROWS]
    for item in (2, 3, 4, 5):
        out.append([f"item{item}.amount", f"item{item}.workers"])
    for prefix in ("gov", "soe"):
        out.append([f"item1.{prefix}_arrears_amount", f"item1.{prefix}_arrears_workers"])
    return out


def _bound(lhs: list[str], rhs: list[str]) -> dict[str, list[str]]:
    return {"lhs": lhs, "rhs": rhs}


def _builders(ctx: SuiteContext) -> dict[str, Callable[[], Any]]:
    reg, cfg = ctx.registry, ctx.config
    units = sorted(u.code for u in reg)
    cell_ids = [c.id for c in CELLS]
    channels = [f"item{i}" for i in (3, 4, 5)]
    return {
        "snapshot.columns": lambda: ExpectTableColumnsToMatchSet(
            column_set=SNAPSHOT_COLUMNS, exact_match=True
        ),
        "snapshot.value_type": lambda: ExpectColumnValuesToBeOfType(column="value", type_="int64"),
        "snapshot.scope_values": lambda: ExpectColumnValuesToBeInSet(
            column="scope", value_set=SCOPES
        ),
        "snapshot.cell_ids": lambda: ExpectColumnValuesToBeInSet(column="cell", value_set=cell_ids),
        "snapshot.unit_codes": lambda: ExpectColumnValuesToBeInSet(column="unit", value_set=units),
        "snapshot.unique_keys": lambda: ExpectCompoundColumnsToBeUnique(
            column_list=["unit", "scope", "cell"]
        ),
        "snapshot.every_unit_present": lambda: x.ExpectTableToCoverUnitsAndCells(
            units=units, cells=cell_ids, scopes=SCOPES
        ),
        "snapshot.no_negatives": lambda: ExpectColumnValuesToBeBetween(column="value", min_value=0),
        "snapshot.total_is_sum_of_rows": lambda: x.ExpectTotalRowToEqualSumOfRows(
            total=TOTAL, rows=_BODY_ROWS, columns=[c.key for c in COLUMNS]
        ),
        "snapshot.migrant_within_workers": lambda: x.ExpectCellSumsToBeAtMost(
            bounds=[
                _bound([row_cell(r.key, "migrant_workers")], [row_cell(r.key, "workers")])
                for r in ROWS
            ]
        ),
        "snapshot.channel_items_within_resolved": lambda: x.ExpectCellSumsToBeAtMost(
            bounds=[
                _bound([f"{i}.{what}" for i in channels], [row_cell(TOTAL, col)])
                for what, col in (
                    ("cases", "resolved"),
                    ("workers", "resolved_workers"),
                    ("amount", "resolved_amount"),
                )
            ]
        ),
        "snapshot.arrears_projects_within_inspected": lambda: x.ExpectCellSumsToBeAtMost(
            bounds=[
                _bound([f"item1.{p}_arrears_projects"], [f"item1.{p}_projects"])
                for p in ("gov", "soe")
            ]
        ),
        "snapshot.rollup_is_own_plus_children": lambda: x.ExpectRollupToEqualOwnPlusChildren(
            parents={u.code: u.parent for u in reg}
        ),
        "snapshot.no_silent_units": lambda: x.ExpectUnitsNotToBeSilent(
            units=list(ctx.reporting_units)
        ),
        "snapshot.filings_within_transfers": lambda: x.ExpectCellSumsToBeAtMost(
            bounds=[
                _bound([row_cell(TOTAL, "police_filings")], [row_cell(TOTAL, "police_transfers")])
            ]
        ),
        "snapshot.amount_per_worker_plausible": lambda: x.ExpectAmountPerWorkerToBeBetween(
            pairs=_pairs(), min_yuan=cfg.min_yuan_per_worker, max_yuan=cfg.max_yuan_per_worker
        ),
        "snapshot.no_open_cases": lambda: x.ExpectNoOpenArrearsCases(cell="aux.open_cases"),
        "snapshot.no_fall_against_previous": lambda: x.ExpectFiguresNotToFall(
            cells=list(CUMULATIVE_CELLS)
        ),
        "events.event_id_unique": lambda: ExpectColumnValuesToBeUnique(column="received_event"),
        "events.event_id_one_unit": lambda: ExpectColumnValuesToBeUnique(column="unit_event"),
        "events.targets_in_own_unit": lambda: ExpectColumnValuesToBeNull(column="foreign_target"),
        "events.valid_credit_codes": lambda: ev.ExpectColumnValuesToBeValidUscc(
            column="employer_id"
        ),
        "events.org_code_check_digits": lambda: ev.ExpectColumnValuesToHaveOrgCheckDigits(
            column="employer_id"
        ),
        "events.valid_unit_codes": lambda: ExpectColumnValuesToBeInSet(
            column="unit", value_set=units
        ),
        "events.feeds_alive": lambda: ev.ExpectEverySourceToHaveRecentEvents(
            column="source",
            time_column="occurred_at_ms",
            sources=list(SOURCES),
            cutoff_ms=ctx.cutoff_ms,
            max_silence_ms={s: cfg.max_silence_s(s) * 1000 for s in SOURCES},
        ),
        "dead_letters.open_warning": lambda: ev.ExpectOpenDeadLettersToBeAtMost(
            max_open=cfg.dead_letters_warn_above, hand_over_above=cfg.dead_letters_critical_above
        ),
        "dead_letters.open_critical": lambda: ev.ExpectOpenDeadLettersToBeAtMost(
            max_open=cfg.dead_letters_critical_above
        ),
    }


def build_expectations(ctx: SuiteContext, batch: str) -> list[Any]:
    """The GX expectations of `batch`, each carrying its check id and grade in `meta`.

    The grade is also GX's own `severity`, and the description names the check, so the
    Data Docs show "[critical] snapshot.total_is_sum_of_rows: ..." for each one.
    """
    builders = _builders(ctx)
    missing = set(CHECK_BY_ID) - set(builders)
    assert not missing, f"checks without an expectation: {sorted(missing)}"
    out = []
    for check in CHECKS:
        if check.batch != batch:
            continue
        expectation = builders[check.id]()
        expectation.meta = {"check": check.id, "grade": check.grade, "title": check.title}
        expectation.severity = check.grade
        expectation.description = f"[{check.grade}] {check.id}: {check.title}"
        expectation.catch_exceptions = True
        if hasattr(expectation, "max_listed"):
            expectation.max_listed = ctx.config.max_listed
        out.append(expectation)
    return out
