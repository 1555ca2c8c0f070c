"""What `streams.changelog.encode` writes is what Faust's `json` codec reads back."""

from __future__ import annotations

import json
from typing import Any

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
    # keys are json.dumps's own bytes (compaction keys records by them); values decode as
    # json.loads would (Faust's json codec), non-ASCII text and integers past 64 bits included
    assert [k for k, _ in out] == [json.dumps(k).encode() for k, _ in chunk]
    assert [json.loads(v) for _, v in out] == [v for _, v in chunk]


def test_a_journal_without_an_event_count_has_none() -> None:
    ((_, value),) = encode([("J|3", {"a": {}, "w": {"K|3|x": ["统计", 1]}})])
    assert json.loads(value) == {"a": {}, "w": {"K|3|x": ["统计", 1]}}
