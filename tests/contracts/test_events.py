"""Event parsing: the fixtures of good and bad input, hashing, times, money and upcasting."""

import dataclasses
import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts.errors import ValidationError
from contracts.events import (
    MAX_YUAN,
    SCHEMA_VERSION,
    SOURCES,
    TYPES,
    Event,
    canonical_json,
    parse_event,
    upcast,
)
from contracts.payloads import CASE_NO, EmployerInspected, ExecutionConcluded, LeadReceived
from contracts.registry import Registry

FIXTURES = Path(__file__).parents[1] / "fixtures"
GOOD_LINES = (FIXTURES / "good_events.jsonl").read_bytes().splitlines()
BAD_LINES = (FIXTURES / "bad_events.jsonl").read_bytes().splitlines()
BAD_REASONS = [
    line
    for line in (FIXTURES / "bad_events.reasons").read_text().splitlines()
    if line and not line.startswith("#")
]


@pytest.fixture(scope="module")
def registry() -> Registry:
    return Registry.load()


def good(type_: str) -> dict[str, Any]:
    """A fresh copy of the first good fixture event of `type_`."""
    for line in GOOD_LINES:
        event = json.loads(line)
        if event["type"] == type_:
            return event
    raise LookupError(type_)


def reason(raw: Any, registry: Registry) -> str:
    with pytest.raises(ValidationError) as info:
        parse_event(raw, registry)
    return info.value.reason


# --- the fixture files -----------------------------------------------------------------------


@pytest.mark.parametrize("line", GOOD_LINES, ids=[json.loads(x)["event_id"] for x in GOOD_LINES])
def test_good_fixture_events_parse(line: bytes, registry: Registry) -> None:
    event = parse_event(line, registry)
    assert event.raw == json.loads(line)
    assert isinstance(event.payload, TYPES[event.source][event.type])


def test_good_fixtures_cover_every_type_of_every_source() -> None:
    seen = {(e["source"], e["type"]) for e in map(json.loads, GOOD_LINES)}
    for source, types in TYPES.items():
        for type_ in types:
            if type_ != "event.retracted":
                assert (source, type_) in seen
    assert any(t == "event.retracted" for _, t in seen)
    assert any("supersedes" in json.loads(line) for line in GOOD_LINES)


def test_bad_fixture_has_one_line_per_distinct_reason() -> None:
    assert len(BAD_LINES) == len(BAD_REASONS)
    assert len(set(BAD_REASONS)) == len(BAD_REASONS)


@pytest.mark.parametrize(
    ("line", "expected"), list(zip(BAD_LINES, BAD_REASONS, strict=True)), ids=BAD_REASONS
)
def test_each_bad_fixture_line_fails_with_its_own_reason(
    line: bytes, expected: str, registry: Registry
) -> None:
    with pytest.raises(ValidationError) as info:
        parse_event(line, registry)
    assert info.value.reason == expected
    assert str(info.value)  # a message a person can act on


# --- the envelope ----------------------------------------------------------------------------


def test_sources_and_types_follow_spec_5_2() -> None:
    assert SOURCES == ("inspection", "mediation", "court", "complaint")
    assert all("event.retracted" in types for types in TYPES.values())
    assert sum(len(types) for types in TYPES.values()) == 14 + 4


def test_times_are_normalised_to_cst(registry: Registry) -> None:
    raw = good("employer.inspected")
    raw["occurred_at"] = "2024-12-31T16:30:00Z"
    raw["recorded_at"] = "2025-01-02T09:00:00+09:00"
    event = parse_event(raw, registry)
    assert event.occurred_at == datetime.fromisoformat("2025-01-01T00:30:00+08:00")
    assert event.occurred_at.utcoffset() == timedelta(hours=8)
    assert event.occurred_at.isoformat() == "2025-01-01T00:30:00+08:00"
    assert event.recorded_at is not None and event.recorded_at.hour == 8


