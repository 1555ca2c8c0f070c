"""Dead letters per cutoff: by their event time, or, without one, by when they were rejected."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from contracts.calendar import load_campaign
from contracts.clock import second_end_ms
from contracts.quality.frames import parse_cutoff_ms
from contracts.quality.letters import campaign_cutoffs_ms, letters_for_cutoff, rejection_period
from tests.quality import kit
from tests.quality.test_expectations import Case, failed
from tests.quality.test_offline import run_check, verdict, write_campaign

CAMPAIGN = load_campaign()
CUTOFFS = campaign_cutoffs_ms(CAMPAIGN)
PROGRESS = parse_cutoff_ms("2024-12-31T23:59:59+08:00")
FINAL = parse_cutoff_ms("2025-01-28T23:59:59+08:00")
MID_DECEMBER = parse_cutoff_ms("2024-12-15T23:59:59+08:00")


def timeless(n: int, rejected_at: str | None, *, first: int = 0) -> pl.DataFrame:
    """`n` open dead letters whose record has no event time (not even JSON)."""
    return kit.dead_letters(n).with_columns(
        pl.Series("id", [f"nt-{first + i}" for i in range(n)]),
        pl.Series("line", [first + i + 1 for i in range(n)], dtype=pl.Int64),
        pl.lit("{not json").alias("original"),
        pl.lit(rejected_at, dtype=pl.Utf8).alias("rejected_at"),
        pl.lit("json.invalid").alias("reason"),
    )


def test_the_campaign_cutoffs_are_the_last_millisecond_of_their_second() -> None:
    assert CUTOFFS == [PROGRESS, FINAL]
    assert second_end_ms(CAMPAIGN.cutoff("progress").at) == PROGRESS


def test_rejection_periods_run_from_the_campaign_cutoff_before_to_the_cutoff() -> None:
    assert rejection_period(PROGRESS, CUTOFFS) == (None, PROGRESS)
    assert rejection_period(MID_DECEMBER, CUTOFFS) == (None, MID_DECEMBER)
    assert rejection_period(FINAL, CUTOFFS) == (PROGRESS, None)
    later = parse_cutoff_ms("2025-02-10T23:59:59+08:00")
    assert rejection_period(later, CUTOFFS) == (FINAL, None)
    assert rejection_period(PROGRESS, []) == (None, None)


@pytest.mark.parametrize(
    ("rejected_at", "cutoffs"),
    [
        ("2024-12-21T10:00:00+08:00", {MID_DECEMBER: False, PROGRESS: True, FINAL: False}),
        ("2024-12-10T10:00:00+08:00", {MID_DECEMBER: True, PROGRESS: True, FINAL: False}),
        ("2024-12-31T23:59:59.500+08:00", {PROGRESS: True, FINAL: False}),
        ("2025-01-01T00:00:00+08:00", {PROGRESS: False, FINAL: True}),
        ("2025-01-02T09:30:00+08:00", {MID_DECEMBER: False, PROGRESS: False, FINAL: True}),
        ("2026-12-01T11:00:00+08:00", {PROGRESS: False, FINAL: True}),  # after the campaign
        ("2024-12-31T16:00:00Z", {PROGRESS: False, FINAL: True}),  # 01-01 00:00 in +08:00
        (None, {MID_DECEMBER: True, PROGRESS: True, FINAL: True}),  # nobody can tell
        ("yesterday", {MID_DECEMBER: True, PROGRESS: True, FINAL: True}),
        ("2024-12-21T10:00:00", {MID_DECEMBER: True, PROGRESS: True, FINAL: True}),  # no offset
    ],
)
def test_a_letter_without_event_time_belongs_to_the_cutoff_it_was_rejected_at(
    rejected_at: str | None, cutoffs: dict[int, bool]
) -> None:
    letters = timeless(1, rejected_at)
    for cutoff, counted in cutoffs.items():
        assert (letters_for_cutoff(letters, cutoff, CUTOFFS).height == 1) is counted, cutoff


def test_a_letter_with_event_time_concerns_every_cutoff_at_or_after_it_whenever_rejected() -> None:
    december = kit.dead_letters(1, at="2024-12-20T10:00:00+08:00").with_columns(
        pl.lit("2025-01-05T10:00:00+08:00").alias("rejected_at")
    )
    assert [letters_for_cutoff(december, c, CUTOFFS).height for c in CUTOFFS] == [1, 1]
    january = kit.dead_letters(1, at="2025-01-02T10:00:00+08:00").with_columns(
        pl.lit("2024-12-21T10:00:00+08:00").alias("rejected_at")
    )
    assert [letters_for_cutoff(january, c, CUTOFFS).height for c in CUTOFFS] == [0, 1]
    # An occurred_at without an offset is no event time: the rejection time decides.
    naive = kit.dead_letters(1, at="2024-12-20T10:00:00").with_columns(
        pl.lit("2025-01-05T10:00:00+08:00").alias("rejected_at")
    )
    assert [letters_for_cutoff(naive, c, CUTOFFS).height for c in CUTOFFS] == [0, 1]


def test_the_gate_counts_only_the_timeless_letters_rejected_in_its_period() -> None:
    january = timeless(150, "2025-01-02T09:30:00+08:00")
    december = timeless(2, "2024-12-21T10:00:00+08:00", first=150)
    letters = pl.concat([january, december])
    outcome = Case(dead_letters=letters).run(campaign=CAMPAIGN).outcome("dead_letters.open_warning")
    assert outcome.status == "failed" and outcome.observed == "2 unresolved (allowed 0)"
    assert sorted(r["id"] for r in outcome.offending) == ["nt-150", "nt-151"]
    # All of January's (150, over the critical threshold of 100) are the final cutoff's.
    final = Case(dead_letters=letters, meta={"cutoff": "2025-01-28T23:59:59+08:00"})
    result = final.run(campaign=CAMPAIGN)
    assert "dead_letters.open_critical" in failed(result)
    handed_over = result.outcome("dead_letters.open_warning")
    assert handed_over.status == "passed"  # one grade fails per count, and it says which
    assert handed_over.observed == (
        "150 unresolved: more than 100, so the critical expectation reports them"
    )


def test_the_verdict_page_lists_the_letters_the_gate_counted(tmp_path: Path) -> None:
    c = write_campaign(tmp_path, broken=False, letters=0)
    rows = timeless(3, "2025-01-02T09:30:00+08:00").to_dicts()
    rows += timeless(1, "2024-12-21T10:00:00+08:00", first=3).to_dicts()
    c["letters"].write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert run_check(c) == 0
    quality = c["snapshot"] / "quality"
    result = json.loads((quality / "check-result.json").read_text())
    assert result["warnings"] == ["dead_letters.open_warning"]
    letters_text = " ".join(verdict(quality).sections["dead-letters"])
    assert "1 open, 0 dismissed" in letters_text
    assert "feed.jsonl:4" in letters_text and "feed.jsonl:1" not in letters_text
