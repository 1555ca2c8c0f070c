"""Merging the workers' parts: the figures and the offset vector are complete only together."""

from __future__ import annotations

from typing import Any

import pytest

from streams.live import Incomplete, merge

TOPICS = ("t.court", "t.inspection")


def part(
    worker: str,
    partitions: list[int],
    offsets: dict[str, dict[str, int]] | None = None,
    figures: list[list[Any]] | None = None,
    events: int | None = 0,
    ready: bool = True,
) -> dict[str, Any]:
    """A worker's `/own/` answer; offsets default to 10 * partition + 1 for every topic."""
    if offsets is None:
        offsets = {t: {str(p): 10 * p + 1 for p in partitions} for t in TOPICS}
    return {
        "worker_id": worker,
        "ready": ready,
        "partitions": partitions,
        "of": 3,
        "cutoff_day": 20088,
        "figures": figures or [],
        "offsets": offsets,
        "events": events,
    }


def test_parts_that_tile_the_partitions_give_the_whole_vector_and_sums() -> None:
    live = merge(
        [
            part("w1", [0, 2], figures=[["320412", "manufacturing.resolved", 2]], events=5),
            part("w2", [1], figures=[["320412", "manufacturing.resolved", 3]], events=7),
        ],
        3,
    )
    assert live.offsets == {t: {0: 1, 1: 11, 2: 21} for t in TOPICS}
    assert live.own[("320412", "manufacturing.resolved")] == 5
    assert live.events == 12 and live.workers == ["w1", "w2"]


def test_a_partition_nobody_owns_makes_it_incomplete() -> None:
    with pytest.raises(Incomplete, match=r"no ready worker owns partition\(s\) \[1\]"):
        merge([part("w1", [0, 2])], 3)


def test_a_worker_that_is_not_ready_does_not_count() -> None:
    with pytest.raises(Incomplete, match="w2 is recovering") as err:
        merge([part("w1", [0, 2]), part("w2", [1], ready=False)], 3)
    assert "partition(s) [1]" in str(err.value)


def test_a_partition_claimed_twice_makes_it_incomplete() -> None:
    with pytest.raises(Incomplete, match="partition 2 claimed by w1 and w2"):
        merge([part("w1", [0, 2]), part("w2", [1, 2])], 3)


def test_offsets_that_do_not_cover_the_workers_partitions_make_it_incomplete() -> None:
    short = {"t.court": {"0": 4, "2": 9}, "t.inspection": {"0": 4}}
    with pytest.raises(Incomplete, match=r"reports offsets of t.inspection for \[0\]"):
        merge([part("w1", [0, 2], offsets=short), part("w2", [1])], 3)


def test_workers_reporting_different_topics_make_it_incomplete() -> None:
    other = {"t.court": {"1": 3}}
    with pytest.raises(Incomplete, match="offsets of different source topics"):
        merge([part("w1", [0, 2]), part("w2", [1], offsets=other)], 3)


def test_a_worker_without_offsets_runs_older_code() -> None:
    old = part("w2", [1])
    del old["offsets"]
    with pytest.raises(Incomplete, match="w2 does not report the offsets"):
        merge([part("w1", [0, 2]), old], 3)


def test_an_unknown_event_count_stays_unknown() -> None:
    live = merge([part("w1", [0, 2], events=5), part("w2", [1], events=None)], 3)
    assert live.events is None and live.offsets["t.court"] == {0: 1, 1: 11, 2: 21}


def test_an_unreachable_worker_does_not_block_once_the_others_cover_everything() -> None:
    """A paused worker (its partitions moved on) answers nothing: the form is still whole."""
    paused = {
        "worker_id": "w3",
        "ready": False,
        "partitions": [],
        "figures": [],
        "error": "timed out",
    }
    live = merge([part("w1", [0, 2]), part("w2", [1]), paused], 3)
    assert live.missing == () and live.workers == ["w1", "w2"]
    assert live.absent == ("worker w3 does not answer (timed out)",)


def test_a_partial_answer_names_the_partitions_it_leaves_out() -> None:
    paused = {
        "worker_id": "w2",
        "ready": False,
        "partitions": [],
        "figures": [],
        "error": "timed out",
    }
    with pytest.raises(
        Incomplete, match=r"partition\(s\) \[1\] \(unowned or unreachable\).*w2 does not answer"
    ):
        merge([part("w1", [0, 2]), paused], 3)
    live = merge(
        [part("w1", [0, 2], figures=[["320412", "manufacturing.resolved", 2]]), paused],
        3,
        allow_partial=True,
    )
    assert live.missing == (1,) and live.offsets == {t: {0: 1, 2: 21} for t in TOPICS}
    assert live.own[("320412", "manufacturing.resolved")] == 2


def test_a_partial_answer_still_refuses_conflicts_and_needs_one_ready_worker() -> None:
    with pytest.raises(Incomplete, match="claimed by w1 and w2"):
        merge([part("w1", [0]), part("w2", [0])], 3, allow_partial=True)
    with pytest.raises(Incomplete, match="no worker is ready"):
        merge([part("w1", [0], ready=False)], 3, allow_partial=True)


def test_partitions_a_worker_is_still_taking_over_are_named() -> None:
    # after a rebalance a worker answers for the partitions it kept while it reads the
    # others back: the form says which, instead of only "unowned or unreachable"
    rebuilding = {**part("w1", [0, 2]), "recovering": [1]}
    with pytest.raises(Incomplete, match=r"\[1\].*w1 is still taking partition\(s\) 1 over"):
        merge([rebuilding], 3)
    live = merge([rebuilding], 3, allow_partial=True)
    assert live.missing == (1,)
    assert live.absent == ("worker w1 is still taking partition(s) 1 over",)
