"""`arrears report` on a snapshot: --filer, --filed-on, --scope own and --children sheets."""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest

from tests.warehouse.conftest import REGISTRY, Story
from warehouse.report.xlsx import GEOMETRY as G

Cli = Callable[..., tuple[int, str, str]]


def _snapshot(cli: Cli) -> str:
    code, out, err = cli("snapshot", "--cutoff", "2024-12-31", "--from", "archive", "--quiet")
    assert code == 0, out + err
    return "2024-12-31@latest"


def test_children_add_a_sheet_per_direct_child_and_own_is_the_units_own(
    cli: Cli, story: Story, tmp_path: Path
) -> None:
    snap = _snapshot(cli)
    out = tmp_path / "city.xlsx"
    argv = ["report", snap, "--unit", "320400", "--children", "--format", "xlsx"]
    code, text, err = cli(*argv, "--out", str(out), "--filed-on", "2024-12-31")
    assert code == 0, text + err
    book = openpyxl.load_workbook(out)
    kids = [u.code for u in REGISTRY.children("320400")]
    assert [name.split()[0] for name in book.sheetnames] == ["320400", *kids]
    assert book.worksheets[0].cell(row=G.filed_at, column=1).value == "填报时间：2024年12月31日"
    assert (
        book.worksheets[0]
        .cell(row=G.scope, column=1)
        .value.startswith("汇总范围：常州市（320400）本级及下级7个单位汇总")
    )
    # the city's roll-up is its own figures plus its children's sheets, cell by cell
    own = tmp_path / "own.xlsx"
    argv = ["report", snap, "--unit", "320400", "--scope", "own", "--format", "xlsx"]
    code, text, err = cli(*argv, "--out", str(own), "--filer", "常州市劳动保障监察支队")
    assert code == 0, text + err
    own_sheet = openpyxl.load_workbook(own).active
    assert (
        own_sheet.cell(row=G.filer, column=1).value
        == "填报单位名称（盖章）：常州市劳动保障监察支队"
    )
    assert own_sheet.cell(row=G.scope, column=1).value == (
        "汇总范围：常州市（320400）本级（不含下级7个单位）"
    )
    for r in range(G.first_row, G.first_row + 5):
        for c in range(G.first_col, G.last_col + 1):
            parts = [own_sheet, *book.worksheets[1:]]
            summed = sum(Decimal(str(s.cell(row=r, column=c).value)) for s in parts)
            total = Decimal(str(book.worksheets[0].cell(row=r, column=c).value))
            assert abs(summed - total) <= Decimal("0.01"), (r, c)  # rounded per sheet


def test_bad_filed_on_and_unknown_children_are_usage_errors(
    cli: Cli, story: Story, capsys: pytest.CaptureFixture[str]
) -> None:
    snap = _snapshot(cli)
    with pytest.raises(SystemExit) as exited:  # argparse's own usage error
        cli("report", snap, "--unit", "320400", "--filed-on", "2024年12月31日")
    assert exited.value.code == 2
    assert "is not a date YYYY-MM-DD" in capsys.readouterr().err
    code, _, err = cli("report", snap, "--unit", "320499", "--children")
    assert code == 2 and "320499" in err


def test_units_lists_the_registry(cli: Cli) -> None:
    code, out, _ = cli("units", "--under", "320400", "--json")
    assert code == 0
    rows = json.loads(out)
    assert [r["code"] for r in rows] == [u.code for u in REGISTRY.subtree("320400")]
    assert rows[0]["agency"] == "常州市人力资源和社会保障局"
    code, out, _ = cli("units", "--search", "经开", "--json")
    assert [r["code"] for r in json.loads(out)] == ["320471"]
    code, out, _ = cli("units", "--search", "武进")
    assert code == 0 and "320412" in out and "320402" not in out
    code, _, err = cli("units", "--under", "320499")
    assert code == 2 and "known units under 320400" in err
