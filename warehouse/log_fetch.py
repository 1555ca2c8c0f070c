"""The Kafka replay's reads with confluent-kafka (librdkafka): a reader's topic-partitions
from their beginning up to their ends, a fetch at a time.

Why not kafka-python here: its fetch and record decoding in Python took 17% of a replay
reader's CPU (8 us a record), where librdkafka decodes in C and hands over a record for
about 2.5 us (`arrears bench replay`, whose bare floors measure both clients). Everything
else that talks to Kafka (admin, ingest, the archiver, the record-by-record replay) keeps
kafka-python, the design card's client.

Two settings matter, both measured: all of a reader's partitions are assigned at once (one
at a time, each assignment waited about a second for its first fetch), and the fetcher
backs off 10 ms, not librdkafka's 1,000 ms, when its queue is full (with the default,
a reader that fell behind its queue sat idle for a second each time).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, TopicPartition

from warehouse.errors import WarehouseError

__all__ = ["plan_batches", "STALL_SECONDS"]

#: How long a read may go without progress before it fails (a dead broker, a lost partition).
STALL_SECONDS = 60.0
_CONFIG = {
    # Required by the client; nothing is ever committed under it (assign, no subscribe).
    "group.id": "arrears-replay-reads",
    "enable.auto.commit": False,
    "enable.auto.offset.store": False,
    # What kafka-python (the archiver, the record-by-record replay) reads, so every path folds
    # the same records; librdkafka's default, read_committed, would also wait on open
    # transactions past the ends this read was given.
    "isolation.level": "read_uncommitted",
    "fetch.max.bytes": 64 * 1024 * 1024,
    "max.partition.fetch.bytes": 16 * 1024 * 1024,
    "fetch.wait.max.ms": 10,
    "fetch.queue.backoff.ms": 10,
    "socket.receive.buffer.bytes": 4 * 1024 * 1024,
}
_BATCH = 20_000  # records a consume() call hands over at most


Batch = list[tuple[int, bytes, bytes | None]]


def plan_batches(
    bootstrap: str, client_id: str, plan: Sequence[tuple[str, int, int]]
) -> Iterator[tuple[str, int, Batch]]:
    """(topic, partition, [(offset, value, key)]) of every record of the plan's
    (topic, partition, end): from the partition's beginning up to `end` (exclusive).

    The partitions are read side by side, so batches of different partitions interleave;
    within one partition the offsets ascend. Offsets the log no longer has (transaction
    markers, compaction) are skipped; a read that makes no progress for STALL_SECONDS, or
    that the client reports it cannot do (an unknown topic or partition), fails with
    WarehouseError.
    """
    left = {(topic, partition): end for topic, partition, end in plan if end > 0}
    if not left:
        return
    try:
        consumer = Consumer({"bootstrap.servers": bootstrap, "client.id": client_id, **_CONFIG})
    except KafkaException as err:
        raise WarehouseError(f"cannot make a Kafka client for {bootstrap}: {err}") from err
    try:
        consumer.assign([TopicPartition(t, p, OFFSET_BEGINNING) for t, p in left])
        last_progress = time.monotonic()
        while left:
            # Any: a message with no error always has its topic, partition, offset and value,
            # which the stubs type as optional for the error messages' sake.
            messages: list[Any] = consumer.consume(num_messages=_BATCH, timeout=0.5)
            batches: dict[tuple[str, int], Batch] = {}
            for message in messages:
                error = message.error()
                if error is not None:
                    _raise_if_fatal(error, bootstrap)
                    continue
                at = (message.topic(), message.partition())
                end = left.get(at)
                offset = message.offset()
                if end is None or offset >= end:
                    continue  # past this read's end (fetched with the batch before it)
                batch = batches.get(at)
                if batch is None:
                    batch = batches[at] = []
                batch.append((offset, message.value(), message.key()))
            for (topic, partition), batch in batches.items():
                yield topic, partition, batch
            if batches:
                last_progress = time.monotonic()
            _drop_finished(consumer, left)
            if left and time.monotonic() - last_progress > STALL_SECONDS:
                (topic, partition), end = next(iter(left.items()))
                raise WarehouseError(
                    f"no progress reading {topic}:{partition} (and {len(left) - 1} other "
                    f"partition(s)) for {STALL_SECONDS:.0f}s, wanted up to offset {end}; "
                    f"is the broker at {bootstrap} up?"
                )
    except KafkaException as err:
        raise WarehouseError(f"reading the log from {bootstrap} failed: {err}") from err
    finally:
        consumer.close()


def _drop_finished(consumer: Consumer, left: dict[tuple[str, int], int]) -> None:
    """Unassign the partitions read up to their ends (the position counts skipped offsets)."""
    positions = consumer.position([TopicPartition(t, p) for t, p in left])
    done = [tp for tp in positions if tp.offset >= left[(tp.topic, tp.partition)]]
    if done:
        consumer.incremental_unassign(done)
        for tp in done:
            del left[(tp.topic, tp.partition)]


#: Errors the client reports in the stream but recovers from itself (a broker connection
#: lost and retried, the end of a partition reached). librdkafka's own (local) error codes
#: are public API, named with a leading underscore.
_PASSING = {
    KafkaError._TRANSPORT,  # noqa: SLF001
    KafkaError._ALL_BROKERS_DOWN,  # noqa: SLF001
    KafkaError._PARTITION_EOF,  # noqa: SLF001
}


def _raise_if_fatal(error: KafkaError, bootstrap: str) -> None:
    if error.code() in _PASSING and not error.fatal():
        return
    raise WarehouseError(f"reading the log from {bootstrap} failed: {error.str()}")
