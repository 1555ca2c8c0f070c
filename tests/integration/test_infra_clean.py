"""`arrears infra clean --prefix P`: a run's topics go, after a yes; nothing else does."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from infra.admin import admin_client, ensure_topics
from infra.settings import Settings
from tests.integration.test_ingest import arrears

pytestmark = pytest.mark.integration


def _topics(bootstrap: str) -> set[str]:
    admin = admin_client(bootstrap)
    try:
        return set(admin.list_topics())
    finally:
        admin.close()


def test_clean_deletes_the_prefixed_topics_after_a_yes(
    settings_factory: Callable[..., Settings],
) -> None:
    run, other = settings_factory(), settings_factory()
    for s in (run, other):
        ensure_topics(s.bootstrap_servers, s)
    mine = {t for t in _topics(run.bootstrap_servers) if t.startswith(run.topic_prefix)}
    assert mine

    refused = arrears(run, "infra", "clean", "--prefix", run.topic_prefix)  # no terminal
    assert refused.returncode == 2 and "--yes" in refused.stderr
    assert mine <= _topics(run.bootstrap_servers)

    done = arrears(run, "infra", "clean", "--prefix", run.topic_prefix, "--yes")
    assert done.returncode == 0, done.stderr
    assert f"deleted {len(mine)} topics" in done.stdout
    deadline = time.monotonic() + 15  # the broker deletes in the background
    while any(t.startswith(run.topic_prefix) for t in _topics(run.bootstrap_servers)):
        assert time.monotonic() < deadline, "the run's topics are still there"
        time.sleep(0.2)
    left = _topics(run.bootstrap_servers)
    assert any(t.startswith(other.topic_prefix) for t in left)  # another run's stay
