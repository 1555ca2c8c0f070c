"""Where routed records go: a list (tests, dry runs) or Kafka (`KafkaSink`)."""

from __future__ import annotations

import contextlib
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Protocol

from kafka import KafkaProducer
from kafka.errors import KafkaError

__all__ = ["Headers", "KafkaSink", "ListSink", "ProduceError", "Sink"]

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
        return (
            f"Kafka did not take a record: {err!r}; {self.sent} records were handed to the "
            f"producer, {self.failed} known to have failed"
        )

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
        with contextlib.suppress(KafkaError):  # the failure reported is the one that matters
            self._producer.close(timeout=0)

    def close(self, timeout: float = 120.0) -> None:
        try:
            self.flush(timeout)
        except ProduceError:
            self.abort()
            raise
        try:
            self._producer.close(timeout=5)
        except KafkaError as err:
            raise ProduceError(self._failure(err)) from err
