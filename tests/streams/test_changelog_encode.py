"""What `streams.changelog.encode` writes is what `json.loads` reads back (the changelog's
reader, `streams.ownership.read_committed`)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streams.changelog import encode

_leaf = st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.text(max_size=8)
_values = st.recursive(
    _leaf,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=12,
)
_keys = st.text(min_size=1, max_size=12).filter(lambda k: not k.startswith("J|"))


@given(st.dictionaries(_keys, _values, max_size=5), st.integers(0, 10**6))
def test_a_chunk_reads_back_as_it_was_written(writes: dict[str, Any], events: int) -> None:
    journal = {"a": {"t": 7}, "n": events, "w": writes}
    chunk = [("J|0", journal), *writes.items()]
    out = encode(chunk)
    # keys are json.dumps's own bytes (compaction keys records by them); values decode with
    # json.loads as they were, non-ASCII text and integers past 64 bits included
    assert [k for k, _ in out] == [json.dumps(k).encode() for k, _ in chunk]
    assert [json.loads(v) for _, v in out] == [v for _, v in chunk]


def test_a_journal_without_an_event_count_has_none() -> None:
    ((_, value),) = encode([("J|3", {"a": {}, "w": {"K|3|x": ["统计", 1]}})])
    assert json.loads(value) == {"a": {}, "w": {"K|3|x": ["统计", 1]}}


def test_a_value_json_cannot_write_still_fails_the_chunk() -> None:
    # orjson would write a datetime as text; the table would then differ from its changelog
    with pytest.raises(TypeError):
        encode([("K|0|x", {"at": dt.datetime(2024, 12, 31, 17, 30)})])
