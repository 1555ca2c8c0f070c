"""snapshot / replay --verify / report through the command line, on the archive path."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from pathlib import Path

import openpyxl
import polars as pl
import pytest

from tests.warehouse.conftest import Story
from warehouse.snapshot import list_snapshots, resolve_snapshot

Cli = Callable[..., tuple[int, str, str]]


def _close_of_business(cli: Cli, story: Story) -> str:
    code, out, err = cli(
        "snapshot",
        "--cutoff",
        "2024-12-31",
        "--from",
        "archive",
        "--as-of",
        story.o1_text,
        "--label",
        "close-of-business",
        "--quiet",
    )
    assert code == 0, err
    return resolve_snapshot("2024-12-31@close-of-business", story.root).id


def test_snapshot_then_replay_verify_equal(cli: Cli, story: Story) -> None:
    snap_id = _close_of_business(cli, story)
    code, out, _ = cli("replay", "--from", "archive", "--verify", snap_id, "--quiet")
    assert code == 0 and f"verified: snapshot {snap_id} equals the rebuild row for row" in out


def test_replay_verify_fails_on_a_tampered_snapshot_and_names_the_cell(
    cli: Cli, story: Story
) -> None:
    _close_of_business(cli, story)
    snap = resolve_snapshot("2024-12-31@close-of-business", story.root)
    cells = snap.cells()
    hit = (
        (pl.col("unit") == "320402")
        & (pl.col("cell") == "construction.workers")
        & (pl.col("scope") == "own")
    )
    cells.with_columns(
        pl.when(hit).then(999).otherwise(pl.col("value")).alias("value")
    ).write_parquet(snap.path / "cells.parquet")
    code, out, _ = cli(
        "replay", "--from", "archive", "--verify", "2024-12-31@close-of-business", "--quiet"
    )
    assert code == 4
    assert "MISMATCH: 1 cell(s)" in out
    assert "320402\town\tconstruction.workers\t999\t250" in out


def test_replay_to_the_end_shows_restated_figures_and_saves_beside(cli: Cli, story: Story) -> None:
    _close_of_business(cli, story)
    code, _, err = cli(
        "replay",
        "--cutoff",
        "2024-12-31",
        "--from",
        "archive",
        "--to",
        "end",
        "--save",
        "--label",
        "restated",
        "--quiet",
    )
    assert code == 0, err
    labels = [s.meta["label"] for s in list_snapshots(story.root, "2024-12-31")]
    assert labels == ["close-of-business", "restated"]
    # the restated one differs from close of business: verifying it against o1 fails
    code, out, _ = cli(
        "replay",
        "--from",
        "archive",
        "--verify",
        "2024-12-31@restated",
        "--to",
        story.o1_text,
        "--quiet",
    )
    assert code == 4 and "320400\trollup\ttotal.resolved_amount\t160000\t135000" in out


def test_report_formats(cli: Cli, story: Story, tmp_path: Path) -> None:
    _close_of_business(cli, story)
    out_file = tmp_path / "form.xlsx"
    code, out, err = cli(
        "report",
        "2024-12-31@close-of-business",
        "--unit",
        "320400",
        "--unit",
        "320412",
        "--format",
        "xlsx",
        "--out",
        str(out_file),
    )
    assert code == 0, err
    assert openpyxl.load_workbook(out_file).sheetnames == ["320400 常州市", "320412 武进区"]
    code, out, _ = cli(
        "report",
        "2024-12-31@close-of-business",
        "--unit",
        "320400",
        "--format",
        "csv",
        "--precision",
        "money=4",
    )
    rows = list(csv.DictReader(io.StringIO(out)))
    assert next(r for r in rows if r["cell"] == "total.resolved_amount")["value"] == "0.1350"
    code, out, _ = cli("report", "2024-12-31@close-of-business", "--unit", "320400")
    assert code == 0 and "治理欠薪冬季行动情况" in out


def test_bad_arguments_exit_2_with_a_clear_message(cli: Cli, story: Story) -> None:
    code, _, err = cli("snapshot", "--cutoff", "2024-13-45", "--from", "archive")
    assert code == 2 and "not a calendar date" in err
    code, _, err = cli("replay", "--cutoff", "2024-12-31", "--to", "court=3", "--from", "archive")
    assert code == 2 and "TOPIC:PARTITION=OFFSET" in err
    code, _, err = cli("report", "nope", "--unit", "320400")
    assert code == 2 and "no snapshot 'nope'" in err
    code, _, err = cli("snapshot", "--cutoff", "2024-12-31", "--scratch", "/no/such/dir")
    assert code == 2 and "--scratch /no/such/dir is not a directory" in err


def test_snapshot_from_live_refuses_what_the_workers_cannot_give(cli: Cli, story: Story) -> None:
    # the live tallies are kept by event day: close of business (17:30) is a replay
    code, _, err = cli("snapshot", "--cutoff", "2024-12-31T17:30:00+08:00", "--from", "live")
    assert code == 2 and "must be the end of a day" in err
    assert "use --from kafka or --from archive" in err
    # what the workers know is where they are; a vector of one's choosing is a replay
    code, _, err = cli(
        "snapshot", "--cutoff", "2024-12-31", "--from", "live", "--as-of", story.o1_text
    )
    assert code == 2 and "--as-of OFFSETS cannot be used with --from live" in err
    code, _, err = cli("snapshot", "--cutoff", "2024-12-31", "--from", "live", "--timeout", "0")
    assert code == 1 and "no `arrears worker` is running" in err and "Start one with" in err
    assert list_snapshots(story.root) == []


def test_a_snapshot_keeps_its_registry_and_replay_verifies_with_it(
    cli: Cli, story: Story, tmp_path: Path
) -> None:
    from contracts.registry import DEFAULT_UNITS_PATH, Registry

    snap_id = _close_of_business(cli, story)
    snap = resolve_snapshot(snap_id, story.root)
    kept = snap.registry()
    assert kept is not None and kept.fingerprint() == Registry.load().fingerprint()
    assert snap.meta["registry"]["sha256"] == kept.fingerprint()
    changed = tmp_path / "units-later.toml"
    changed.write_text(
        DEFAULT_UNITS_PATH.read_text(encoding="utf-8")
        + '\n[[unit]]\ncode = "320499"\nname = "某新区"\nparent = "320400"\nofficial = false\n',
        encoding="utf-8",
    )
    code, out, _ = cli(
        "replay", "--from", "archive", "--verify", snap_id, "--units", str(changed), "--quiet"
    )
    assert code == 0, out
    assert "the unit registry differs" in out and "1 units added" in out
    assert f"verified: snapshot {snap_id} equals the rebuild" in out


def test_a_snapshot_names_its_topics_so_replay_needs_no_prefix(
    cli: Cli, story: Story, monkeypatch: pytest.MonkeyPatch
) -> None:
    snap_id = _close_of_business(cli, story)
    monkeypatch.setenv("ARREARS_TOPIC_PREFIX", "another-run.")  # as a new shell would have it
    code, out, err = cli("replay", "--from", "archive", "--verify", snap_id, "--quiet")
    assert code == 0, out + err
    assert f"verified: snapshot {snap_id} equals the rebuild" in out
