"""A chunk's changelog records, encoded once, written by the partition's owner in transactions.

Faust's `Table.send_changelog` costs a serialisation, a `FutureMessage`, a trip
through its producer buffer and an `aiokafka.send` per record: about half the
worker's time when every event writes two keys. A chunk's records are known
all at once, so they are encoded here (each value once: the journal's values
are reused for the key records) and appended to aiokafka `BatchBuilder`s, one
`send_batch` per ~1 MB. Kafka appends a record batch to its partition whole
and keeps the partition in order, so the journal still lands before the keys
it covers; the bytes are JSON that `streams.ownership.read_committed` reads back with
`json.loads` (Faust never reads this changelog: `_faust.recover_outside_faust`).

`PartitionWriter` is the only way records reach a changelog partition: a
transactional aiokafka producer whose transactional id is the partition's
(`infra.topics.changelog_writer_id`), whichever worker owns it. Starting it
(InitProducerId) bumps the id's epoch: the broker aborts the previous owner's open
transaction and refuses whatever that owner sends or commits afterwards
(ProducerFenced). A transaction holds whole chunks (the journal before the keys it
covers) and is committed `COMMIT_INTERVAL` after it opened, or when Faust is about
to commit source offsets; readers read committed records only
(`streams.ownership.read_committed`), so a write is in the changelog before any
later owner's, or nowhere.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from typing import Any

import orjson
from aiokafka.errors import InvalidProducerEpoch, ProducerFenced

from streams import _faust

__all__ = ["Record", "encode", "Fenced", "is_fenced", "PartitionWriter", "COMMIT_INTERVAL"]

log = logging.getLogger(__name__)

#: Seconds a changelog transaction stays open at most (it is committed in the background).
COMMIT_INTERVAL = 0.5
#: Records queued for the changelog before `send` waits for them (backpressure). orjson
#: 3.13 leaves each value it writes 4 KB of memory however short (its buffer is not
#: shrunk), so 50,000 queued records once held 0.8 GB of a worker that outran its pump.
MAX_WAITING = 5_000

Record = tuple[bytes, bytes]  # (key, value) as the changelog stores them

#: Keys are `json.dumps`'s bytes (ASCII), as earlier versions wrote them: compaction keeps
#: the last record of each key, so the same key must keep the same bytes.
_dumps = json.JSONEncoder(separators=(",", ":")).encode
#: orjson would write datetimes and dataclasses that `json.dumps` refuses; passed through,
#: they reach `json` and fail the chunk as before instead of landing as text.
_ORJSON = (
    orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
)


def _value(value: Any) -> bytes:
    """A value's JSON as `json.loads` reads it back (`streams.ownership.read_committed`):
    orjson's compact UTF-8, five times faster than `json.dumps` (a sixth of the engine's
    time went here); `json` for what orjson refuses (an integer past 64 bits, the types
    passed through above). The streams write only str, int, None, lists and str-keyed dicts.
    """
    try:
        return orjson.dumps(value, option=_ORJSON)
    except TypeError:
        return _dumps(value).encode()


def encode(writes: list[tuple[str, Any]]) -> list[Record]:
    """JSON-encode (key, value) writes in order; a journal's values are encoded only once.

    A journal `{"a": offsets, "n": events, "w": {key: value}}` is followed by writes of the
    same value objects, so their encodings are kept (by identity, while
    `writes` holds them alive) and reused. Keys are `json.dumps`'s bytes.
    """
    memo: dict[int, bytes] = {}
    keys: dict[str, bytes] = {}  # the journal's keys, written again as records right after
    out: list[Record] = []
    for key, value in writes:
        if key.startswith("J|"):
            parts = []
            for k, v in value["w"].items():
                text = memo[id(v)] = _value(v)
                name = keys[k] = _dumps(k).encode()
                parts.append(name + b":" + text)
            count = b',"n":' + _value(value["n"]) if "n" in value else b""
            encoded = b'{"a":' + _value(value["a"]) + count + b',"w":{' + b",".join(parts) + b"}}"
        else:
            encoded = memo.get(id(value)) or _value(value)
        out.append((keys.get(key) or _dumps(key).encode(), encoded))
    return out


class Fenced(Exception):
    """This worker may no longer write the partition: a newer owner fenced it, or it was retired."""


def is_fenced(exc: BaseException) -> bool:
    """Whether `exc` says a newer producer holds the transactional id (or the broker expired
    this one's transaction, which bumps the epoch as well): nothing of ours lands any more."""
    return isinstance(exc, ProducerFenced | InvalidProducerEpoch)


def _quiet(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()  # retrieved: asyncio would log it as never retrieved


class PartitionWriter:
    """Writes one changelog partition for the generation that made it, fenced by the broker.

    States: `starting` until `start` (the fence) returns, `ready`, `closing` (retired by
    a new assignment or the worker's stop: it takes no more records, and commits those
    it has) and `retired`; or `fenced` (the broker refused it: someone newer owns the
    partition), or `failed` (a commit failed otherwise).

    `send` only queues the records (the agent never waits for Kafka, unless
    `MAX_WAITING` records are queued); a background pump sends them, in order, in a
    transaction it opens, and commits that `COMMIT_INTERVAL` after it opened, or sooner
    when `flush` asks. The pump takes what is queued all at once and the agent queues a
    chunk's records at once, so a transaction holds whole chunks. A commit that fails
    for another reason than a fence calls `on_fatal`: a later transaction must never
    land after a lost one.
    """

    def __init__(
        self,
        producer: Any,
        topic: str,
        partition: int,
        generation: int,
        on_fatal: Callable[[BaseException], None],
        interval: float = COMMIT_INTERVAL,
    ) -> None:
        self.producer = producer  # aiokafka.AIOKafkaProducer(transactional_id=...), not started
        self.topic = topic
        self.partition = partition
        self.generation = generation
        self.on_fatal = on_fatal
        self.interval = interval
        self.state = "starting"
        #: Why the writer is fenced (the broker's error), for the log and the trace.
        self.fenced_by: BaseException | None = None
        self.commits = 0
        self._queued: list[Record] = []
        self._accepted = 0  # records `send` took, ever
        self._committed = 0  # of those, the first ones committed
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []  # (records, flushed)
        self._flushing = False
        self._stopping = False
        self._wake = asyncio.Event()
        self._room = asyncio.Event()
        self._pump: asyncio.Task[None] | None = None

    def usable(self) -> bool:
        return self.state == "ready"

    async def start(self) -> None:
        """Start the producer: InitProducerId fences every earlier writer of the partition."""
        await self.producer.start()
        if self.state == "starting":
            self.state = "ready"
            self._pump = asyncio.ensure_future(self._run())

    async def send(self, records: list[Record]) -> None:
        """Queue `records` for the changelog, after all sent before. Raises `Fenced`."""
        if not self.usable():
            raise Fenced(f"changelog partition {self.partition}: writer {self.state}")
        if not records:
            return
        self._queued.extend(records)
        self._accepted += len(records)
        self._wake.set()
        while len(self._queued) >= MAX_WAITING and self.usable():
            self._room.clear()
            await self._room.wait()
        if not self.usable():
            raise Fenced(f"changelog partition {self.partition}: writer {self.state}")

    def flush(self) -> asyncio.Future[None] | None:
        """Commit all sent so far, now; a future done once it is committed (None: it is),
        or fenced (done too: nothing more of ours lands), or failed (raising the error)."""
        if self._committed >= self._accepted or self._pump is None or self._pump.done():
            return None
        flushed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        flushed.add_done_callback(_quiet)
        self._waiters.append((self._accepted, flushed))
        self._flushing = True
        self._wake.set()
        return flushed

    async def settled(self) -> bool:
        """Wait until all sent so far is committed; True if the writer may go on."""
        flushed = self.flush()
        if flushed is not None:
            await asyncio.wait([flushed])
        return self.usable()

    async def _run(self) -> None:
        """The pump: queued records into the open transaction, commits when due."""
        loop = asyncio.get_running_loop()
        opened: float | None = None  # when the open transaction began
        deliveries: list[asyncio.Future[Any]] = []  # of its batches
        count = 0  # its records
        error: BaseException | None = None
        try:
            while True:
                if not (self._queued or self._flushing or self._stopping):
                    wait = (
                        None if opened is None else max(0.0, opened + self.interval - loop.time())
                    )
                    with contextlib.suppress(TimeoutError):  # a commit is due
                        await asyncio.wait_for(self._wake.wait(), wait)
                self._wake.clear()
                if self._queued:
                    records, self._queued = self._queued, []
                    self._room.set()
                    if opened is None:
                        await self.producer.begin_transaction()
                        opened, deliveries, count = loop.time(), [], 0
                    count += len(records)
                    deliveries += await self._batches(records)
                    del records  # in the batches now: not held through the commit's wait
                if opened is not None and (
                    self._flushing or self._stopping or loop.time() - opened >= self.interval
                ):
                    # A refusal of the transaction's partition or records (a fence among
                    # them) kills aiokafka's sender and fails these with the broker's
                    # error; commit_transaction would only fail on its own state machine.
                    for delivered in deliveries:
                        await delivered
                    await self.producer.commit_transaction()
                    self.commits += 1
                    self._committed += count
                    opened = None
                    self._resolve()
                if self._stopping and not self._queued and opened is None:
                    return
        # Whatever stops the pump ends the writer; a fence is expected, the rest is fatal.
        except Exception as exc:  # noqa: BLE001 - reported through on_fatal and the futures
            _faust.retrieve_failures(self.producer)  # handled here: asyncio need not log them
            if is_fenced(exc):
                self._fence(exc)
            elif self.state not in ("closing", "retired"):
                error = exc
                self.state = "failed"
                log.error(
                    "streams: a changelog transaction of %s[%d] failed (%r); stopping the worker",
                    self.topic,
                    self.partition,
                    exc,
                )
                self.on_fatal(exc)
        finally:
            self._queued.clear()
            self._room.set()
            for _, flushed in self._waiters:
                if not flushed.done():
                    if error is not None:
                        flushed.set_exception(error)
                    else:
                        flushed.set_result(None)
            self._waiters.clear()

    async def _batches(self, records: list[Record]) -> list[asyncio.Future[Any]]:
        producer, out = self.producer, []
        batch = producer.create_batch()
        for key, value in records:
            if batch.append(key=key, value=value, timestamp=None) is None:
                out.append(await self._send_batch(batch))
                batch = producer.create_batch()
                # an empty batch takes any one record, whatever its size
                batch.append(key=key, value=value, timestamp=None)
        out.append(await self._send_batch(batch))
        return out

    async def _send_batch(self, batch: Any) -> asyncio.Future[Any]:
        batch.close()
        delivered = await self.producer.send_batch(batch, self.topic, partition=self.partition)
        delivered.add_done_callback(_quiet)  # the commit reports a failure, not this future
        return delivered  # type: ignore[no-any-return]

    def _resolve(self) -> None:
        waiting = []
        for upto, flushed in self._waiters:
            if upto <= self._committed:
                if not flushed.done():
                    flushed.set_result(None)
            else:
                waiting.append((upto, flushed))
        self._waiters = waiting
        self._flushing = bool(waiting)

    def _fence(self, exc: BaseException) -> None:
        if self.state in ("starting", "ready", "closing"):
            self.state = "fenced"
            self.fenced_by = exc
            log.warning(
                "streams: changelog partition %s[%d] has a newer owner (%r): "
                "this worker stops applying it (generation %d)",
                self.topic,
                self.partition,
                exc,
                self.generation,
            )

    def retire(self) -> None:
        """No more records from now on (synchronously: the caller rebuilds the table after)."""
        if self.state == "ready":
            self.state = "closing"
        elif self.state == "starting":
            self.state = "retired"

    async def close(self, timeout: float = 30.0) -> None:
        """Retire, commit what was sent (it lands before the next owner's fence, or that
        fence aborts it), stop the producer. Never raises."""
        self.retire()
        pump = self._pump
        if pump is not None and not pump.done():
            self._stopping = True
            self._wake.set()
            await asyncio.wait([pump], timeout=timeout)
            if not pump.done():
                log.warning("streams: the last changelog commit of %d timed out", self.partition)
                pump.cancel()
        if self.state == "closing":
            self.state = "retired"
        if self.state in ("fenced", "failed"):
            _faust.retrieve_failures(self.producer)  # handled here: asyncio need not log them
        try:
            await asyncio.wait_for(self.producer.stop(), timeout)
        except Exception as exc:  # noqa: BLE001 - a fenced producer may fail to stop cleanly
            log.info("streams: the producer of %d did not stop cleanly (%r)", self.partition, exc)
