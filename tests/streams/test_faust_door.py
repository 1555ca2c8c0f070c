"""streams._faust, the one door to Faust's and aiokafka's internals: one test per hook, on a
real app (no broker), and the refusal of unpinned versions.

Where a hook reaches the network (commit, seek), the test puts a recorder in place of
that one method on the real consumer, after checking that the installed Faust has it with
the shape the hook calls; the integration tests (tests/integration/test_streams_*.py)
exercise them against the broker.
"""

from __future__ import annotations

import asyncio
import gc
import inspect
import json
import re
import tomllib
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.errors import ProducerFenced
from aiokafka.producer.message_accumulator import MessageBatch
from faust.assignor.client_assignment import ClientAssignment
from faust.types import TP

from infra.settings import Settings
from infra.topics import tallies_changelog
from pipeline.cli import main
from streams._faust import (
    PINNED,
    after_recovery,
    assigned_partitions,
    check_versions,
    commit_offsets,
    deliver_in_batches,
    generation,
    make_flush_a_barrier,
    message_generation,
    rebalancing,
    recover_outside_faust,
    recovered,
    retrieve_failures,
    seek,
    shorten_fetch_wait,
    table_state,
)
from streams.app import FETCH_MAX_WAIT_MS, create_app, create_runtime
from streams.errors import StreamsError, UnsupportedVersion
from streams.runtime import Runtime
from tests.streams.harness import Harness, ListOwnership, run

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = Settings(bootstrap_servers="localhost:1", topic_prefix="doortest.", partitions=3)


def with_runtime(body: Callable[[Runtime], Awaitable[None]]) -> None:
    """Run `body` with a fresh runtime and its real (never started) Faust app."""

    async def go() -> None:
        runtime = create_runtime(
            SETTINGS, worker_id="door", web_port=None, on_fatal=lambda exc: None
        )
        runtime.app.finalize()
        await body(runtime)

    asyncio.run(go())


class Recorder:
    """Stands in for one async method; records its arguments."""

    def __init__(self, result: Any = None) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.result = result

    async def __call__(self, *args: Any) -> Any:
        self.calls.append(args)
        return self.result


def _parameters(method: Any) -> list[str]:
    return [p for p in inspect.signature(method).parameters if p != "self"]


# -- versions ----------------------------------------------------------------------------


def test_the_pins_are_the_ones_in_pyproject() -> None:
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"][
        "dependencies"
    ]
    pinned = dict(
        m.groups() for d in deps if (m := re.fullmatch(r"\s*([A-Za-z0-9_.-]+)==(\S+)\s*", d))
    )
    assert {dist: pinned.get(dist) for dist in PINNED} == dict(PINNED)


def test_the_installed_versions_pass() -> None:
    check_versions()


def test_another_version_is_refused_at_start_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        "streams._faust.PINNED", {"faust-streaming": "0.0.1", "arrears-no-such-dist": "1.0"}
    )
    with pytest.raises(UnsupportedVersion) as err:
        create_app(SETTINGS, worker_id="door", web_port=None, bootstrap="localhost:1")
    message = str(err.value)
    assert "faust-streaming 0.15.3 where 0.0.1 is pinned" in message
    assert "arrears-no-such-dist (not installed) where 1.0 is pinned" in message
    assert isinstance(err.value, StreamsError)


