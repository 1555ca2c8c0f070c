"""`--help` as a user reads it at 80 columns: wrapped by display width (Chinese is two
columns a character), no internal references, and every command ending with the exit
codes it uses, their meanings from the one `ExitCode` enum (also the README's table)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from rich.cells import cell_len

from pipeline.cli import build_parser
from pipeline.errors import MEANINGS, ExitCode
from pipeline.help import exit_codes_text, walk, wrap

README = Path(__file__).resolve().parents[2] / "README.md"


@pytest.fixture
def at_80(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")


def test_every_help_fits_80_columns_and_ends_with_its_exit_codes(at_80: None) -> None:
    parsers = list(walk(build_parser()))
    assert len(parsers) > 20  # every command and action
    for parser in parsers:
        text = parser.format_help()
        wide = [line for line in text.splitlines() if cell_len(line) > 80]
        assert not wide, (parser.prog, wide)
        tail = text.rstrip("\n").split("\n\n")[-1]
        assert tail.startswith("exit codes:\n  0    done"), (parser.prog, tail)
        assert "SPEC" not in text and "infra/topics.py" not in text, parser.prog


def test_commands_list_the_codes_they_use(at_80: None) -> None:
    helps = {p.prog: p.format_help() for p in walk(build_parser())}
    assert "  3    " in helps["arrears ingest"]
    assert "  3    " in helps["arrears deadletters resubmit"]
    assert "  4    " in helps["arrears replay"]
    assert "  6    " in helps["arrears check"] and "  6    " in helps["arrears submit"]
    assert "  6    " not in helps["arrears report"]
    assert all(f"  {int(c):<4} {MEANINGS[c]}" in helps["arrears"] for c in ExitCode)


def test_the_readme_table_is_the_enum() -> None:
    text = README.read_text(encoding="utf-8")
    section = text.split("### Exit codes", 1)[1].split("\n### ", 1)[0]
    rows = dict(re.findall(r"^\| (\d+) \| (.+?) \| .+ \|$", section, flags=re.M))
    assert {int(code): meaning for code, meaning in rows.items()} == {
        int(c): m for c, m in MEANINGS.items()
    }


def test_exit_codes_text_from_the_enum() -> None:
    assert exit_codes_text([ExitCode.MISMATCH]).splitlines() == [
        "exit codes:",
        f"  0    {MEANINGS[ExitCode.OK]}",
        f"  1    {MEANINGS[ExitCode.FAILURE]}",
        f"  2    {MEANINGS[ExitCode.USAGE]}",
        f"  4    {MEANINGS[ExitCode.MISMATCH]}",
        f"  130  {MEANINGS[ExitCode.INTERRUPTED]}",
    ]


@pytest.mark.parametrize("width", [10, 17, 24, 40])
def test_chinese_wraps_by_display_width(width: int) -> None:
    text = (
        "检查政府投资项目共12个，查实存在欠薪项目3个（拖欠工资45.6万元，涉及78人）；"
        "通过劳动人事争议调解组织和仲裁机构解决欠薪案件 9 件，结案金额 1.2 万元。"
    )
    lines = wrap(text, width)
    assert all(cell_len(line) <= width for line in lines), lines
    assert "".join(lines).replace(" ", "") == text.replace(" ", "")
    assert not any(line[0] in "，。；）" for line in lines)  # never a closing mark first
    assert not any(line[-1] == "（" for line in lines)  # nor an opening mark last


def test_words_and_paths_wrap() -> None:
    assert wrap("one two three four", 9) == ["one two", "three", "four"]
    path = "<archive>/source=<source>/date=<YYYY-MM-DD>/part-<topic>-<partition>.parquet"
    lines = wrap(f"write to {path} at once", 40)
    assert all(cell_len(line) <= 40 for line in lines)
    assert "".join(lines).replace(" ", "") == f"writeto{path}atonce"


def test_defaults_are_shown(at_80: None) -> None:
    helps = {p.prog: p.format_help() for p in walk(build_parser())}
    assert "(default: table)" in helps["arrears report"].replace("\n", " ").replace("  ", " ")


def test_commands_with_progress_take_quiet_and_reporting_ones_json(at_80: None) -> None:
    helps = {p.prog: p.format_help() for p in walk(build_parser())}
    benches = ("bench ingest", "bench streams", "bench recovery", "bench replay", "bench check")
    progress = ("ingest", "archive", "snapshot", "replay", "diff", "check", "submit")
    for name in (*progress, "generate", "worker", "demo", *benches):
        assert "--quiet" in helps[f"arrears {name}"], name
    reporting = (
        "calendar", "units", "snapshots list", "snapshot", "replay", "diff", "check", "submit",
        "form", "infra status", "deadletters list", "ingest", "archive", "hotspots", "ledger",
        *benches,
    )  # fmt: skip
    for name in reporting:
        assert "--json" in helps[f"arrears {name}"], name
