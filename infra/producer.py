"""The producer every ingest path uses (file ingest, dead-letter resubmits, benchmarks)."""

from __future__ import annotations

import socket
from typing import Any

from kafka import KafkaProducer
from kafka.errors import KafkaConnectionError
from kafka.partitioner import DefaultPartitioner

__all__ = ["make_producer", "refused_everywhere"]


class _KeyedPartitioner(DefaultPartitioner):  # type: ignore[misc]
    """kafka-python's default partitioner (murmur2 of the key) with its answers remembered.

    Ingest keys by unit, a few hundred values, so the pure-Python murmur2 and the
    partition-list sorting of every send are done once per key and partition count.
    """

    MAX_KEYS = 4096

    def __init__(self) -> None:
        self._cache: dict[tuple[str, bytes, int], int] = {}

    def partition(
        self,
        topic: str,
        key: Any,
        serialized_key: bytes | None,
        value: Any,
        serialized_value: Any,
        cluster: Any,
    ) -> int:
        partitions = cluster.partitions_for_topic(topic)
        if serialized_key is None or not partitions:
            return int(
                super().partition(topic, key, serialized_key, value, serialized_value, cluster)
            )
        slot = (topic, bytes(serialized_key), len(partitions))
        cached = self._cache.get(slot)
        if cached is None:
            if len(self._cache) >= self.MAX_KEYS:
                self._cache.clear()
            cached = self._cache[slot] = int(
                super().partition(topic, key, serialized_key, value, serialized_value, cluster)
            )
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
    if refused_everywhere(bootstrap):  # else the producer tries for max_block_ms (30 s)
        raise KafkaConnectionError("connection refused: no broker listens there")
    return KafkaProducer(**config)


def refused_everywhere(bootstrap: str, timeout: float = 2.0) -> bool:
    """True when every `host:port` of `bootstrap` actively refuses a TCP connection: no
    broker listens there, so waiting for one is pointless. A timeout, an unknown host or
    an address that accepts is not a refusal (the client's own retries decide those)."""
    addresses = [a.strip() for a in bootstrap.split(",") if a.strip()]
    if not addresses:
        return False
    for address in addresses:
        host, _, port = address.rpartition(":")
        try:
            with socket.create_connection((host.strip("[]") or "localhost", int(port)), timeout):
                return False
        except ConnectionRefusedError:
            continue
        except (OSError, ValueError):
            return False
    return True
