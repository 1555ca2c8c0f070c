"""Each expectation of SPEC 7: a clean snapshot passes; a violation fails exactly that one, at its
grade."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import polars as pl
import pytest

from contracts.cells import TOTAL
from contracts.events import Event
from contracts.quality import CHECK_BY_ID, CHECKS, CRITICAL, WARNING, SnapshotInput, run_check
from contracts.uscc import org_check_digit, uscc_check_char, validate_uscc
from tests.contracts import eventkit as ek
from tests.quality import kit


@dataclass
class Case:
    """The inputs of one check run; every field defaults to the clean campaign."""

    events: list[Event] = field(default_factory=kit.clean_events)
    cells: pl.DataFrame | None = None
    archived: list[Event] | None = None  # the archive's events in log order (default: events)
    archive: pl.DataFrame | None = None  # its rows, when they differ from archive_frame's
    previous: SnapshotInput | None = None
    dead_letters: pl.DataFrame = field(default_factory=lambda: kit.dead_letters(0))
    meta: dict[str, Any] = field(default_factory=dict)

    def run(self, **kw: Any) -> Any:
        archived = self.events if self.archived is None else self.archived
        archive = kit.archive_frame(archived) if self.archive is None else self.archive
        cells = kit.cells_from(kit.own_figures(self.events)) if self.cells is None else self.cells
        meta = kit.meta(offsets=kit.end_offsets(archive), **self.meta)
        return run_check(
            kit.snapshot_input(cells, meta),
            previous=self.previous,
            archive=archive.lazy(),
            ledger=kit.ledger_answer(archived),
            dead_letters=self.dead_letters,
            **kw,
        )


def clean_cells() -> pl.DataFrame:
    return kit.cells_from(kit.own_figures(kit.clean_events()))


def bump(
    cells: pl.DataFrame,
    unit: str,
    cell: str,
    delta: int,
    *,
    own: bool = True,
    up_the_tree: bool = True,
) -> pl.DataFrame:
    """Add `delta` to a cell the way a real change would: own figure, the unit's and its
    ancestors' rollups, and the 合计 row when `cell` is a row cell."""
    cells_to = [cell]
    row, _, column = cell.partition(".")
    if column and not row.startswith(("item", "aux", TOTAL)):
        cells_to.append(f"{TOTAL}.{column}")
    targets = [(unit, "rollup")] + ([(unit, "own")] if own else [])
    if up_the_tree:
        targets += [(a.code, "rollup") for a in kit.REGISTRY.ancestors(unit)]
    hit = pl.lit(False)
    for u, scope in targets:
        hit = hit | ((pl.col("unit") == u) & (pl.col("scope") == scope))
    return cells.with_columns(
        pl.when(hit & pl.col("cell").is_in(cells_to))
        .then(pl.col("value") + delta)
        .otherwise(pl.col("value"))
        .alias("value")
    )


def set_row(cells: pl.DataFrame, index: int, **values: Any) -> pl.DataFrame:
    rows = cells.to_dicts()
    rows[index].update(values)
    return pl.DataFrame(rows, schema=cells.schema)


def without(events: list[Event], pred: Callable[[Event], bool]) -> list[Event]:
    return [e for e in events if not pred(e)]


def _resolved_in(unit: str) -> Callable[[Event], bool]:
    return lambda e: e.type == "arrears.resolved" and e.unit == unit


def _retraction_case() -> Case:
    before = kit.clean_events()
    dispute = next(e for e in before if e.type == "dispute.resolved" and e.unit == "320412")
    after = before + [
        ek.retraction(
            dispute.event_id, unit="320412", at="2024-12-30T09:00:00+08:00", source="mediation"
        )
    ]
    prev_archive = kit.archive_frame(before)
    previous = kit.snapshot_input(
        kit.cells_from(kit.own_figures(before)),
        kit.meta("snap-0", offsets=kit.end_offsets(prev_archive)),
    )
    return Case(events=after, previous=previous)


def _conflict_case() -> Case:
    events = kit.clean_events()
    first = events[0]
    conflict = ek.inspected(
        ek.FACTORY,
        workers=999,
        unit=first.unit,
        event_id=first.event_id,
        at="2024-12-28T10:00:00+08:00",
    )
    return Case(events=events, archived=events + [conflict])


