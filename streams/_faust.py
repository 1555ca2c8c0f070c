"""The one door to Faust's and aiokafka's internals.

The exactly-once argument of `streams.app` leans on a few things faust-streaming and
aiokafka do not offer as public API: committing offsets of our choosing, the consumer
generation of a fetched record, a flush that waits, a hook after table recovery,
keeping Faust's own recovery away from a table we rebuild ourselves, and the failures a
fenced aiokafka producer leaves behind. Each is one small
function here whose docstring names the internals it relies on; nothing else in the
streams touches a private attribute of theirs or patches their objects (ruff's SLF001
is lifted for this file alone).

They are read against faust-streaming 0.15.3 and aiokafka 0.14.0, the versions pinned
in pyproject.toml. `check_versions` (called by `streams.app.create_app`) refuses any
other: an upgrade means reading every function below against the new code, then moving
the pins here and in pyproject.toml together (a test checks that they agree).

Size: one door means one file; the longest piece is Faust's fetch loop, copied with
what `deliver_in_batches` changes, so that it is read beside what it changes.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
from collections.abc import Awaitable, Callable, Iterable, Mapping, MutableMapping
from typing import Any, cast

import faust
from faust.types import TP, Message, TableT

from streams.errors import UnsupportedVersion

__all__ = [
    "PINNED",
    "table_state",
    "check_versions",
    "generation",
    "message_generation",
    "assigned_partitions",
    "recovered",
    "rebalancing",
    "commit_offsets",
    "seek",
    "make_flush_a_barrier",
    "shorten_fetch_wait",
    "deliver_in_batches",
    "after_recovery",
    "recover_outside_faust",
    "retrieve_failures",
]

#: distribution -> the version this module is written against (pyproject.toml pins the same).
PINNED: Mapping[str, str] = {"faust-streaming": "0.15.3", "aiokafka": "0.14.0"}


def check_versions() -> None:
    """Refuse to run on a faust-streaming or aiokafka other than the pinned ones.

    The installed versions come from `importlib.metadata`; a missing distribution counts
    as a wrong one. Raises `streams.errors.UnsupportedVersion`.
    """
    wrong = []
    for dist, pinned in PINNED.items():
        try:
            installed: str | None = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            installed = None
        if installed != pinned:
            wrong.append(f"{dist} {installed or '(not installed)'} where {pinned} is pinned")
    if wrong:
        pins = " and ".join(f"{dist} {pinned}" for dist, pinned in PINNED.items())
        raise UnsupportedVersion(
            f"the stream worker hooks into internals of exactly {pins} (streams/_faust.py), "
            f"but found {'; '.join(wrong)}. Install the pinned versions (pip install -e .), "
            "or port streams/_faust.py and move its pins with pyproject.toml"
        )


# -- the consumer group's state ------------------------------------------------------


def generation(app: faust.App) -> int:
    """The consumer group generation of the current assignment.

    `App.consumer_generation_id`: the aiokafka driver's rebalance listener sets it from
    aiokafka's `consumer._coordinator.generation` when partitions are assigned
    (`ConsumerRebalanceListener.on_partitions_assigned`, faust/transport/drivers/aiokafka.py).
    0 before the first assignment and in `Agent.test_context()`.
    """
    return int(app.consumer_generation_id)


def message_generation(message: Message) -> int | None:
    """The generation under which `message` was fetched (compare with `generation`).

    `Message.generation_id`: the aiokafka driver stamps every record it turns into a
    message with `app.consumer_generation_id` at fetch time (`Consumer._to_message`,
    faust/transport/drivers/aiokafka.py); the test context's `to_message` does the same
    (`AgentTestWrapper.to_message`, faust/agents/agent.py).
    A record buffered before a rebalance thus carries the old generation.
    """
    return message.generation_id


def assigned_partitions(app: faust.App) -> frozenset[TP]:
    """The active topic-partitions the group assigned to this worker.

    `app.assignor.assigned_actives()` (faust/assignor/partition_assignor.py): read from the
    assignor's `_assignment`, which starts empty and is replaced at every `on_assignment`;
    so it is empty before the first assignment and in a test context, and never raises.
    """
    return frozenset(app.assignor.assigned_actives())


def table_state(table: TableT[Any, Any]) -> MutableMapping[Any, Any]:
    """The dict a memory-store table keeps its entries in (`Store.data`, faust/stores/
    memory.py), or the store itself for any other kind.

    The store is a `FastUserDict` (mode/utils/collections.py) with no `get` of its own:
    `Mapping.get` raises and catches KeyError for each key not there, most of a chunk's
    reads (a new event's ledger entry): 7% of a worker's py-spy samples.
    The store's own reads and writes are this dict's, so both see the same entries.
    """
    store = table.data
    data = getattr(store, "data", None)
    return data if type(data) is dict else store


def recovered(app: faust.App) -> bool:
    """Whether table recovery has completed (since the first assignment).

    `app.tables.recovery.completed`, a mode `Event` the Recovery service sets once the
    changelogs are read and the stream partitions resumed (faust/tables/recovery.py,
    `on_recovery_completed` / `_resume_streams`). Faust 0.15.3 never clears it again, so
    after the first recovery "is a rebalance under way" is `rebalancing`.
    """
    recovery = cast(Any, app.tables).recovery  # TableManagerT does not declare it
    return bool(recovery.completed.is_set())


def rebalancing(app: faust.App) -> bool:
    """Whether a rebalance is under way: `App.rebalancing` (faust/app/base.py).

    True from `on_rebalance_start` (called by the driver's listener as partitions are
    revoked) until `on_rebalance_end`, which the Recovery service calls only after every
    table's `on_recovery_completed` (our `after_recovery` hook included) has returned.
    """
    return bool(app.rebalancing)


# -- moving the group's offsets and the consumer --------------------------------------


async def commit_offsets(app: faust.App, offsets: Mapping[TP, int]) -> bool:
    """Commit `offsets` (next offsets to read) for the group, whatever Faust has acked.

    Faust's public `Consumer.commit` commits only the offsets Faust tracks as acked, so
    this calls the driver's `Consumer._commit(offsets)` (ThreadDelegateConsumer._commit in
    faust/transport/consumer.py -> `AIOKafkaConsumerThread._commit` in
    faust/transport/drivers/aiokafka.py, on the consumer thread). That drops partitions
    outside the current assignment, returns False when the group has already rebalanced,
    and on any other commit error logs it, crashes the consumer service and returns False:
    it does not raise.
    """
    return bool(await cast(Any, app.consumer)._commit(offsets))


async def seek(app: faust.App, offsets: Mapping[TP, int]) -> None:
    """Move the consumer to `offsets` and wait until its position says so.

    `Consumer.seek_wait` (ThreadDelegateConsumer -> `AIOKafkaConsumerThread.seek_wait`,
    faust/transport/drivers/aiokafka.py): aiokafka's `seek` per partition, Faust's own
    `_read_offset` set to match (deleted for offset 0), then awaits aiokafka's `position`
    of each partition, up to `broker_request_timeout`. Raises (aiokafka's
    IllegalStateError, a timeout, ...) when a partition is no longer assigned.
    """
    await app.consumer.seek_wait(offsets)


# -- the producer's flush ----------------------------------------------------------------


def make_flush_a_barrier(app: faust.App, wait_for: Callable[[], Iterable[Awaitable[Any]]]) -> None:
    """Make the flush Faust awaits before every offset commit wait for `wait_for()` first.

    Faust's `Consumer._commit_offsets` awaits `app.producer.flush()` before it commits
    (faust/transport/consumer.py); the aiokafka driver's `Producer.flush` starts with
    `await self.buffer.flush()` (faust/transport/drivers/aiokafka.py), the `ProducerBuffer`
    of faust/transport/producer.py, whose flush gives up after 0.1 s without progress
    (`flush_atmost`). We replace that instance's `flush` with one that first awaits every
    awaitable `wait_for()` returns (a failed one raises, so the commit does not happen),
    then Faust's own. The buffer also flushes itself when the producer stops.
    """
    buffer = app.producer.buffer
    faust_flush = buffer.flush

    async def flush() -> None:
        for waiting in list(wait_for()):
            await waiting
        await faust_flush()

    buffer.flush = flush  # type: ignore[method-assign]


# -- the consumer's fetch ---------------------------------------------------------------


def shorten_fetch_wait(app: faust.App, max_wait_ms: int) -> None:
    """Make the worker's aiokafka consumer fetch with `fetch_max_wait_ms=max_wait_ms`.

    Faust's aiokafka driver builds the worker's consumer with `fetch_max_wait_ms=1500`,
    whatever its configuration says (`AIOKafkaConsumerThread._create_worker_consumer`,
    faust/transport/drivers/aiokafka.py). aiokafka's fetcher leaves out of a fetch request
    every partition whose fetched records are not consumed yet, and sends none to a node
    while such records wait past their backoff (`Fetcher._get_actions_per_node`,
    aiokafka/consumer/fetcher.py). So a request can go out for just the partitions that
    had nothing, which the broker then holds for up to the whole wait while records pile
    up on all the others: the worker fell into a rhythm of 1.5 s stalls at a steady 1,000
    events/s (p50 1.2-2 s from produce to visible, `bench streams`).

    The consumer thread's `_create_worker_consumer` is wrapped on the instance to set
    the new consumer's `_fetch_max_wait_ms`, which `AIOKafkaConsumer.start` hands to the
    `Fetcher` it builds (aiokafka/consumer/consumer.py); the thread creates and starts
    the consumer in its `on_start`. Call before the app starts.
    """
    thread = cast(Any, app.consumer)._thread  # ThreadDelegateConsumer's AIOKafkaConsumerThread
    faust_create = thread._create_worker_consumer

    def create_worker_consumer(transport: Any) -> Any:
        consumer = faust_create(transport)
        consumer._fetch_max_wait_ms = max_wait_ms
        return consumer

    thread._create_worker_consumer = create_worker_consumer


# -- handing records to the agent --------------------------------------------------------


def deliver_in_batches(
    app: faust.App,
    topics: frozenset[str],
    handle: Callable[[list[Any], int], Awaitable[None]],
) -> None:
    """Hand each fetch's records of `topics` to `handle(records, generation)` at once,
    as aiokafka's `ConsumerRecord`s, instead of one by one through the agent's stream.

    Faust turns every fetched record into a `Message` (`Consumer.getmany`), hands it to
    `Conductor.on_message` (flow control, the producer's ebb, the decode into an `Event`,
    the stream queue's put), and the agent's stream takes it out again, tracks it and
    acks it: 60 of the worker's 130 us an event (py-spy, `bench streams`). The worker
    needs none of it: it applies records per partition in offset order, drops a record
    fetched in an older generation, refuses a gap, and takes where to resume from its
    journal (`Runtime.rewind_to_journal`), not from acked offsets. So the fetch loop
    below (Faust 0.15.3's `_drain_messages` and `getmany`, faust/transport/consumer.py)
    keeps what Faust decides per fetch -- nothing while the flow is stopped (a seek back
    to the committed offsets instead), only the active (not paused) partitions, nothing
    more once the generation changes, nothing before a partition's read offset, which it
    moves -- and hands the records of `topics` on as one list with the generation they
    were fetched in. Records of any other topic take Faust's own way, record by record.

    No record of `topics` is then tracked or acked by Faust, so its timer commits none of
    their offsets, and a rebalance does not wait for them (`Consumer.wait_empty`): the
    caller commits offsets itself and must be safe against a rebalance mid-batch (the
    runtime checks its writer, with no await before the table changes). Installed as
    the consumer instance's `_drain_messages`, which the `Fetcher` service calls
    (`Fetcher._fetcher`); call before the app starts.
    """
    from faust.transport.consumer import CONSUMER_FETCHING

    consumer = cast(Any, app.consumer)

    async def _drain_messages(fetcher: Any) -> None:  # pragma: no cover - Faust's loop
        self = consumer
        callback = self.callback
        consumer_should_stop = self._stopped.is_set
        fetcher_should_stop = fetcher._stopped.is_set
        get_read_offset = self._read_offset.__getitem__
        set_read_offset = self._read_offset.__setitem__
        buffered = self._buffered_partitions
        track_end_offset = self.app.monitor.track_tp_end_offset
        to_message = self._to_message
        set_flag = self.diag.set_flag
        unset_flag = self.diag.unset_flag
        try:
            while not (consumer_should_stop() or fetcher_should_stop()):
                set_flag(CONSUMER_FETCHING)
                records, active = await self._wait_next_records(1.0)
                fetched = self.app.consumer_generation_id
                await self.sleep(0)
                if records is None or self.should_stop:
                    continue
                if not self.flow_active:
                    try:
                        await self.perform_seek()  # as Faust's getmany does
                    except Exception as exc:  # noqa: BLE001 - Faust only warns, too
                        self.log.warning(f"exception performing seek when flow not active {exc}")
                    continue
                batch: list[Any] = []
                for tp, tp_records in records.items():
                    if not self.flow_active or self.app.consumer_generation_id != fetched:
                        break
                    if not (active is None or tp in active or tp in buffered) or not tp_records:
                        continue
                    track_end_offset(tp, self.highwater(tp))
                    r_offset = get_read_offset(tp)
                    if r_offset is not None and tp_records[0].offset < r_offset:
                        tp_records = [r for r in tp_records if r.offset >= r_offset]
                        if not tp_records:
                            continue
                    if tp.topic in topics:
                        batch += tp_records
                    else:
                        for record in tp_records:
                            message = to_message(tp, record)
                            await self.wait_first(callback(message), self.suspend_flow.wait())
                    set_read_offset(tp, tp_records[-1].offset)
                if batch:
                    await handle(batch, fetched)
                unset_flag(CONSUMER_FETCHING)
        except self.consumer_stopped_errors:
            if self.transport.app.should_stop:
                self.log.info("Broker stopped consumer, shutting down...")
                return
            raise
        except asyncio.CancelledError:
            if self.transport.app.should_stop:
                self.log.info("Consumer shutting down for user cancel.")
                return
            raise
        except Exception as exc:
            self.log.exception("Drain messages raised: %r", exc)
            raise
        finally:
            unset_flag(CONSUMER_FETCHING)

    consumer._drain_messages = _drain_messages


# -- table recovery --------------------------------------------------------------------


def after_recovery(
    table: TableT[Any, Any], hook: Callable[[set[TP], set[TP]], Awaitable[None]]
) -> None:
    """Run `hook(active_tps, standby_tps)` right after the table's own recovery callback.

    The Recovery service calls `table.on_recovery_completed(actives, standbys)` of every
    table once their changelogs are read, while the source partitions are still paused,
    and only then resumes them and seeks to the committed offsets (`Recovery.
    on_recovery_completed`, faust/tables/recovery.py). It looks the method up on the
    instance, so an instance attribute wrapping the bound method takes its place. It
    gathers the callbacks with `asyncio.wait`, which would swallow an exception of
    `hook`: the hook must handle its own errors.
    """
    faust_completed = table.on_recovery_completed

    async def on_recovery_completed(active_tps: set[TP], standby_tps: set[TP]) -> None:
        await faust_completed(active_tps, standby_tps)
        await hook(active_tps, standby_tps)

    table.on_recovery_completed = on_recovery_completed  # type: ignore[method-assign]


def recover_outside_faust(table: TableT[Any, Any]) -> None:
    """Keep Faust's own recovery away from `table`'s changelog: the caller rebuilds the table
    itself, from committed records only (`streams.ownership`, run by `after_recovery`).

    At every assignment `Recovery.on_rebalance` (faust/tables/recovery.py) registers each
    assigned changelog partition of a table through the instance's `add_active(table, tp)`
    (`add_standby` for standbys), then reads it from its start (an in-memory store persists
    no offset) with the worker's read_uncommitted consumer until it has seen a record at
    the offset before the partition's end. For a changelog written in transactions that
    reads aborted records, and waits forever: the last offset is a commit marker, which no
    consumer receives (Faust looks past markers only in its own exactly-once mode,
    `detect_aborted_tx`). The Recovery's `add_active` and `add_standby` are replaced by
    ones that leave this table out: Faust then reads none of its partitions, keeps them
    paused, and calls `table.on_recovery_completed(set(), standbys)` (so `after_recovery`
    hooks get no active partitions of it). `TableManager.recovery` makes the Recovery
    lazily, in the worker's loop, so the replacement is made by the table's
    `on_rebalance`, which `TableManager.on_rebalance` awaits for every table before
    `recovery.on_rebalance`; it looks both methods up on the instance.
    """
    faust_on_rebalance = table.on_rebalance
    done: list[Any] = []  # the Recovery instance already changed

    def leave_out(register: Callable[[Any, TP], None]) -> Callable[[Any, TP], None]:
        def add(of: Any, tp: TP) -> None:
            if of is not table:
                register(of, tp)

        return add

    async def on_rebalance(
        assigned: set[TP], revoked: set[TP], newly_assigned: set[TP], generation_id: int = 0
    ) -> None:
        recovery = cast(Any, table.app.tables).recovery  # TableManagerT does not declare it
        if not any(r is recovery for r in done):
            recovery.add_active = leave_out(recovery.add_active)
            recovery.add_standby = leave_out(recovery.add_standby)
            done.append(recovery)
        await faust_on_rebalance(assigned, revoked, newly_assigned, generation_id)

    table.on_rebalance = on_rebalance  # type: ignore[method-assign]


# -- aiokafka's transactional producer ----------------------------------------------------


def retrieve_failures(producer: Any) -> None:
    """Mark the failed futures a fenced (or otherwise failed) aiokafka producer leaves
    behind as retrieved, so that asyncio does not log each as "exception was never
    retrieved" when it is collected (the error is handled: `streams.changelog`).

    When the broker refuses a transactional producer, its sender task dies and
    `Sender._fail_all` (aiokafka/producer/sender.py) fails, through
    `MessageAccumulator.fail_all`, every queued `MessageBatch`: its `future` (which the
    caller holds) and its `_drain_waiter` (awaited only by a `send_batch` waiting for
    room), and, through `TransactionManager.fatal_error`, the `_transaction_waiter`
    (awaited only by a commit or abort in progress). Batches stay in the accumulator's
    `_batches` (per partition) or `_pending_batches` (in flight).
    """
    futures = []
    manager = producer._txn_manager
    if manager is not None and manager._transaction_waiter is not None:
        futures.append(manager._transaction_waiter)
    accumulator = producer._message_accumulator
    batches = [b for queued in accumulator._batches.values() for b in queued]
    for batch in batches + list(accumulator._pending_batches):
        futures += [batch.future, batch._drain_waiter]
    for future in futures:
        if future.done() and not future.cancelled():
            future.exception()
