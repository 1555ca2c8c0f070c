"""`arrears worker`'s status line: what it says from the worker's /status/ and the lag."""

from __future__ import annotations

import re
from typing import Any

import pytest
from kafka import TopicPartition
from kafka.structs import OffsetAndMetadata

from pipeline.flows import worker_status
from pipeline.flows.worker_status import StatusLine, describe


def test_the_status_line_names_partitions_events_lag_and_last_commit() -> None:
    status = {"ready": True, "partitions": [0, 2], "counts": {"applied": 12345, "duplicate": 3}}
    line = describe("w1", status, {"t.inspection": 0, "t.court": 12}, "12:03:04")
    assert line == (
        "worker w1: partitions 0,2; 12,345 events applied; lag t.court 12, t.inspection 0; "
        "last commit 12:03:04"
    )


def test_unknowns_are_said_plainly() -> None:
    line = describe("w1", {"ready": False, "partitions": [], "counts": {}}, None, None)
    assert line == (
        "worker w1 (recovering or rebalancing): partitions none; 0 events applied; lag ?; "
        "last commit none yet"
    )


def test_a_worker_that_answered_before_is_not_said_to_be_starting() -> None:
    from pipeline.commands.worker import free_port

    line = StatusLine(
        "w1", f"http://127.0.0.1:{free_port()}", "localhost:1", "g", {}, every=0, say=print
    )
    assert "starting (no answer yet at " in line.line()  # nobody listens there
    line._last = ({"ready": True, "partitions": [0], "counts": {}}, {})  # it answered once
    assert line.line().endswith("/status/ (stopping or busy)")  # after Ctrl-C, say


def test_the_last_commit_is_given_with_its_offset(monkeypatch: pytest.MonkeyPatch) -> None:
    class Admin:  # the group's committed offsets, as kafka-python's admin lists them
        def list_group_offsets(self, groups: dict[str, None]) -> dict[str, Any]:
            return {"g": {TopicPartition("t.court", 0): OffsetAndMetadata(7, "", -1)}}

    monkeypatch.setattr(worker_status, "end_offsets", lambda admin, tps: {})
    topics = {"t.court": "court"}
    line = StatusLine("w1", "http://x", "localhost:1", "g", topics, every=0, say=print)
    line._admin = Admin()  # type: ignore[assignment]
    assert line._lag([0]) == {"court": 0}
    assert re.fullmatch(r"\d\d:\d\d:\d\d\+08:00", line._last_commit or ""), line._last_commit
