"""Parsing and validating lines, in this process or in validator processes beside it."""

from __future__ import annotations

import multiprocessing
import os
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from contracts.errors import MISSING, ValidationError
from contracts.events import parse_event
from contracts.payloads import EventRetracted
from contracts.registry import Registry

__all__ = [
    "Checked",
    "Refused",
    "Valid",
    "ValidatorDied",
    "Validators",
    "default_validators",
    "validate_line",
]

#: The most validator processes `default_validators` proposes.
MAX_VALIDATORS = 4


#: An accepted line as the validator hands it over: source, unit, event_id, the first
#: 16 bytes of the content hash, whether it names a `supersedes`, and the event it
#: corrects or retracts (None for neither) with whether that is a retraction.
Valid = tuple[str, str, str, bytes, bool, str | None, bool]


class Refused:
    """A ValidationError that can cross to another process (it does not pickle itself)."""

    __slots__ = ("err", "state")

    def __init__(self, err: ValidationError) -> None:
        self.err: ValidationError | None = err
        self.state = (
            err.field,
            None if err.value is MISSING else err.value,
            err.expected,
            err.reason,
            err.hint,
            err.value is MISSING,
        )

    def __getstate__(self) -> tuple[Any, ...]:
        return self.state

    def __setstate__(self, state: tuple[Any, ...]) -> None:
        self.err, self.state = None, state

    def error(self) -> ValidationError:
        if self.err is None:
            field_, value, expected, reason, hint, missing = self.state
            self.err = ValidationError(
                field_, MISSING if missing else value, expected, reason=reason, hint=hint
            )
        return self.err


def validate_line(data: bytes, registry: Registry) -> Valid | Refused | None:
    """Validate one line: None when it is blank, else what `Ingest` routes by."""
    raw = data.rstrip(b"\r\n")
    if not raw.strip():
        return None
    try:
        event = parse_event(raw, registry)
    except ValidationError as err:
        return Refused(err)
    retracts = event.payload.retracts if isinstance(event.payload, EventRetracted) else None
    return (
        event.source,
        event.unit,
        event.event_id,
        bytes.fromhex(event.content_hash[:32]),
        event.supersedes is not None,
        retracts if retracts is not None else event.supersedes,
        retracts is not None,
    )


_worker_registry: Registry | None = None


def _start_worker(registry: Registry) -> None:
    global _worker_registry
    _worker_registry = registry


def _validate_chunk(lines: list[bytes]) -> list[Valid | Refused | None]:
    registry = _worker_registry
    assert registry is not None, "the validator process was started without a registry"
    return [validate_line(data, registry) for data in lines]


#: What validating one line gives: None for a blank line.
Checked = Valid | Refused | None


class ValidatorDied(Exception):
    """A validator process died (killed, or out of memory): the lines it held are unchecked."""


class Validators:
    """`n` validator processes: `checked(lines)` gives each line with its validation, in order.

    Lines go out in chunks of CHUNK_LINES, at most IN_FLIGHT chunks per process at a time,
    so memory stays flat. A process that dies is noticed at once (the executor breaks and
    every pending chunk fails): `checked` raises `ValidatorDied`, never waits forever.
    """

    CHUNK_LINES = 2_000
    IN_FLIGHT = 4

    def __init__(self, n: int, registry: Registry) -> None:
        context = multiprocessing.get_context("spawn")  # no fork of the producer's threads
        self.n = n
        self._pool = ProcessPoolExecutor(
            n, mp_context=context, initializer=_start_worker, initargs=(registry,)
        )

    def checked(self, lines: Iterable[bytes]) -> Iterator[tuple[bytes, Checked]]:
        pending: deque[tuple[list[bytes], Future[list[Checked]]]] = deque()
        limit = self.IN_FLIGHT * self.n
        chunk: list[bytes] = []
        for data in lines:
            chunk.append(data)
            if len(chunk) == self.CHUNK_LINES:
                pending.append((chunk, self._submit(chunk)))
                chunk = []
                if len(pending) >= limit:
                    yield from _results(*pending.popleft())
        if chunk:
            pending.append((chunk, self._submit(chunk)))
        while pending:
            yield from _results(*pending.popleft())

    def _submit(self, chunk: list[bytes]) -> Future[list[Checked]]:
        try:
            return self._pool.submit(_validate_chunk, chunk)
        except BrokenProcessPool as err:
            raise ValidatorDied(_DIED) from err

    def close(self) -> None:
        """Stop the processes (at once: pending chunks are dropped)."""
        self._pool.shutdown(wait=True, cancel_futures=True)


_DIED = (
    "a validator process died (killed, or out of memory?); the lines it was checking were not sent"
)


def _results(sent: list[bytes], done: Future[list[Checked]]) -> Iterator[tuple[bytes, Checked]]:
    try:
        results = done.result()
    except BrokenProcessPool as err:
        raise ValidatorDied(_DIED) from err
    yield from zip(sent, results, strict=True)


def default_validators() -> int:
    """How many validator processes `arrears ingest` starts: one per core beyond the first.

    The first core produces (and runs Kafka's I/O thread); parsing and validating a
    line costs about as much again, so a second core doubles the rate. With one
    core, validating in-process avoids the hand-over cost.
    """
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(0, min((cores or 1) - 1, MAX_VALIDATORS))
