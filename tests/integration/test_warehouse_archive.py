"""Archive crash safety on the real broker: a reader process killed between file write and
offset commit, or the archiver killed while its readers wait there; re-run: nothing
duplicated, nothing lost, and no reader outlives the archiver."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest
from kafka import KafkaAdminClient

from infra.settings import Settings
from tests.integration.test_warehouse import produce
from tests.warehouse.logkit import phase_one, phase_two
from warehouse.archive import Archiver, ArchiveRun, archiver_group
from warehouse.archive_files import ARCHIVE_SCHEMA, archive_files

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]


ARCHIVE = [sys.executable, "-m", "pipeline.cli", "archive", "--until-end", "--quiet"]


def archiver_env(settings: Settings, hook: str | None = None) -> dict[str, str]:
    environ = {**os.environ, **settings.to_env(), "PYTHONPATH": str(REPO)}
    environ.pop("ARREARS_CONFIG", None)
    if hook:
        environ["ARREARS_WAREHOUSE_HOOK"] = hook
    return environ


def run_archiver(
    settings: Settings, cwd: Path, hook: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ARCHIVE,
        cwd=cwd,
        env=archiver_env(settings, hook),
        capture_output=True,
        text=True,
        timeout=300,
    )


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie waits for its parent (reaped by init once the archiver is gone)
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().split()[2] != "Z"


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
    # the reader process that wrote the files is killed; the archiver says so and fails
    assert crashed.returncode == 1, crashed.stderr
    assert "killed by signal 9" in crashed.stderr
    first = archived(root)
    assert first.height > 0  # the first partition's files are durable ...
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


def test_killed_archiver_takes_its_readers_with_it(env: Settings, tmp_path: Path) -> None:
    root = env.state_dir / "archive"
    produce(env, phase_one())
    proc = subprocess.Popen(
        ARCHIVE,
        cwd=tmp_path,
        env=archiver_env(env, hook="archive.files-written:pause"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    line = proc.stderr.readline()  # a reader process's marker: its files are durable
    assert line.startswith("HOOK archive.files-written pid="), line
    reader = int(line.rsplit("=", 1)[1])
    assert reader != proc.pid
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    proc.stderr.close()
    deadline = time.monotonic() + 30
    while alive(reader) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(reader), "a reader process outlived the archiver"
    assert committed(env) == {}

    done = run_archiver(env, tmp_path)
    assert done.returncode == 0, done.stderr
    table = archived(root)
    assert table.select("topic", "partition", "offset").is_duplicated().sum() == 0
    assert table.height == len(phase_one()) - 1
    assert sum(committed(env).values()) == len(phase_one())


def test_following_the_log_archives_what_arrives_later(env: Settings) -> None:
    root = env.state_dir / "archive"
    produce(env, phase_one())
    archiver = Archiver(env.bootstrap_servers, env, root)
    result: list[ArchiveRun] = []
    follower = threading.Thread(
        target=lambda: result.append(archiver.run(until_end=False, idle_exit_s=8.0))
    )
    follower.start()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and (
        not archive_files(root) or archived(root).height < len(phase_one()) - 1
    ):
        time.sleep(0.1)
    produce(env, phase_two())  # while it follows the log
    follower.join(timeout=180)
    assert not follower.is_alive() and result
    table = archived(root)
    assert table.select("topic", "partition", "offset").is_duplicated().sum() == 0
    assert table.height == result[0].archived == len(phase_one()) + len(phase_two()) - 1
    assert sum(committed(env).values()) == len(phase_one()) + len(phase_two())
