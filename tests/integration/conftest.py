"""Fixtures of the broker tier beyond tests/conftest.py."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from infra.admin import ensure_topics
from infra.settings import Settings


@pytest.fixture
def env(
    settings_factory: Callable[..., Settings], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Settings:
    """Settings of a fresh topic prefix with its topics created, exported to the environment
    the commands read, the working directory in tmp_path."""
    settings = settings_factory()
    ensure_topics(settings.bootstrap_servers, settings)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ARREARS_CONFIG", raising=False)
    for key, value in settings.to_env().items():
        monkeypatch.setenv(key, value)
    return settings
