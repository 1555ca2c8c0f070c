"""`arrears worker` runs the collector's young passes less often and leaves its start-up
objects out of them (`pipeline.commands.worker._collect_less`)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from pipeline.commands import worker


@pytest.fixture
def collector() -> Iterator[None]:
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


@pytest.mark.usefixtures("collector")
def test_a_worker_freezes_what_it_built_and_collects_young_objects_less_often() -> None:
    older = gc.get_threshold()[1:]
    worker._collect_less()
    assert gc.get_threshold() == (worker.GC_YOUNG, *older)
    assert gc.get_freeze_count() > 0
    assert worker.GC_YOUNG > 700  # Python's default, which cost the workers a fifth of their CPU
