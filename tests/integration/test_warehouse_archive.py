"""Archive crash safety on the real broker: killed between file write and offset commit,
re-run: nothing duplicated, nothing lost."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest
from kafka import KafkaAdminClient

from infra.settings import Settings
from tests.integration.test_warehouse import produce
from tests.warehouse.logkit import phase_one, phase_two
from warehouse.archive import archiver_group
from warehouse.archive_files import ARCHIVE_SCHEMA, archive_files

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]


def run_archiver(
    settings: Settings, cwd: Path, hook: str | None = None
) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, **settings.to_env(), "PYTHONPATH": str(REPO)}
    environ.pop("ARREARS_CONFIG", None)
    if hook:
        environ["ARREARS_WAREHOUSE_HOOK"] = hook
    return subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "archive", "--until-end", "--quiet"],
        cwd=cwd,
        env=environ,
        capture_output=True,
        text=True,
        timeout=300,
    )


def archived(root: Path) -> pl.DataFrame:
    return pl.read_parquet([f.path for f in archive_files(root)], hive_partitioning=False)


def committed(settings: Settings) -> dict[str, int]:
    admin = KafkaAdminClient(bootstrap_servers=settings.bootstrap_servers)
    try:
        group = archiver_group(settings)
        offsets = admin.list_group_offsets({group: None}).get(group, {})
    finally:
        admin.close()
    return {
        f"{tp.topic}:{tp.partition}": meta.offset
        for tp, meta in offsets.items()
        if meta.offset >= 0
    }


def test_killed_between_write_and_commit_rerun_loses_and_duplicates_nothing(
    env: Settings,
    tmp_path: Path,
) -> None:
    root = env.state_dir / "archive"
    produce(env, phase_one())
    crashed = run_archiver(env, tmp_path, hook="archive.files-written:kill")
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr
    first = archived(root)
    assert first.height == len(phase_one()) - 1  # files are durable ...
    assert committed(env) == {}  # ... but no offset was committed

    produce(env, phase_two())
    done = run_archiver(env, tmp_path)
    assert done.returncode == 0, done.stderr
    assert f"{first.height} already archived by an interrupted run" in done.stdout.replace(",", "")
    table = archived(root)
    keys = table.select("topic", "partition", "offset")
    assert keys.is_duplicated().sum() == 0
    assert table.height == len(phase_one()) + len(phase_two()) - 1  # every valid event, once
    assert sorted(table["event_id"].to_list()) == sorted(
        e["event_id"] for e in phase_one() + phase_two() if isinstance(e, dict)
    )
    assert sum(committed(env).values()) == len(phase_one()) + len(phase_two())
    # a third run finds nothing new
    again = run_archiver(env, tmp_path)
    assert again.returncode == 0 and archived(root).height == table.height
    assert not list(root.glob("source=*/date=*/.*.tmp"))
    schema = pq.read_schema(archive_files(root)[0].path)
    assert schema.equals(ARCHIVE_SCHEMA)  # the ARCHITECTURE columns, occurred_at in ms, +08:00
