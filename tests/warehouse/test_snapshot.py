"""Snapshots: the full cell table, the roll-up, metadata, side by side, and atomicity."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest

from contracts.cells import CELLS
from contracts.cutoff import parse_cutoff
from tests.warehouse.conftest import REGISTRY, Story
from tests.warehouse.logkit import Log, phase_one
from warehouse.cells_table import SCHEMA, cells_frame, figures_of
from warehouse.errors import SnapshotError
from warehouse.rebuild import Rebuild
from warehouse.snapshot import (
    compare,
    list_snapshots,
    load_snapshot,
    resolve_snapshot,
    write_snapshot,
)

CUTOFF = parse_cutoff("2024-12-31")
META_KEYS = [
    "snapshot_id",
    "cutoff",
    "label",
    "offsets",
    "created_at",
    "code_version",
    "event_count",
    "source",
]


def _phase_one_cells() -> tuple[pl.DataFrame, Log, Rebuild]:
    log = Log()
    log.append(phase_one())
    rebuild = Rebuild(REGISTRY)
    rebuild.feed(log.upto(log.end()))
    return cells_frame(rebuild.own_figures(CUTOFF), REGISTRY), log, rebuild


def test_every_unit_scope_and_cell_is_present_zeros_included() -> None:
    cells, _, rebuild = _phase_one_cells()
    assert dict(cells.schema) == SCHEMA
    assert cells.height == len(REGISTRY) * 2 * len(CELLS)
    assert cells.select("unit", "scope", "cell").is_duplicated().sum() == 0
    assert cells.filter(pl.col("value") < 0).height == 0
    assert rebuild.events == 9 and rebuild.invalid == 1 and rebuild.outcomes["duplicate"] == 1
    # a silent unit is there, with zeros
    assert cells.filter(pl.col("unit") == "320413")["value"].sum() == 0


def test_rollup_is_own_plus_children_and_the_jan_event_is_excluded() -> None:
    cells, _, _ = _phase_one_cells()
    own, rolled = figures_of(cells, "own"), figures_of(cells, "rollup")
    changzhou = [u.code for u in REGISTRY.subtree("320400")]
    for c in CELLS:
        assert rolled[("320400", c.id)] == sum(own[(u, c.id)] for u in changzhou)
    assert rolled[("320400", "total.employers")] == 2  # the January inspection is after the cutoff
    assert rolled[("320400", "total.resolved_amount")] == 100_000 + 25_000 + 3_000 + 7_000
    assert own[("320400", "item4.cases")] == 1 and own[("320412", "item4.cases")] == 0


def test_meta_json_has_the_architecture_keys(tmp_path: Path) -> None:
    cells, log, rebuild = _phase_one_cells()
    snap = write_snapshot(
        tmp_path,
        CUTOFF,
        cells,
        log.end(),
        source="kafka",
        event_count=rebuild.events,
        label="close-of-business",
    )
    assert snap.path.parent == tmp_path / "2024-12-31"
    meta = json.loads((snap.path / "meta.json").read_text())
    assert list(meta) == META_KEYS
    assert meta["cutoff"] == "2024-12-31T23:59:59+08:00"
    assert meta["offsets"]["t.inspection"] == {
        str(p): o for p, o in log.end()["t.inspection"].items()
    }
    assert meta["created_at"].endswith("+08:00") and meta["event_count"] == 9
    assert meta["source"] == "kafka" and meta["code_version"].startswith("0.1.0")
    assert compare(load_snapshot(snap.path).cells(), cells) == []


def test_notes_join_meta_json_but_cannot_replace_its_keys(tmp_path: Path) -> None:
    cells, log, _ = _phase_one_cells()
    snap = write_snapshot(
        tmp_path,
        CUTOFF,
        cells,
        log.end(),
        source="live",
        event_count=9,
        notes={"records_behind_log_end": 3},
    )
    meta = json.loads((snap.path / "meta.json").read_text())
    assert list(meta) == [*META_KEYS, "records_behind_log_end"] and meta["event_count"] == 9
    with pytest.raises(SnapshotError, match="may not replace event_count"):
        write_snapshot(
            tmp_path,
            CUTOFF,
            cells,
            log.end(),
            source="live",
            event_count=9,
            notes={"event_count": 1},
        )
    assert len(list_snapshots(tmp_path, "2024-12-31")) == 1  # the refused one left nothing


def test_snapshots_of_one_cutoff_sit_side_by_side(tmp_path: Path) -> None:
    cells, log, _ = _phase_one_cells()
    first = write_snapshot(
        tmp_path, CUTOFF, cells, log.end(), source="kafka", event_count=1, label="close-of-business"
    )
    second = write_snapshot(
        tmp_path, CUTOFF, cells, log.end(), source="archive", event_count=1, label="restated"
    )
    assert [s.id for s in list_snapshots(tmp_path, "2024-12-31")] == [first.id, second.id]
    assert resolve_snapshot("2024-12-31@close-of-business", tmp_path).id == first.id
    assert resolve_snapshot("2024-12-31@latest", tmp_path).id == second.id
    assert resolve_snapshot(f"2024-12-31/{first.id}", tmp_path).id == first.id
    assert resolve_snapshot(second.id, tmp_path).id == second.id
    assert resolve_snapshot(str(first.path), tmp_path).id == first.id
    with pytest.raises(SnapshotError, match="no snapshot 'nope'.*newest"):
        resolve_snapshot("nope", tmp_path)


def test_compare_names_each_differing_cell() -> None:
    cells, _, _ = _phase_one_cells()
    tampered = cells.with_columns(
        pl.when(
            (pl.col("unit") == "320412")
            & (pl.col("cell") == "manufacturing.workers")
            & (pl.col("scope") == "own")
        )
        .then(pl.col("value") + 1)
        .otherwise(pl.col("value"))
        .alias("value")
    )
    diffs = compare(cells, tampered)
    assert [(d.unit, d.scope, d.cell, d.stored, d.rebuilt) for d in diffs] == [
        ("320412", "own", "manufacturing.workers", 100, 101)
    ]
    missing = compare(cells, cells.filter(pl.col("cell") != "item7.blacklist_listings"))
    assert len(missing) == len(REGISTRY) * 2 and missing[0].rebuilt is None


def _wait_for(proc: subprocess.Popen[bytes], log: Path, marker: str, timeout: float = 60.0) -> None:
    """Wait on a deadline until the child wrote `marker` to its stderr file."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if marker in log.read_text(encoding="utf-8", errors="replace"):
            return
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    raise AssertionError(f"{marker!r} not seen; stderr: {log.read_text(errors='replace')}")


