"""The event suite runs a column at a time: each group of expectations sees a frame of its
own columns only, and GX holds no frame once its group has run (issue 18: the check of
ten million events under 2 GB)."""

from __future__ import annotations

import gc
import weakref

import pandas as pd
import pytest

from contracts.quality._gx import gx
from contracts.quality.catalogue import CHECKS
from contracts.quality.config import load_quality_config
from contracts.quality.docs_marks import warning_only_suites
from contracts.quality.result import FAILED, PASSED, Outcome
from contracts.quality.suites import SuiteContext
from contracts.quality.validation import SuiteRunner
from tests.quality import kit

#: Clean rows for every column the event suite reads: one event a source, all in time.
_ROWS = {
    "received_event": [0, 1, 2, 3],
    "unit_event": [0, 1, 2, 3],
    "foreign_target": [None, None, None, None],
    "source": ["inspection", "mediation", "court", "complaint"],
    "unit": ["320412"] * 4,
    "occurred_at_ms": [kit.CUTOFF_MS - 3_600_000] * 4,
    "employer_id": ["91320411348581379L"] * 4,
}


def _run_events() -> tuple[SuiteRunner, list[list[str]], list[weakref.ref[pd.DataFrame]]]:
    asked: list[list[str]] = []
    frames: list[weakref.ref[pd.DataFrame]] = []

    def frame_of(columns: list[str]) -> pd.DataFrame:
        asked.append(columns)
        frame = pd.DataFrame({c: _ROWS[c] for c in columns})
        frames.append(weakref.ref(frame))
        return frame

    runner = SuiteRunner(gx.get_context(mode="ephemeral"), load_quality_config(), "probe")
    ctx = SuiteContext(kit.REGISTRY, runner.config, kit.CUTOFF_MS, kit.LEAVES)
    assert runner.run_by_columns("events", frame_of, ctx)
    return runner, asked, frames


def test_each_event_expectation_sees_only_the_columns_it_names() -> None:
    runner, asked, _ = _run_events()
    assert sorted(asked) == [
        ["employer_id"],
        ["foreign_target"],
        ["received_event"],
        ["source", "occurred_at_ms"],  # the feeds: its `column`, then its `time_column`
        ["unit"],
        ["unit_event"],
    ]
    events = [c.id for c in CHECKS if c.batch == "events"]
    assert sorted(runner.outcomes) == sorted(events)
    assert all(runner.outcomes[c].status == PASSED for c in events)
    assert runner.suite_of["events.valid_credit_codes"] == "events.employer_id"
    assert runner.suite_of["events.org_code_check_digits"] == "events.employer_id"
    assert runner.suite_of["events.feeds_alive"] == "events.source"


def test_no_frame_is_held_once_its_columns_have_run() -> None:
    _, _, frames = _run_events()
    gc.collect()
    assert len(frames) == 6 and all(ref() is None for ref in frames)


def _failed(check: str, grade: str) -> Outcome:
    return Outcome(check=check, grade=grade, title="", expectation_type="", status=FAILED)


def test_a_page_of_warnings_is_warning_only_beside_a_critical_page_of_its_batch() -> None:
    outcomes = [
        _failed("events.targets_in_own_unit", "warning"),
        _failed("events.event_id_unique", "critical"),
        _failed("dead_letters.open_warning", "warning"),
    ]
    suite_of = {
        "events.targets_in_own_unit": "events.foreign_target",
        "events.event_id_unique": "events.received_event",
        "dead_letters.open_warning": "dead_letters",
    }
    assert warning_only_suites(outcomes, suite_of) == {"events.foreign_target", "dead_letters"}


def test_a_suite_with_table_expectations_cannot_run_by_columns() -> None:
    runner = SuiteRunner(gx.get_context(mode="ephemeral"), load_quality_config(), "probe")
    ctx = SuiteContext(kit.REGISTRY, runner.config, kit.CUTOFF_MS, kit.LEAVES)
    with pytest.raises(ValueError, match="names no column"):
        runner.run_by_columns("cells", lambda columns: pd.DataFrame(), ctx)


def test_groups_sharing_a_first_column_get_pages_of_their_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import contracts.quality.validation as validation

    class Expectation:
        def __init__(self, **columns: str) -> None:
            vars(self).update(columns)

    monkeypatch.setattr(
        validation,
        "build_expectations",
        lambda ctx, batch: [
            Expectation(column="source"),
            Expectation(column="source", time_column="occurred_at_ms"),
            Expectation(column="unit", other_column="unit"),  # a column named twice: once
        ],
    )
    ran: list[tuple[str, list[str]]] = []
    runner = SuiteRunner(gx.get_context(mode="ephemeral"), load_quality_config(), "probe")
    monkeypatch.setattr(
        runner, "_validate", lambda batch, name, frame, expectations: ran.append((name, frame))
    )
    ctx = SuiteContext(kit.REGISTRY, runner.config, kit.CUTOFF_MS, kit.LEAVES)
    runner.run_by_columns("events", lambda columns: columns, ctx)  # type: ignore[arg-type,return-value]
    assert ran == [
        ("events.source", ["source"]),
        ("events.source.occurred_at_ms", ["source", "occurred_at_ms"]),
        ("events.unit", ["unit"]),
    ]