def _id_under_two_units_case() -> Case:
    events = kit.clean_events()
    first = events[0]
    other = "320404" if first.unit != "320404" else "320402"
    twin = ek.inspected(ek.FACTORY, workers=3, unit=other, event_id=first.event_id)
    return Case(events=[*events, twin])


def _cross_unit_target_case() -> Case:
    events = kit.clean_events()
    first = events[0]
    other = "320404" if first.unit != "320404" else "320402"
    return Case(events=[*events, ek.retraction(first.event_id, unit=other)])


def _bad_code_case() -> Case:
    events = kit.clean_events()
    bad = events[0].to_json().replace(ek.FACTORY["id"], ek.FACTORY["id"][:-1] + "X")
    return Case(events=events, archive=kit.archive_frame([(events[0], bad), *events[1:]]))


def _old_org_code() -> str:
    """FACTORY's code with a wrong embedded GB 11714 digit, its check character right."""
    code = ek.FACTORY["id"]
    wrong = next(d for d in "0123456789" if d != org_check_digit(code[8:16]))
    return code[:16] + wrong + uscc_check_char(code[:16] + wrong)


def _old_org_code_case() -> Case:
    events = kit.clean_events()
    old = events[0].to_json().replace(ek.FACTORY["id"], _old_org_code())
    return Case(events=events, archive=kit.archive_frame([(events[0], old), *events[1:]]))


def _bad_unit_case() -> Case:
    events = kit.clean_events()
    archive = kit.archive_frame(events)
    return Case(events=events, archive=set_row(archive, 0, unit="329999"))


def _dead_feed_case() -> Case:
    events = kit.clean_events()
    return Case(events=events, archived=without(events, lambda e: e.source == "court"))


def _amount_case() -> Case:
    events = without(kit.clean_events(), _resolved_in("320412"))
    events.append(
        ek.resolved(
            ek.BUILDER,
            workers=12,
            amount="36000000.00",
            case_id="C-320412",
            unit="320412",
            at="2024-12-29T10:00:00+08:00",
        )
    )
    return Case(events=events)


VIOLATIONS: dict[str, Callable[[], Case]] = {
    "snapshot.columns": lambda: Case(cells=clean_cells().with_columns(pl.lit("x").alias("note"))),
    "snapshot.value_type": lambda: Case(
        cells=clean_cells().with_columns(pl.col("value").cast(pl.Float64))
    ),
    "snapshot.scope_values": lambda: Case(cells=set_row(clean_cells(), 0, scope="total")),
    "snapshot.cell_ids": lambda: Case(cells=set_row(clean_cells(), 0, cell="bogus.cell")),
    "snapshot.unit_codes": lambda: Case(cells=set_row(clean_cells(), 0, unit="329999")),
    "snapshot.unique_keys": lambda: Case(cells=pl.concat([clean_cells(), clean_cells().head(1)])),
    "snapshot.every_unit_present": lambda: Case(
        cells=clean_cells().filter(pl.col("unit") != "320100")
    ),
    "snapshot.no_negatives": lambda: Case(
        cells=bump(clean_cells(), "320412", "item7.blacklist_listings", -1)
    ),
    "snapshot.total_is_sum_of_rows": lambda: Case(
        cells=bump(clean_cells(), "320412", "total.employers", 1)
    ),
    "snapshot.migrant_within_workers": lambda: Case(
        cells=bump(clean_cells(), "320412", "manufacturing.migrant_workers", 1000)
    ),
    "snapshot.channel_items_within_resolved": lambda: Case(
        cells=bump(clean_cells(), "320412", "item3.cases", 5)
    ),
    "snapshot.arrears_projects_within_inspected": lambda: Case(
        cells=bump(clean_cells(), "320412", "item1.gov_arrears_projects", 1)
    ),
    "snapshot.rollup_is_own_plus_children": lambda: Case(
        cells=bump(
            clean_cells(), "320412", "item7.blacklist_listings", 1, own=False, up_the_tree=False
        )
    ),
    "snapshot.no_silent_units": lambda: Case(
        events=without(kit.clean_events(), lambda e: e.unit == "320413")
    ),
    "snapshot.filings_within_transfers": lambda: Case(
        cells=bump(clean_cells(), "320412", "manufacturing.police_filings", 2)
    ),
    "snapshot.amount_per_worker_plausible": _amount_case,
    "snapshot.no_open_cases": lambda: Case(
        events=without(kit.clean_events(), _resolved_in("320412"))
    ),
    "snapshot.no_fall_against_previous": _retraction_case,
    "events.event_id_unique": _conflict_case,
    "events.event_id_one_unit": _id_under_two_units_case,
    "events.targets_in_own_unit": _cross_unit_target_case,
    "events.valid_credit_codes": _bad_code_case,
    "events.org_code_check_digits": _old_org_code_case,
    "events.valid_unit_codes": _bad_unit_case,
    "events.feeds_alive": _dead_feed_case,
    "dead_letters.open_warning": lambda: Case(dead_letters=kit.dead_letters(3, 2)),
    "dead_letters.open_critical": lambda: Case(dead_letters=kit.dead_letters(101)),
}