def test_a_killed_snapshot_writer_leaves_nothing_visible(story: Story, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "ARREARS_WAREHOUSE_HOOK": "snapshot.temp-written:pause",
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
    }
    cmd = [
        sys.executable,
        "-m",
        "pipeline.cli",
        "snapshot",
        "--cutoff",
        "2024-12-31",
        "--from",
        "archive",
        "--quiet",
        "--label",
        "killed",
    ]
    errors = tmp_path / "child.stderr"
    with errors.open("wb") as sink:
        proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=sink)
    try:
        _wait_for(proc, errors, "HOOK snapshot.temp-written")
        cutoff_dir = story.root / "2024-12-31"
        temps = [p for p in cutoff_dir.iterdir() if p.name.startswith(".tmp-")]
        assert len(temps) == 1 and (temps[0] / "cells.parquet").exists()  # written, not renamed
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert list_snapshots(story.root) == []
    assert [
        p.name for p in (story.root / "2024-12-31").iterdir() if not p.name.startswith(".")
    ] == []
    with pytest.raises(SnapshotError):
        resolve_snapshot("2024-12-31@latest", story.root)
    # the next writer cleans the dead writer's temp dir and publishes a whole snapshot
    env.pop("ARREARS_WAREHOUSE_HOOK")
    done = subprocess.run(
        [*cmd[:-1], "after-crash"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert [s.meta["label"] for s in list_snapshots(story.root)] == ["after-crash"]
    assert [p.name for p in (story.root / "2024-12-31").iterdir() if p.name.startswith(".")] == []


def test_a_cutoff_to_the_second_covers_all_of_that_second() -> None:
    """23:59:59 takes an event at 23:59:59.5 (as the live tallies' day end does) and not one
    at the next day's 00:00:00; an explicit fraction cuts at that millisecond."""
    from tests.warehouse.logkit import raw

    events = [
        raw(
            "lead.received",
            {
                "lead_id": f"L-{i}",
                "intake": "centralized_reception",
                "workers_claimed": 1,
                "amount_claimed": "1.00",
            },
            unit="320404",
            event_id=f"w-edge-{i}",
            at=at,
        )
        for i, at in enumerate(("2024-12-31T23:59:59.500+08:00", "2025-01-01T00:00:00+08:00"))
    ]
    log = Log()
    log.append(events)
    rebuild = Rebuild(REGISTRY)
    rebuild.feed(log.upto(log.end()))

    def leads(cutoff: str) -> int:
        return sum(
            v
            for (u, c), v in rebuild.own_figures(parse_cutoff(cutoff)).items()
            if u == "320404" and c == "item6.reception_leads"
        )

    assert leads("2024-12-31") == 1
    assert leads("2024-12-31T23:59:59.400+08:00") == 0
    assert leads("2025-01-01") == 2
