"""The shortcuts parse_event takes for speed give the answers of the full checks they skip."""

import dataclasses
import hashlib
import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts import events, fields, industry, objects, payloads, uscc
from contracts.errors import ValidationError
from contracts.events import TYPES, content_hash_of, event_from, parse_event
from contracts.industry import parse_industry
from contracts.objects import Employer, Project
from contracts.payloads import EmployerInspected
from contracts.records import (
    DECODER,
    canonical_bytes,
    decode,
    event_json,
    quick_load,
    strict_load,
)
from contracts.registry import Registry
from contracts.uscc import validate_uscc

FIXTURES = Path(__file__).parents[1] / "fixtures"
GOOD_LINES = (FIXTURES / "good_events.jsonl").read_bytes().splitlines()


@pytest.fixture(scope="module")
def registry() -> Registry:
    return Registry.load()


def good(type_: str) -> dict[str, Any]:
    return next(e for e in map(json.loads, GOOD_LINES) if e["type"] == type_)


def reason(raw: Any, registry: Registry) -> str:
    with pytest.raises(ValidationError) as info:
        parse_event(raw, registry)
    return info.value.reason


def dumps(value: Any) -> str:
    """The canonical JSON as first defined: the text every stored content hash was made of."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


# --- decoding: the short cut for a bare JSON value, and decode() for everything else ------------


@pytest.mark.parametrize(
    "text",
    [
        '{"a":1}',
        ' {"a":1}',
        '{"a":1}\n',
        '{"a":1}\r\n',
        '\t{"a":1} ',
        '{"a":1} x',
        '{"a":1}{}',
        '{"a":1',
        "",
        "  ",
        "x",
        '"s"',
        "[1,2]",
        '{"a":1,"a":2}',
        '{"a":NaN}',
        '{"a":\n1}',
    ],
)
def test_decode_answers_as_json_decoder_decode(text: str) -> None:
    def outcome(decode: Any) -> Any:
        try:
            return decode(text)
        except (ValueError, ValidationError) as err:
            return type(err), str(err)

    assert outcome(decode) == outcome(DECODER.decode)


# --- orjson's quick reading: parse_event answers as with the strict decoder alone -------------

BAD_LINES = (FIXTURES / "bad_events.jsonl").read_bytes().splitlines()


def compact(line: bytes) -> bytes:
    """The record as the pipeline writes it: no white space, no escapes."""
    return json.dumps(json.loads(line), ensure_ascii=False, separators=(",", ":")).encode()


COMPACT_LINES = [compact(line) for line in GOOD_LINES]


def strict_outcome(raw: bytes, registry: Registry) -> Any:
    """parse_event's answer had it read the record with the strict decoder only."""
    try:
        return event_from(strict_load(raw), raw, registry)
    except ValidationError as err:
        return err.reason, err.field, str(err)


def outcome(raw: bytes, registry: Registry) -> Any:
    try:
        return parse_event(raw, registry)
    except ValidationError as err:
        return err.reason, err.field, str(err)


def same_answer(raw: bytes, registry: Registry) -> None:
    fast, strict = outcome(raw, registry), strict_outcome(raw, registry)
    assert fast == strict
    if isinstance(fast, events.Event):  # raw (compare=False) too: it is what gets hashed
        assert fast.raw == strict.raw and list(fast.raw) == list(strict.raw)
        assert fast.content_hash == strict.content_hash == content_hash_of(raw)
        # whatever an accepted record holds, its hash is that of the canonical JSON
        assert fast.content_hash == hashlib.sha256(dumps(strict.raw).encode()).hexdigest()


@pytest.mark.parametrize("line", GOOD_LINES + COMPACT_LINES + BAD_LINES)
def test_the_fixtures_read_alike(line: bytes, registry: Registry) -> None:
    same_answer(line, registry)


def test_compact_valid_records_take_the_quick_reading() -> None:
    assert all(quick_load(line) == json.loads(line) for line in COMPACT_LINES)


