"""`arrears calendar`: the table of cutoffs, due dates and working days left."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import pytest

from pipeline.commands import calendar as calendar_cmd
from pipeline.errors import CliError


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="arrears")
    sub = parser.add_subparsers()
    calendar_cmd.register(sub)
    args = parser.parse_args(["calendar", *argv])
    return args.func(args)


def reports(capsys: pytest.CaptureFixture[str], argv: list[str]) -> dict[str, dict[str, Any]]:
    """`calendar --json`'s reports, keyed by 'level → to cutoff'."""
    assert run([*argv, "--json"]) == 0
    body = json.loads(capsys.readouterr().out)
    return {f"{r['level']} → {r['to']} {r['cutoff']}": r for r in body["reports"]}


def test_registered_in_the_cli():
    from pipeline import cli

    assert "pipeline.commands.calendar" in cli.COMMAND_MODULES


def test_prints_due_dates_and_working_days_left(capsys):
    rows = reports(capsys, ["--today", "2024-12-31"])
    assert len(rows) == 6
    assert rows["district → city progress"]["due"].startswith("2024-12-31T17:30")
    assert rows["district → city progress"]["status"] == "due today"
    # 12-31 -> 01-03: 01-01 is a holiday, so 2 working days
    assert rows["city → province progress"]["working_days_left"] == 2
    assert rows["city → province final"]["due"].startswith("2025-02-06")
    assert rows["province → national final"]["due"].startswith("2025-02-10")


def test_the_table_shows_every_report(capsys):
    assert run(["--today", "2024-12-31"]) == 0
    out = capsys.readouterr().out
    assert out.count("→") == 6 and "due today" in out and "25-02-10" in out


def test_counts_make_up_days_after_the_festival(capsys):
    rows = reports(capsys, ["--today", "2025-02-06"])
    assert rows["city → province final"]["status"] == "due today"
    # 02-07, 02-08 (make-up Saturday), 02-10
    assert rows["province → national final"]["working_days_left"] == 3
    assert rows["district → city progress"]["status"] == "overdue"


def test_bad_today_is_a_usage_error():
    with pytest.raises(CliError, match="YYYY-MM-DD") as err:
        run(["--today", "31.12.2024"])
    assert err.value.exit_code == 2


def test_bad_config_is_a_clear_error(tmp_path: Path):
    with pytest.raises(CliError, match="does not exist"):
        run(["--today", "2024-12-31", "--config", str(tmp_path / "none.toml")])


def test_config_override(tmp_path: Path, capsys):
    text = (Path(calendar_cmd.__file__).parents[2] / "contracts" / "campaign-2024.toml").read_text(
        encoding="utf-8"
    )
    path = tmp_path / "c.toml"
    path.write_text(text.replace("due = 2025-01-06", "due = 2025-01-07"), encoding="utf-8")
    rows = reports(capsys, ["--today", "2024-12-31", "--config", str(path)])
    assert rows["province → national progress"]["due"].startswith("2025-01-07")
