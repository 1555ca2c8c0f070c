"""Reading the source topics from Kafka, in log order, up to an offset vector."""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Callable, Iterator, Sequence
from multiprocessing.connection import Connection

from kafka import KafkaConsumer, TopicPartition
from kafka.errors import KafkaError

from infra.admin import admin_client, end_offsets
from infra.settings import Settings
from infra.topics import SOURCES, source_topic
from warehouse.errors import OffsetsError, WarehouseError
from warehouse.offsets import Offsets, format_offsets
from warehouse.rebuild import LogRecord

__all__ = ["source_topics", "log_end", "read_log", "check_within"]

#: How long a read may go without progress before it fails (a dead broker, a lost partition).
STALL_SECONDS = 60.0
_FETCH = {"fetch_max_bytes": 64 * 1024 * 1024, "max_partition_fetch_bytes": 16 * 1024 * 1024,
          "receive_buffer_bytes": 4 * 1024 * 1024}

Progress = Callable[[int], None]
#: Replays this small read in-process (a fork costs more than it saves).
_PREFETCH_MIN = 20_000
_CHUNK = 2_000


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
                "create them with `arrears infra up` (or check ARREARS_TOPIC_PREFIX)")
        described = admin.describe_topics(list(topics))
        tps = [TopicPartition(t["name"], p["partition_index"])
               for t in described for p in t["partitions"]]
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
        raise OffsetsError("the offset vector does not fit the log: " + "; ".join(problems)
                           + f". The log ends at {format_offsets(end)}")


def read_log(bootstrap: str, upto: Offsets, *, progress: Progress | None = None,
             client_id: str = "arrears-replay", prefetch: bool = True) -> Iterator[LogRecord]:
    """Every record before `upto`, in log order (topic, partition, offset).

    Reads one partition at a time with no consumer group (nothing is committed);
    offsets the log no longer has (transaction markers, compaction) are skipped.
    With `prefetch`, a forked reader process fetches and decodes the records while
    this process folds them: the fold and the client's decoding (CRC checks, record
    batches) run on two cores instead of taking turns on one.
    """
    if prefetch and total_records(upto) >= _PREFETCH_MIN:
        yield from _prefetched(bootstrap, upto, progress, client_id)
        return
    yield from _direct(bootstrap, upto, progress, client_id)


def total_records(upto: Offsets) -> int:
    return sum(sum(parts.values()) for parts in upto.values())


def _prefetched(bootstrap: str, upto: Offsets, progress: Progress | None,
                client_id: str) -> Iterator[LogRecord]:
    ctx = multiprocessing.get_context("fork")
    receiver, sender = ctx.Pipe(duplex=False)
    reader = ctx.Process(target=_reader, args=(sender, bootstrap, upto, client_id), daemon=True)
    reader.start()
    sender.close()
    try:
        while True:
            try:
                kind, body = receiver.recv()
            except EOFError:
                raise WarehouseError("the log reader process died (killed?) before the end of "
                                     "the replay; run it again") from None
            if kind == "done":
                break
            if kind == "error":
                raise WarehouseError(str(body))
            for topic, partition, offset, value in body:
                yield LogRecord(topic, partition, offset, value)
            if progress is not None:
                progress(len(body))
    finally:
        receiver.close()
        if reader.is_alive():
            reader.terminate()
        reader.join(timeout=10)


def _reader(sender: Connection, bootstrap: str, upto: Offsets, client_id: str) -> None:
    """The prefetching child: records in log order, in chunks, through a pipe (which
    blocks when full, so the reader never runs far ahead of the fold)."""
    try:
        chunk: list[tuple[str, int, int, bytes | str]] = []
        for record in _direct(bootstrap, upto, None, client_id):
            chunk.append(tuple(record))  # type: ignore[arg-type]
            if len(chunk) >= _CHUNK:
                sender.send(("records", chunk))
                chunk = []
        if chunk:
            sender.send(("records", chunk))
        sender.send(("done", None))
    except (WarehouseError, KafkaError, OSError) as err:
        sender.send(("error", f"reading the log failed: {err}"))
    finally:
        sender.close()


def _direct(bootstrap: str, upto: Offsets, progress: Progress | None,
            client_id: str) -> Iterator[LogRecord]:
    try:
        consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None,
                                 enable_auto_commit=False, client_id=client_id,
                                 auto_offset_reset="earliest", **_FETCH)
    except KafkaError as err:
        raise WarehouseError(f"cannot reach Kafka at {bootstrap}: {err}") from err
    try:
        for topic in sorted(upto):
            for partition in sorted(upto[topic]):
                end = upto[topic][partition]
                if end > 0:
                    yield from _partition(consumer, TopicPartition(topic, partition), end, progress)
    finally:
        consumer.close()


def _partition(consumer: KafkaConsumer, tp: TopicPartition, end: int,
               progress: Progress | None) -> Iterator[LogRecord]:
    consumer.assign([tp])
    consumer.seek_to_beginning(tp)
    last_progress = time.monotonic()
    while consumer.position(tp) < end:
        batch = consumer.poll(timeout_ms=500, max_records=50_000).get(tp, [])
        if not batch:
            if time.monotonic() - last_progress > STALL_SECONDS:
                raise WarehouseError(f"no progress reading {tp.topic}:{tp.partition} for "
                                     f"{STALL_SECONDS:.0f}s at offset {consumer.position(tp)} "
                                     f"(wanted up to {end}); is the broker up?")
            continue
        last_progress = time.monotonic()
        n = 0
        for r in batch:
            if r.offset >= end:
                break
            n += 1
            yield LogRecord(tp.topic, tp.partition, r.offset, r.value)
        if progress is not None:
            progress(n)
        if batch[-1].offset >= end - 1:
            break