def test_the_quick_reading_is_taken_for_records_it_reads_as_the_strict_decoder() -> None:
    line = COMPACT_LINES[0]
    assert quick_load(line) == json.loads(line)
    assert quick_load(b'{"a":1,"a":2}') is None  # a repeated key
    assert quick_load(b'{"a":"\\u00e9"}') is None  # an escape
    assert quick_load(b'{"a":1.50}') is None and quick_load(b'{"a":-0}') is None
    assert quick_load(b'[{"a":1}]') is None and quick_load(b'{"a":1') is None
    # white space between tokens: read, unless something else differs too
    spaced = b'{"a" : 1,\n "b": {"t": "12:00 am", "n": null, "l": [1, 2]}}'
    assert quick_load(spaced) == json.loads(spaced)
    assert quick_load(b'{"a": 1, "b": {"t": "12:00", "t": "13:00"}}') is None
    assert quick_load(b'{"a": 1, "b": {"t": "a b", "t": "a"}}') is None
    assert quick_load(b'{"a": 1e2}') is None and quick_load(b'{"a": -0, "a": 1}') is None


def test_records_with_spaced_separators_take_the_quick_reading(registry: Registry) -> None:
    for line in GOOD_LINES:  # written with json.dumps's default separators
        assert b'": ' in line[:64]
        assert quick_load(line) == json.loads(line)
        same_answer(line, registry)


@pytest.mark.parametrize(
    "mend",
    [
        lambda e: e.replace(b'"unit":', b'"unit":"320000","unit":', 1),  # repeated, first shadowed
        lambda e: e.replace(b'"payload":{', b'"payload":{"workers":1,', 1),
        lambda e: e[:-1] + b',"recorded_at":null}',
        lambda e: e.replace(b'"workers":', b'"workers":18446744073709551616,"x":', 1),
        lambda e: e.replace(b'"workers":400', b'"workers":18446744073709551616', 1),
        # orjson reads it as the float 1.2345678901234568e+21, written back just as long
        lambda e: e.replace(b'"workers":400', b'"workers":1234567890123456789012', 1),
        lambda e: e.replace(b'"workers":400', b'"workers":4e2', 1),
        lambda e: e.replace(b'"workers":400', b'"workers":400.0', 1),
        lambda e: e.replace(b'"workers":400', b'"workers":400 ', 1),
        lambda e: e.replace(b'"method":"online"', b'"method":"online","method":"onsite"', 1),
        lambda e: e.replace(b'"name":"', b'"name":"\\u0041', 1),
        lambda e: e.replace(b'"name":"', b'"name":"\x7f\xe2\x80\xa8', 1),
        lambda e: e.replace(b'"name":"', b'"name":"\x01', 1),
    ],
)
def test_tricky_records_read_alike(mend: Any, registry: Registry) -> None:
    line = next(line for line in COMPACT_LINES if b'"workers":' in line and b'"method":"' in line)
    line = re.sub(rb'"workers":\d+', b'"workers":400', line)
    line = re.sub(rb'"method":"[a-z]+"', b'"method":"online"', line)
    assert isinstance(parse_event(line, registry), events.Event) and quick_load(line)
    same_answer(line, registry)
    same_answer(mend(line), registry)


@given(st.data())
def test_edited_records_read_alike(data: st.DataObject) -> None:
    registry = Registry.load()
    line = data.draw(st.sampled_from(COMPACT_LINES))
    event = json.loads(line)
    target = data.draw(st.sampled_from(["top", "payload"]))
    obj = event if target == "top" else event["payload"]
    key = data.draw(st.sampled_from(sorted(obj)) | st.text(max_size=3))
    obj[key] = data.draw(_JSON)
    separators = data.draw(st.sampled_from([(",", ":"), (", ", ": "), (" ,", " : ")]))
    text = json.dumps(event, ensure_ascii=False, separators=separators).encode()
    if data.draw(st.booleans()):  # the same key again, later in the object
        at = text.rfind(b"}")
        text = (
            text[:at]
            + b","
            + json.dumps(key).encode()
            + b":"
            + json.dumps(data.draw(_JSON)).encode()
            + text[at:]
        )
    same_answer(text, registry)


# --- the content hash: the prebuilt encoder writes what json.dumps writes ----------------------


