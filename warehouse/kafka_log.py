"""Reading the source topics from Kafka, in log order, up to an offset vector."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence

from kafka import KafkaConsumer, TopicPartition
from kafka.errors import KafkaError

from infra.admin import admin_client, end_offsets
from infra.settings import Settings
from infra.topics import SOURCES, source_topic
from warehouse.errors import OffsetsError, WarehouseError
from warehouse.log_fetch import STALL_SECONDS
from warehouse.offsets import Offsets, format_offsets
from warehouse.rebuild import LogRecord

__all__ = [
    "source_topics",
    "log_end",
    "read_log",
    "check_within",
    "consumer_for",
    "partition_batches",
]

_FETCH = {
    "fetch_max_bytes": 64 * 1024 * 1024,
    "max_partition_fetch_bytes": 16 * 1024 * 1024,
    "receive_buffer_bytes": 4 * 1024 * 1024,
}

Progress = Callable[[int], None]


def source_topics(settings: Settings) -> list[str]:
    """The four source topics, by name (the order log order uses)."""
    return sorted(source_topic(settings, s) for s in SOURCES)


def log_end(bootstrap: str, topics: Sequence[str]) -> Offsets:
    """The current end of every partition of `topics` ("now")."""
    admin = admin_client(bootstrap)
    try:
        present = set(admin.list_topics())
        missing = [t for t in topics if t not in present]
        if missing:
            raise WarehouseError(
                f"topic(s) {', '.join(missing)} do not exist on {bootstrap}; "
                "create them with `arrears infra up` (or check ARREARS_TOPIC_PREFIX)"
            )
        described = admin.describe_topics(list(topics))
        tps = [
            TopicPartition(t["name"], p["partition_index"])
            for t in described
            for p in t["partitions"]
        ]
        ends = end_offsets(admin, tps)
    except KafkaError as err:
        raise WarehouseError(f"cannot read the log end from {bootstrap}: {err}") from err
    finally:
        admin.close()
    out: Offsets = {t: {} for t in topics}
    for tp, offset in ends.items():
        out[tp.topic][tp.partition] = offset
    return out


def check_within(upto: Offsets, end: Offsets) -> None:
    """Fail clearly if `upto` names a topic/partition the log lacks or goes past its end."""
    problems = []
    for topic, parts in upto.items():
        for partition, offset in parts.items():
            have = end.get(topic, {}).get(partition)
            if have is None:
                problems.append(f"{topic}:{partition} is not a source topic partition")
            elif offset > have:
                problems.append(f"{topic}:{partition}={offset} is past the log end {have}")
    if problems:
        raise OffsetsError(
            "the offset vector does not fit the log: "
            + "; ".join(problems)
            + f". The log ends at {format_offsets(end)}"
        )


def read_log(
    bootstrap: str,
    upto: Offsets,
    *,
    progress: Progress | None = None,
    client_id: str = "arrears-replay",
) -> Iterator[LogRecord]:
    """Every record before `upto`, in log order (topic, partition, offset), one at a time.

    Reads one partition at a time with no consumer group (nothing is committed). The
    record-by-record path (diff, the reference replay); the replay proper reads with
    `warehouse.kafka_rows`, on every core.
    """
    yield from _direct(bootstrap, upto, progress, client_id)


def consumer_for(bootstrap: str, client_id: str) -> KafkaConsumer:
    """A consumer with no group (nothing committed) and large fetches, for reading the log."""
    try:
        return KafkaConsumer(
            bootstrap_servers=bootstrap,
            group_id=None,
            enable_auto_commit=False,
            client_id=client_id,
            auto_offset_reset="earliest",
            **_FETCH,
        )
    except KafkaError as err:
        raise WarehouseError(f"cannot reach Kafka at {bootstrap}: {err}") from err


def partition_batches(
    consumer: KafkaConsumer, tp: TopicPartition, end: int, start: int | None = None
) -> Iterator[list[tuple[int, bytes, bytes | None]]]:
    """(offset, value, key) of `tp` from `start` (its beginning when None) up to `end`
    (exclusive), a fetch at a time.

    Offsets the log no longer has (transaction markers, compaction) are skipped; a read
    that makes no progress for STALL_SECONDS fails.
    """
    consumer.assign([tp])
    if start is None:
        consumer.seek_to_beginning(tp)
    else:
        consumer.seek(tp, start)
    last_progress = time.monotonic()
    while consumer.position(tp) < end:
        batch = consumer.poll(timeout_ms=500, max_records=50_000).get(tp, [])
        if not batch:
            if time.monotonic() - last_progress > STALL_SECONDS:
                raise WarehouseError(
                    f"no progress reading {tp.topic}:{tp.partition} for "
                    f"{STALL_SECONDS:.0f}s at offset {consumer.position(tp)} "
                    f"(wanted up to {end}); is the broker up?"
                )
            continue
        last_progress = time.monotonic()
        yield [(r.offset, r.value, r.key) for r in batch if r.offset < end]
        if batch[-1].offset >= end - 1:
            break


def _direct(
    bootstrap: str, upto: Offsets, progress: Progress | None, client_id: str
) -> Iterator[LogRecord]:
    consumer = consumer_for(bootstrap, client_id)
    try:
        for topic in sorted(upto):
            for partition in sorted(upto[topic]):
                end = upto[topic][partition]
                if end <= 0:
                    continue
                for batch in partition_batches(consumer, TopicPartition(topic, partition), end):
                    for offset, value, key in batch:
                        yield LogRecord(topic, partition, offset, value, key, keyed=True)
                    if progress is not None:
                        progress(len(batch))
    finally:
        consumer.close()
