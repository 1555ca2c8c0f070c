"""`arrears calendar`: the table of cutoffs, due dates and working days left."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from pipeline.commands import calendar as calendar_cmd
from pipeline.errors import CliError


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="arrears")
    sub = parser.add_subparsers()
    calendar_cmd.register(sub)
    args = parser.parse_args(["calendar", *argv])
    return args.func(args)


def lines(out: str) -> dict[str, str]:
    """The table rows, keyed by 'level → to cutoff'."""
    rows = {}
    for line in out.splitlines():
        cells = [c.strip() for c in line.strip("│ ").split("│")]
        if len(cells) == 6 and "→" in cells[0]:
            rows[f"{cells[0]} {cells[1]}"] = line
    return rows


def test_registered_in_the_cli():
    from pipeline import cli

    assert "pipeline.commands.calendar" in cli.COMMAND_MODULES


def test_prints_due_dates_and_working_days_left(capsys):
    assert run(["--today", "2024-12-31"]) == 0
    rows = lines(capsys.readouterr().out)
    assert len(rows) == 6
    assert "2024-12-31 17:30" in rows["district → city progress"]
    assert "due today" in rows["district → city progress"]
    # 12-31 -> 01-03: 01-01 is a holiday, so 2 working days
    assert rows["city → province progress"].rstrip(" │").endswith(" 2")
    assert "2025-02-06" in rows["city → province final"]
    assert "2025-02-10" in rows["province → national final"]


def test_counts_make_up_days_after_the_festival(capsys):
    assert run(["--today", "2025-02-06"]) == 0
    rows = lines(capsys.readouterr().out)
    assert "due today" in rows["city → province final"]
    # 02-07, 02-08 (make-up Saturday), 02-10
    assert rows["province → national final"].rstrip(" │").endswith(" 3")
    assert "overdue" in rows["district → city progress"]


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
    assert run(["--today", "2024-12-31", "--config", str(path)]) == 0
    assert "2025-01-07" in lines(capsys.readouterr().out)["province → national progress"]
