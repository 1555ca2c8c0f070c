"""The fence, without a broker: `PartitionWriter` over a stand-in for aiokafka's transactional
producer, `Ownership.take_over`'s order of steps, and the runtime abandoning a partition
whose writer was fenced while it keeps its others.

tests/integration/test_streams_zombie.py runs the same against the broker: a real fence,
a real zombie.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterable
from typing import Any

import pytest
from aiokafka.errors import InvalidProducerEpoch, KafkaTimeoutError, ProducerFenced

from infra.settings import Settings
from streams.changelog import Fenced, PartitionWriter, Record, is_fenced
from streams.ownership import Ownership
from tests.streams.harness import Harness, ListOwnership, ListWriter, run
from tests.streams.workload import FINAL, recompute, workload


class FakeBatch:
    """aiokafka's BatchBuilder as the writer uses it: full after `room` records."""

    def __init__(self, room: int) -> None:
        self.records: list[Record] = []
        self.room = room
        self.closed = False

    def append(self, *, key: bytes, value: bytes, timestamp: None) -> object | None:
        if len(self.records) >= self.room:
            return None
        self.records.append((key, value))
        return object()

    def close(self) -> None:
        self.closed = True


class FakeAccumulator:
    """What `streams._faust.retrieve_failures` looks at: no batches left behind."""

    def __init__(self) -> None:
        self._batches: dict[Any, list[Any]] = {}
        self._pending_batches: set[Any] = set()


class FakeProducer:
    """aiokafka's transactional producer, as far as `PartitionWriter` uses it."""

    _txn_manager = None

    def __init__(self, room: int = 3) -> None:
        self._message_accumulator = FakeAccumulator()
        self.room = room
        self.log: list[Any] = []
        self.committed: list[Record] = []
        self.open: list[Record] = []
        self.commit_error: BaseException | None = None
        self.send_error: BaseException | None = None
        self.commit_gate: asyncio.Event | None = None

    async def start(self) -> None:
        self.log.append("start")

    async def begin_transaction(self) -> None:
        assert not self.open, "a transaction is already open"
        self.log.append("begin")

    def create_batch(self) -> FakeBatch:
        return FakeBatch(self.room)

    async def send_batch(self, batch: FakeBatch, topic: str, *, partition: int) -> Any:
        assert batch.closed
        if self.send_error is not None:
            raise self.send_error
        self.log.append(("batch", topic, partition, len(batch.records)))
        self.open.extend(batch.records)
        delivered: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        delivered.set_result(None)
        return delivered

    async def commit_transaction(self) -> None:
        self.log.append("commit")
        if self.commit_gate is not None:
            await self.commit_gate.wait()
        await asyncio.sleep(0)
        if self.commit_error is not None:
            self.open.clear()
            raise self.commit_error
        self.committed += self.open
        self.open.clear()

    async def abort_transaction(self) -> None:
        self.log.append("abort")
        self.open.clear()

    async def stop(self) -> None:
        self.log.append("stop")


def writer(
    producer: FakeProducer, fatal: list[BaseException] | None = None, generation: int = 3
) -> PartitionWriter:
    sink = fatal if fatal is not None else []
    return PartitionWriter(producer, "t-state-changelog", 1, generation, sink.append)


def records(n: int, tag: str = "k") -> list[Record]:
    return [(json.dumps(f"{tag}{i}").encode(), b"1") for i in range(n)]


def go(body: Callable[[], Any]) -> None:
    asyncio.run(body())


def test_the_fence_errors_are_producer_fenced_and_invalid_epoch() -> None:
    assert is_fenced(ProducerFenced()) and is_fenced(InvalidProducerEpoch())
    assert not is_fenced(KafkaTimeoutError()) and not is_fenced(OSError())


async def flushed(w: PartitionWriter) -> None:
    """What Faust's flush does before it commits offsets: `flush`, wait for it."""
    waiting = w.flush()
    if waiting is not None:
        await waiting


