"""A chunk's changelog records, encoded once and sent as whole Kafka record batches.

Faust's `Table.send_changelog` costs a serialisation, a `FutureMessage`, a trip
through its producer buffer and an `aiokafka.send` per record: about half the
worker's time when every event writes two keys. A chunk's records are known
all at once, so they are encoded here (each value once: the journal's values
are reused for the key records) and appended to aiokafka `BatchBuilder`s, one
`send_batch` per ~1 MB. Kafka appends a record batch to its partition whole
and keeps the partition in order, so the journal still lands before the keys
it covers; the bytes are what Faust's `json` codec would read back.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from faust.types import TP

from streams import _faust

__all__ = ["Record", "encode", "BatchSender"]

log = logging.getLogger(__name__)

Record = tuple[bytes, bytes]  # (key, value) as the changelog stores them

#: Faust's `json` codec is `json.dumps` (ASCII); the same key bytes keep compaction working
#: across versions. Compact separators only shorten the values.
_dumps = json.JSONEncoder(separators=(",", ":")).encode


def encode(writes: list[tuple[str, Any]]) -> list[Record]:
    """JSON-encode (key, value) writes in order; a journal's values are encoded only once.

    A journal `{"a": offsets, "n": events, "w": {key: value}}` is followed by writes of the
    same value objects, so their encodings are kept (by identity, while
    `writes` holds them alive) and reused.
    """
    memo: dict[int, str] = {}
    out: list[Record] = []
    for key, value in writes:
        if key.startswith("J|"):
            parts = []
            for k, v in value["w"].items():
                text = memo[id(v)] = _dumps(v)
                parts.append(f"{_dumps(k)}:{text}")
            count = f',"n":{_dumps(value["n"])}' if "n" in value else ""
            encoded = f'{{"a":{_dumps(value["a"])}{count},"w":{{{",".join(parts)}}}}}'
        else:
            encoded = memo.get(id(value)) or _dumps(value)
        out.append((_dumps(key).encode(), encoded.encode()))
    return out


class BatchSender:
    """Sends one partition's records to the table's changelog through Faust's aiokafka producer.

    `send` returns once the batches are queued (waiting for room in the
    producer: that is the backpressure), with the future of the last batch:
    Kafka acknowledges a partition in order, so once it is done every earlier
    record of that partition is durable too. A batch that cannot be delivered
    calls `on_fatal`: a later batch must never land after a lost one.
    """

    def __init__(self, app: Any, table: Any, on_fatal: Callable[[BaseException], None]) -> None:
        self.app = app
        self.table = table
        self.on_fatal = on_fatal

    async def __call__(self, partition: int, records: list[Record]) -> Awaitable[Any] | None:
        if not records:
            return None
        producer = _faust.raw_producer(self.app)  # aiokafka.AIOKafkaProducer
        topic = self.table.changelog_topic.get_topic_name()
        batch, count = producer.create_batch(), 0
        for key, value in records:
            if batch.append(key=key, value=value, timestamp=None) is None:
                await self._send(producer, batch, topic, partition, count)
                batch, count = producer.create_batch(), 0
                # an empty batch takes any one record, whatever its size
                batch.append(key=key, value=value, timestamp=None)
            count += 1
        return await self._send(producer, batch, topic, partition, count)

    async def _send(
        self, producer: Any, batch: Any, topic: str, partition: int, count: int
    ) -> Awaitable[Any]:
        batch.close()
        future = await producer.send_batch(batch, topic, partition=partition)
        store = self.table.data

        def done(fut: Any) -> None:
            if fut.cancelled() or fut.exception() is not None:
                error = fut.exception() if not fut.cancelled() else RuntimeError("cancelled")
                log.error(
                    "streams: a changelog batch of %s[%d] was not delivered (%r); "
                    "stopping the worker",
                    topic,
                    partition,
                    error,
                )
                self.on_fatal(error)
                return
            # What Faust's own changelog callback does (used by persistent stores).
            store.set_persisted_offset(TP(topic, partition), fut.result().offset + count - 1)

        future.add_done_callback(done)
        return future  # type: ignore[no-any-return]
