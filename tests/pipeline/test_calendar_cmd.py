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
    out = capsys.readouterr().out.split("notes:")[0]  # the table, not the notes after it
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


def notes(out: str) -> dict[str, str]:
    """The notes after the table, keyed by 'level → to cutoff' (wrapped lines joined)."""
    text = " ".join(out.split("notes:", 1)[1].split())
    found = {}
    for part in text.split("- ")[1:]:
        key, _, body = part.partition(": ")
        found[key] = body
    return found


def test_notes_a_due_date_before_its_own_cutoff(capsys):
    assert run(["--today", "2024-12-20"]) == 0
    found = notes(capsys.readouterr().out)
    note = found["district → city progress"]
    assert note.startswith("due 2024-12-31 17:30, before its data cutoff 23:59:59")
    assert "17:30-23:59:59" in note and "restated snapshot" in note


def test_notes_a_due_date_on_a_non_working_day(capsys):
    assert run(["--today", "2024-12-20"]) == 0
    found = notes(capsys.readouterr().out)
    # 2025-01-28 opens the Spring Festival holiday; 01-27 (Monday) is a working day
    assert found["district → city final"].startswith("due 2025-01-28, a non-working day")
    assert "send by 2025-01-27" in found["district → city final"]
    # due on working days and at or after their cutoffs: no note
    assert set(found) == {"district → city progress", "district → city final"}


def test_a_due_date_after_a_weekend_names_the_last_working_day(tmp_path: Path):
    from contracts.calendar import load_campaign

    text = load_campaign().source.read_text(encoding="utf-8")
    config = tmp_path / "campaign.toml"
    # the city's progress report due on Sunday 2025-01-05: send by Friday 01-03
    config.write_text(text.replace("due = 2025-01-03\n", "due = 2025-01-05\n", 1), "utf-8")
    (city,) = [
        d for d in load_campaign(config).due_dates() if (d.level, d.cutoff) == ("city", "progress")
    ]
    (note,) = calendar_cmd.deadline_notes(city, load_campaign(config))
    assert note.startswith("due 2025-01-05, a non-working day") and "send by 2025-01-03" in note