@pytest.mark.parametrize("line", GOOD_LINES)
def test_content_hash_is_sha256_of_the_canonical_json(line: bytes, registry: Registry) -> None:
    event = parse_event(line, registry)
    assert event.to_json() == dumps(json.loads(line))
    assert event.content_hash == hashlib.sha256(dumps(json.loads(line)).encode()).hexdigest()


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(st.dictionaries(st.text(), _JSON, max_size=6))
def test_event_encoder_matches_json_dumps(value: dict[str, Any]) -> None:
    # control characters, quotes, non-BMP text, big integers, NaN: byte for byte the same
    assert event_json(value) == dumps(value)


_FLOATLESS = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(st.dictionaries(st.text(), _FLOATLESS, max_size=6))
def test_canonical_bytes_match_json_dumps(value: dict[str, Any]) -> None:
    # what a valid event can hold (no floats): control characters, quotes, non-BMP text,
    # integers past 64 bits (the standard encoder's turn), keys sorted alike
    assert canonical_bytes(value) == dumps(value).encode()


def test_canonical_bytes_cover_all_of_unicode() -> None:
    chars = [chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]
    for at in range(0, len(chars), 4096):
        text = "".join(chars[at : at + 4096])
        value = {"k" + text: text, "a": [text, {text[:9]: -(2**70)}], "b": 2**64 - 1}
        assert canonical_bytes(value) == dumps(value).encode()


# --- employers and projects seen before are reused only when equal, types included -----------


def test_a_known_project_with_a_number_for_a_boolean_is_still_rejected(registry: Registry) -> None:
    raw = good("employer.inspected")
    parse_event(raw, registry)  # now known, with "government_investment": true
    assert raw["payload"]["project"]["government_investment"] is True
    raw["payload"]["project"]["government_investment"] = 1  # 1 == True, and hashes alike
    assert reason(raw, registry) == "project.government_investment.type"
    raw["payload"]["project"]["government_investment"] = True
    raw["payload"]["project"]["soe"] = 0.0  # == False
    assert reason(raw, registry) == "project.soe.type"


def test_a_known_employer_with_one_more_key_or_an_array_is_still_rejected(
    registry: Registry,
) -> None:
    raw = good("arrears.verified")
    parse_event(raw, registry)
    employer = raw["payload"]["employer"]
    raw["payload"]["employer"] = dict(employer, extra="x")
    assert reason(raw, registry) == "field.unknown"
    raw["payload"]["employer"] = dict(employer, industry=[employer["industry"]])
    assert reason(raw, registry) == "industry.type"
    raw["payload"]["employer"] = {k: employer[k] for k in ("id", "name")}
    assert reason(raw, registry) == "field.missing"


def test_a_known_employer_names_its_own_path_when_it_is_wrong(registry: Registry) -> None:
    raw = good("lead.received")
    parse_event(raw, registry)
    raw["payload"]["employer"]["name"] = " "
    with pytest.raises(ValidationError) as info:
        parse_event(raw, registry)
    assert info.value.field == "payload.employer.name"


def test_reused_models_are_equal_to_fresh_ones(registry: Registry) -> None:
    raw = good("employer.inspected")
    known = parse_event(raw, registry).payload
    fields._SEEN.clear(), uscc._VALID.clear(), industry._PARSED.clear()
    fresh = parse_event(raw, registry).payload
    assert isinstance(fresh, EmployerInspected) and isinstance(known, EmployerInspected)
    assert fresh == known and fresh.employer is not known.employer
    again = parse_event(raw, registry).payload
    assert isinstance(again, EmployerInspected) and again.employer is fresh.employer


def test_the_memos_stay_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fields, "_SEEN", {})
    monkeypatch.setattr(fields, "_SEEN_MAX", 2)
    for n in range(5):
        project = {"id": f"P-{n}", "name": "某项目", "government_investment": False, "soe": False}
        assert objects.parse_project(project, "payload.project") == Project(
            f"P-{n}", "某项目", False, False
        )
        assert len(fields._SEEN) <= 2
    monkeypatch.setattr(uscc, "_VALID", set())
    monkeypatch.setattr(uscc, "_VALID_MAX", 1)
    for code in ("91440300708461136T", "914403001922038216", "91440300708461136T"):
        assert validate_uscc(code) == code and len(uscc._VALID) <= 1
    monkeypatch.setattr(industry, "_PARSED", {})
    monkeypatch.setattr(industry, "_PARSED_MAX", 1)
    for code in ("E4710", "3411", "E4710"):
        assert parse_industry(code).code == code.lstrip("E") and len(industry._PARSED) <= 1


