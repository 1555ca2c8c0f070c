"""File ingest: validate JSON Lines, produce good events to their source topic, dead-letter the rest.

The routing (`Ingest`) knows nothing of Kafka: it hands records to a `Sink`, so the
counting, the duplicate and conflict rules and the dead-letter shape are tested
without a broker. `KafkaSink` is the real sink: an idempotent, acks=all producer
whose failures stop the run instead of being lost.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from multiprocessing.pool import AsyncResult, Pool
from typing import Any, Protocol

from kafka import KafkaProducer
from kafka.errors import KafkaError
from kafka.partitioner import DefaultPartitioner

from contracts.deadletter import dead_letter_value
from contracts.errors import MISSING, ValidationError
from contracts.events import parse_event
from contracts.registry import Registry
from infra.settings import Settings
from infra.topics import SOURCES, dead_letter_topic, source_topic

__all__ = [
    "CST", "EXIT_REJECTED", "CONFLICT", "Headers", "Sink", "ListSink", "KafkaSink", "ProduceError",
    "Summary", "Ingest", "dead_letter_id", "dead_letter_record", "make_producer", "display_name",
    "default_validators",
]

CST = timezone(timedelta(hours=8))
#: Exit code when some lines were rejected (0 = all accepted, 1 = failure, 2 = usage).
EXIT_REJECTED = 3
#: Reason of a dead letter whose event_id was already seen with different content.
CONFLICT = "event_id.conflict"
#: How often (in lines) `Ingest.feed` reports progress.
PROGRESS_EVERY = 4096
#: The most validator processes `default_validators` proposes.
MAX_VALIDATORS = 4

Headers = list[tuple[str, bytes]]


class Sink(Protocol):
    """Where routed records go: a topic, a key, the value bytes and headers."""

    def send(self, topic: str, key: bytes, value: bytes, headers: Headers) -> None: ...


@dataclass
class ListSink:
    """A sink that keeps what it is sent: for tests and dry runs."""

    records: list[tuple[str, bytes, bytes, Headers]] = field(default_factory=list)

    def send(self, topic: str, key: bytes, value: bytes, headers: Headers) -> None:
        self.records.append((topic, key, value, headers))


class ProduceError(Exception):
    """Kafka did not take a record; the message says how far the run got."""


class _KeyedPartitioner(DefaultPartitioner):  # type: ignore[misc]
    """kafka-python's default partitioner (murmur2 of the key) with its answers remembered.

    Ingest keys by unit, a few hundred values, so the pure-Python murmur2 and the
    partition-list sorting of every send are done once per key and partition count.
    """

    MAX_KEYS = 4096

    def __init__(self) -> None:
        self._cache: dict[tuple[str, bytes, int], int] = {}

    def partition(self, topic: str, key: Any, serialized_key: bytes | None, value: Any,
                  serialized_value: Any, cluster: Any) -> int:
        partitions = cluster.partitions_for_topic(topic)
        if serialized_key is None or not partitions:
            return int(super().partition(topic, key, serialized_key, value, serialized_value,
                                         cluster))
        slot = (topic, bytes(serialized_key), len(partitions))
        cached = self._cache.get(slot)
        if cached is None:
            if len(self._cache) >= self.MAX_KEYS:
                self._cache.clear()
            cached = self._cache[slot] = int(super().partition(
                topic, key, serialized_key, value, serialized_value, cluster))
        return cached


def make_producer(bootstrap: str, **overrides: Any) -> KafkaProducer:
    """The producer every ingest path uses: durable (acks=all), idempotent, batched.

    linger_ms and batch_size trade a few milliseconds of latency for large batches:
    a file is a bulk load, not an interactive stream. Records go to the same
    partitions as with kafka-python's default partitioner.
    """
    config: dict[str, Any] = {
        "partitioner": _KeyedPartitioner(),
        "bootstrap_servers": bootstrap,
        "client_id": "arrears-ingest",
        "acks": "all",
        "enable_idempotence": True,
        "linger_ms": 20,
        "batch_size": 512 * 1024,
        "max_request_size": 4 * 1024 * 1024,
        "max_block_ms": 30_000,
    }
    config.update(overrides)
    return KafkaProducer(**config)


class KafkaSink:
    """Sends through a KafkaProducer; the first failed delivery stops the run.

    Futures are not kept (a million of them would not keep memory flat): each gets
    an errback, and `close()` flushes and raises if anything failed.

    kafka-python 3 has no `buffer_memory` bound: if Kafka is slower than the
    reader, its queue would grow without limit. So every CHECKPOINT_EVERY-th
    future is kept, and once MAX_CHECKPOINTS of them are outstanding the sink
    waits for the oldest: at most about CHECKPOINT_EVERY * MAX_CHECKPOINTS
    records are buffered, whatever the file size (each costs some 2 KB of Python
    objects until acknowledged, so 40,000 of them are about 80 MB).
    """

    CHECKPOINT_EVERY = 5_000
    MAX_CHECKPOINTS = 8
    ACK_TIMEOUT = 120.0

    def __init__(self, producer: KafkaProducer) -> None:
        self._producer = producer
        self._checkpoints: deque[Any] = deque()
        self.sent = 0
        self.failed = 0
        self.error: BaseException | None = None

    def send(self, topic: str, key: bytes, value: bytes, headers: Headers) -> None:
        if self.error is not None:
            raise ProduceError(self._failure(self.error))
        try:
            future = self._producer.send(topic, key=key, value=value, headers=headers)
        except KafkaError as err:
            raise ProduceError(self._failure(err)) from err
        future.add_errback(self._on_error)
        self.sent += 1
        if self.sent % self.CHECKPOINT_EVERY == 0:
            self._checkpoints.append(future)
            if len(self._checkpoints) > self.MAX_CHECKPOINTS:
                try:
                    self._checkpoints.popleft().get(timeout=self.ACK_TIMEOUT)
                except KafkaError as err:
                    raise ProduceError(self._failure(err)) from err

    def _on_error(self, err: BaseException) -> None:
        self.failed += 1
        if self.error is None:
            self.error = err

    def _failure(self, err: BaseException) -> str:
        return (f"Kafka did not take a record: {err!r}; {self.sent} records were handed to the "
                f"producer, {self.failed} known to have failed")

    def flush(self, timeout: float = 120.0) -> None:
        """Wait until every record sent so far is acknowledged, or raise ProduceError."""
        try:
            self._producer.flush(timeout=timeout)
        except KafkaError as err:
            raise ProduceError(
                f"Kafka did not acknowledge the records within {timeout:.0f}s ({err!r}); "
                f"{self.sent} records were handed to the producer, some may not be written"
            ) from err
        if self.error is not None:
            raise ProduceError(self._failure(self.error))

    def abort(self) -> None:
        """Close without waiting for acknowledgements (after a failure has been reported)."""
        self._producer.close(timeout=0)

    def close(self, timeout: float = 120.0) -> None:
        try:
            self.flush(timeout)
        finally:
            self._producer.close(timeout=5)


def now_cst() -> datetime:
    return datetime.now(CST)


def display_name(file: str) -> str:
    """A file name safe to put in JSON and headers (undecodable bytes escaped)."""
    return file.encode("utf-8", "backslashreplace").decode("utf-8")


def dead_letter_id(file: str, line: int, original: bytes) -> str:
    """Stable id of a rejected line: the same file, line and bytes give the same id.

    So re-ingesting a file re-sends the same dead letters under the same keys, and
    `deadletters list` shows each once.

    >>> dead_letter_id("a.jsonl", 3, b"{}") == dead_letter_id("a.jsonl", 3, b"{}")
    True
    """
    digest = hashlib.sha256()
    digest.update(file.encode("utf-8", "backslashreplace"))
    digest.update(b"\0%d\0" % line)
    digest.update(original)
    return digest.hexdigest()[:24]


def dead_letter_record(
    original: bytes,
    file: str | None,
    line: int | None,
    err: ValidationError,
    *,
    origin: str = "ingest",
    rejected_at: datetime | None = None,
) -> dict[str, Any]:
    """The dead-letter value: the original bytes, where they came from and why they were refused.

    The original is kept as text when it is valid UTF-8, else base64 with
    `"original_encoding": "base64"`, so nothing of it is lost.
    """
    name = display_name(file) if file is not None else None
    return dead_letter_value(dead_letter_id(name or "", line or 0, original), original, err,
                             origin=origin, file=name, line=line,
                             rejected_at=rejected_at or now_cst())


def conflict_error(event_id: str) -> ValidationError:
    return ValidationError(
        "event_id", event_id,
        "was already seen earlier in this input with different content, and this record has "
        "no supersedes",
        reason=CONFLICT,
        hint=(f'to correct the earlier event send a new event_id with "supersedes": '
              f'"{event_id}"; if this is a different event, give it its own event_id'),
    )


@dataclass
class Summary:
    """What an ingest run did, line by line accounted for."""

    lines: int = 0
    accepted: Counter[str] = field(default_factory=Counter)  # by source
    duplicates: int = 0
    blank: int = 0
    rejected: Counter[str] = field(default_factory=Counter)  # by reason

    @property
    def accepted_total(self) -> int:
        return sum(self.accepted.values())

    @property
    def rejected_total(self) -> int:
        return sum(self.rejected.values())

    def as_dict(self) -> dict[str, Any]:
        return {"lines": self.lines, "accepted": self.accepted_total,
                "accepted_by_source": dict(sorted(self.accepted.items())),
                "duplicates": self.duplicates, "blank": self.blank,
                "rejected": self.rejected_total, "rejected_by_reason": dict(sorted(self.rejected.items()))}

    @property
    def exit_code(self) -> int:
        """0 when every record was accepted (duplicates and blank lines are fine), else 3."""
        return EXIT_REJECTED if self.rejected_total else 0


#: An accepted line as the validator hands it over: source, unit, event_id, the first
#: 16 bytes of the content hash, and whether it names a `supersedes`.
_Valid = tuple[str, str, str, bytes, bool]
class _Refused:
    """A ValidationError that can cross to another process (it does not pickle itself)."""

    __slots__ = ("err", "state")

    def __init__(self, err: ValidationError) -> None:
        self.err: ValidationError | None = err
        self.state = (err.field, None if err.value is MISSING else err.value, err.expected,
                      err.reason, err.hint, err.value is MISSING)

    def __getstate__(self) -> tuple[Any, ...]:
        return self.state

    def __setstate__(self, state: tuple[Any, ...]) -> None:
        self.err, self.state = None, state

    def error(self) -> ValidationError:
        if self.err is None:
            field_, value, expected, reason, hint, missing = self.state
            self.err = ValidationError(field_, MISSING if missing else value, expected,
                                       reason=reason, hint=hint)
        return self.err


def _validate(data: bytes, registry: Registry) -> _Valid | _Refused | None:
    """Validate one line: None when it is blank, else what `Ingest` routes by."""
    raw = data.rstrip(b"\r\n")
    if not raw.strip():
        return None
    try:
        event = parse_event(raw, registry)
    except ValidationError as err:
        return _Refused(err)
    return (event.source, event.unit, event.event_id, bytes.fromhex(event.content_hash[:32]),
            event.supersedes is not None)


_worker_registry: Registry | None = None


def _start_worker(registry: Registry) -> None:
    global _worker_registry
    _worker_registry = registry


def _validate_chunk(lines: list[bytes]) -> list[_Valid | _Refused | None]:
    registry = _worker_registry
    assert registry is not None, "the validator process was started without a registry"
    return [_validate(data, registry) for data in lines]


def default_validators() -> int:
    """How many validator processes `arrears ingest` starts: one per core beyond the first.

    The first core produces (and runs Kafka's I/O thread); parsing and validating a
    line costs about as much again, so a second core doubles the rate. With one
    core, validating in-process avoids the hand-over cost.
    """
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(0, min((cores or 1) - 1, MAX_VALIDATORS))


class Ingest:
    """Route lines: good events to their source topic keyed by unit, the rest to dead letters.

    Duplicates in the input (same event_id, same content) are skipped; the same
    event_id with different content and no supersedes is a conflict and is
    dead-lettered. The check keeps one entry per distinct event_id (the id and a
    16-byte content digest, roughly 150 bytes), about 150 MB per million distinct
    events: fine up to a few tens of millions per run. Split larger loads into
    several runs; the streams dedupe by event_id across runs anyway. Events already
    in Kafka count as duplicates only if `remember`ed first (`ingest --skip-known`).

    With `validators=N`, `feed` parses and validates in N separate processes, in
    chunks of CHUNK_LINES lines, while this process routes and produces: the same
    records in the same order, on another core. At most IN_FLIGHT chunks per
    validator are out at a time, so memory stays flat. `close()` stops them.

    >>> sink = ListSink()
    >>> ingest = Ingest(Registry.load(), Settings(), sink)
    >>> ingest.line("f.jsonl", 1, b"not json\\n")
    'rejected'
    >>> ingest.summary.rejected
    Counter({'json.invalid': 1})
    """

    CHUNK_LINES = 2_000
    IN_FLIGHT = 4

    def __init__(
        self,
        registry: Registry,
        settings: Settings,
        sink: Sink,
        *,
        origin: str = "ingest",
        clock: Callable[[], datetime] = now_cst,
        validators: int = 0,
    ) -> None:
        self.registry = registry
        self.sink = sink
        self.summary = Summary()
        self.origin = origin
        self.clock = clock
        self.validators = validators
        self._pool: Pool | None = None
        self._topics = {source: source_topic(settings, source) for source in SOURCES}
        self._dead_letters = dead_letter_topic(settings)
        self._seen: dict[str, bytes] = {}

    def __enter__(self) -> Ingest:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the validator processes, if any were started."""
        if self._pool is not None:
            self._pool.terminate()
            self._pool.join()
            self._pool = None

    def remember(self, event_id: str, content_hash: str) -> None:
        """Treat `event_id` as already sent with this content (see `--skip-known`)."""
        self._seen.setdefault(event_id, bytes.fromhex(content_hash[:32]))

    @property
    def remembered(self) -> int:
        return len(self._seen)

    def line(self, file: str, number: int, data: bytes) -> str:
        """Route one line; returns "accepted", "duplicate", "blank" or "rejected"."""
        return self._route(file, display_name(file).encode(), number, data,
                           _validate(data, self.registry))

    def _route(self, file: str, file_header: bytes, number: int, data: bytes,
               checked: _Valid | _Refused | None) -> str:
        self.summary.lines += 1
        if checked is None:
            self.summary.blank += 1
            return "blank"
        raw = data.rstrip(b"\r\n")
        if isinstance(checked, _Refused):
            self.reject(file, number, raw, checked.error())
            return "rejected"
        source, unit, event_id, digest, supersedes = checked
        seen = self._seen.get(event_id)
        if seen is None:
            self._seen[event_id] = digest
        elif seen == digest:
            self.summary.duplicates += 1
            return "duplicate"
        elif not supersedes:
            self.reject(file, number, raw, conflict_error(event_id))
            return "rejected"
        # A different body under a seen id *with* supersedes goes on: the ledger decides.
        self.sink.send(self._topics[source], unit.encode(), raw,
                       [("arrears-file", file_header), ("arrears-line", b"%d" % number)])
        self.summary.accepted[source] += 1
        return "accepted"

    def reject(self, file: str, number: int, raw: bytes, err: ValidationError) -> None:
        record = dead_letter_record(raw, file, number, err, origin=self.origin,
                                    rejected_at=self.clock())
        value = json.dumps(record, ensure_ascii=False).encode("utf-8")
        self.sink.send(self._dead_letters, record["id"].encode(), value, [])
        self.summary.rejected[err.reason] += 1

    def feed(
        self,
        file: str,
        lines: Iterable[bytes],
        progress: Callable[[int, int], None] | None = None,
    ) -> None:
        """Route every line of one file (an open binary file iterates line by line).

        `progress(lines, bytes)` is called every few thousand lines with the
        counts for this file so far, and once at the end.
        """
        file_header = display_name(file).encode()
        checked = self._checked(lines) if self.validators > 0 else (
            (data, _validate(data, self.registry)) for data in lines)
        consumed = 0
        number = 0
        for number, (data, result) in enumerate(checked, 1):
            consumed += len(data)
            self._route(file, file_header, number, data, result)
            if progress is not None and number % PROGRESS_EVERY == 0:
                progress(number, consumed)
        if progress is not None:
            progress(number, consumed)

    def _checked(self, lines: Iterable[bytes]) -> Iterator[tuple[bytes, _Valid | _Refused | None]]:
        """Each line with its validation, done by the validator processes, in input order."""
        if self._pool is None:
            context = multiprocessing.get_context("spawn")  # no fork of the producer's threads
            self._pool = context.Pool(self.validators, _start_worker, (self.registry,))
        pool = self._pool
        pending: deque[tuple[list[bytes], AsyncResult[list[Any]]]] = deque()
        limit = self.IN_FLIGHT * self.validators
        chunk: list[bytes] = []
        for data in lines:
            chunk.append(data)
            if len(chunk) == self.CHUNK_LINES:
                pending.append((chunk, pool.apply_async(_validate_chunk, (chunk,))))
                chunk = []
                if len(pending) >= limit:
                    sent, done = pending.popleft()
                    yield from zip(sent, done.get(), strict=True)
        if chunk:
            pending.append((chunk, pool.apply_async(_validate_chunk, (chunk,))))
        while pending:
            sent, done = pending.popleft()
            yield from zip(sent, done.get(), strict=True)
