"""Parsing and validating lines, in this process or in validator processes beside it."""

from __future__ import annotations

import multiprocessing
import os
import queue
import signal
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator
from multiprocessing.connection import Connection
from multiprocessing.context import SpawnContext
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


#: What validating one line gives: None for a blank line.
Checked = Valid | Refused | None


class ValidatorDied(Exception):
    """A validator process died (killed, or out of memory): the lines it held are unchecked."""


_DIED = (
    "a validator process died (killed, or out of memory?); the lines it was checking were not sent"
)


def _serve(tasks: Connection, results: Connection, registry: Registry) -> None:
    """A validator process: validate each chunk `tasks` brings, answer on `results`, in order,
    until `tasks` is closed. Ctrl-C is the parent's to handle (it stops this process)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    while True:
        try:
            lines = tasks.recv()
        except EOFError:
            return
        try:
            answer: tuple[bool, Any] = (True, [validate_line(data, registry) for data in lines])
        except Exception as err:  # noqa: BLE001 - handed to the parent, which raises it
            answer = (False, err)
        try:
            results.send(answer)
        except OSError:  # the parent stopped listening: it is closing
            return


class _Validator:
    """One validator process and its two pipes.

    The parent keeps only its own ends (it writes chunks, reads answers), so when the
    process dies its end of the answers pipe closes with it and a read gives EOF at once,
    even in the middle of an answer. (ProcessPoolExecutor shares one answers queue whose
    write end the parent also holds: a worker killed while writing leaves half an answer
    that its reader thread waits on forever, and ingest hung.) A thread writes the chunks,
    so a chunk bigger than the pipe never blocks reading answers.
    """

    def __init__(self, context: SpawnContext, registry: Registry, number: int) -> None:
        tasks_out, tasks_in = context.Pipe(duplex=False)
        results_out, results_in = context.Pipe(duplex=False)
        self.process = context.Process(
            target=_serve,
            args=(tasks_out, results_in, registry),
            name=f"arrears-validator-{number}",
            daemon=True,
        )
        self.process.start()
        tasks_out.close()
        results_in.close()
        self.results = results_out
        self._tasks = tasks_in
        self._queue: queue.SimpleQueue[list[bytes] | None] = queue.SimpleQueue()
        self._writer = threading.Thread(
            target=self._write, name=f"arrears-validator-{number}-writer", daemon=True
        )
        self._failed: BaseException | None = None
        self._writer.start()

    def _write(self) -> None:
        try:
            while (lines := self._queue.get()) is not None:
                self._tasks.send(lines)
        except OSError:  # the process died: reading its answers says so
            pass
        except BaseException as err:  # noqa: BLE001 - answer() raises it, nothing waits
            self._failed = err
        finally:
            self._tasks.close()  # the process ends after what it has: answer() sees EOF

    def submit(self, lines: list[bytes]) -> None:
        self._queue.put(lines)

    def answer(self) -> list[Checked]:
        """The answer to the oldest chunk not yet answered; ValidatorDied if the process died."""
        try:
            ok, value = self.results.recv()
        except (EOFError, OSError) as err:
            if self._failed is not None:
                raise ValidatorDied(
                    f"lines could not be handed to a validator process ({self._failed!r}); "
                    "the lines after them were not sent"
                ) from self._failed
            raise ValidatorDied(_DIED) from err
        if not ok:
            raise value
        return value  # type: ignore[no-any-return]

    def stop(self) -> None:
        """Ask the process to end: a process blocked answering stops at once."""
        self.results.close()
        self._queue.put(None)

    def join(self, deadline: float) -> None:
        """Wait for the process until `deadline` (time.monotonic()), then kill it."""
        self.process.join(timeout=max(0.0, deadline - time.monotonic()))
        if self.process.is_alive():
            self.process.kill()
            self.process.join()


class Validators:
    """`n` validator processes: `checked(lines)` gives each line with its validation, in order.

    Lines go out in chunks of CHUNK_LINES, round robin, at most IN_FLIGHT chunks per
    process at a time, so memory stays flat. A process that dies is noticed as soon as its
    next answer is due (its pipe reads EOF): `checked` raises `ValidatorDied`, never waits
    forever.
    """

    CHUNK_LINES = 2_000
    IN_FLIGHT = 4

    def __init__(self, n: int, registry: Registry) -> None:
        context = multiprocessing.get_context("spawn")  # no fork of the producer's threads
        self.n = n
        self._validators: list[_Validator] = []
        self._unfinished = False  # a file left off with answers still in the pipes
        try:
            for i in range(n):
                self._validators.append(_Validator(context, registry, i + 1))
        except OSError as err:  # e.g. it died while reading its start-up data
            self.close()
            raise ValidatorDied(f"a validator process could not start ({err})") from err

    def checked(self, lines: Iterable[bytes]) -> Iterator[tuple[bytes, Checked]]:
        if self._unfinished:
            raise RuntimeError(
                "these validators still hold answers of a file left off; start new ones"
            )
        self._unfinished = True
        yield from self._checked(lines)
        self._unfinished = False

    def _checked(self, lines: Iterable[bytes]) -> Iterator[tuple[bytes, Checked]]:
        pending: deque[tuple[list[bytes], _Validator]] = deque()
        limit = self.IN_FLIGHT * self.n
        turn = 0
        chunk: list[bytes] = []
        for data in lines:
            chunk.append(data)
            if len(chunk) == self.CHUNK_LINES:
                pending.append((chunk, self._submit(chunk, turn)))
                turn += 1
                chunk = []
                if len(pending) >= limit:
                    yield from _results(*pending.popleft())
        if chunk:
            pending.append((chunk, self._submit(chunk, turn)))
        while pending:
            yield from _results(*pending.popleft())

    def _submit(self, chunk: list[bytes], turn: int) -> _Validator:
        validator = self._validators[turn % self.n]
        validator.submit(chunk)
        return validator

    def close(self) -> None:
        """Stop the processes (at once: pending chunks are dropped), within about 5 s."""
        for validator in self._validators:
            validator.stop()
        deadline = time.monotonic() + 5
        for validator in self._validators:
            validator.join(deadline)


def _results(sent: list[bytes], validator: _Validator) -> Iterator[tuple[bytes, Checked]]:
    yield from zip(sent, validator.answer(), strict=True)


def default_validators() -> int:
    """How many validator processes `arrears ingest` starts: one per core beyond the first.

    The first core produces (and runs Kafka's I/O thread); parsing and validating a
    line costs about as much again, so a second core doubles the rate. With one
    core, validating in-process avoids the hand-over cost.
    """
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(0, min((cores or 1) - 1, MAX_VALIDATORS))
