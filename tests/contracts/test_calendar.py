"""The campaign calendar: SPEC 2 dates, working days from chinesecalendar, config as data."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts.calendar import (
    CST,
    CalendarError,
    is_working_day,
    load_campaign,
    working_days_after,
    working_days_between,
)

D = dt.date


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


@pytest.fixture(scope="module")
def campaign():
    return load_campaign()


def dues(campaign) -> dict[tuple[str, str], dt.datetime]:
    return {(d.level, d.cutoff): d.due for d in campaign.due_dates()}


# --- working days (SPEC 2: the Spring Festival 2025 holiday and its make-up days) ---


@pytest.mark.parametrize("day", [D(2025, 1, 28) + dt.timedelta(days=i) for i in range(8)])
def test_spring_festival_2025_is_a_holiday(day):
    assert not is_working_day(day)


@pytest.mark.parametrize("day", [D(2025, 1, 26), D(2025, 2, 8)])
def test_make_up_weekend_days_are_working_days(day):
    assert day.weekday() >= 5
    assert is_working_day(day)


def test_new_year_2025_is_a_holiday():
    assert not is_working_day(D(2025, 1, 1))
    assert working_days_between(D(2024, 12, 31), D(2025, 1, 3)) == 2


def test_working_days_after_campaign_end():
    end = D(2025, 1, 28)
    assert [working_days_after(end, n) for n in range(1, 6)] == [
        D(2025, 2, 5),
        D(2025, 2, 6),
        D(2025, 2, 7),
        D(2025, 2, 8),
        D(2025, 2, 10),
    ]
    assert working_days_after(end, 0) == end


def test_working_days_between_is_signed():
    assert working_days_between(D(2025, 1, 28), D(2025, 2, 10)) == 5
    assert working_days_between(D(2025, 2, 10), D(2025, 1, 28)) == -5
    assert working_days_between(D(2025, 2, 5), D(2025, 2, 5)) == 0


@given(st.dates(D(2024, 1, 1), D(2025, 12, 1)), st.integers(0, 30))
def test_after_and_between_agree(day, n):
    assert working_days_between(day, working_days_after(day, n)) == n


def test_negative_n_is_an_error():
    with pytest.raises(CalendarError, match="n must be >= 0"):
        working_days_after(D(2025, 1, 1), -1)


def test_year_without_holiday_data_is_a_clear_error():
    with pytest.raises(CalendarError, match="no holiday data for 2099"):
        is_working_day(D(2099, 1, 5))


# --- the shipped campaign (SPEC 2 table) ---


def test_window_and_cutoffs(campaign):
    assert campaign.window_start == at("2024-11-01T00:00:00+08:00")
    assert campaign.window_end == at("2025-01-28T23:59:59+08:00")
    assert campaign.cutoffs["progress"].at == at("2024-12-31T23:59:59+08:00")
    assert campaign.cutoffs["final"].at == campaign.window_end
    assert campaign.window_end.utcoffset() == dt.timedelta(hours=8)


def test_in_window_includes_both_ends(campaign):
    assert campaign.in_window(at("2024-11-01T00:00:00+08:00"))
    assert campaign.in_window(at("2025-01-28T23:59:59.999+08:00"))
    assert not campaign.in_window(at("2025-01-29T00:00:00+08:00"))
    assert not campaign.in_window(at("2024-10-31T23:59:59+08:00"))
    # the same instant in another offset
    assert campaign.in_window(at("2024-10-31T16:00:00+00:00"))
    assert not campaign.in_window(at("2024-10-31T15:59:59+00:00"))


def test_in_window_rejects_naive_times(campaign):
    with pytest.raises(CalendarError, match="no UTC offset"):
        campaign.in_window(dt.datetime(2024, 12, 1))


def test_due_dates_of_spec_2(campaign):
    due = dues(campaign)
    assert due[("district", "progress")] == at("2024-12-31T17:30:00+08:00")
    assert due[("city", "progress")].date() == D(2025, 1, 3)
    assert due[("province", "progress")].date() == D(2025, 1, 6)
    # final: N working days after the campaign ends, from the library
    assert due[("city", "final")].date() == working_days_after(D(2025, 1, 28), 2) == D(2025, 2, 6)
    assert (
        due[("province", "final")].date() == working_days_after(D(2025, 1, 28), 5) == D(2025, 2, 10)
    )
    assert all(
        d.tzinfo is not None and d.utcoffset() == dt.timedelta(hours=8) for d in due.values()
    )


def test_due_dates_are_ordered_by_level(campaign):
    levels = [d.level for d in campaign.due_dates()]
    assert levels == sorted(levels, key=campaign.levels.index)
    assert all(
        d.to == campaign.levels[campaign.levels.index(d.level) + 1] for d in campaign.due_dates()
    )


# --- another campaign is another file ---

NEXT_WINTER = """
[campaign]
id = "winter-2025"
name = "next winter"
window_start = 2025-11-01T00:00:00+08:00
window_end = 2026-02-15T23:59:59+08:00

[cutoffs.progress]
label = "progress"
at = 2025-12-31T23:59:59+08:00

[cutoffs.final]
at = "window_end"

[levels]
order = ["city", "province"]

[[report]]
level = "city"
to = "province"
cutoff = "progress"
due = { working_days = 3, after = "progress", time = "17:30" }

[[report]]
level = "city"
to = "province"
cutoff = "final"
due = 2026-02-20
"""


def test_a_new_campaign_needs_only_a_new_file(tmp_path: Path):
    path = tmp_path / "campaign-2025.toml"
    path.write_text(NEXT_WINTER, encoding="utf-8")
    c = load_campaign(path)
    assert c.id == "winter-2025"
    assert c.in_window(at("2026-02-01T12:00:00+08:00"))
    due = dues(c)
    expected = working_days_after(D(2025, 12, 31), 3)
    assert due[("city", "progress")] == dt.datetime(
        expected.year, expected.month, expected.day, 17, 30, tzinfo=CST
    )
    assert due[("city", "final")] == at("2026-02-20T23:59:59+08:00")


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            ("window_end = 2026-02-15T23:59:59+08:00", "window_end = 2026-02-15T23:59:59"),
            "window_end.*offset",
        ),
        (('at = "window_end"', 'at = "window_middle"'), "cutoffs.final.at"),
        (
            ("at = 2025-12-31T23:59:59+08:00", "at = 2027-01-01T00:00:00+08:00"),
            "outside the window",
        ),
        (('cutoff = "final"', 'cutoff = "midterm"'), "expected one of progress, final"),
        (
            ('to = "province"\ncutoff = "final"', 'to = "nation"\ncutoff = "final"'),
            "report\\[1\\].to",
        ),
        (("due = 2026-02-20", 'due = "soon"'), "report\\[1\\].due"),
    ],
)
def test_bad_config_says_what_and_where(tmp_path: Path, edit, message):
    old, new = edit
    assert old in NEXT_WINTER
    path = tmp_path / "bad.toml"
    path.write_text(NEXT_WINTER.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(CalendarError, match=message):
        load_campaign(path)


def test_missing_and_broken_files(tmp_path: Path):
    with pytest.raises(CalendarError, match="does not exist"):
        load_campaign(tmp_path / "nope.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("[campaign\n", encoding="utf-8")
    with pytest.raises(CalendarError, match="not valid TOML"):
        load_campaign(broken)
