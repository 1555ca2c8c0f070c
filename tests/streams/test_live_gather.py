"""Finding the workers and asking them (`streams.live.gather`), over loopback sockets: a
worker that is registered but never answers is named within seconds, not after the
timeout, and does not block the form when the others own every partition."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from infra.settings import Settings
from streams.live import Incomplete, gather, workers_dir
from tests.streams.worker_kit import answering_worker, silent_worker

TIMEOUT = 30.0  # form's default --timeout: every wait below must end well before it
DAY = 20088


class Heard(Exception):
    """Raised by the test's `on_wait` to stop waiting once told."""


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(state_dir=tmp_path, partitions=4)


@pytest.fixture
def silent(settings: Settings) -> Iterator[int]:
    with silent_worker(settings) as port:
        yield port


def _told(settings: Settings) -> tuple[float, str]:
    """Seconds until `gather` says why it waits, and what it says."""
    heard: list[str] = []

    def on_wait(why: str) -> None:
        heard.append(why)
        raise Heard

    started = time.monotonic()
    with pytest.raises(Heard):
        gather(settings, DAY, timeout=TIMEOUT, on_wait=on_wait)
    return time.monotonic() - started, heard[0]


def test_a_registered_worker_that_never_answers_is_named_within_seconds(
    settings: Settings, silent: int
) -> None:
    seconds, why = _told(settings)
    assert seconds < 4, seconds  # the question waits 2 s, not the 30 s of the timeout
    assert "worker silent does not answer (pid " in why and f":{silent}/own/: " in why
    assert "timed out" in why
    assert str(workers_dir(settings)) in why and "found 1 with a live process" in why


def test_the_missing_partitions_and_the_silent_worker_are_named(
    settings: Settings, silent: int
) -> None:
    with answering_worker(settings, "quick", [0, 1]):
        seconds, why = _told(settings)
    assert seconds < 4, seconds
    assert "partition(s) [2, 3]" in why and "worker silent does not answer" in why
    assert "found 2 with a live process" in why


def test_a_silent_worker_does_not_block_once_the_others_own_everything(
    settings: Settings, silent: int
) -> None:
    started = time.monotonic()
    with answering_worker(settings, "quick", [0, 1, 2, 3]):
        live = gather(settings, DAY, timeout=TIMEOUT, on_wait=pytest.fail)
    assert time.monotonic() - started < 4
    assert live.workers == ["quick"] and not live.missing
    assert len(live.absent) == 1 and live.absent[0].startswith("worker silent does not answer")


def test_after_the_timeout_the_error_names_the_silent_worker(
    settings: Settings, silent: int
) -> None:
    with answering_worker(settings, "quick", [0, 1]):
        with pytest.raises(Incomplete, match=r"after 3s: .*worker silent does not answer"):
            gather(settings, DAY, timeout=3)
        live = gather(settings, DAY, timeout=3, allow_partial=True)
    assert live.missing == (2, 3) and live.workers == ["quick"]