def test_date_without_time_has_no_offset(registry: Registry) -> None:
    raw = good("employer.inspected")
    raw["occurred_at"] = "2024-12-31"
    assert reason(raw, registry) == "occurred_at.no_offset"


def test_optional_fields_may_be_absent_or_null(registry: Registry) -> None:
    raw = good("employer.inspected")
    raw.pop("recorded_at")
    raw["supersedes"] = None
    raw["payload"]["project"] = None
    event = parse_event(raw, registry)
    assert event.recorded_at is None and event.supersedes is None
    assert isinstance(event.payload, EmployerInspected) and event.payload.project is None


def test_required_field_null_is_a_type_error(registry: Registry) -> None:
    raw = good("employer.inspected")
    raw["payload"]["workers"] = None
    assert reason(raw, registry) == "workers.type"


def test_unknown_payload_field_names_the_allowed_ones(registry: Registry) -> None:
    raw = good("lead.closed")
    raw["payload"]["note"] = "x"
    with pytest.raises(ValidationError) as info:
        parse_event(raw, registry)
    assert info.value.field == "payload.note"
    assert "allowed fields here: lead_id" in str(info.value)


def test_missing_nested_field_names_its_path(registry: Registry) -> None:
    raw = good("employer.inspected")
    del raw["payload"]["employer"]["industry"]
    with pytest.raises(ValidationError) as info:
        parse_event(raw, registry)
    assert info.value.reason == "field.missing"
    assert str(info.value) == (
        "payload.employer.industry: required field is missing; add 'industry'"
    )


def test_wrong_source_type_says_which_source_owns_it(registry: Registry) -> None:
    raw = good("employer.inspected")
    raw["source"] = "court"
    with pytest.raises(ValidationError, match="belongs to source inspection, not court"):
        parse_event(raw, registry)


def test_retraction_is_valid_for_every_source(registry: Registry) -> None:
    for source in SOURCES:
        raw = good("event.retracted")
        raw["source"] = source
        assert parse_event(raw, registry).source == source


def test_accepts_bytes_text_and_dict_alike(registry: Registry) -> None:
    line = GOOD_LINES[0]
    events = [
        parse_event(line, registry),
        parse_event(line.decode(), registry),
        parse_event(json.loads(line), registry),
    ]
    assert events[0] == events[1] == events[2]


def test_dict_input_is_copied_so_later_changes_do_not_leak(registry: Registry) -> None:
    raw = good("lead.closed")
    event = parse_event(raw, registry)
    raw["payload"]["lead_id"] = "changed"
    assert event.raw["payload"]["lead_id"] != "changed"


def test_nan_is_not_json(registry: Registry) -> None:
    line = GOOD_LINES[0].replace(b'"workers": 120', b'"workers": NaN')
    assert reason(line, registry) == "json.invalid"


def test_non_text_input_is_rejected(registry: Registry) -> None:
    assert reason(12, registry) == "json.invalid"


# --- the event model -------------------------------------------------------------------------


def test_events_are_frozen_and_versioned(registry: Registry) -> None:
    event = parse_event(GOOD_LINES[0], registry)
    assert event.schema_version == SCHEMA_VERSION == 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.unit = "320400"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.payload.workers = 1  # type: ignore[attr-defined]


def test_content_hash_ignores_key_order_and_white_space(registry: Registry) -> None:
    raw = good("arrears.verified")
    reordered = json.dumps(dict(reversed(list(raw.items()))), indent=2, ensure_ascii=True)
    a, b = parse_event(json.dumps(raw), registry), parse_event(reordered, registry)
    assert a.content_hash == b.content_hash
    assert len(a.content_hash) == 64
    changed = dict(raw, payload=dict(raw["payload"], amount="412500.01"))
    assert parse_event(changed, registry).content_hash != a.content_hash


def test_content_hash_sees_equal_amount_strings_as_different_content(registry: Registry) -> None:
    # "12.5" and "12.50" are the same money but not the same JSON: a resend must be byte-equal
    # as JSON values, so this is a conflict, not a no-op.
    raw = good("arrears.verified")
    other = dict(raw, payload=dict(raw["payload"], amount="412500.0"))
    a, b = parse_event(raw, registry), parse_event(other, registry)
    assert a.payload == b.payload and a.content_hash != b.content_hash


