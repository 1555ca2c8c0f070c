"""A worker paused past its session timeout (a zombie) cannot change the figures or the changelog.

Issue 13, item 1: SIGSTOP one of two workers while events flow, let the other take its
partitions over and apply events, SIGCONT: the resumed worker still holds its old
assignment and its buffered events for a while. Whatever it writes then must not reach
the live figures, nor the changelog a later recovery reads (both workers restarted).
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from infra.admin import ensure_topics
from infra.broker import BrokerInfo
from infra.settings import Settings
from streams.changelog import Fenced, PartitionWriter
from streams.group import SESSION_TIMEOUT_S
from streams.live import gather
from streams.ownership import read_committed
from tests.faults.verdict import Verdict, three_paths
from tests.streams.kafka_kit import (
    Producer,
    WorkerProcess,
    assert_journals_only_advance,
    assert_live_equals_replay,
    dead_letter_ids,
    expected_dead_letter_ids,
    source_log,
    wait_until,
)
from tests.streams.workload import FINAL, workload

pytestmark = [pytest.mark.integration, pytest.mark.faults]


def _counts(worker: WorkerProcess) -> dict[str, int]:
    return dict((worker.status() or {}).get("counts", {}))


def _partitions(worker: WorkerProcess) -> list[int] | None:
    s = worker.status()
    return s["partitions"] if s and s["ready"] else None


def _split(*workers: WorkerProcess) -> bool:
    """Every worker ready with some partitions, together each partition exactly once."""
    owned = [_partitions(w) for w in workers]
    if not all(owned):
        return False
    return sorted(p for ps in owned for p in ps or ()) == list(
        range(workers[0].settings.partitions)
    )


def test_a_paused_worker_changes_nothing_after_its_partitions_moved(
    settings_factory: Callable[..., Settings],
    worker_factory: Callable[..., WorkerProcess],
    tmp_path: Path,
    record_verdict: Callable[[Verdict], None],
) -> None:
    settings = settings_factory()
    ensure_topics(settings.bootstrap_servers, settings)
    records = workload(5600, seed=61)
    zombie = worker_factory(settings, "z1", trace=True)
    other = worker_factory(settings, "z2", trace=True)
    wait_until(lambda: _split(zombie, other), 90, "z1 and z2 to share the partitions")
    producer = Producer(settings, records, rate=140, allowed=1400).start()
    try:
        wait_until(lambda: _counts(zombie).get("applied", 0) > 150, 60, "z1 to apply events")
        assert producer.streaming(), "the first slice was sent before z1 applied any of it"
        zombie.pause()  # mid-stream: z1 holds fetched, unapplied events
        paused_at = time.monotonic()
        # events keep flowing while z1 is stopped: 20 s of them, past the session timeout
        # and the take-over even on a loaded machine
        producer.allow(2800)
        wait_until(
            lambda: _partitions(other) == list(range(settings.partitions)),
            60,
            "z2 to take every partition over",
        )
        # the paused worker is still registered but cannot answer: the form does not wait
        # for it once z2 owns every partition
        asked = time.monotonic()
        assert gather(settings, FINAL, timeout=20).workers == ["z2"]
        assert time.monotonic() - asked < 15
        took_over = _counts(other).get("applied", 0)
        wait_until(
            lambda: _counts(other).get("applied", 0) > took_over + 150,
            60,
            "z2 to apply events on z1's partitions",
        )
        time.sleep(max(0.0, paused_at + SESSION_TIMEOUT_S + 3 - time.monotonic()))
        assert producer.streaming(), "the second slice was over before z1 resumed"
    finally:
        zombie.resume()  # whatever happened: a stopped process cannot be stopped at teardown
    resumed = time.monotonic()
    producer.allow()  # and more while z1 comes back and the group rebalances again
    wait_until(lambda: _split(zombie, other), 120, "z1 to rejoin and get partitions again")
    rejoined = time.monotonic() - resumed
    producer.join()
    assert producer.sent == len(records)
    # Nothing z1 wrote after z2 took over reached the changelog a recovery reads...
    assert assert_journals_only_advance(settings) > 30
    # ...nor the live figures: each cell as a replay of the log from Kafka, every event once.
    compared = assert_live_equals_replay(settings)
    assert compared["cells"] > 1000 and compared["events"] > 3000, compared
    assert set(dead_letter_ids(settings)) == expected_dead_letter_ids(source_log(settings))

    # A recovery reads the changelog both workers wrote: the same figures again.
    assert zombie.stop() == 0 and other.stop() == 0
    zombie.start()
    other.start()
    wait_until(lambda: _split(zombie, other), 120, "z1 and z2 to recover and share again")
    assert assert_live_equals_replay(settings) == compared
    record_verdict(
        three_paths(
            settings,
            tmp_path,
            "zombie (SIGSTOP past session)",
            sent=len(records),
            recovery_s=rejoined,
        )
    )


def test_a_new_writer_fences_the_old_one_on_the_broker(
    broker: BrokerInfo, topic_factory: Callable[..., str]
) -> None:
    """The fence itself: two writers of one partition, the second started while the first
    has a transaction open; the first can then neither commit nor write, and a committed
    read sees the first's committed records and the second's, nothing else."""
    topic = topic_factory(partitions=1)
    tid = f"fence-{uuid.uuid4().hex}"
    fatal: list[BaseException] = []

    def record(key: str, value: Any) -> tuple[bytes, bytes]:
        return json.dumps(key).encode(), json.dumps(value).encode()

    async def body() -> None:
        def writer(generation: int) -> PartitionWriter:
            producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, transactional_id=tid)
            return PartitionWriter(producer, topic, 0, generation, fatal.append, interval=60)

        old = writer(1)
        await old.start()
        await old.send([record("a", 1), record("b", 1)])
        assert await old.settled()
        await old.send([record("b", 2), record("zombie", 1)])
        await asyncio.sleep(0.5)  # sent in an open transaction (commits are 60 s apart)
        new = writer(2)
        await new.start()  # the fence: the broker aborts old's transaction
        assert not await old.settled() and old.state == "fenced"
        with pytest.raises(Fenced):
            await old.send([record("later", 1)])
        await new.send([record("c", 3)])
        assert await new.settled()
        table: dict[str, Any] = {}
        read = await read_committed(broker.bootstrap, topic, [0], table, client_id="fence-test")
        assert table == {"a": 1, "b": 1, "c": 3} and read == 3
        # a writer that starts a transaction after the fence learns of it from the broker
        late = writer(1)
        third = writer(3)
        await late.start()
        await third.start()
        await late.send([record("zombie", 2)])
        assert not await late.settled() and late.state == "fenced"
        for w in (old, new, late, third):
            await w.close()
        table.clear()
        await read_committed(broker.bootstrap, topic, [0], table, client_id="fence-test")
        assert table == {"a": 1, "b": 1, "c": 3}
        assert fatal == []

    asyncio.run(body())
