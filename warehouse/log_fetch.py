"""The bulk reads of the source topics with confluent-kafka (librdkafka): a reader
process's topic-partitions, each from a start offset up to its end, a fetch at a time. The
Kafka replay's readers (`warehouse.kafka_rows`) and the archiver's (`warehouse.
archive_reader`) read this way.

Why not kafka-python here: its fetch and record decoding in Python took 17% of a replay
reader's CPU (8 us a record), where librdkafka decodes in C and hands over a record for
about 2.5 us (`arrears bench replay`, whose bare floors measure both clients). Everything
else that talks to Kafka (admin, ingest, the archiver's offset commits, the record-by-record
replay) keeps kafka-python, the design card's client.

Two settings matter, both measured: all of a reader's partitions are assigned at once (one
at a time, each assignment waited about a second for its first fetch), and the fetcher
backs off 10 ms, not librdkafka's 1,000 ms, when its queue is full (with the default,
a reader that fell behind its queue sat idle for a second each time).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, TopicPartition

from warehouse.errors import WarehouseError

__all__ = ["plan_batches", "STALL_SECONDS"]

#: librdkafka's own log lines (a refused connection it retries, say) go here, not to stderr:
#: a read that cannot finish fails with one clear WarehouseError instead.
_LOG = logging.getLogger(__name__)
_LOG.addHandler(logging.NullHandler())

#: How long a read may go without progress before it fails (a dead broker, a lost partition);
#: `warehouse.kafka_log`'s reads use it too. Here, not there: the reader processes that
#: import this module do not load kafka-python.
STALL_SECONDS = 60.0
_CONFIG = {
    # Required by the client; nothing is ever committed under it (assign, no subscribe).
    "group.id": "arrears-bulk-reads",
    "enable.auto.commit": False,
    "enable.auto.offset.store": False,
    # What kafka-python (the record-by-record replay) and the workers' aiokafka read, so every
    # path folds the same records; librdkafka's default, read_committed, would also wait on
    # open transactions past the ends this read was given.
    "isolation.level": "read_uncommitted",
    # A start offset the log no longer holds (retention deleted it) is an error, never a
    # silent jump to the log's end or beginning.
    "auto.offset.reset": "error",
    "fetch.max.bytes": 64 * 1024 * 1024,
    "max.partition.fetch.bytes": 16 * 1024 * 1024,
    "fetch.wait.max.ms": 10,
    "fetch.queue.backoff.ms": 10,
    "socket.receive.buffer.bytes": 4 * 1024 * 1024,
}
_BATCH = 20_000  # records a consume() call hands over at most


Batch = list[tuple[int, bytes, bytes | None]]


def plan_batches(
    bootstrap: str,
    client_id: str,
    plan: Sequence[tuple[str, int, int]],
    starts: Mapping[tuple[str, int], int] | None = None,
) -> Iterator[tuple[str, int, Batch]]:
    """(topic, partition, [(offset, value, key)]) of every record of the plan's
    (topic, partition, end): from `starts[(topic, partition)]` (the partition's beginning
    if it has none there) up to `end` (exclusive).

    The partitions are read side by side, so batches of different partitions interleave;
    within one partition the offsets ascend. Offsets the log no longer has (transaction
    markers, compaction) are skipped; a read that makes no progress for STALL_SECONDS, or
    that the client reports it cannot do (an unknown topic or partition), fails with
    WarehouseError.
    """
    first = dict(starts or {})
    left = {(t, p): end for t, p, end in plan if end > first.get((t, p), 0)}
    if not left:
        return
    try:
        consumer = Consumer(
            {"bootstrap.servers": bootstrap, "client.id": client_id, **_CONFIG}, logger=_LOG
        )
    except KafkaException as err:
        raise WarehouseError(f"cannot make a Kafka client for {bootstrap}: {err}") from err
    try:
        consumer.assign(
            [TopicPartition(t, p, first.get((t, p), OFFSET_BEGINNING)) for t, p in left]
        )
        last_progress = time.monotonic()
        while left:
            # Any: a message with no error always has its topic, partition, offset and value,
            # which the stubs type as optional for the error messages' sake.
            messages: list[Any] = consumer.consume(num_messages=_BATCH, timeout=0.5)
            batches: dict[tuple[str, int], Batch] = {}
            for message in messages:
                error = message.error()
                if error is not None:
                    _raise_if_fatal(error, message.topic(), message.partition(), bootstrap)
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


def _raise_if_fatal(
    error: KafkaError, topic: str | None, partition: int | None, bootstrap: str
) -> None:
    if error.code() in _PASSING and not error.fatal():
        return
    where = "the log" if topic is None else f"{topic}:{partition}"
    hint = (
        "; the log no longer holds (or never held) the offset this read starts at"
        if error.code() == KafkaError._AUTO_OFFSET_RESET  # noqa: SLF001
        else ""
    )
    raise WarehouseError(f"reading {where} from {bootstrap} failed: {error.str()}{hint}")
