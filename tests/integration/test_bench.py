"""`arrears bench replay` against the real broker: a small run in rounds says what it measured,
its rounds and both rebuilds agree, and its topics are gone afterwards. (Behaviour only: the
figures themselves are the benchmark's business, not a test's.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from kafka import KafkaAdminClient

from infra.settings import Settings

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def test_bench_replay_in_rounds(settings_factory: Callable[..., Settings], tmp_path: Path) -> None:
    settings = settings_factory()
    out = tmp_path / "replay.json"
    env = {**os.environ, **settings.to_env(), "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pipeline.cli",
            "bench",
            "replay",
            "--events",
            "3000",
            "--rounds",
            "2",
            "--out",
            str(out),
            "--workdir",
            str(tmp_path / "work"),
        ],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    figures = json.loads(out.read_text(encoding="utf-8"))
    assert len(figures["rounds"]) == 2 and figures["rounds_agree"] is True
    assert figures["kafka_equals_archive"] is True
    # archiving is measured against the same run's bare consumer; the compacted archive
    # (fewer files) gives the batch the same cells, beside its floor, a bare polars fold
    assert figures["archive_ratio_to_bare"] > 0 and figures["archive_write"]["readers"] >= 1
    assert figures["compacted_equals_archive"] is True
    compaction = figures["compaction"]
    assert compaction["files_after"] < compaction["files_before"]
    assert compaction["rows"] == figures["archive_write"]["archived"]
    assert figures["compacted_batch_over_bare_fold"] > 0
    ratios = sorted(r["ratio"] for r in figures["rounds"])
    assert figures["kafka_ratio_range"] == ratios
    # the median of two is the lower; the top-level phases are that round's
    assert abs(figures["kafka_ratio_to_bare"] - ratios[0]) < 0.01
    assert figures["kafka"]["events"] + figures["kafka"]["invalid"] == figures["produced"] == 3000
    assert "round 2 of 2" in done.stdout + done.stderr and "median of the rounds" in done.stdout
    admin = KafkaAdminClient(bootstrap_servers=settings.bootstrap_servers)
    try:
        assert figures["topics"] and not set(figures["topics"]) & set(admin.list_topics())
    finally:
        admin.close()
