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
from streams.group import SESSION_TIMEOUT_S
from tests.pipeline.cli_kit import assert_documented

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def _bench(settings: Settings, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "bench", *argv],
        env={**os.environ, **settings.to_env(), "PYTHONPATH": str(ROOT)},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.parametrize(
    ("bench", "argv"),
    [
        ("ingest", ["--events", "2000"]),
        ("streams", ["--events", "2000", "--rate", "200", "--seconds", "2", "--partitions", "2"]),
    ],
)
def test_bench_json_is_the_figures_file(
    settings_factory: Callable[..., Settings], tmp_path: Path, bench: str, argv: list[str]
) -> None:
    """With --json the figures on stdout are the --out file's, with --quiet nothing else is
    said; their fields are the README's."""
    out = tmp_path / f"{bench}.json"
    done = _bench(settings_factory(), bench, *argv, "--out", str(out), "--json", "--quiet")
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    figures = json.loads(done.stdout)
    assert figures == json.loads(out.read_text(encoding="utf-8"))
    assert_documented(f"bench {bench}", figures)


def test_bench_replay_in_rounds(settings_factory: Callable[..., Settings], tmp_path: Path) -> None:
    settings = settings_factory()
    out = tmp_path / "replay.json"
    work = ("--out", str(out), "--workdir", str(tmp_path / "work"))
    done = _bench(settings, "replay", "--events", "3000", "--rounds", "2", *work)
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
    assert "round 2 of 2" in done.stderr and "median of the rounds" in done.stdout
    assert_documented("bench replay", figures)
    admin = KafkaAdminClient(bootstrap_servers=settings.bootstrap_servers)
    try:
        assert figures["topics"] and not set(figures["topics"]) & set(admin.list_topics())
    finally:
        admin.close()


def test_bench_recovery_times_the_survivor(
    settings_factory: Callable[..., Settings], tmp_path: Path
) -> None:
    """A small `bench recovery`: the survivor of a kill -9 ends up owning every partition
    and caught up, and the figures (the README's fields) say so."""
    settings = settings_factory()
    out = tmp_path / "recovery.json"
    argv = ("--events", "2000", "--rate", "100", "--seconds", "15", "--out", str(out))
    done = _bench(settings, "recovery", *argv, "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    figures = json.loads(done.stdout)
    assert figures == json.loads(out.read_text(encoding="utf-8"))
    assert_documented("bench recovery", figures)
    assert figures["events"] == 2000 and figures["partitions"] == settings.partitions
    # the group notices the kill only after the session timeout
    assert figures["session_timeout_s"] == SESSION_TIMEOUT_S
    assert figures["owned_all_s"] is not None and figures["owned_all_s"] >= SESSION_TIMEOUT_S - 1
    assert figures["caught_up_s"] is not None and figures["caught_up_s"] >= figures["owned_all_s"]
    assert 0 <= figures["stalled_s"] <= figures["caught_up_s"]
    assert "worker rec-1 killed" in done.stderr  # its progress
