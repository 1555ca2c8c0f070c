"""GB/T 4754-2017 codes and the report row of each division (SPEC 4.1)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts.errors import ValidationError
from contracts.industry import (
    DIVISIONS,
    ROW_DIVISIONS,
    ROW_KEYS,
    SECTIONS,
    Industry,
    parse_industry,
    row_of_division,
    section_of,
)


def test_the_standard_has_97_divisions_numbered_01_to_97() -> None:
    assert sorted(DIVISIONS) == list(range(1, 98))


def test_sections_a_to_t_tile_the_divisions() -> None:
    covered = [d for first, last, _ in SECTIONS.values() for d in range(first, last + 1)]
    assert covered == list(range(1, 98))
    assert list(SECTIONS) == list("ABCDEFGHIJKLMNOPQRST")


@pytest.mark.parametrize(
    ("division", "section"),
    [
        (1, "A"),
        (5, "A"),
        (11, "B"),
        (43, "C"),
        (47, "E"),
        (50, "E"),
        (79, "N"),
        (85, "Q"),
        (90, "R"),
        (96, "S"),
        (97, "T"),
    ],
)
def test_section_of(division: int, section: str) -> None:
    assert section_of(division) == section


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("47", Industry("47", "E", 47)),
        ("471", Industry("471", "E", 47)),
        ("4710", Industry("4710", "E", 47)),
        ("E4710", Industry("4710", "E", 47)),
        ("05", Industry("05", "A", 5)),
        ("C3311", Industry("3311", "C", 33)),
    ],
)
def test_parse_industry_accepts_division_group_and_class(code: str, expected: Industry) -> None:
    assert parse_industry(code) == expected


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        (47, "industry.type"),
        ("4", "industry.format"),
        ("47101", "industry.format"),
        ("e4710", "industry.format"),
        ("EE47", "industry.format"),
        ("00", "industry.division"),
        ("98", "industry.division"),
        ("F4710", "industry.section"),
    ],
)
def test_parse_industry_rejects(code: object, reason: str) -> None:
    with pytest.raises(ValidationError) as info:
        parse_industry(code, field="payload.employer.industry")
    assert info.value.reason == reason
    assert str(info.value).startswith("payload.employer.industry")


def test_section_mismatch_message_says_which_section() -> None:
    with pytest.raises(ValidationError, match="is in section E, not F"):
        parse_industry("F4710")


@pytest.mark.parametrize(
    ("division", "row"),
    [
        (47, "construction"),
        (50, "construction"),
        (13, "manufacturing"),
        (42, "manufacturing"),
        (43, "services"),
        (5, "services"),
        (11, "services"),
        (51, "services"),
        (97, "services"),
        (1, "other"),
        (4, "other"),
        (6, "other"),
        (10, "other"),
        (12, "other"),
        (44, "other"),
        (46, "other"),
    ],
)
def test_rows_follow_spec_4_1(division: int, row: str) -> None:
    assert row_of_division(division) == row
    assert Industry(f"{division:02d}", section_of(division), division).row == row


def test_row_of_an_unknown_division_is_a_validation_error() -> None:
    with pytest.raises(ValidationError) as info:
        row_of_division(98)
    assert info.value.reason == "industry.division"


def test_row_table_lists_the_four_rows_in_form_order() -> None:
    assert ROW_KEYS == ("construction", "manufacturing", "services", "other")
    assert set(ROW_DIVISIONS) == set(ROW_KEYS)


@given(st.integers(1, 97))
def test_every_division_maps_to_exactly_one_row(division: int) -> None:
    rows = [row for row, divisions in ROW_DIVISIONS.items() if division in divisions]
    assert rows == [row_of_division(division)]