def failed(result: Any) -> dict[str, str]:
    return {o.check: o.grade for o in result.outcomes if o.failed}


def test_every_check_has_a_violation_case() -> None:
    assert set(VIOLATIONS) == set(CHECK_BY_ID)
    assert {c.grade for c in CHECKS} == {CRITICAL, WARNING}


def test_clean_campaign_passes_every_expectation() -> None:
    previous = kit.snapshot_input(clean_cells(), kit.meta("snap-0"))
    result = Case(previous=previous).run()
    assert failed(result) == {}
    assert {o.status for o in result.outcomes} == {"passed"}, [
        (o.check, o.status, o.note) for o in result.outcomes if o.status != "passed"
    ]
    assert result.passed and result.unit == kit.CITY


@pytest.mark.parametrize("check", list(VIOLATIONS))
def test_violation_fails_exactly_that_expectation_at_its_grade(check: str) -> None:
    result = VIOLATIONS[check]().run()
    grade = CHECK_BY_ID[check].grade
    assert failed(result) == {check: grade}
    outcome = result.outcome(check)
    assert outcome.status == "failed", outcome.observed
    assert outcome.offending_count >= 1 and outcome.offending
    assert result.passed is (grade == WARNING)


def test_offending_rows_name_units_and_cells() -> None:
    result = VIOLATIONS["snapshot.total_is_sum_of_rows"]().run()
    rows = result.outcome("snapshot.total_is_sum_of_rows").offending
    assert {(r["unit"], r["scope"], r["cell"]) for r in rows} == {
        ("320412", "own", "total.employers"),
        ("320412", "rollup", "total.employers"),
        ("320400", "rollup", "total.employers"),
        ("320000", "rollup", "total.employers"),
        ("100000", "rollup", "total.employers"),
    }
    negatives = VIOLATIONS["snapshot.no_negatives"]().run().outcome("snapshot.no_negatives")
    assert {
        "unit": "320412",
        "scope": "own",
        "cell": "item7.blacklist_listings",
        "value": -1,
    } in negatives.offending


def test_open_cases_are_listed_with_their_case_ids_from_the_archive() -> None:
    outcome = VIOLATIONS["snapshot.no_open_cases"]().run().outcome("snapshot.no_open_cases")
    assert outcome.offending == [{"unit": "320412", "cell": "aux.open_cases", "value": 1}]
    assert [(e["unit"], e["case_id"]) for e in outcome.evidence] == [("320412", "C-320412")]


def test_a_fall_names_the_retraction_behind_it() -> None:
    case = _retraction_case()
    outcome = case.run().outcome("snapshot.no_fall_against_previous")
    fell = {(r["unit"], r["scope"], r["cell"]) for r in outcome.offending}
    assert {("320412", "own", "total.resolved"), ("320400", "rollup", "item3.amount")} <= fell
    retraction = case.events[-1]
    assert [e["event_id"] for e in outcome.evidence] == [retraction.event_id]
    assert outcome.evidence[0]["type"] == "event.retracted"
    assert "1 of them in the units that fell" in outcome.note


