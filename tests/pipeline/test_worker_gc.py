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
def test_the_collector_freezes_every_tick_and_frees_frozen_cycles_once_grown_and_due() -> None:
    import asyncio
    import weakref

    gc.collect()
    gc.freeze()
    now = [0.0]
    collector = worker.Collector(growth=1.5, after=600, clock=lambda: now[0])
    a, b = _Node(), _Node()
    a.other, b.other = b, a  # a cycle: only the collector frees it
    watch = weakref.ref(a)
    asyncio.run(collector.tick())
    del a, b
    gc.collect()
    assert watch() is not None  # frozen: no pass looks at it
    now[0] = 600
    asyncio.run(collector.tick())
    assert watch() is not None  # due, but no growth: no full collection
    grown = [[n] for n in range(collector.frozen_after_full)]  # half as many again, and more
    now[0] = 599
    collector.last_full = 0.5
    asyncio.run(collector.tick())
    assert watch() is not None  # grown, but not due yet
    now[0] = 600.5
    asyncio.run(collector.tick())
    assert watch() is None  # grown and due: the full collection found it
    assert min(gc.get_freeze_count(), collector.frozen_after_full) > len(grown)
    assert collector.last_full == 600.5
