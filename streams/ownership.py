"""Which changelog partitions this worker may write, and taking them over after an assignment.

The fencing argument (why a worker that lost a partition can change neither its
figures nor its changelog):

1. Every changelog write goes through the partition's `PartitionWriter`, a
   transactional producer whose id belongs to the partition, not to the worker
   (`infra.topics.changelog_writer_id`). Only a `ready` writer of the current
   generation sends.
2. `take_over` runs after every assignment, before the source partitions resume.
   It retires this worker's old writers (synchronously: from then on no chunk of
   theirs touches the table; what they had sent is committed, or aborted by the
   fences that follow), starts one writer per assigned partition -- each
   start bumps the id's epoch on the broker, which aborts the previous owner's open
   transaction and refuses everything that owner sends or commits from then on,
   however long it was paused and whatever it still believes -- then empties the
   table and reads every assigned partition back, committed records only, to the
   end offset it finds *after* those fences. Nobody else can write there any more,
   so that end is final: the state is exactly what every earlier owner committed.
3. A zombie learns of its fence when the broker refuses its transaction
   (ProducerFenced): the writer turns `fenced`, the chunk is abandoned (its events
   are read again by the owner, from its journal), the worker stops applying and
   reporting that partition and keeps its others. Its table may hold the abandoned
   writes until its next assignment, which rebuilds it from the changelog anyway.

Faust's own recovery never reads this table (`streams._faust.recover_outside_faust`):
it reads uncommitted records, and waits for a record at the offset before the end,
which in a transactional log is a commit marker no consumer ever receives.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any, Protocol

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from infra.settings import Settings
from infra.topics import changelog_writer_id, tallies_changelog
from streams.changelog import PartitionWriter, Record
from streams.errors import StreamsError

__all__ = ["Owners", "Writer", "Ownership", "RecoveryStalled", "read_committed"]

log = logging.getLogger(__name__)

#: Bytes per changelog record batch (Kafka's message.max.bytes default is 1 MiB + 12).
CHANGELOG_BATCH = 900_000
#: How long a transaction may stay open before the broker aborts it (and fences its writer).
TRANSACTION_TIMEOUT_MS = 60_000


class Writer(Protocol):
    """One changelog partition's writer (`streams.changelog.PartitionWriter`)."""

    @property
    def partition(self) -> int: ...
    @property
    def generation(self) -> int: ...
    @property
    def state(self) -> str: ...
    def usable(self) -> bool: ...
    async def send(self, records: list[Record]) -> None: ...


class Owners(Protocol):
    """The writers of the owned partitions (`streams.ownership.Ownership`; tests swap one in)."""

    def writer(self, partition: int) -> Writer | None: ...
    def fenced(self) -> frozenset[int]: ...
    def flush(self) -> Iterable[Awaitable[Any]]: ...
    async def take_over(
        self,
        partitions: Iterable[int],
        generation: int,
        table: Any,
        current: Callable[[], bool],
    ) -> bool: ...
    async def close(self) -> None: ...


class RecoveryStalled(StreamsError):
    """Reading the changelog back made no progress for too long (the broker is unwell)."""


