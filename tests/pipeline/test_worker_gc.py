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


class _Node:
    """A container that can hold a reference cycle and be watched by a weak reference."""

    def __init__(self) -> None:
        self.other: _Node | None = None


@pytest.mark.usefixtures("collector")
def test_the_collector_freezes_every_tick_and_frees_frozen_cycles_at_the_full_one() -> None:
    import asyncio
    import weakref

    now = [0.0]
    collector = worker.Collector(clock=lambda: now[0])
    a, b = _Node(), _Node()
    a.other, b.other = b, a  # a cycle: only the collector frees it
    watch = weakref.ref(a)
    gc.unfreeze()
    asyncio.run(collector.tick())
    assert gc.get_freeze_count() > 0  # the cycle is frozen with everything else
    del a, b
    gc.collect()
    assert watch() is not None  # frozen: no pass looks at it
    now[0] = worker.FULL_COLLECT_EVERY - 1
    asyncio.run(collector.tick())
    assert watch() is not None
    now[0] = worker.FULL_COLLECT_EVERY
    asyncio.run(collector.tick())
    assert watch() is None  # the full collection found it
    assert gc.get_freeze_count() > 0  # and froze the rest again