def test_arrears_worker_reports_the_refusal_as_an_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("streams._faust.PINNED", {"aiokafka": "9.9.9"})
    monkeypatch.setattr("pipeline.commands.worker.bootstrap_servers", lambda s: "localhost:1")
    monkeypatch.setattr("pipeline.commands.worker.ensure_topics", lambda b, s: [])
    monkeypatch.setenv("ARREARS_STATE_DIR", str(tmp_path))
    assert main(["worker", "--worker-id", "door"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("arrears: error: the stream worker hooks into internals")
    assert "aiokafka 0.14.0 where 9.9.9 is pinned" in err
    assert not list(tmp_path.rglob("door.json"))  # it never registered


# -- the consumer group's state ----------------------------------------------------------


def test_generation_is_the_apps_consumer_generation() -> None:
    async def body(runtime: Runtime) -> None:
        assert generation(runtime.app) == 0
        runtime.app.consumer_generation_id = 7
        assert generation(runtime.app) == 7

    with_runtime(body)


def test_the_table_state_is_the_memory_stores_own_dict() -> None:
    async def body(runtime: Runtime) -> None:
        state, store = table_state(runtime.table), runtime.table.data
        assert type(state) is dict and state is table_state(runtime.table)
        store["J|0"] = {"a": {}}  # what the store holds, the state holds, and back
        state["L|0|x"] = {"h": "ab"}
        assert state["J|0"] == {"a": {}} and store["L|0|x"] == {"h": "ab"}
        assert set(store) == set(state) == {"J|0", "L|0|x"}

    with_runtime(body)


def test_a_message_fetched_in_an_older_generation_is_not_applied() -> None:
    async def body(h: Harness) -> None:
        app = h.runtime.app
        old = h.agent.to_message(b"k", b"{}", partition=0, offset=0)
        assert message_generation(old) == generation(app) == 0
        app.consumer_generation_id = 1  # a rebalance after the fetch
        fresh = h.agent.to_message(b"k", b"{}", partition=0, offset=0)
        assert message_generation(fresh) == 1
        # Faust's stream drops such a message on entry; one already buffered in the
        # agent's batch (take_events) when the rebalance came reaches the runtime:
        channel = h.agent.stream().channel
        await h.runtime.process([await channel.decode(old), await channel.decode(fresh)])
        assert h.runtime.counts["stale"] == 1 and h.runtime.counts["rejected"] == 1

    run(body)


def test_assigned_partitions_are_the_assignors_actives() -> None:
    async def body(runtime: Runtime) -> None:
        app = runtime.app
        assert assigned_partitions(app) == frozenset() and runtime.owned() == frozenset()
        topic = sorted(runtime.sources)[0]
        app.assignor._assignment = ClientAssignment(
            actives={topic: [0, 2], "other": [1]}, standbys={topic: [1]}
        )
        assert assigned_partitions(app) == {TP(topic, 0), TP(topic, 2), TP("other", 1)}
        assert runtime.assigned() == {0, 2}  # source topics only, standbys not
        assert runtime.owned() == frozenset()  # none taken over yet

    with_runtime(body)


def test_recovered_is_the_recovery_services_completed_event() -> None:
    async def body(runtime: Runtime) -> None:
        app = runtime.app
        assert not recovered(app) and not runtime.ready()
        app.tables.recovery.completed.set()  # type: ignore[attr-defined]
        assert recovered(app) and runtime.ready()

    with_runtime(body)


def test_rebalancing_follows_the_apps_rebalance_start_and_end() -> None:
    async def body(runtime: Runtime) -> None:
        app = runtime.app
        app.tables.recovery.completed.set()  # type: ignore[attr-defined]
        assert not rebalancing(app)
        app.on_rebalance_start()
        assert rebalancing(app) and not runtime.ready()
        app.on_rebalance_end()
        assert not rebalancing(app) and runtime.ready()

    with_runtime(body)


# -- moving the group's offsets and the consumer -----------------------------------------


def test_commit_offsets_calls_the_drivers_commit_of_arbitrary_offsets() -> None:
    async def body(runtime: Runtime) -> None:
        consumer = runtime.app.consumer
        assert inspect.iscoroutinefunction(type(consumer)._commit)  # type: ignore[attr-defined]
        assert _parameters(type(consumer)._commit) == ["offsets"]  # type: ignore[attr-defined]
        recorder = Recorder(result=True)
        consumer._commit = recorder  # type: ignore[attr-defined]
        offsets = {TP("t", 0): 42, TP("t", 1): 0}
        assert await commit_offsets(runtime.app, offsets) is True
        assert recorder.calls == [(offsets,)]
        recorder.result = False  # "already rebalanced"
        assert await commit_offsets(runtime.app, offsets) is False

    with_runtime(body)


def test_seek_waits_on_the_consumers_seek_wait() -> None:
    async def body(runtime: Runtime) -> None:
        consumer = runtime.app.consumer
        assert inspect.iscoroutinefunction(type(consumer).seek_wait)
        assert _parameters(type(consumer).seek_wait) == ["partitions"]
        recorder = Recorder()
        consumer.seek_wait = recorder  # type: ignore[method-assign]
        await seek(runtime.app, {TP("t", 2): 9})
        assert recorder.calls == [({TP("t", 2): 9},)]

    with_runtime(body)


def test_the_workers_consumer_fetches_with_the_short_wait() -> None:
    async def body(runtime: Runtime) -> None:
        app = runtime.app
        thread = app.consumer._thread  # type: ignore[attr-defined]
        consumer = thread._create_worker_consumer(app.transport)
        assert consumer._fetch_max_wait_ms == FETCH_MAX_WAIT_MS == 100
        # ... which aiokafka's start hands to the Fetcher it builds.
        start = inspect.getsource(type(consumer).start)
        assert "fetch_max_wait_ms=self._fetch_max_wait_ms" in start
        await consumer.stop()  # never started: closes its client quietly

    with_runtime(body)


def test_without_the_hook_fausts_driver_waits_a_second_and_a_half() -> None:
    async def body(runtime: Runtime) -> None:
        app = runtime.app
        thread = app.consumer._thread  # type: ignore[attr-defined]
        del thread._create_worker_consumer  # the class's own, unwrapped
        for wait, hook in ((1500, None), (7, 7)):
            if hook is not None:
                shorten_fetch_wait(app, hook)
            consumer = thread._create_worker_consumer(app.transport)
            assert consumer._fetch_max_wait_ms == wait
            await consumer.stop()

    with_runtime(body)


def test_the_take_over_after_recovery_commits_and_seeks_the_journals_offsets() -> None:
    """create_app's `after_recovery` hook: the take-over of the assigned partitions, then
    their journal offsets + 1, every source topic."""

    async def body(runtime: Runtime) -> None:
        app, consumer = runtime.app, runtime.app.consumer
        commits, seeks = Recorder(result=True), Recorder()
        consumer._commit = commits  # type: ignore[attr-defined]
        consumer.seek_wait = seeks  # type: ignore[method-assign]
        ownership = runtime.ownership = ListOwnership(app, {})
        topics = sorted(runtime.sources)
        app.assignor._assignment = ClientAssignment(actives={t: [1] for t in topics}, standbys={})
        app.consumer_generation_id = 4
        runtime.table.data["J|1"] = {"a": {topics[0]: 41}, "n": 1, "w": {}}
        # Faust recovered none of the table's partitions (recover_outside_faust):
        await runtime.table.on_recovery_completed(set(), set())
        assert ownership.take_overs == [([1], 4)]
        expected = {TP(t, 1): 42 if t == topics[0] else 0 for t in topics}
        assert commits.calls == [(expected,)] and seeks.calls == [(expected,)]
        assert runtime.counts["rewinds"] == 1 and runtime.counts["take_overs"] == 1

    with_runtime(body)


def test_a_take_over_superseded_by_a_newer_rebalance_does_not_rewind() -> None:
    async def body(runtime: Runtime) -> None:
        app = runtime.app

        class Superseded(ListOwnership):
            async def take_over(self, *args: Any) -> bool:
                app.consumer_generation_id += 1  # the next rebalance while it read
                return await super().take_over(*args) and args[-1]()

        runtime.ownership = Superseded(app, {})
        runtime.rewind_to_journal = Recorder()  # type: ignore[method-assign]
        await runtime.take_over()
        assert runtime.rewind_to_journal.calls == []  # type: ignore[attr-defined]

    with_runtime(body)


def test_kept_partitions_go_on_while_the_others_are_taken_over() -> None:
    """A partition assigned again is kept (its state journaled again through its writer,
    no rebuild); the newly assigned one is taken over in the background and owned only
    once rebuilt, then rewound to its journal."""

    async def body(runtime: Runtime) -> None:
        app = runtime.app
        reading = asyncio.Event()

        class Slow(ListOwnership):
            taking: set[int] = set()

            def writer(self, partition: int) -> Any:
                return None if partition in self.taking else super().writer(partition)

            async def take_over(self, partitions: Any, *args: Any) -> bool:
                self.taking.update(partitions)
                await reading.wait()
                self.taking.clear()
                return await super().take_over(partitions, *args)

        changelog: dict[int, list[Any]] = {}
        ownership = runtime.ownership = Slow(app, changelog)
        rewinds = runtime.rewind_to_journal = Recorder()  # type: ignore[method-assign]
        topics = sorted(runtime.sources)
        app.consumer_generation_id = 4
        app.assignor._assignment = ClientAssignment(actives={t: [0] for t in topics}, standbys={})
        ownership.writer(0)  # partition 0 owned in generation 4
        runtime.table.data.update({"J|0": {"a": {topics[0]: 7}, "n": 8, "w": {"K|0|x": 1}}})
        runtime.table.data.update({"K|0|x": 1, "K|1|stale": 1})
        app.consumer_generation_id = 5
        app.assignor._assignment = ClientAssignment(
            actives={t: [0, 1] for t in topics}, standbys={}
        )
        await asyncio.wait_for(runtime.take_over(), 1)  # does not wait for partition 1
        assert rewinds.calls == [(frozenset({0}),)] and runtime.recovering == {1}
        assert runtime.owned() == {0} and ownership.take_overs == []
        journal = [(json.loads(k), json.loads(v)) for k, v in changelog[0]]
        assert journal == [("J|0", {"a": {topics[0]: 7}, "n": 8, "w": {}})]
        reading.set()
        assert runtime.recovery is not None
        await asyncio.wait_for(runtime.recovery, 1)
        assert ownership.take_overs == [([1], 5)] and runtime.recovering == frozenset()
        assert rewinds.calls[-1] == (frozenset({1}),)
        assert runtime.owned() == {0, 1} and runtime.counts["take_overs"] == 1

    with_runtime(body)


def test_a_kept_partition_whose_writer_was_fenced_meanwhile_is_taken_over() -> None:
    async def body(runtime: Runtime) -> None:
        app = runtime.app
        ownership = runtime.ownership = ListOwnership(app, {})
        topics = sorted(runtime.sources)
        app.assignor._assignment = ClientAssignment(actives={t: [0] for t in topics}, standbys={})
        runtime.rewind_to_journal = Recorder()  # type: ignore[method-assign]
        ownership.writer(0).fail_sends = 1  # a paused worker's late take-over fenced it
        runtime.table.data["K|0|stale"] = 1
        await runtime.take_over()  # nothing kept: the take-over is done before it returns
        assert ownership.take_overs == [([0], app.consumer_generation_id)]
        assert runtime.recovery is None and runtime.counts["take_overs"] == 1

    with_runtime(body)


def test_a_failed_take_over_stops_the_worker() -> None:
    async def body(runtime: Runtime) -> None:
        fatal: list[BaseException] = []
        runtime.on_fatal = fatal.append

        class Broken(ListOwnership):
            async def take_over(self, *args: Any) -> bool:
                raise OSError("no broker")

        runtime.ownership = Broken(runtime.app, {})
        topics = sorted(runtime.sources)
        runtime.app.assignor._assignment = ClientAssignment(
            actives={t: [1] for t in topics}, standbys={}
        )
        await runtime.take_over()
        assert [repr(e) for e in fatal] == [repr(OSError("no broker"))]

    with_runtime(body)


# -- handing records to the runtime --------------------------------------------------------


class _Record:
    """What aiokafka fetches: a `ConsumerRecord`'s fields the fetch loop and runtime read."""

    def __init__(self, topic: str, partition: int, offset: int) -> None:
        self.topic, self.partition, self.offset = topic, partition, offset
        self.key = self.value = b""
        self.timestamp, self.timestamp_type, self.headers = None, 0, []
        self.checksum, self.serialized_key_size, self.serialized_value_size = None, 0, 0


def _fetch(
    runtime: Runtime,
    fetches: list[tuple[dict[TP, list[Any]], set[TP] | None]],
    handle: Callable[[list[Any], int], Awaitable[None]],
    topics: frozenset[str] = frozenset({"src"}),
) -> tuple[Awaitable[None], list[Any]]:
    """Run `deliver_in_batches`' loop over `fetches` ((records, active partitions) each,
    as Faust's `_wait_next_records` returns them); returns it and the other topics'
    messages that went Faust's own way (its callback)."""
    consumer: Any = runtime.app.consumer
    for name in ("_wait_next_records", "perform_seek", "highwater", "callback", "_to_message"):
        assert callable(getattr(consumer, name))  # what the loop calls on Faust's consumer
    fetcher = type("Fetcher", (), {"_stopped": asyncio.Event()})()
    pending = list(fetches)
    others: list[Any] = []

    async def wait_next_records(timeout: float) -> Any:
        if len(pending) == 1:
            fetcher._stopped.set()
        return pending.pop(0)

    async def callback(message: Any) -> None:
        others.append(message)

    consumer._wait_next_records = wait_next_records
    consumer.callback = callback
    consumer.highwater = lambda tp: 0
    deliver_in_batches(runtime.app, topics, handle)
    return consumer._drain_messages(fetcher), others


def test_a_fetch_reaches_the_runtime_as_one_batch_with_its_generation() -> None:
    async def body(runtime: Runtime) -> None:
        handed: list[tuple[list[tuple[str, int, int]], int]] = []

        async def handle(records: list[Any], fetched: int) -> None:
            handed.append(([(r.topic, r.partition, r.offset) for r in records], fetched))

        consumer: Any = runtime.app.consumer
        consumer._read_offset[TP("src", 1)] = 5  # read up to 5 before (a seek moved it)
        runtime.app.consumer_generation_id = 3
        a, b, paused, other = TP("src", 0), TP("src", 1), TP("src", 2), TP("other", 0)
        records = {
            a: [_Record("src", 0, o) for o in (0, 1, 2)],
            b: [_Record("src", 1, o) for o in (4, 5, 6)],
            paused: [_Record("src", 2, 0)],
            other: [_Record("other", 0, 9)],
        }
        loop, others = _fetch(runtime, [(records, {a, b, other})], handle)
        await loop
        # one call, the records of the active partitions, none before a read offset
        assert handed == [([("src", 0, 0), ("src", 0, 1), ("src", 0, 2), ("src", 1, 5),
                            ("src", 1, 6)], 3)]  # fmt: skip
        assert consumer._read_offset[a] == 2 and consumer._read_offset[b] == 6
        assert consumer._read_offset[paused] is None  # left to whoever resumes it
        assert [(m.topic, m.offset) for m in others] == [("other", 9)]  # Faust's way

    with_runtime(body)


def test_nothing_is_handed_on_while_the_flow_is_stopped() -> None:
    async def body(runtime: Runtime) -> None:
        handed: list[Any] = []

        async def handle(records: list[Any], fetched: int) -> None:
            handed.append(records)

        consumer: Any = runtime.app.consumer
        seeks = Recorder()
        consumer.perform_seek = seeks
        consumer.stop_flow()  # a rebalance began
        records = {TP("src", 0): [_Record("src", 0, 0)]}
        loop, _ = _fetch(runtime, [(records, None)], handle)
        await loop
        assert handed == [] and len(seeks.calls) == 1  # back to the committed offsets

    with_runtime(body)


def test_a_new_generation_mid_fetch_ends_the_fetch() -> None:
    async def body(runtime: Runtime) -> None:
        handed: list[list[int]] = []

        async def handle(records: list[Any], fetched: int) -> None:
            handed.append([r.offset for r in records])

        records = {
            TP("src", 0): [_Record("src", 0, 0)],
            TP("other", 0): [_Record("other", 0, 0)],  # a rebalance while Faust handles it
            TP("src", 1): [_Record("src", 1, 0)],
        }
        loop, others = _fetch(runtime, [(records, None)], handle)
        faust_callback = runtime.app.consumer.callback

        async def rebalanced(message: Any) -> None:
            await faust_callback(message)
            runtime.app.consumer_generation_id += 1

        runtime.app.consumer.callback = rebalanced
        await loop
        assert handed == [[0]] and len(others) == 1

    with_runtime(body)


def test_an_error_in_the_runtime_stops_the_loop_as_in_faust() -> None:
    async def body(runtime: Runtime) -> None:
        async def handle(records: list[Any], fetched: int) -> None:
            raise ValueError(f"bad {records[0].offset}")

        records = {TP("src", 0): [_Record("src", 0, 0)]}
        loop, _ = _fetch(runtime, [(records, None), (records, None)], handle)
        with pytest.raises(ValueError, match="bad 0"):
            await loop

    with_runtime(body)


def test_the_runtime_applies_fetched_records_and_drops_an_older_generations() -> None:
    async def body(h: Harness) -> None:
        topic = sorted(h.runtime.sources)[0]
        fresh = _Record(topic, 0, 0)
        fresh.value = b"{}"
        h.runtime.app.consumer_generation_id = 1
        await h.runtime.process_records([fresh], 0)  # fetched before the rebalance
        assert h.runtime.counts["stale"] == 1
        await h.runtime.process_records([fresh], 1)
        assert h.runtime.counts["rejected"] == 1  # applied (as a bad record, `{}`)

    run(body)


def test_the_applied_offsets_are_committed_once_the_changelog_holds_them() -> None:
    async def body(h: Harness) -> None:
        runtime, app = h.runtime, h.runtime.app
        topic = sorted(runtime.sources)[0]
        app.assignor._assignment = ClientAssignment(
            actives={t: [0] for t in runtime.sources}, standbys={}
        )
        app.tables.recovery.completed.set()  # ready: recovered, no rebalance under way
        committed = asyncio.get_running_loop().create_future()

        class Committing(ListOwnership):
            def flush(self) -> list[Any]:
                return [committed]  # the open changelog transaction

        runtime.ownership = Committing(app, {})
        runtime.table.data["J|0"] = {"a": {topic: 4}, "n": 5, "w": {}}
        commits = Recorder(result=True)
        app.consumer._commit = commits
        committing = asyncio.ensure_future(runtime.commit_applied())
        await asyncio.sleep(0.05)
        assert commits.calls == []  # not before the changelog's commit
        committed.set_result(None)
        await asyncio.wait_for(committing, 1)
        assert commits.calls == [({TP(topic, 0): 5},)]  # nothing for topics none applied of
        await runtime.commit_applied()
        assert len(commits.calls) == 1  # nothing new

    run(body)


# -- the producer's flush -----------------------------------------------------------------


def test_the_flush_before_a_commit_waits_for_the_changelog() -> None:
    async def body(runtime: Runtime) -> None:
        buffer = runtime.app.producer.buffer
        loop = asyncio.get_running_loop()
        commits: list[asyncio.Future[bool]] = []

        class Committing(ListOwnership):
            def flush(self) -> list[Any]:
                return list(commits)

        runtime.ownership = Committing(runtime.app, {})  # create_app's flush asks it
        last: asyncio.Future[bool] = loop.create_future()
        commits.append(last)
        flushing = asyncio.ensure_future(buffer.flush())
        await asyncio.sleep(0.3)  # Faust's own flush would have given up after 0.1 s
        assert not flushing.done()
        last.set_result(False)  # a fenced commit ends the wait without an error
        await asyncio.wait_for(flushing, 1)
        # a commit that failed: the flush raises, so no offset commit follows it
        failed: asyncio.Future[bool] = loop.create_future()
        failed.set_exception(OSError("lost"))
        commits[:] = [failed]
        with pytest.raises(OSError, match="lost"):
            await buffer.flush()

    with_runtime(body)


def test_make_flush_a_barrier_keeps_fausts_flush_after_it() -> None:
    async def body(runtime: Runtime) -> None:
        buffer = runtime.app.producer.buffer
        order: list[str] = []

        async def faust_flush() -> None:
            order.append("faust")

        async def ours() -> None:
            order.append("ours")

        buffer.flush = faust_flush  # type: ignore[method-assign]
        make_flush_a_barrier(runtime.app, lambda: [ours()])
        await buffer.flush()
        assert order == ["ours", "faust"]

    with_runtime(body)


# -- table recovery ----------------------------------------------------------------------


def test_after_recovery_runs_after_the_tables_own_callback() -> None:
    async def body(runtime: Runtime) -> None:
        table = runtime.table
        order: list[Any] = []

        async def faust_callback() -> None:  # run by Table.on_recovery_completed
            order.append("faust")

        async def hook(active: set[TP], standby: set[TP]) -> None:
            order.append(("hook", active, standby))

        table.on_recover(faust_callback)
        runtime.rewind_to_journal = Recorder()  # type: ignore[method-assign]
        after_recovery(table, hook)
        await table.on_recovery_completed({TP("t", 0)}, {TP("t", 1)})
        assert order == ["faust", ("hook", {TP("t", 0)}, {TP("t", 1)})]

    with_runtime(body)


def test_recover_outside_faust_keeps_fausts_recovery_off_the_table() -> None:
    """create_app's `recover_outside_faust`: Faust's Recovery registers none of the table's
    changelog partitions, active or standby, and so reads none; other tables as before."""

    async def body(runtime: Runtime) -> None:
        app, table = runtime.app, runtime.table
        recovery = app.tables.recovery  # type: ignore[attr-defined]
        assert "add_active" not in vars(recovery)  # made lazily, replaced at a rebalance
        topic = table.changelog_topic.get_topic_name()
        assert topic == tallies_changelog(SETTINGS)
        app.assignor._assignment = ClientAssignment(actives={topic: [0, 2]}, standbys={topic: [1]})
        # what TableManager.on_rebalance does: every table's on_rebalance, then the Recovery's
        await table.on_rebalance(set(), set(), set(), 0)
        await recovery.on_rebalance(set(), set(), set(), generation_id=0)
        assert recovery.active_tps == set() and recovery.standby_tps == set()
        assert not recovery.need_recovery()
        other = app.Table("other", default=None, partitions=3)
        recovery.add_active(other, TP("other-changelog", 0))
        recovery.add_standby(other, TP("other-changelog", 1))
        assert recovery.active_tps == {TP("other-changelog", 0)}
        assert recovery.standby_tps == {TP("other-changelog", 1)}
        # a later rebalance does not wrap the methods again
        wrapped = recovery.add_active
        await table.on_rebalance(set(), set(), set(), 0)
        assert recovery.add_active is wrapped

    with_runtime(body)


def test_without_recover_outside_faust_faust_recovers_a_table() -> None:
    """The control: the same rebalance registers a plain table's changelog partitions, until
    `recover_outside_faust` is applied to it (a Faust that no longer registered them through
    `add_active` would pass the test above for the wrong reason, and fail this one)."""

    async def body(runtime: Runtime) -> None:
        app = runtime.app
        table = app.Table("plain", default=None, partitions=3)
        topic = table.changelog_topic.get_topic_name()
        app.assignor._assignment = ClientAssignment(actives={topic: [0, 2]}, standbys={})
        recovery = app.tables.recovery  # type: ignore[attr-defined]
        await table.on_rebalance(set(), set(), set(), 0)
        await recovery.on_rebalance(set(), set(), set(), generation_id=0)
        assert recovery.active_tps == {TP(topic, 0), TP(topic, 2)}
        recover_outside_faust(table)
        await table.on_rebalance(set(), set(), set(), 0)
        await recovery.on_rebalance(set(), set(), set(), generation_id=0)
        assert recovery.active_tps == set()

    with_runtime(body)


# -- aiokafka's transactional producer ------------------------------------------------------


def test_retrieve_failures_quiets_the_futures_a_fenced_producer_leaves() -> None:
    """What `Sender._fail_all` does when the broker fences the producer, on a real (never
    started) aiokafka producer; without the hook asyncio logs two futures when collected."""

    async def body() -> None:
        logged: list[dict[str, Any]] = []
        asyncio.get_running_loop().set_exception_handler(lambda _, c: logged.append(c))

        def fenced(retrieve: bool) -> None:
            producer = AIOKafkaProducer(bootstrap_servers="localhost:1", transactional_id="t")
            manager, accumulator = producer._txn_manager, producer._message_accumulator
            manager.set_pid_and_epoch(1, 0)
            manager.begin_transaction()
            builder = producer.create_batch()
            builder.append(key=b"k", value=b"v", timestamp=None)
            builder.close()
            batch = MessageBatch(TopicPartition("t", 0), builder, 30, 0)
            accumulator._batches[batch._tp].append(batch)
            accumulator.fail_all(ProducerFenced())
            manager.fatal_error(ProducerFenced())
            batch.future.exception()  # the writer holds and reads the batch's own future
            if retrieve:
                retrieve_failures(producer)
            producer._closed = True  # never started: nothing to stop

        fenced(retrieve=False)
        gc.collect()
        assert len(logged) == 2  # the batch's drain waiter and the transaction's waiter
        logged.clear()
        fenced(retrieve=True)
        gc.collect()
        assert logged == []

    asyncio.run(body())
