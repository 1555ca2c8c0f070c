"""The Kafka replay's bulk reads (`warehouse.log_fetch`, confluent-kafka) against the real
broker: up to the ends asked for and no further, every partition side by side, offsets the
log skips (transaction markers) not waited for, and a clear error when a read cannot finish."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from kafka import KafkaProducer

import warehouse.log_fetch as log_fetch
from infra.broker import BrokerInfo
from warehouse.errors import WarehouseError
from warehouse.kafka_log import log_end
from warehouse.log_fetch import plan_batches

pytestmark = pytest.mark.integration


def _produce(bootstrap: str, topic: str, per_partition: int, partitions: int) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap)
    for p in range(partitions):
        for i in range(per_partition):
            producer.send(topic, value=f"{p}-{i}".encode(), key=f"k{p}".encode(), partition=p)
    producer.flush()
    producer.close()


def _read(
    bootstrap: str,
    plan: list[tuple[str, int, int]],
    starts: dict[tuple[str, int], int] | None = None,
) -> dict[int, list[tuple]]:
    got: dict[int, list[tuple]] = {}
    for _, partition, batch in plan_batches(bootstrap, "test-log-fetch", plan, starts):
        got.setdefault(partition, []).extend(batch)
    return got


def test_reads_every_partition_up_to_its_end_and_no_further(
    broker: BrokerInfo, topic_factory: Callable[..., str]
) -> None:
    topic = topic_factory(partitions=3)
    _produce(broker.bootstrap, topic, per_partition=500, partitions=3)
    # Ends short of the log's on two partitions: the records fetched past them are dropped.
    got = _read(broker.bootstrap, [(topic, 0, 500), (topic, 1, 120), (topic, 2, 1)])
    assert {p: len(rows) for p, rows in got.items()} == {0: 500, 1: 120, 2: 1}
    for p, rows in got.items():
        assert [offset for offset, _, _ in rows] == list(range(len(rows)))
        assert rows[-1][1:] == (f"{p}-{len(rows) - 1}".encode(), f"k{p}".encode())


def test_a_start_offset_begins_the_read_there(
    broker: BrokerInfo, topic_factory: Callable[..., str]
) -> None:
    topic = topic_factory(partitions=2)
    _produce(broker.bootstrap, topic, per_partition=50, partitions=2)
    got = _read(
        broker.bootstrap, [(topic, 0, 50), (topic, 1, 30)], {(topic, 0): 45, (topic, 1): 30}
    )
    assert list(got) == [0]  # partition 1 starts at its end: nothing to read
    assert [offset for offset, _, _ in got[0]] == [45, 46, 47, 48, 49]


def test_a_start_the_log_does_not_hold_fails_not_jumps(
    broker: BrokerInfo, topic_factory: Callable[..., str]
) -> None:
    topic = topic_factory(partitions=1)
    _produce(broker.bootstrap, topic, per_partition=10, partitions=1)
    with pytest.raises(WarehouseError, match=topic):
        _read(broker.bootstrap, [(topic, 0, 30)], {(topic, 0): 20})


def test_an_empty_plan_or_empty_partitions_read_nothing(
    broker: BrokerInfo, topic_factory: Callable[..., str]
) -> None:
    topic = topic_factory(partitions=2)
    assert _read(broker.bootstrap, []) == {}
    assert _read(broker.bootstrap, [(topic, 0, 0), (topic, 1, 0)]) == {}


def test_a_transaction_marker_at_the_end_is_skipped_not_waited_for(
    broker: BrokerInfo, topic_factory: Callable[..., str]
) -> None:
    topic = topic_factory(partitions=1)
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap, transactional_id=topic)
    producer.init_transactions()
    producer.begin_transaction()
    for i in range(3):
        producer.send(topic, value=str(i).encode(), partition=0)
    producer.commit_transaction()
    producer.close()
    # The coordinator writes the commit marker after commit_transaction returns.
    deadline = time.monotonic() + 30
    while (end := log_end(broker.bootstrap, [topic])[topic][0]) < 4:
        assert time.monotonic() < deadline, "the commit marker was never written"
        time.sleep(0.1)
    assert end == 4  # three records and the commit marker
    got = _read(broker.bootstrap, [(topic, 0, end)])
    assert [value for _, value, _ in got[0]] == [b"0", b"1", b"2"]


def test_a_read_that_cannot_reach_its_end_fails_with_a_clear_error(
    broker: BrokerInfo, topic_factory: Callable[..., str], monkeypatch: pytest.MonkeyPatch
) -> None:
    topic = topic_factory(partitions=1)
    _produce(broker.bootstrap, topic, per_partition=10, partitions=1)
    monkeypatch.setattr(log_fetch, "STALL_SECONDS", 2.0)
    with pytest.raises(WarehouseError, match=rf"no progress reading {topic}:0 .*offset 50"):
        _read(broker.bootstrap, [(topic, 0, 50)])  # the log ends at 10


def test_an_unreachable_broker_fails_with_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(log_fetch, "STALL_SECONDS", 2.0)
    with pytest.raises(WarehouseError, match="127.0.0.1:1"):
        _read("127.0.0.1:1", [("nowhere", 0, 5)])
