"""No record can stop a reader: size, depth and range limits are reasons like any other, and
an unexpected failure while reading one record is a dead letter (`internal`), not a crash."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from contracts.deadletter import MAX_ORIGINAL, dead_letter_value
from contracts.errors import ValidationError
from contracts.events import MAX_DEPTH, MAX_RECORD_BYTES, nesting_depth, parse_event
from contracts.registry import Registry

REGISTRY = Registry.load()
GOOD = (Path(__file__).parent.parent / "fixtures" / "good_events.jsonl").read_bytes()
EVENT: dict[str, Any] = json.loads(GOOD.splitlines()[0])


def compact(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()


def reason_of(record: bytes | str) -> str:
    with pytest.raises(ValidationError) as caught:
        parse_event(record, REGISTRY)
    return caught.value.reason


@pytest.mark.parametrize("levels", [MAX_DEPTH + 1, 254, 1_100, 20_000])
def test_deep_nesting_is_json_depth_for_bytes_and_text(levels: int) -> None:
    deep = b"[" * levels + b"]" * levels
    record = compact(EVENT)[:-1] + b',"x":' + deep + b"}"
    assert reason_of(record) == "json.depth"
    assert reason_of(record.decode()) == "json.depth"


def test_brackets_inside_strings_do_not_count_as_nesting() -> None:
    obj = json.loads(json.dumps(EVENT))
    obj["payload"]["employer"]["name"] = "常州[[[{{{某}}}]]]" * 3 + '"\\'
    record = compact(obj)
    assert nesting_depth(record) == 3
    assert parse_event(record, REGISTRY).event_id == EVENT["event_id"]


@pytest.mark.parametrize("size", [MAX_RECORD_BYTES + 1, 2_000_000, 5_000_000])
def test_an_oversized_record_is_record_too_large(size: int) -> None:
    obj = json.loads(json.dumps(EVENT))
    obj["payload"]["employer"]["name"] = "x" * size
    assert reason_of(compact(obj)) == "record.too_large"


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("workers", 99999999999999999999, "workers.range"),
        ("workers", 10_000_001, "workers.range"),
        ("migrant_workers", 2**64, "workers.range"),
    ],
)
def test_integers_past_the_range_are_refused(field: str, value: int, reason: str) -> None:
    obj = json.loads(json.dumps(EVENT))
    obj["payload"][field] = value
    assert reason_of(compact(obj)) == reason  # the fast path reads 2**64+ as a float
    assert reason_of(json.dumps(obj)) == reason


@pytest.mark.parametrize(
    "amount", ["99999999999999999999.00", "10000000000.01", "9" * 5000, "0" * 30 + "1" * 12]
)
def test_amounts_past_the_range_are_refused(amount: str) -> None:
    verified = {
        "event_id": "insp-poison-1",
        "source": "inspection",
        "type": "arrears.verified",
        "occurred_at": "2024-12-02T10:15:00+08:00",
        "unit": "320412",
        "payload": {
            "case_id": "C-1",
            "employer": EVENT["payload"]["employer"],
            "workers": 3,
            "amount": amount,
        },
    }
    assert reason_of(compact(verified)) == "amount.range"
    verified["payload"]["amount"] = "10000000000.00"  # the limit itself is allowed
    assert parse_event(compact(verified), REGISTRY).event_id == "insp-poison-1"


def test_an_unexpected_failure_is_an_internal_rejection_not_a_crash() -> None:
    def unit(code: object, *, field: str = "unit") -> Any:
        raise RuntimeError("registry went away")

    broken = Registry(list(REGISTRY))
    broken.unit = unit  # type: ignore[method-assign]
    with pytest.raises(ValidationError) as caught:
        parse_event(GOOD.splitlines()[0], broken)
    assert caught.value.reason == "internal"
    assert "RuntimeError: registry went away" in str(caught.value)


def test_the_dead_letter_of_a_huge_record_fits_the_topic_and_names_the_whole() -> None:
    huge = b'{"event_id":"' + "长".encode() * 1_000_000 + b'"}'
    err = ValidationError("", None, "too large", reason="record.too_large")
    letter = dead_letter_value("id-1", huge, err, origin="ingest")
    assert len(json.dumps(letter, ensure_ascii=False).encode()) < 2 * MAX_ORIGINAL
    assert letter["original_truncated"] is True and letter["original_size"] == len(huge)
    assert "original_encoding" not in letter  # cut on a character boundary: still text
    assert huge.startswith(letter["original"].encode())
    assert letter["original_sha256"] == hashlib.sha256(huge).hexdigest()
    small = dead_letter_value("id-2", b"{}", err, origin="ingest")
    assert "original_truncated" not in small and small["original"] == "{}"


def test_a_record_keyed_by_another_unit_is_key_not_unit() -> None:
    from contracts.events import check_key

    event = parse_event(GOOD.splitlines()[0], REGISTRY)
    check_key(event, event.unit.encode())  # keyed by its unit: fine
    for key in (None, b"", b"320400", "武进".encode()):
        with pytest.raises(ValidationError) as caught:
            check_key(event, key)
        assert caught.value.reason == "key.not_unit" and event.unit in str(caught.value)
