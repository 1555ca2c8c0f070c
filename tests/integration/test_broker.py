"""The real broker: lifecycle, topic declaration checks, and client round trips."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.admin import NewPartitions

from infra.admin import cluster_status, ensure_topics
from infra.broker import BrokerInfo, LocalBroker, pid_alive
from infra.errors import TopicMismatchError
from infra.settings import KAFKA_VERSION, Settings
from infra.topics import declared_topics

pytestmark = pytest.mark.integration


def test_broker_is_the_pinned_version(broker: BrokerInfo) -> None:
    assert broker.version == KAFKA_VERSION
    assert broker.bootstrap.startswith("127.0.0.1:")
    assert Path(broker.log).exists()


def test_kafka_python_round_trip(broker: BrokerInfo, topic_factory: Callable[..., str]) -> None:
    topic = topic_factory()
    producer = KafkaProducer(
        bootstrap_servers=broker.bootstrap, acks="all", enable_idempotence=True
    )
    for i in range(10):
        producer.send(topic, key=b"320412", value=f"v{i}".encode())
    producer.flush()
    producer.close()
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=broker.bootstrap,
        auto_offset_reset="earliest",
        group_id=f"g-{uuid.uuid4().hex}",
        consumer_timeout_ms=10000,
    )
    values = [m.value for m in consumer]
    consumer.close()
    assert values == [f"v{i}".encode() for i in range(10)]  # one key: one partition, in order


def test_aiokafka_round_trip(broker: BrokerInfo, topic_factory: Callable[..., str]) -> None:
    topic = topic_factory()

    async def run() -> list[bytes]:
        producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, enable_idempotence=True)
        await producer.start()
        try:
            for i in range(10):
                await producer.send_and_wait(topic, f"a{i}".encode(), key=b"320400")
        finally:
            await producer.stop()
        consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=broker.bootstrap,
            auto_offset_reset="earliest",
            group_id=f"g-{uuid.uuid4().hex}",
        )
        await consumer.start()
        got: list[bytes] = []
        try:
            while len(got) < 10:
                batch = await asyncio.wait_for(consumer.getmany(timeout_ms=1000), timeout=20)
                got += [m.value for msgs in batch.values() for m in msgs if m.value is not None]
        finally:
            await consumer.stop()
        return got

    assert asyncio.run(run()) == [f"a{i}".encode() for i in range(10)]


def test_declared_topics_created_then_idempotent(settings_factory: Callable[..., Settings]) -> None:
    settings = settings_factory()
    created = ensure_topics(settings.bootstrap_servers, settings)
    assert sorted(created) == sorted(s.name for s in declared_topics(settings))
    assert ensure_topics(settings.bootstrap_servers, settings) == []
    status = cluster_status(settings.bootstrap_servers, settings, "test")
    declared = [t for t in status.topics if t.declared]
    assert {t.name for t in declared} == set(created)
    assert status.missing == []


def test_partition_mismatch_is_reported(settings_factory: Callable[..., Settings]) -> None:
    settings = settings_factory()
    ensure_topics(settings.bootstrap_servers, settings)
    victim = declared_topics(settings)[0].name
    admin = KafkaAdminClient(bootstrap_servers=settings.bootstrap_servers)
    admin.create_partitions({victim: NewPartitions(total_count=settings.partitions + 2)})
    deadline = time.monotonic() + 20  # KRaft propagates metadata asynchronously
    while len(admin.describe_topics([victim])[0]["partitions"]) != settings.partitions + 2:
        assert time.monotonic() < deadline, "the broker never showed the new partitions"
        time.sleep(0.1)
    admin.close()
    with pytest.raises(TopicMismatchError) as caught:
        ensure_topics(settings.bootstrap_servers, settings)
    assert (
        f"{victim}: {settings.partitions + 2} partitions on the broker, "
        f"{settings.partitions} declared" in str(caught.value)
    )


def test_cli_up_status_down_leaves_no_process(tmp_path: Path) -> None:
    """The user's path: `arrears infra up`, again (idempotent), `status`, `down`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARREARS_")}
    cache = Settings.from_env(
        {k: v for k, v in os.environ.items() if k == "ARREARS_CACHE_DIR"}
    ).cache_dir
    env.update(ARREARS_STATE_DIR=str(tmp_path / "state"), ARREARS_CACHE_DIR=str(cache))
    cli = [sys.executable, "-m", "pipeline.cli", "infra"]

    def run(*args: str) -> str:
        done = subprocess.run(
            [*cli, *args], env=env, capture_output=True, text=True, timeout=180, cwd=tmp_path
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    try:
        assert "broker Kafka" in run("up")
        assert "already running" in run("up")
        status = run("status")
        assert KAFKA_VERSION in status and "(names after arrears.)" in status
        assert " inspection " in status  # every name has the prefix: said once, in the title
        info = LocalBroker(Settings.from_env(env)).info()
        assert info is not None
        assert "broker stopped" in run("down")
        assert not pid_alive(info.pid)
        assert "no local broker" in run("down")
    finally:
        LocalBroker(Settings.from_env(env)).destroy()


def test_a_broker_killed_and_started_again_keeps_its_ports(tmp_path: Path) -> None:
    """After kill -9, `infra up` listens where it did, so running clients find it again."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARREARS_")}
    cache = Settings.from_env(
        {k: v for k, v in os.environ.items() if k == "ARREARS_CACHE_DIR"}
    ).cache_dir
    env.update(ARREARS_STATE_DIR=str(tmp_path / "state"), ARREARS_CACHE_DIR=str(cache))
    local = LocalBroker(Settings.from_env(env))
    try:
        first = local.start()
        os.killpg(first.pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while pid_alive(first.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert local.info() is None  # crashed: no broker of ours runs
        again = local.start()
        assert again.pid != first.pid and again.bootstrap == first.bootstrap
    finally:
        local.destroy()
