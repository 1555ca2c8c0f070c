"""The diagnostics trace (`arrears worker --trace FILE`): JSON lines on a logger, off by default."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from streams.trace import LOGGER, trace_to
from tests.contracts.eventkit import FACTORY, raw
from tests.streams.harness import Harness, run


@pytest.fixture
def trace_file(tmp_path: Path) -> Iterator[Path]:
    """The trace logger writing to a file for one test, as `--trace` sets it up."""
    path = tmp_path / "trace.jsonl"
    level, propagate = LOGGER.level, LOGGER.propagate
    handler = trace_to(path)
    try:
        yield path
    finally:
        LOGGER.removeHandler(handler)
        handler.close()
        LOGGER.setLevel(level)
        LOGGER.propagate = propagate


def _inspection(event_id: str) -> dict[str, object]:
    payload = {"employer": FACTORY, "workers": 4, "migrant_workers": 2, "method": "onsite"}
    return raw("employer.inspected", payload, at="2024-12-10T09:00:00+08:00", event_id=event_id)


def test_each_chunk_is_one_line_with_what_it_applied(trace_file: Path) -> None:
    async def body(h: Harness) -> None:
        await h.put(_inspection("t1"))
        await h.put(b"\xff not json")
        await h.put(_inspection("t1"), offset=0)  # delivered again: skipped

    run(body)
    lines = [json.loads(line) for line in trace_file.read_text(encoding="utf-8").splitlines()]
    assert {line["w"] for line in lines} == {"test"}
    writes = [line for line in lines if line["what"] == "chunk-write"]
    assert [(w["ev"], w["n"]) for w in writes] == [
        ([["<internal>", 0, "app"]], 8),  # the journal, the ledger entry, cells and keys
        ([["<internal>", 1, "rej"]], 1),  # rejected, yet applied: the journal moves on
        ([["<internal>", 0, "ski"]], 0),  # delivered again: nothing to write
    ]
    assert writes[1]["a"] == {"<internal>": 1} and writes[1]["p"] == 0
    whats = [line["what"] for line in lines]
    assert whats.count("chunk-start") == 3 and whats.count("chunk-sent") == 3
    assert all(isinstance(line["t"], float) and line["pid"] > 0 for line in lines)


def test_without_a_handler_nothing_is_traced(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)  # the worker's own log level does not switch it on

    async def body(h: Harness) -> None:
        assert not h.runtime.trace.enabled
        await h.put(_inspection("t2"))

    run(body)
    assert not [r for r in caplog.records if r.name == LOGGER.name]
