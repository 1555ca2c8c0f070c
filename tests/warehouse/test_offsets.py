"""Offset vectors: the text syntax, the JSON form, and clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from warehouse.errors import OffsetsError
from warehouse.offsets import behind, format_offsets, offsets_to_json, parse_offsets


def test_text_round_trip() -> None:
    text = "arrears.court:0=7,arrears.inspection:1=98,arrears.inspection:0=120"
    parsed = parse_offsets(text)
    assert parsed == {"arrears.court": {0: 7}, "arrears.inspection": {1: 98, 0: 120}}
    assert parse_offsets(format_offsets(parsed)) == parsed


def test_json_file_and_meta_json(tmp_path: Path) -> None:
    plain = tmp_path / "o.json"
    plain.write_text(json.dumps({"a.court": {"0": 3, "2": 5}}))
    assert parse_offsets(str(plain)) == {"a.court": {0: 3, 2: 5}}
    meta = tmp_path / "meta.json"
    meta.write_text(json.dumps({"snapshot_id": "x", "offsets": offsets_to_json({"a.x": {1: 4}})}))
    assert parse_offsets(str(meta)) == {"a.x": {1: 4}}


@pytest.mark.parametrize("bad", ["arrears.court:0", "court=3", "a:0=1,a:0=2", "a:x=1", ""])
def test_bad_vectors_say_what_is_expected(bad: str) -> None:
    with pytest.raises(OffsetsError, match="TOPIC:PARTITION=OFFSET|twice|empty"):
        parse_offsets(bad)


def test_offsets_are_ascii_digits() -> None:
    with pytest.raises(OffsetsError):
        parse_offsets("arrears.inspection:０=５")  # int() would read it as 0=5


def test_records_behind_the_log_end() -> None:
    end = {"a": {0: 10, 1: 5}, "b": {0: 7}}
    assert behind(end, end) == 0
    assert behind(end, {"a": {0: 4, 1: 5}}) == 6 + 7  # b never read: all 7 behind
    assert behind(end, {"a": {0: 12, 1: 5}, "b": {0: 7}}) == 0  # past the end counts nothing
