"""File ingest: validate JSON Lines, produce good events to their source topic, dead-letter the rest.

The routing (`Ingest`) knows nothing of Kafka: it hands records to a `Sink`, so the
counting, the duplicate and conflict rules and the dead-letter shape are tested
without a broker. `KafkaSink` is the real sink: an idempotent, acks=all producer
whose failures stop the run instead of being lost.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Protocol

from kafka import KafkaProducer
from kafka.errors import KafkaError

from contracts.errors import ValidationError
from contracts.events import parse_event
from contracts.registry import Registry
from infra.settings import Settings
from infra.topics import SOURCES, dead_letter_topic, source_topic

__all__ = [
    "CST", "EXIT_REJECTED", "CONFLICT", "Headers", "Sink", "ListSink", "KafkaSink", "ProduceError",
    "Summary", "Ingest", "dead_letter_id", "dead_letter_record", "make_producer", "display_name",
]

CST = timezone(timedelta(hours=8))
#: Exit code when some lines were rejected (0 = all accepted, 1 = failure, 2 = usage).
EXIT_REJECTED = 3
#: Reason of a dead letter whose event_id was already seen with different content.
CONFLICT = "event_id.conflict"
#: How often (in lines) `Ingest.feed` reports progress.
PROGRESS_EVERY = 4096

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


def make_producer(bootstrap: str, **overrides: Any) -> KafkaProducer:
    """The producer every ingest path uses: durable (acks=all), idempotent, batched.

    linger_ms and batch_size trade a few milliseconds of latency for large batches:
    a file is a bulk load, not an interactive stream.
    """
    config: dict[str, Any] = {
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
    records are buffered, whatever the file size.
    """

    CHECKPOINT_EVERY = 5_000
    MAX_CHECKPOINTS = 20
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
    record: dict[str, Any] = {
        "id": dead_letter_id(name or "", line or 0, original),
    }
    try:
        record["original"] = original.decode("utf-8")
    except UnicodeDecodeError:
        record["original"] = base64.b64encode(original).decode("ascii")
        record["original_encoding"] = "base64"
    record.update({
        "file": name,
        "line": line,
        "reason": err.reason,
        "message": str(err),
        "field": err.field,
        "rejected_at": (rejected_at or now_cst()).astimezone(CST).isoformat(timespec="seconds"),
        "origin": origin,
    })
    return record


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

    @property
    def exit_code(self) -> int:
        """0 when every record was accepted (duplicates and blank lines are fine), else 3."""
        return EXIT_REJECTED if self.rejected_total else 0


class Ingest:
    """Route lines: good events to their source topic keyed by unit, the rest to dead letters.

    Duplicates in the input (same event_id, same content) are skipped; the same
    event_id with different content and no supersedes is a conflict and is
    dead-lettered. The check keeps one entry per distinct event_id (the id and a
    16-byte content digest, roughly 150 bytes), about 150 MB per million distinct
    events: fine up to a few tens of millions per run. Split larger loads into
    several runs; the streams dedupe by event_id across runs anyway. Events already
    in Kafka count as duplicates only if `remember`ed first (`ingest --skip-known`).

    >>> sink = ListSink()
    >>> ingest = Ingest(Registry.load(), Settings(), sink)
    >>> ingest.line("f.jsonl", 1, b"not json\\n")
    'rejected'
    >>> ingest.summary.rejected
    Counter({'json.invalid': 1})
    """

    def __init__(
        self,
        registry: Registry,
        settings: Settings,
        sink: Sink,
        *,
        origin: str = "ingest",
        clock: Callable[[], datetime] = now_cst,
    ) -> None:
        self.registry = registry
        self.sink = sink
        self.summary = Summary()
        self.origin = origin
        self.clock = clock
        self._topics = {source: source_topic(settings, source) for source in SOURCES}
        self._dead_letters = dead_letter_topic(settings)
        self._seen: dict[str, bytes] = {}

    def remember(self, event_id: str, content_hash: str) -> None:
        """Treat `event_id` as already sent with this content (see `--skip-known`)."""
        self._seen.setdefault(event_id, bytes.fromhex(content_hash[:32]))

    @property
    def remembered(self) -> int:
        return len(self._seen)

    def line(self, file: str, number: int, data: bytes) -> str:
        """Route one line; returns "accepted", "duplicate", "blank" or "rejected"."""
        self.summary.lines += 1
        raw = data.rstrip(b"\r\n")
        if not raw.strip():
            self.summary.blank += 1
            return "blank"
        try:
            event = parse_event(raw, self.registry)
        except ValidationError as err:
            self.reject(file, number, raw, err)
            return "rejected"
        digest = bytes.fromhex(event.content_hash[:32])
        seen = self._seen.get(event.event_id)
        if seen is None:
            self._seen[event.event_id] = digest
        elif seen == digest:
            self.summary.duplicates += 1
            return "duplicate"
        elif event.supersedes is None:
            self.reject(file, number, raw, conflict_error(event.event_id))
            return "rejected"
        # A different body under a seen id *with* supersedes goes on: the ledger decides.
        self.sink.send(self._topics[event.source], event.unit.encode(), raw,
                       [("arrears-file", display_name(file).encode()),
                        ("arrears-line", b"%d" % number)])
        self.summary.accepted[event.source] += 1
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
        consumed = 0
        number = 0
        for number, data in enumerate(lines, 1):
            consumed += len(data)
            self.line(file, number, data)
            if progress is not None and number % PROGRESS_EVERY == 0:
                progress(number, consumed)
        if progress is not None:
            progress(number, consumed)