def test_a_writer_queues_and_commits_in_the_background_in_whole_batches() -> None:
    async def body() -> None:
        producer = FakeProducer(room=3)
        w = writer(producer)
        with pytest.raises(Fenced):
            await w.send(records(1))  # not started: the fence comes first
        await w.start()
        assert w.usable() and w.flush() is None  # nothing to commit
        await w.send(records(4))
        await w.send(records(2, "j"))
        assert producer.log == ["start"]  # queued: the agent does not wait for Kafka
        await flushed(w)
        assert producer.log == [
            "start",
            "begin",
            ("batch", "t-state-changelog", 1, 3),
            ("batch", "t-state-changelog", 1, 3),
            "commit",
        ]
        assert producer.committed == records(4) + records(2, "j") and w.commits == 1
        assert w.flush() is None  # all committed
        await w.send(records(1, "x"))
        assert await w.settled()
        assert producer.log[-3:] == ["begin", ("batch", "t-state-changelog", 1, 1), "commit"]
        await w.close()
        assert producer.log[-1] == "stop" and w.state == "retired"

    go(body)


def test_a_transaction_is_committed_an_interval_after_it_opened() -> None:
    async def body() -> None:
        producer = FakeProducer()
        w = PartitionWriter(producer, "t", 0, 1, lambda e: None, interval=0.05)
        await w.start()
        await w.send(records(2))
        await asyncio.sleep(0.02)
        assert producer.committed == [] and producer.open == records(2)
        await asyncio.sleep(0.1)
        assert producer.committed == records(2) and w.commits == 1
        await w.close()

    go(body)


def test_records_sent_during_a_commit_go_in_the_next_transaction_in_order() -> None:
    async def body() -> None:
        producer = FakeProducer(room=10)
        w = writer(producer)
        await w.start()
        await w.send(records(2, "a"))
        producer.commit_gate = asyncio.Event()
        first = w.flush()
        await asyncio.sleep(0.01)
        assert producer.log[-1] == "commit"  # in flight
        await w.send(records(2, "b"))
        await w.send(records(1, "c"))
        second = w.flush()
        assert producer.open == records(2, "a") and producer.committed == []
        producer.commit_gate.set()
        assert first is not None and second is not None
        await first
        assert producer.committed == records(2, "a")
        await second
        assert producer.committed == records(2, "a") + records(2, "b") + records(1, "c")
        assert producer.log.count("begin") == 2 and w.commits == 2

    go(body)


def test_a_fenced_commit_fences_the_writer_and_loses_only_its_transaction() -> None:
    async def body() -> None:
        producer, fatal = FakeProducer(), []
        w = writer(producer, fatal)
        await w.start()
        await w.send(records(2))
        await flushed(w)
        await w.send(records(2, "z"))
        producer.commit_error = ProducerFenced()  # a newer owner started meanwhile
        producer.commit_gate = asyncio.Event()
        waiting = w.flush()
        await asyncio.sleep(0.01)
        await w.send(records(1, "queued"))  # behind the commit that will be refused
        producer.commit_gate.set()
        assert waiting is not None
        await waiting  # done, without an error: a fence is no failure
        assert w.state == "fenced" and isinstance(w.fenced_by, ProducerFenced)
        assert not await w.settled()
        assert producer.committed == records(2) and fatal == []  # not a crash
        with pytest.raises(Fenced):
            await w.send(records(1, "later"))
        assert producer.log.count("begin") == 2  # nothing begun after the fence
        await w.close()
        assert producer.log[-1] == "stop" and producer.committed == records(2)

    go(body)


def test_a_send_the_broker_refuses_fences_the_writer() -> None:
    async def body() -> None:
        producer = FakeProducer()
        w = writer(producer)
        await w.start()
        producer.send_error = InvalidProducerEpoch()
        await w.send(records(1))
        assert not await w.settled()
        assert w.state == "fenced" and isinstance(w.fenced_by, InvalidProducerEpoch)
        with pytest.raises(Fenced):
            await w.send(records(1))

    go(body)


def test_a_refused_batch_fences_the_commit() -> None:
    """aiokafka fails the batches when the broker refuses the transaction's partition;
    the commit looks at them first (commit_transaction would fail on its own state)."""

    async def body() -> None:
        producer = FakeProducer()
        w = writer(producer)
        await w.start()
        refused: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        async def send_batch(batch: FakeBatch, topic: str, *, partition: int) -> Any:
            return refused

        producer.send_batch = send_batch  # type: ignore[method-assign]
        producer.commit_error = AssertionError("Invalid state transition")
        await w.send(records(1))
        refused.set_exception(ProducerFenced())
        assert not await w.settled() and w.state == "fenced"

    go(body)