def test_duplicates_and_bad_codes_name_their_events() -> None:
    case = _conflict_case()
    dup = case.run().outcome("events.event_id_unique")
    first = case.events[0]
    # GX judged row numbers; the findings name the Ledger key they stand for
    assert dup.offending == [{"value": f"{first.unit}|{first.source}|{first.event_id}", "count": 2}]
    assert len(dup.evidence) == 2 and len({e["offset"] for e in dup.evidence}) == 2
    twins = _id_under_two_units_case()
    shared = twins.run().outcome("events.event_id_one_unit")
    assert shared.offending == [{"value": twins.events[0].event_id, "count": 2}]
    codes = _bad_code_case().run().outcome("events.valid_credit_codes")
    assert codes.evidence[0]["employer_id"].endswith("X")


def test_a_retraction_in_a_file_without_folded_targets_is_still_read() -> None:
    """Files archived before targets were folded hold `retracts` null; `raw` still says."""
    case = _cross_unit_target_case()
    archive = kit.archive_frame(case.events).with_columns(pl.lit(None, pl.Utf8).alias("retracts"))
    result = Case(events=case.events, archive=archive).run()
    assert failed(result) == {"events.targets_in_own_unit": WARNING}


def test_a_wrong_embedded_org_digit_is_a_warning_naming_the_events() -> None:
    code = _old_org_code()
    assert validate_uscc(code) == code  # accepted at ingest: the figures count
    case = _old_org_code_case()
    result = case.run()
    assert failed(result) == {"events.org_code_check_digits": WARNING} and result.passed
    outcome = result.outcome("events.org_code_check_digits")
    assert [(e["employer_id"], e["event_id"]) for e in outcome.evidence] == [
        (code, case.events[0].event_id)
    ]


def test_dead_feed_names_the_source() -> None:
    outcome = _dead_feed_case().run().outcome("events.feeds_alive")
    assert [r["source"] for r in outcome.offending] == ["court"]


def test_resolved_and_later_dead_letters_do_not_count() -> None:
    later = kit.dead_letters(5, at="2025-01-02T10:00:00+08:00")
    letters = pl.concat([kit.dead_letters(0, 4), later])
    assert failed(Case(dead_letters=letters).run()) == {}


def test_superseded_and_resent_events_are_not_duplicates() -> None:
    events = kit.clean_events()
    first = events[0]
    fix = ek.inspected(
        ek.FACTORY,
        workers=101,
        unit=first.unit,
        supersedes=first.event_id,
        at="2024-12-28T11:00:00+08:00",
    )
    archived = events + [events[1], fix]  # an exact resend and a correction
    result = Case(events=events + [fix], archived=archived).run()
    assert failed(result) == {}


def test_without_optional_inputs_those_suites_are_skipped() -> None:
    cells = clean_cells()
    result = run_check(kit.snapshot_input(cells))
    skipped = {o.check for o in result.outcomes if o.status == "skipped"}
    assert skipped == {c.id for c in CHECKS if c.batch in ("changes", "events", "dead_letters")}
    assert result.passed


def test_schema_failure_skips_the_arithmetic() -> None:
    result = VIOLATIONS["snapshot.value_type"]().run()
    assert result.outcome("snapshot.total_is_sum_of_rows").status == "skipped"
    assert not result.passed


def test_silent_units_follow_the_named_unit() -> None:
    # Naming the province makes every county-level unit outside Changzhou a silent leaf (the
    # registry lists all of Jiangsu); a city with units below it is not a leaf itself.
    result = Case().run(unit="320000")
    silent = result.outcome("snapshot.no_silent_units")
    assert silent.failed and {"unit": "320102", "own_figures": "all zero"} in silent.offending
    assert "320100" not in {r["unit"] for r in silent.offending}


def test_result_serialises(tmp_path: Any) -> None:
    import json

    result = VIOLATIONS["snapshot.no_open_cases"]().run()
    body = json.loads(result.dumps())
    assert body["format"] == "arrears-check-result/1"
    assert body["passed"] is True and body["warnings"] == ["snapshot.no_open_cases"]
    assert replace(result).passed