def test_to_json_is_canonical(registry: Registry) -> None:
    event = parse_event(GOOD_LINES[0], registry)
    assert event.to_json() == canonical_json(json.loads(GOOD_LINES[0]))
    assert "常州" in event.to_json()  # ensure_ascii=False: hashes the text as sent


def test_upcast_is_identity_for_v1_and_rejects_unknown_versions() -> None:
    raw = good("lead.closed")
    assert upcast(raw) is raw
    assert upcast(dict(raw, schema_version=1))["schema_version"] == 1
    for version in (0, 2, True, "1"):
        with pytest.raises(ValidationError) as info:
            upcast(dict(raw, schema_version=version))
        assert info.value.reason == "schema_version.unsupported"


# --- payload rules ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "fen"),
    [
        ("0", 0),
        ("0.01", 1),
        ("12500.50", 1250050),
        ("12500.5", 1250050),
        ("12500", 1250000),
        ("007", 700),
        ("0.07", 7),
        ("0" * 5000 + "1.5", 150),  # leading zeros are no digits of the amount
        ("9999999999.99", 999999999999),  # the most one event may carry (MAX_YUAN)
    ],
)
def test_amounts_are_exact_fen(text: str, fen: int, registry: Registry) -> None:
    raw = good("arrears.verified")
    raw["payload"]["amount"] = text
    assert parse_event(raw, registry).payload.amount_fen == fen  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        (100, "amount.type"),
        (True, "amount.type"),
        (None, "amount.type"),
        ("", "amount.format"),
        ("1e3", "amount.format"),
        (" 1", "amount.format"),
        ("¥100", "amount.format"),
        ("1.", "amount.format"),
        (".5", "amount.format"),
        ("+1", "amount.format"),
        ("1.234", "amount.decimals"),
        ("-0.01", "amount.negative"),
        ("-0", "amount.negative"),
    ],
)
def test_bad_amounts(amount: object, expected: str, registry: Registry) -> None:
    raw = good("arrears.verified")
    raw["payload"]["amount"] = amount
    assert reason(raw, registry) == expected


def test_json_number_amount_message_says_use_a_string(registry: Registry) -> None:
    raw = good("arrears.verified")
    raw["payload"]["amount"] = 100
    with pytest.raises(ValidationError, match='JSON string of yuan.*write it as a string: "100"'):
        parse_event(raw, registry)