@pytest.mark.parametrize("where", ["commit", "send"])
def test_any_other_failure_stops_the_worker(where: str) -> None:
    async def body() -> None:
        producer, fatal = FakeProducer(), []
        w = writer(producer, fatal)
        await w.start()
        if where == "commit":
            producer.commit_error = KafkaTimeoutError()
        else:
            producer.send_error = KafkaTimeoutError()
        await w.send(records(1))
        waiting = w.flush()
        assert waiting is not None
        with pytest.raises(KafkaTimeoutError):
            await waiting  # Faust's flush raises: no offset commit after a lost transaction
        assert [type(e) for e in fatal] == [KafkaTimeoutError]
        assert w.state == "failed" and not await w.settled()

    go(body)


def test_send_waits_when_too_much_is_queued(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("streams.changelog.MAX_WAITING", 3)

    async def body() -> None:
        producer = FakeProducer()
        w = writer(producer)
        await w.start()
        await w.send(records(1))
        producer.commit_gate = asyncio.Event()
        w.flush()
        await asyncio.sleep(0.01)  # the pump is committing: nothing leaves the queue
        sending = asyncio.ensure_future(w.send(records(3, "b")))
        await asyncio.sleep(0.05)
        assert not sending.done()
        producer.commit_gate.set()
        await asyncio.wait_for(sending, 1)

    go(body)


def test_close_retires_at_once_and_commits_what_was_sent() -> None:
    async def body() -> None:
        producer = FakeProducer()
        w = writer(producer)
        await w.start()
        await w.send(records(1))
        producer.commit_gate = asyncio.Event()
        w.flush()
        await asyncio.sleep(0.01)
        await w.send(records(1, "b"))  # queued behind the commit
        closing = asyncio.ensure_future(w.close())
        await asyncio.sleep(0.05)
        assert not closing.done() and not w.usable()  # retired at once, stops after
        with pytest.raises(Fenced):
            await w.send(records(1, "late"))  # a retired writer takes nothing more
        producer.commit_gate.set()
        await asyncio.wait_for(closing, 1)
        assert producer.committed == records(1) + records(1, "b")
        assert producer.log[-1] == "stop" and w.state == "retired"

    go(body)


# -- Ownership.take_over ------------------------------------------------------------------


class Recorded(Ownership):
    """An Ownership whose writers and changelog reader are stand-ins, recording the steps."""

    def __init__(self, steps: list[Any]) -> None:
        super().__init__(Settings(topic_prefix="fence."), "localhost:1", "w", lambda e: None)
        self.steps = steps
        self.made: list[PartitionWriter] = []

    def _writer_for(self, partition: int, generation: int) -> PartitionWriter:
        steps = self.steps

        class Producer(FakeProducer):
            async def start(self) -> None:
                steps.append(("fence", partition, generation))

            async def stop(self) -> None:
                steps.append(("stop", partition, generation))

        made = PartitionWriter(Producer(), self.topic, partition, generation, lambda e: None)
        self.made.append(made)
        return made


def test_a_take_over_fences_before_it_reads_and_replaces_only_its_partitions(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    steps: list[Any] = []

    async def read(
        bootstrap: str, topic: str, partitions: Iterable[int], table: Any, **kw: Any
    ) -> int:
        assert table == {}  # read aside, after the fences; the table changes at the end
        steps.append(("read", sorted(partitions)))
        table["J|2"] = {"a": {}, "w": {}}
        return 1

    monkeypatch.setattr("streams.ownership.read_committed", read)

    async def body() -> None:
        ownership = Recorded(steps)
        table: dict[str, Any] = {"K|0|x": 1, "K|1|y": 2}
        assert await ownership.take_over([0, 2], 5, table, lambda: True)
        assert steps == [("fence", 0, 5), ("fence", 2, 5), ("read", [0, 2])]
        first = ownership.writer(0)
        assert first is not None and first.usable() and ownership.writer(1) is None
        # partitions 0 and 2 are what their changelog holds; partition 1's keys untouched
        assert table == {"K|1|y": 2, "J|2": {"a": {}, "w": {}}} and ownership.recovered == 1
        steps.clear()
        # the next assignment keeps 2 (its writer, now of generation 6) and stops 0's
        assert await ownership.release([2, 1], 6) == ({2}, {0})
        assert not first.usable() and steps == [("stop", 0, 5)]
        kept = ownership.writer(2)
        assert kept is not None and kept.usable() and kept.generation == 6
        steps.clear()
        # superseded while reading: owns nothing of it, its new writers stopped, the
        # kept partition and the table as they were
        generation = iter([True, False])
        assert not await ownership.take_over([1], 6, table, lambda: next(generation, False))
        assert ownership.writer(1) is None and ownership.writer(2) is kept
        assert steps == [("fence", 1, 6), ("read", [1]), ("stop", 1, 6)]
        assert table == {"K|1|y": 2, "J|2": {"a": {}, "w": {}}}

    go(body)


# -- the runtime ---------------------------------------------------------------------------


def test_a_fenced_partition_is_abandoned_and_the_others_go_on() -> None:
    stream = workload(400, seed=3)

    async def body(h: Harness) -> None:
        ownership = h.runtime.ownership
        zero = ownership.writer(0)
        assert isinstance(zero, ListWriter)
        offsets = {0: 0, 1: 0}

        async def put(value: bytes, partition: int) -> None:
            await h.put(value, partition=partition, offset=offsets[partition], wait=False)
            offsets[partition] += 1

        for r in stream[:100]:
            await put(r.value, 0)
        for r in stream[100:200]:
            await put(r.value, 1)
        await h.settle(200)
        sent = len(h.changelog[0])
        zero.fail_sends = 1  # the broker refuses partition 0's next transaction
        for r in stream[200:300]:
            await put(r.value, 0)
        for r in stream[300:]:
            await put(r.value, 1)
        counts = h.runtime.counts

        async def until(done: Callable[[], bool]) -> None:
            for _ in range(250):
                if done():
                    return
                await asyncio.sleep(0.02)
            raise AssertionError(f"not done: {dict(counts)}")

        # each record handled (partition 0's chunk then refused), or dropped as not ours
        await until(lambda: h.handled() + counts["unowned"] >= len(stream))
        assert counts["fenced"] == 1
        dropped = counts["unowned"]
        for r in stream[:20]:  # more of partition 0: not even looked at any more
            await put(r.value, 0)
        await until(lambda: counts["unowned"] >= dropped + 20)
        assert h.handled() + counts["unowned"] == len(stream) + 20
        assert len(h.changelog[0]) == sent  # nothing more of partition 0
        assert ownership.fenced() == {0} and h.runtime.status()["fenced"] == [0]
        # partition 1 went on: its figures are every one of its events'
        values = [r.value for r in stream[100:200] + stream[300:]]
        assert h.figures(FINAL, frozenset({1})) == recompute(values, FINAL)

    run(body)


def test_a_writer_retired_while_the_agent_waits_changes_nothing_in_the_table() -> None:
    """The check right before each change to the table: a take-over retires the writer while
    the chunk waits for its dead letters; the chunk then leaves the table as it was."""
    stream = workload(60, seed=4)

    async def body(h: Harness) -> None:
        ownership = h.runtime.ownership
        assert isinstance(ownership, ListOwnership)
        for r in stream[:30]:
            await h.put(r.value, partition=2)
        await h.settle(30)
        before = dict(h.runtime.table.data)
        sent = len(h.changelog[2])
        writer = ownership.writer(2)

        async def retire_meanwhile(letters: list[tuple[bytes, bytes]]) -> None:
            writer.state = "retired"  # what Ownership.take_over does, synchronously

        h.runtime.send_dead_letters = retire_meanwhile
        # the rejected record first: whichever batch takes it waits for its dead letter
        for value in [b"not json at all"] + [r.value for r in stream[30:40]]:
            await h.put(value, partition=2, wait=False)
        counts = h.runtime.counts
        for _ in range(200):
            if counts["fenced"] and h.handled() + counts["unowned"] >= 41:
                break
            await asyncio.sleep(0.02)
        assert h.runtime.counts["fenced"] == 1
        assert dict(h.runtime.table.data) == before and len(h.changelog[2]) == sent

    run(body)
