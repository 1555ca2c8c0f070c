"""Compaction (`warehouse.compaction`): the same rows, fold and log order after it, and a
compaction killed at each step leaves either the old files counted or the new, never both."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from contracts.cutoff import parse_cutoff
from contracts.registry import Registry
from tests.warehouse.conftest import Story
from warehouse._durable import HOOK_ENV
from warehouse.archive_files import (
    FOLD_KEY,
    archive_end,
    archive_files,
    archive_paths,
    compacted_files,
    read_archive,
)
from warehouse.archive_rows import archive_rows
from warehouse.batch import BatchRebuild
from warehouse.compaction import compact
from warehouse.offsets import Offsets
from warehouse.replay import rebuild_from_archive
from warehouse.snapshot import compare

REGISTRY = Registry.load()
TOPICS = [f"t.{s}" for s in ("inspection", "mediation", "court", "complaint")]
REPO = Path(__file__).resolve().parents[2]


def state(root: Path, o1: Offsets) -> dict[str, Any]:
    """What every reader of the archive sees: records in log order, the batch's cells and
    positions (everything and cut at o1), each row's fold fingerprint, the archive's end."""
    out: dict[str, Any] = {
        "records": list(read_archive(root)),
        "end": archive_end(root),
        "fold": {
            (row["topic"], row["partition"], row["offset"]): pq.read_schema(f).metadata[FOLD_KEY]
            for f in archive_paths(archive_files(root))
            for row in pq.read_table(f, columns=["topic", "partition", "offset"]).to_pylist()
        },
    }
    for name, upto in (("all", None), ("o1", o1)):
        rebuilt = rebuild_from_archive(root, TOPICS, upto, REGISTRY)
        assert isinstance(rebuilt.rebuild, BatchRebuild)
        assert rebuilt.rebuild.positions is not None
        out[name] = (
            rebuilt.cells(parse_cutoff("2024-12-31")),
            rebuilt.rebuild.positions.collect().sort("topic", "partition", "offset"),
            +rebuilt.rebuild.outcomes,
        )
    return out


def assert_same(before: dict[str, Any], after: dict[str, Any]) -> None:
    assert after["records"] == before["records"]  # log order; no offset twice (else it raises)
    assert after["end"] == before["end"]
    assert after["fold"] == before["fold"]
    for name in ("all", "o1"):
        cells, positions, outcomes = before[name]
        assert compare(cells, after[name][0]) == [], name
        assert after[name][1].equals(positions), name
        assert after[name][2] == outcomes, name


def test_compaction_keeps_rows_fold_and_log_order(story: Story) -> None:
    before = state(story.archive, story.o1)
    files_before = len(archive_paths(archive_files(story.archive)))
    run = compact(story.archive, settle_days=0)
    assert run.written >= 1 and run.files_after < files_before == run.files_before
    assert run.rows == len(before["records"])
    assert_same(before, state(story.archive, story.o1))
    # nothing left of the replaced files, and a second compaction changes nothing
    replaced = [story.archive / n for c in compacted_files(story.archive) for n in c.replaces]
    assert replaced and not any(p.exists() for p in replaced)
    again = compact(story.archive, settle_days=0)
    assert again.written == 0 and again.files_after == run.files_after


def test_unsettled_days_are_left_alone(story: Story) -> None:
    days = sorted({f.path.parent.name for f in archive_files(story.archive)})
    last = [f.path for f in archive_files(story.archive) if f.path.parent.name == days[-1]]
    compact(story.archive, settle_days=1)
    assert all(p.exists() for p in last)  # the newest day's parts are not merged yet


@pytest.mark.parametrize("step", ["compact.temp-written", "compact.renamed", "compact.removed-one"])
def test_a_compaction_killed_at_each_step_counts_old_or_new(story: Story, step: str) -> None:
    before = state(story.archive, story.o1)
    killed = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from pathlib import Path; from warehouse.compaction import compact; "
            "compact(Path(sys.argv[1]), settle_days=0)",
            str(story.archive),
        ],
        env={**os.environ, HOOK_ENV: f"{step}:kill", "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    counted = archive_files(story.archive)
    assert any(f.shared for f in counted) == (step != "compact.temp-written")
    assert_same(before, state(story.archive, story.o1))  # old or new: never both counted

    done = compact(story.archive, settle_days=0)  # the next run finishes the job
    assert (done.removed_leftovers > 0) == (step != "compact.temp-written")
    assert not list(story.archive.glob("source=*/compacted/.*.tmp"))
    replaced = [story.archive / n for c in compacted_files(story.archive) for n in c.replaces]
    assert not any(p.exists() for p in replaced)
    assert_same(before, state(story.archive, story.o1))


def test_archive_compact_command(story: Story, cli: Callable[..., tuple[int, str, str]]) -> None:
    before = state(story.archive, story.o1)
    code, out, err = cli("archive", "--compact", "--settle-days", "0", "--json")
    assert code == 0, err
    found = json.loads(out)
    assert found["written"] >= 1 and found["files_after"] < found["files_before"]
    assert found["archive"] == str(story.archive)
    assert_same(before, state(story.archive, story.o1))


def _rows(root: Path, upto: Offsets) -> Any:
    rows, _, _ = archive_rows(root, upto, set(TOPICS), REGISTRY)
    return rows.collect().sort("topic", "partition", "offset")


def test_a_compacted_file_read_whole_once_or_by_partition_gives_the_same_rows(
    story: Story,
) -> None:
    # A compacted file holds several partitions; read whole only when every one of them is
    # wanted whole, else partition by partition: nothing of a partition cut before its
    # first offset, or past its end, may come in with the rest of the file.
    end = archive_end(story.archive)
    topic = next(t for t in TOPICS if len(end.get(t, {})) > 1)
    first, second = sorted(end[topic])[:2]
    cuts = {
        "whole": end,
        "one partition left out": {**end, topic: {**end[topic], first: 0}},
        "one partition cut": {**end, topic: {**end[topic], second: end[topic][second] // 2}},
    }
    before = {name: _rows(story.archive, upto) for name, upto in cuts.items()}
    compact(story.archive, settle_days=0)
    assert any(f.shared and f.topic == topic for f in archive_files(story.archive))
    for name, upto in cuts.items():
        assert _rows(story.archive, upto).equals(before[name]), name
    # read whole, the compacted files are one scan, each file in it once
    plan = archive_rows(story.archive, end, set(TOPICS), REGISTRY)[0].explain()
    assert plan.count("SCAN") == 1, plan
    assert before["one partition left out"].height < before["whole"].height
    assert before["one partition cut"].height < before["whole"].height