@given(st.integers(min_value=0, max_value=MAX_YUAN * 100), st.sampled_from([0, 1, 2]))
def test_any_fen_amount_round_trips(fen: int, decimals: int) -> None:
    registry = Registry.load()
    yuan, cents = divmod(fen, 100)
    text = (
        f"{yuan}.{cents:02d}"
        if decimals == 2
        else (f"{yuan}.{cents // 10}" if decimals == 1 else str(yuan))
    )
    expected = yuan * 100 + (cents if decimals == 2 else (cents // 10) * 10 if decimals else 0)
    raw = good("arrears.verified")
    raw["payload"]["amount"] = text
    assert parse_event(raw, registry).payload.amount_fen == expected  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("workers", "expected"),
    [
        (True, "workers.type"),
        (3.0, "workers.type"),
        ("3", "workers.type"),
        (-1, "workers.negative"),
    ],
)
def test_bad_worker_counts(workers: object, expected: str, registry: Registry) -> None:
    raw = good("lead.received")
    raw["payload"]["workers_claimed"] = workers
    assert reason(raw, registry) == expected


def test_migrant_workers_may_equal_workers(registry: Registry) -> None:
    raw = good("employer.inspected")
    raw["payload"]["migrant_workers"] = raw["payload"]["workers"]
    assert parse_event(raw, registry)


def test_migrant_workers_above_workers_message(registry: Registry) -> None:
    raw = good("employer.inspected")
    raw["payload"]["migrant_workers"] = 121
    with pytest.raises(
        ValidationError, match=r"migrant_workers 121: cannot exceed workers \(120\)"
    ):
        parse_event(raw, registry)


@pytest.mark.parametrize(
    "case_no",
    [
        "(2024)苏0412执1234号",
        "（2024）苏0412执1234号",
        "(2024)苏0412执恢12号",
        "(2024)苏04执异5号",
        "(2023)苏执1号",
        "(2024)京0105执7号",
    ],
)
def test_court_case_numbers(case_no: str, registry: Registry) -> None:
    raw = good("execution.concluded")
    raw["payload"]["case_no"] = case_no
    event = parse_event(raw, registry)
    assert isinstance(event.payload, ExecutionConcluded) and event.payload.case_no == case_no


@pytest.mark.parametrize(
    "case_no",
    [
        "2024苏0412执1234号",
        "(24)苏0412执1234号",
        "(2024)X0412执1234号",
        "(2024)苏0412民1234号",
        "(2024)苏0412执1234",
        "(2024)苏041执1234号",
        "(2024)苏0412执号",
    ],
)
def test_bad_court_case_numbers(case_no: str, registry: Registry) -> None:
    assert CASE_NO.fullmatch(case_no) is None
    raw = good("execution.concluded")
    raw["payload"]["case_no"] = case_no
    assert reason(raw, registry) == "case_no.format"


def test_lead_without_employer(registry: Registry) -> None:
    raw = good("lead.received")
    del raw["payload"]["employer"], raw["payload"]["project"]
    event = parse_event(raw, registry)
    assert isinstance(event.payload, LeadReceived)
    assert event.payload.employer is None and event.payload.amount_claimed_fen == 9600000


def test_employer_is_parsed_into_codes(registry: Registry) -> None:
    event = parse_event(good("employer.inspected"), registry)
    assert isinstance(event.payload, EmployerInspected)
    employer = event.payload.employer
    assert employer.industry.section == "E" and employer.industry.row == "construction"
    assert event.payload.project is not None and event.payload.project.government_investment


def test_event_is_an_event(registry: Registry) -> None:
    assert isinstance(parse_event(GOOD_LINES[0], registry), Event)


@pytest.mark.parametrize("line", GOOD_LINES, ids=[json.loads(x)["event_id"] for x in GOOD_LINES])
def test_content_hash_of_a_valid_record_is_its_events(line: bytes, registry: Registry) -> None:
    from contracts.events import content_hash_of

    reordered = json.dumps(dict(reversed(list(json.loads(line).items()))), ensure_ascii=False)
    assert content_hash_of(line) == parse_event(line, registry).content_hash
    assert content_hash_of(reordered) == content_hash_of(line)  # the same content


# --- digits are ASCII digits -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("type_", "path", "value", "expected"),
    [
        ("arrears.verified", ("payload", "amount"), "２１６０００", "amount.format"),
        ("arrears.verified", ("payload", "amount"), "216000.５０", "amount.format"),
        ("arrears.verified", ("payload", "employer", "industry"), "E４７１０", "industry.format"),
        (
            "execution.concluded",
            ("payload", "case_no"),
            "(２０２４)苏0412执1234号",
            "case_no.format",
        ),
        (
            "execution.concluded",
            ("payload", "case_no"),
            "(2024)苏0412执１２３４号",
            "case_no.format",
        ),
        ("arrears.verified", ("unit",), "３２０４１２", "unit.format"),
        (
            "arrears.verified",
            ("occurred_at",),
            "２０２４-12-02T10:15:00+08:00",
            "occurred_at.format",
        ),
    ],
)
def test_full_width_and_other_non_ascii_digits_are_refused(
    type_: str, path: tuple[str, ...], value: str, expected: str, registry: Registry
) -> None:
    # Python's \d and int() take any Unicode digit: "２１６０００" read as 216000 yuan.
    raw = good(type_)
    target = raw
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    assert reason(raw, registry) == expected