def test_a_known_code_is_still_checked_when_it_differs_by_one_character() -> None:
    assert validate_uscc("91320412MA1N2J6P5X") == "91320412MA1N2J6P5X"
    with pytest.raises(ValidationError) as info:
        validate_uscc("91320412MA1N2J6P5K", field="payload.employer.id")
    assert info.value.reason == "uscc.check_char"
    assert parse_industry("E4710").division == 47
    with pytest.raises(ValidationError) as info:
        parse_industry("C4710")
    assert info.value.reason == "industry.section"


# --- the compiled builders answer as the plain field-by-field reading ---------------------------


def read_field_by_field(cls: type, table: tuple[fields.Field, ...], value: Any, field: str) -> Any:
    """`fields.model` as first written: check the keys, then parse each field in turn."""
    if not isinstance(value, dict):
        raise ValidationError(field, value, "not an object", reason="payload.not_object")
    for f in table:
        if f.required and f.key not in value:
            raise ValidationError(f"{field}.{f.key}", value, "missing", reason="field.missing")
    for key in value:
        if key not in {f.key for f in table}:
            raise ValidationError(f"{field}.{key}", value, "unknown", reason="field.unknown")
    args = []
    for f in table:
        item = value.get(f.key)
        args.append(None if item is None and not f.required else f.parse(item, f"{field}.{f.key}"))
    return cls(*args)


def answer(read: Any, *args: Any) -> Any:
    try:
        return read(*args)
    except ValidationError as err:
        return (err.field, err.reason)


@pytest.mark.parametrize("line", COMPACT_LINES)
def test_compiled_models_read_each_field_absent_or_null_as_the_field_by_field_reading(
    line: bytes,
) -> None:
    event = json.loads(line)
    cls = TYPES[event["source"]][event["type"]]
    for f in cls.FIELDS:
        for edit in ("absent", "null"):
            payload = dict(event["payload"])
            payload.pop(f.key, None) if edit == "absent" else payload.update({f.key: None})
            read = answer(fields.model, cls, cls.FIELDS, payload, "payload")
            assert read == answer(read_field_by_field, cls, cls.FIELDS, payload, "payload")


@given(st.data())
def test_compiled_models_answer_as_the_field_by_field_reading(data: st.DataObject) -> None:
    event = json.loads(data.draw(st.sampled_from(COMPACT_LINES)))
    cls = TYPES[event["source"]][event["type"]]
    payload = event["payload"]
    for _ in range(data.draw(st.integers(0, 3))):
        known = sorted({*payload, *(f.key for f in cls.FIELDS)})
        key = data.draw(st.sampled_from(known) | st.text(max_size=3))
        if data.draw(st.booleans()):
            payload.pop(key, None)
        else:
            payload[key] = data.draw(_JSON | st.sampled_from([None, 0, "", " ", "x" * 129]))
    fields._SEEN.clear()
    compiled = answer(fields.model, cls, cls.FIELDS, payload, "payload")
    fields._SEEN.clear()
    assert compiled == answer(read_field_by_field, cls, cls.FIELDS, payload, "payload")


# --- models are built from positional arguments in FIELDS order --------------------------------


@pytest.mark.parametrize(
    "model",
    sorted({m for types in TYPES.values() for m in types.values()}, key=lambda m: m.__name__),
)
def test_fields_are_declared_in_attribute_order(model: type[payloads.Payload]) -> None:
    keys = [f.attr or f.key for f in model.FIELDS]
    assert keys == [f.name for f in dataclasses.fields(model)]  # type: ignore[arg-type]


def test_employer_and_project_fields_are_in_attribute_order() -> None:
    for cls, table in ((Employer, objects._EMPLOYER), (Project, objects._PROJECT)):
        assert [f.key for f in table] == [f.name for f in dataclasses.fields(cls)]
