"""make_producer fails at once where nothing listens, instead of trying for 30 s. No broker."""

from __future__ import annotations

import socket
import time

import pytest
from kafka.errors import KafkaConnectionError

from infra.producer import make_producer, refused_everywhere


def _closed_port() -> int:
    with socket.socket() as s:  # a port just freed: nothing listens on it
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_refused_only_when_every_address_refuses() -> None:
    closed = _closed_port()
    assert refused_everywhere(f"127.0.0.1:{closed}")
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        port = listening.getsockname()[1]
        assert not refused_everywhere(f"127.0.0.1:{closed},127.0.0.1:{port}")
    assert not refused_everywhere("no-such-host.invalid:9092")  # the client decides that one
    assert not refused_everywhere("")


def test_a_producer_for_a_closed_port_fails_at_once() -> None:
    started = time.monotonic()
    with pytest.raises(KafkaConnectionError, match="connection refused"):
        make_producer(f"127.0.0.1:{_closed_port()}")
    assert time.monotonic() - started < 5  # it waited max_block_ms, 30 s, before