class Ownership:
    """The writers of the partitions this worker owns in the current generation."""

    def __init__(
        self,
        settings: Settings,
        bootstrap: str,
        worker_id: str,
        on_fatal: Callable[[BaseException], None],
    ) -> None:
        self.settings = settings
        self.bootstrap = bootstrap
        self.worker_id = worker_id
        self.on_fatal = on_fatal
        self.topic = tallies_changelog(settings)
        self._writers: dict[int, PartitionWriter] = {}
        #: Changelog records read back by the last take-over.
        self.recovered = 0

    def writer(self, partition: int) -> PartitionWriter | None:
        """The partition's writer, or None: not owned (yet) in this generation."""
        return self._writers.get(partition)

    def fenced(self) -> frozenset[int]:
        """Owned partitions whose writer the broker fenced: another worker owns them now."""
        return frozenset(p for p, w in self._writers.items() if w.state == "fenced")

    def flush(self) -> list[Awaitable[Any]]:
        """Commit all sent so far now; what to wait for (Faust's flush before its commit)."""
        return [f for w in self._writers.values() if (f := w.flush()) is not None]

    def _writer_for(self, partition: int, generation: int) -> PartitionWriter:
        producer = AIOKafkaProducer(
            bootstrap_servers=self.bootstrap,
            client_id=f"{self.worker_id}-changelog-{partition}",
            transactional_id=changelog_writer_id(self.settings, partition),
            transaction_timeout_ms=TRANSACTION_TIMEOUT_MS,
            max_batch_size=CHANGELOG_BATCH,
            max_request_size=4 * 1024 * 1024,
        )
        return PartitionWriter(producer, self.topic, partition, generation, self.on_fatal)

    async def take_over(
        self,
        partitions: Iterable[int],
        generation: int,
        table: MutableMapping[str, Any],
        current: Callable[[], bool],
    ) -> bool:
        """Fence every other writer of `partitions`, rebuild `table` from their committed
        records, and own them; False (owning nothing) if `current()` turns False meanwhile
        (another rebalance: its own take-over follows)."""
        old, self._writers = self._writers, {}
        for writer in old.values():
            writer.retire()
        await asyncio.gather(*(w.close() for w in old.values()))
        new = {p: self._writer_for(p, generation) for p in sorted(set(partitions))}
        done = False
        try:
            await asyncio.gather(*(w.start() for w in new.values()))
            if current():
                table.clear()
                self.recovered = await read_committed(
                    self.bootstrap,
                    self.topic,
                    new,
                    table,
                    client_id=f"{self.worker_id}-recovery",
                    current=current,
                )
                done = current()
        finally:
            if done:
                self._writers = new
            else:
                await asyncio.gather(*(w.close() for w in new.values()))
        return done

    async def close(self) -> None:
        """Let the commits in flight end and stop every writer (the worker stops)."""
        old, self._writers = self._writers, {}
        await asyncio.gather(*(w.close() for w in old.values()))


async def read_committed(
    bootstrap: str,
    topic: str,
    partitions: Iterable[int],
    table: MutableMapping[str, Any],
    *,
    client_id: str,
    current: Callable[[], bool] = lambda: True,
    stall_timeout: float = 60.0,
) -> int:
    """Apply the committed records of `topic`'s `partitions` to `table`, in log order, up to
    the ends found now; returns the records applied. Values are Faust's json, a null value
    deletes its key. Stops early (the table partly read) when `current()` turns False.

    The end offsets are read committed (the last stable offset); the caller fenced every
    writer first, so no transaction can be open below them nor commit after.
    """
    tps = [TopicPartition(topic, p) for p in partitions]
    if not tps:
        return 0
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        client_id=client_id,
        isolation_level="read_committed",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=8 * 1024 * 1024,
    )
    await consumer.start()
    applied = 0
    try:
        consumer.assign(tps)
        ends = await consumer.end_offsets(tps)
        for tp in tps:
            consumer.seek(tp, 0)  # below the log start: reset to the earliest offset
        left = {tp for tp in tps if ends[tp] > 0}
        positions: dict[TopicPartition, int] = {}
        progress = time.monotonic()
        while left and current():
            fetched = await consumer.getmany(*left, timeout_ms=500)
            for messages in fetched.values():
                for m in messages:
                    key = json.loads(m.key)
                    if m.value is None:
                        table.pop(key, None)
                    else:
                        table[key] = json.loads(m.value)
                applied += len(messages)
            for tp in list(left):
                position = await consumer.position(tp)
                if position != positions.get(tp):  # records, or only markers and aborted ones
                    positions[tp], progress = position, time.monotonic()
                if position >= ends[tp]:
                    left.discard(tp)
            if time.monotonic() - progress > stall_timeout:
                raise RecoveryStalled(
                    f"reading {topic} back made no progress for {stall_timeout:.0f}s "
                    f"(partitions {sorted(tp.partition for tp in left)})"
                )
    finally:
        await consumer.stop()
    return applied
