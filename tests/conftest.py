"""Fixtures shared by every tier: a real Kafka broker started once per session,
and factories for uuid-named topics, settings and clients."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from infra.admin import ensure_topics
from infra.broker import BrokerInfo, LocalBroker
from infra.settings import Settings
from infra.topics import Role, TopicSpec

if TYPE_CHECKING:
    from tests.streams.kafka_kit import WorkerProcess


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerInfo]:
    """The pinned Kafka broker, started by the project's infra code in a temp state dir.

    Jars come from the per-user cache (downloaded once by Maven). There is no
    skip: if the broker cannot start, every test that needs it errors.
    """
    defaults = Settings.from_env({k: v for k, v in os.environ.items() if k == "ARREARS_CACHE_DIR"})
    settings = Settings(
        state_dir=tmp_path_factory.mktemp("broker-state"), cache_dir=defaults.cache_dir
    )
    local = LocalBroker(settings)
    info = local.start()
    try:
        yield info
    finally:
        local.destroy()


@pytest.fixture
def settings_factory(broker: BrokerInfo, tmp_path: Path) -> Callable[..., Settings]:
    """Settings pointed at the session broker with a fresh uuid topic prefix."""

    def make(**overrides: object) -> Settings:
        base = Settings(
            bootstrap_servers=broker.bootstrap,
            topic_prefix=f"t{uuid.uuid4().hex[:10]}.",
            partitions=3,
            state_dir=tmp_path / f"state-{uuid.uuid4().hex[:6]}",
        )
        return base.with_overrides(**overrides)

    return make


@pytest.fixture
def topic_factory(broker: BrokerInfo) -> Callable[..., str]:
    """Create a uuid-named topic (3 partitions unless overridden) and return its name."""

    def make(partitions: int = 3, prefix: str = "t") -> str:
        name = f"{prefix}-{uuid.uuid4().hex}"
        spec = TopicSpec(
            name=name, role=Role.SOURCE, partitions=partitions, key="test", description="test topic"
        )
        ensure_topics(broker.bootstrap, Settings(bootstrap_servers=broker.bootstrap), [spec])
        return name

    return make


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """A skipped test hides a broken tier: under CI any skip fails the run."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = len(reporter.stats.get("skipped", [])) if reporter else 0
    if skipped and os.environ.get("CI") == "true" and session.exitstatus == 0:
        reporter.write_line(
            f"{skipped} test(s) skipped under CI=true: that is a failure here", red=True
        )
        session.exitstatus = 1


@pytest.fixture
def worker_factory(tmp_path: Path) -> Iterator[Callable[..., WorkerProcess]]:
    """Real `arrears worker` subprocesses (`tests.streams.kafka_kit.WorkerProcess`).

    `worker_factory(settings, "w1")` starts one on a free web port, logging to
    `<tmp_path>/w1.log`, and waits until it is ready with partitions; `start=False` only
    makes it (`.start()` later), `ready=False` does not wait. `trace=True` (or
    ARREARS_TEST_TRACE=1 for every worker) runs it with `--trace <tmp_path>/w1.trace`.
    Every worker made is stopped at teardown (SIGTERM; SIGKILL and an error if it hangs).
    """
    # Imported here, not at the top: it loads Faust and kafka-python, which the tiers
    # without a broker do not need.
    from pipeline.commands.worker import free_port
    from tests.streams.kafka_kit import WorkerProcess

    made: list[WorkerProcess] = []

    def make(
        settings: Settings,
        worker_id: str,
        *,
        start: bool = True,
        ready: bool = True,
        trace: bool = False,
    ) -> WorkerProcess:
        traced = trace or os.environ.get("ARREARS_TEST_TRACE") == "1"
        worker = WorkerProcess(
            settings,
            worker_id,
            free_port(),
            tmp_path,
            trace=tmp_path / f"{worker_id}.trace" if traced else None,
        )
        made.append(worker)
        if start:
            worker.start()
            if ready:
                worker.wait_ready()
        return worker

    yield make
    hung = []
    for worker in made:
        try:
            worker.stop()
        except AssertionError as err:
            hung.append(str(err))
    if hung:
        raise AssertionError("\n".join(hung))
