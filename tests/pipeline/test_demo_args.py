"""`arrears demo --filed-on`: the workbook's 填报时间, by default the story's due day."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from pipeline import cli
from pipeline.commands import demo as demo_cmd
from pipeline.flows.demo_run import default_filed_on, workbook_argv


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[dict[str, Any]]:
    """The keyword arguments each `arrears demo` passed to the story (which does not run)."""
    seen: list[dict[str, Any]] = []

    def fake(run_dir: Path, **kw: Any) -> int:
        seen.append(kw)
        return 0

    monkeypatch.setattr(demo_cmd, "run_demo", fake)
    monkeypatch.chdir(tmp_path)
    return seen


def test_default_is_the_citys_progress_report_due_day(calls: list[dict[str, Any]]) -> None:
    assert default_filed_on() == dt.date(2025, 1, 3)  # campaign-2024.toml, city -> province
    assert cli.main(["demo"]) == 0
    assert calls[-1]["filed_on"] == dt.date(2025, 1, 3)


def test_filed_on_is_passed_to_the_story(calls: list[dict[str, Any]]) -> None:
    assert cli.main(["demo", "--filed-on", "2025-01-02"]) == 0
    assert calls[-1]["filed_on"] == dt.date(2025, 1, 2)


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--filed-on", "2025年1月3日"], "is not a date YYYY-MM-DD"),
        (["--unit", "329999"], "329999"),  # not in the registry
    ],
)
def test_a_bad_filed_on_or_unit_is_a_usage_error(
    argv: list[str], says: str, calls: list[dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["demo", *argv])
    assert exited.value.code == 2 and not calls
    assert says in capsys.readouterr().err


def test_the_workbook_is_reported_with_the_filing_date(tmp_path: Path) -> None:
    argv = workbook_argv("SNAP", ["320400", "320402"], tmp_path / "f.xlsx", dt.date(2025, 1, 3))
    assert argv[:7] == ["report", "SNAP", "--unit", "320400", "--unit", "320402", "--children"]
    assert argv[-2:] == ["--filed-on", "2025-01-03"]


def test_quiet_leaves_the_summary_alone(calls: list[dict[str, Any]], tmp_path: Path) -> None:
    """`demo --quiet` reaches the story; there a note is kept for the summary, not printed."""
    import io

    from rich.console import Console

    from infra.settings import Settings
    from pipeline.flows.demo_run import Demo

    assert cli.main(["demo", "--quiet"]) == 0 and calls[-1]["quiet"] is True
    assert cli.main(["demo"]) == 0 and calls[-1]["quiet"] is False
    for quiet in (True, False):
        shown = io.StringIO()
        demo = Demo(tmp_path, Settings(), 1000, 1, Console(file=shown), quiet=quiet)
        demo.note("replay", "equal, cell for cell")
        assert demo.findings == [("replay", "equal, cell for cell")]
        assert ("equal, cell for cell" in shown.getvalue()) is not quiet


def test_the_unit_is_passed_to_the_story(calls: list[dict[str, Any]]) -> None:
    assert cli.main(["demo"]) == 0
    assert calls[-1]["unit"] == "320400"
    assert cli.main(["demo", "--unit", "320000"]) == 0
    assert calls[-1]["unit"] == "320000"
