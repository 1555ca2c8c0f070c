"""`arrears demo`, the main job, end to end against the real broker (a small campaign)."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from openpyxl import load_workbook

from contracts.quality.config import DEFAULT_QUALITY_CONFIG
from infra.broker import BrokerInfo
from warehouse.report.xlsx import GEOMETRY as G

pytestmark = pytest.mark.integration


def test_demo_runs_the_december_story(broker: BrokerInfo, tmp_path: Path) -> None:
    # A small campaign has a few open dead letters, under the shipped critical threshold
    # (100): a stricter one makes its gate refuse as the default-size demo's does.
    strict = tmp_path / "quality.toml"
    shipped = DEFAULT_QUALITY_CONFIG.read_text(encoding="utf-8")
    assert "critical_above = 100" in shipped
    strict.write_text(shipped.replace("critical_above = 100", "critical_above = 5"), "utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARREARS_")}
    env.update(
        ARREARS_BOOTSTRAP_SERVERS=broker.bootstrap,
        ARREARS_STATE_DIR=str(tmp_path / "state"),
        ARREARS_PARTITIONS="3",
    )
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pipeline.cli",
            "demo",
            "--events",
            "4000",
            "--out",
            str(tmp_path / "out"),
            "--quality-config",
            str(strict),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    (run,) = (tmp_path / "out").iterdir()
    snapshots = sorted(p.parent.name for p in run.glob("state/snapshots/2024-12-31/*/meta.json"))
    assert len(snapshots) == 4
    assert any("close-of-business" in s for s in snapshots) and any(
        "restated" in s for s in snapshots
    )
    assert any("corrected" in s for s in snapshots)
    assert any("-live-" in s for s in snapshots)  # snapshot --from live
    assert list(run.glob("state/snapshots/2024-12-31/*restated*/quality/data_docs/index.html"))
    workbook = load_workbook(run / "report-2024-12-31.xlsx")
    assert workbook.sheetnames[0] == "320400 常州市" and len(workbook.sheetnames) == 8
    # 填报时间: the day the city's report is due to the province, not the machine's date
    filed = workbook.worksheets[0].cell(row=G.filed_at, column=1).value
    assert filed == "填报时间：2025年1月3日"
    out = done.stdout
    _the_gate_refused_then_accepted(run, out)
    assert "exactly the manifest's counts" in out
    assert "live Faust tallies = snapshot" in out
    assert "every unit and cell" in out and "at the same offsets" in out
    assert "equal, cell for cell" in out
    assert (run / "diff.txt").read_text(encoding="utf-8").startswith("diff ") or "changed cell" in (
        run / "diff.txt"
    ).read_text(encoding="utf-8")
    # log names are plain; the summary says how to go on by hand, and that works from a
    # new shell with just the exports it prints (a snapshot names its own topics)
    assert all(re.fullmatch(r"[a-z0-9-]+\.log", p.name) for p in (run / "logs").glob("*.log"))
    assert "Continue by hand" in out and "arrears infra down" not in out  # an external broker
    assert "arrears report 2024-12-31@corrected --unit 320400" in out  # the submitted one
    export = next(line.strip() for line in out.splitlines() if line.strip().startswith("export "))
    exported = dict(pair.split("=", 1) for pair in shlex.split(export)[1:])
    assert exported["ARREARS_STATE_DIR"] == str(run / "state")
    fresh = {k: v for k, v in os.environ.items() if not k.startswith("ARREARS_")}
    verify = subprocess.run(
        [
            *(sys.executable, "-m", "pipeline.cli"),
            "replay",
            "--verify",
            "2024-12-31@close-of-business",
            "--quiet",
        ],
        env={**fresh, **exported},
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
    )
    assert verify.returncode == 0, verify.stdout[-2000:] + verify.stderr[-2000:]
    assert "verified: snapshot" in verify.stdout


def _the_gate_refused_then_accepted(run: Path, out: str) -> None:
    """The restated snapshot refused, its dead letters fixed or dismissed, the corrected one
    checked against the previous snapshot and submitted; the summary says both."""
    cutoff = run / "state/snapshots/2024-12-31"
    (restated,) = cutoff.glob("*restated*")
    (corrected,) = cutoff.glob("*corrected*")
    refused = json.loads((restated / "quality/check-result.json").read_text("utf-8"))
    assert refused["passed"] is False
    assert "dead_letters.open_critical" in refused["critical_failures"]
    accepted = json.loads((corrected / "quality/check-result.json").read_text("utf-8"))
    assert accepted["passed"] is True and accepted["critical_failures"] == []
    (close,) = cutoff.glob("*close-of-business*")
    assert Path(accepted["previous"]).name == close.name  # checked again with --previous
    skipped = [o["check"] for o in accepted["outcomes"] if o["status"] == "skipped"]
    assert "snapshot.no_fall_against_previous" not in skipped
    submitted = json.loads((cutoff / "submitted.json").read_text("utf-8"))
    assert corrected.name in json.dumps(submitted) and restated.name not in json.dumps(submitted)
    assert "不得报送" in (restated / "quality/index.html").read_text("utf-8")
    page = (corrected / "quality/index.html").read_text("utf-8")
    assert "可以报送" in page and "demo operator" in page  # the dismissals, who and why
    assert re.search(r"0 open, [1-9][0-9]* dismissed", page)
    logs = sorted(p.name for p in (run / "logs").glob("*.log"))
    assert any("dead-letters-resubmit-the-fixed" in name for name in logs)
    assert any("dead-letters-dismiss-event-id-conflict" in name for name in logs)
    flat = " ".join(out.split())
    assert "REFUSED:" in flat and "ACCEPTED:" in flat
    assert "FIXED:" in flat and "DISMISSED:" in flat
    assert f"verdict page (restated: refused): {restated / 'quality/index.html'}" in flat
    assert f"verdict page (corrected: submitted): {corrected / 'quality/index.html'}" in flat
