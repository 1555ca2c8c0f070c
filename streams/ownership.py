"""Which changelog partitions this worker may write, and taking them over after an assignment.

The fencing argument (why a worker that lost a partition can change neither its
figures nor its changelog):

1. Every changelog write goes through the partition's `PartitionWriter`, a
   transactional producer whose id belongs to the partition, not to the worker
   (`infra.topics.changelog_writer_id`). Only a `ready` writer of the current
   generation sends.
2. After every assignment, before the source partitions resume, the worker keeps
   the partitions it still owns and takes the others over. `release` stops the
   writers of partitions no longer assigned, and of those no longer usable
   (synchronously: from then on no chunk of theirs touches the table; what they had
   sent is committed, or aborted by the fences that follow). A partition assigned
   again whose writer is still usable is kept, table and writer, once a write proves
   that writer still holds the fence (`Runtime.take_over` journals it again: had
   anyone fenced it meanwhile, the broker refuses that write and the partition is
   taken over instead). `take_over` starts one writer per other partition -- each
   start bumps the id's epoch on the broker, which aborts the previous owner's open
   transaction and refuses everything that owner sends or commits from then on,
   however long it was paused and whatever it still believes -- then reads those
   partitions back, committed records only, to the end offset it finds *after*
   those fences, and only then replaces their keys in the table. Nobody else can
   write there any more, so that end is final: the state is exactly what every
   earlier owner committed.
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

__all__ = [
    "Owners",
    "Writer",
    "Ownership",
    "RecoveryStalled",
    "read_committed",
    "drop_partitions",
]

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
    async def settled(self) -> bool: ...


class Owners(Protocol):
    """The writers of the owned partitions (`streams.ownership.Ownership`; tests swap one in)."""

    def writer(self, partition: int) -> Writer | None: ...
    def fenced(self) -> frozenset[int]: ...
    def flush(self) -> Iterable[Awaitable[Any]]: ...
    async def release(
        self, partitions: Iterable[int], generation: int
    ) -> tuple[frozenset[int], frozenset[int]]: ...
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

    async def release(
        self, partitions: Iterable[int], generation: int
    ) -> tuple[frozenset[int], frozenset[int]]:
        """Stop the writers of partitions not in `partitions`, and of those no longer
        usable; keep the others, now for `generation`. Returns (kept, released)."""
        wanted = set(partitions)
        kept = {p: w for p, w in self._writers.items() if p in wanted and w.usable()}
        gone = [w for p, w in self._writers.items() if p not in kept]
        for writer in gone:
            writer.retire()
        for writer in kept.values():
            writer.generation = generation
        self._writers = kept
        await asyncio.gather(*(w.close() for w in gone))
        return frozenset(kept), frozenset(w.partition for w in gone)

    async def take_over(
        self,
        partitions: Iterable[int],
        generation: int,
        table: MutableMapping[str, Any],
        current: Callable[[], bool],
    ) -> bool:
        """Fence every other writer of `partitions`, replace their keys in `table` by their
        committed records, and own them; False (owning none of them) if `current()` turns
        False meanwhile (another rebalance: its own take-over follows). Other partitions'
        keys and writers stay as they are."""
        wanted = sorted(set(partitions))
        await asyncio.gather(*(w.close() for p in wanted if (w := self._writers.pop(p, None))))
        new = {p: self._writer_for(p, generation) for p in wanted}
        done = False
        try:
            await asyncio.gather(*(w.start() for w in new.values()))
            if current():
                read: dict[str, Any] = {}
                self.recovered = await read_committed(
                    self.bootstrap,
                    self.topic,
                    new,
                    read,
                    client_id=f"{self.worker_id}-recovery",
                    current=current,
                )
                done = current()
                if done:  # no await from here on: the agent never sees half of it
                    drop_partitions(table, new)
                    table.update(read)
        finally:
            if done:
                self._writers.update(new)
            else:
                await asyncio.gather(*(w.close() for w in new.values()))
        return done

    async def close(self) -> None:
        """Let the commits in flight end and stop every writer (the worker stops)."""
        old, self._writers = self._writers, {}
        await asyncio.gather(*(w.close() for w in old.values()))


def drop_partitions(table: MutableMapping[str, Any], partitions: Iterable[int]) -> None:
    """Remove every key of `partitions` from `table` (each key names its partition second:
    `J|<p>`, `L|<p>|...`, `A|<p>|...`, `K|<p>|...`, see `streams.engine`)."""
    names = {str(p) for p in partitions}
    if names:
        for key in [k for k in table if k.split("|", 2)[1] in names]:
            del table[key]


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

    Only each key's last value is decoded (JSON decoding was most of the time: a key is
    written again by every chunk that changes it, and every chunk's journal repeats its
    values), and the decoding yields to the event loop now and then, so the partitions a
    worker kept go on meanwhile.

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
    latest: dict[bytes, bytes | None] = {}  # key -> its last value, as the log holds them
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
                    latest[m.key] = m.value
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
    for done, (raw_key, raw_value) in enumerate(latest.items(), start=1):
        key = json.loads(raw_key)
        if raw_value is None:
            table.pop(key, None)
        else:
            table[key] = json.loads(raw_value)
        if done % 5000 == 0:
            await asyncio.sleep(0)
    return applied
