"""Unified social credit codes: the standard's check character and the embedded org code."""

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts.errors import ValidationError
from contracts.uscc import (
    CHARSET,
    make_uscc,
    org_check_digit,
    org_code_ok,
    uscc_check_char,
    validate_uscc,
)

# Published codes of well-known companies (business licences are public).
REAL_CODES = [
    "91440300708461136T",  # 深圳市腾讯计算机系统有限公司
    "914403001922038216",  # 华为技术有限公司
]
VALID = "91320412MA1N2J6P5X"


def reason_of(code: object) -> str:
    with pytest.raises(ValidationError) as info:
        validate_uscc(code, field="payload.employer.id")
    assert info.value.field == "payload.employer.id"
    return info.value.reason


@pytest.mark.parametrize("code", REAL_CODES)
def test_real_codes_pass(code: str) -> None:
    assert validate_uscc(code) == code


def test_charset_has_31_characters_without_the_confusable_letters() -> None:
    assert len(CHARSET) == 31 and not set("IOZSV") & set(CHARSET)


def test_check_char_and_org_digit_match_the_standard() -> None:
    assert uscc_check_char("91440300708461136") == "T"
    assert org_check_digit("70846113") == "6"
    assert org_check_digit("19220382") == "1"
    assert validate_uscc(VALID) == VALID


def test_org_check_digit_maps_10_to_x_and_11_to_0() -> None:
    assert org_check_digit("00000000") == "0"  # sum 0: 11 - 0 = 11 -> "0"
    assert org_check_digit("00000005") == "1"  # sum 10: 11 - 10 = 1
    assert org_check_digit("00000006") == "X"  # sum 12 = 1 mod 11: 11 - 1 = 10 -> "X"


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        (91320412, "uscc.type"),
        ("91320412MA1N2J6P5", "uscc.length"),
        ("91320412MA1N2J6P5KK", "uscc.length"),
        ("91320412MA1N2J6I5K", "uscc.char"),
        ("91320412ma1n2j6p5k", "uscc.char"),
        ("B1320412MA1N2J6P5K", "uscc.authority"),
        ("95320412MA1N2J6P5K", "uscc.org_type"),
        ("913204A2MA1N2J6P5K", "uscc.division"),
        ("91320412MA1N2J6P3X", "uscc.check_char"),  # org digit wrong too: named last
        ("91320412MA1N2J6P5K", "uscc.check_char"),
    ],
)
def test_each_defect_has_its_reason(code: object, reason: str) -> None:
    assert reason_of(code) == reason


def test_a_wrong_embedded_org_digit_is_accepted_and_told_apart() -> None:
    """Only the GB 32100 check character rejects a code: a wrong GB 11714 digit inside it
    (character 17; real codes issued before the standard's tightening carry one) is left to
    the quality suite's warning, so no real employer's figures are dropped."""
    code = "91320412MA1N2J6P3P"  # org digit should be 5; check character right for the rest
    assert org_check_digit("MA1N2J6P") == "5"
    assert validate_uscc(code) == code
    assert not org_code_ok(code)
    assert org_code_ok(VALID) and all(org_code_ok(c) for c in REAL_CODES)


def test_messages_say_what_to_fix() -> None:
    with pytest.raises(ValidationError) as info:
        validate_uscc("91320412MA1N2J6P5K", field="payload.employer.id")
    assert str(info.value) == (
        "payload.employer.id 91320412MA1N2J6P5K: check character should be X, got K"
    )
    with pytest.raises(ValidationError) as info:
        validate_uscc("91320412MA1N2J6I5K")
    assert "character 16 'I'" in str(info.value)
    with pytest.raises(ValidationError) as info:
        validate_uscc("91320412ma1n2j6p5k")
    assert "use upper case" in str(info.value)


def test_make_uscc_uses_the_division_and_rejects_a_bad_one() -> None:
    code = make_uscc(random.Random(7), division="320412")
    assert code[2:8] == "320412"
    with pytest.raises(ValueError):
        make_uscc(random.Random(7), division="3204")


@given(st.randoms(use_true_random=False))
def test_generated_codes_pass(rng: random.Random) -> None:
    code = make_uscc(rng)
    assert validate_uscc(code) == code


@given(st.randoms(use_true_random=False), st.integers(0, 17), st.integers(1, 30))
def test_any_single_character_change_fails(rng: random.Random, position: int, shift: int) -> None:
    code = make_uscc(rng)
    new_char = CHARSET[(CHARSET.index(code[position]) + shift) % 31]
    changed = code[:position] + new_char + code[position + 1 :]
    assert changed != code
    with pytest.raises(ValidationError):
        validate_uscc(changed)
