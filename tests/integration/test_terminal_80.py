"""The broker commands in a real 80-column terminal (tmux): the live form from a running
worker, deadletters list and infra status; no line wider than the pane or elided."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from infra.admin import ensure_topics
from infra.settings import Settings
from tests.integration.test_ingest import BAD, GOOD, arrears
from tests.pipeline.tmux_kit import pane
from tests.streams.kafka_kit import wait_until

pytestmark = pytest.mark.integration


def test_form_dead_letters_and_status_fit_80_columns(
    settings_factory: Callable[..., Settings],
    worker_factory: Callable[..., object],
    tmp_path: Path,
) -> None:
    settings = settings_factory()
    ensure_topics(settings.bootstrap_servers, settings)
    events = tmp_path / "mixed.jsonl"
    events.write_bytes(b"\n".join(GOOD + BAD) + b"\n")
    assert arrears(settings, "ingest", "--quiet", str(events)).returncode == 3
    worker_factory(settings, "w1")
    keep = Path(os.environ.get("ARREARS_TERMINAL_CAPTURES") or tmp_path)
    keep.mkdir(parents=True, exist_ok=True)
    with pane(settings.to_env()) as term:
        for argv in (
            ("form", "--unit", "320400", "--cutoff", "2024-12-31"),
            ("deadletters", "list"),
            ("infra", "status"),
        ):
            capture = term.run(*argv)
            (keep / f"broker-{argv[0]}.txt").write_text(capture.text + "\n", "utf-8")
            assert capture.code == 0, capture.text
            assert not capture.too_wide(), capture.too_wide()
            assert "…" not in capture.text, capture.text
            if argv[0] == "form":
                assert "11 公安机关立案(件)" in capture.text and "其他情况：" in capture.text
                assert not capture.split_units("320400"), capture.text
            if argv[0] == "deadletters":
                assert capture.text.count("\n    ") >= len(BAD)  # each message below its id

    # The worker's status line (every 10 s by default) names what it owns and applied.
    def status_lines() -> list[str]:
        log = (tmp_path / "w1.log").read_text(encoding="utf-8", errors="replace")
        return [x for x in log.splitlines() if "worker w1: partitions" in x]

    # the first line comes 10 s after the start: on a quiet machine the form comes sooner
    lines = wait_until(status_lines, 30, "the worker's first status line")
    assert " events applied; lag complaint " in lines[-1] and "inspection 0" in lines[-1]
    assert "last commit" in lines[-1]
