"""`arrears worker` keeps the root logger at its --loglevel (Faust's spinner would set DEBUG)."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import faust
import pytest

from pipeline.commands.worker import worker_class
from streams.trace import Tracer


@pytest.fixture
def root_logging() -> Iterator[logging.Logger]:
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    yield root
    root.setLevel(level)
    root.handlers[:] = handlers


def test_the_worker_leaves_debug_records_off(root_logging: logging.Logger) -> None:
    # With the spinner, every debug record of aiokafka and Faust was built for every
    # fetch and produce, and the streams trace ran although no --trace was given.
    app = faust.App("arrears-test-logging", autodiscover=False)
    worker = worker_class(faust)(app, loglevel="warning", quiet=True, redirect_stdouts=False)
    worker._setup_logging()
    assert worker.spinner is None
    assert root_logging.getEffectiveLevel() == logging.WARNING
    assert not Tracer("w").enabled
