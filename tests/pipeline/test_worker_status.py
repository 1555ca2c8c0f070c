"""`arrears worker`'s status line: what it says from the worker's /status/ and the lag."""

from __future__ import annotations

from pipeline.flows.worker_status import describe


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
