"""The form 附件2: the workbook read back cell by cell, rounding, CSV and the table."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from rich.cells import cell_len
from rich.console import Console

from contracts.cells import CELL_BY_ID, COLUMNS, ITEMS, MONEY, PERSONS, ROWS, row_cell
from contracts.clock import CST
from contracts.cutoff import parse_cutoff
from contracts.registry import Registry, Unit
from tests.warehouse.conftest import REGISTRY
from tests.warehouse.logkit import Log, phase_one, phase_two
from warehouse.cells_table import cells_frame
from warehouse.errors import WarehouseError
from warehouse.rebuild import Rebuild
from warehouse.report import build_forms, parse_precision, rounded
from warehouse.report import layout as L
from warehouse.report.text import CSV_HEADER, render_table, write_csv
from warehouse.report.values import DEFAULT_PRECISION, shown
from warehouse.report.xlsx import GEOMETRY as G
from warehouse.report.xlsx import write_xlsx

CUTOFF = parse_cutoff("2024-12-31")
META = {
    "snapshot_id": "20241231T173000-close-of-business-abc123",
    "cutoff": CUTOFF.iso(),
    "label": "close-of-business",
    "created_at": "2024-12-31T17:30:00+08:00",
    "source": "kafka",
}


def _story_cells():  # type: ignore[no-untyped-def]
    log = Log()
    log.append(phase_one())
    log.append(phase_two())
    rebuild = Rebuild(REGISTRY)
    rebuild.feed(log.upto(log.end()))
    return cells_frame(rebuild.own_figures(CUTOFF), REGISTRY)


def test_rounding_is_half_up_from_exact_values() -> None:
    assert rounded(25_000, MONEY) == Decimal("0.03")  # 0.025 万元: half up, not to even
    assert rounded(24_999, MONEY) == Decimal("0.02")
    assert rounded(5, PERSONS, {"万人": 3}) == Decimal("0.001")  # 0.0005 万人
    assert rounded(1, PERSONS) == Decimal("0.0001")
    assert rounded(123_456_789, MONEY) == Decimal("123.46")
    assert shown(0, PERSONS) == "0.0000" and shown(7, CELL_BY_ID["total.resolved"].measure) == "7"
    assert dict(parse_precision("persons=3,money=0")) == {"万人": 3, "万元": 0}
    with pytest.raises(WarehouseError, match="persons=N or money=N"):
        parse_precision("people=2")


def test_total_is_rounded_from_its_exact_value() -> None:
    own = {
        ("320412", "manufacturing.resolved_amount"): 5_000,  # 0.005 万元 -> 0.01
        ("320412", "services.resolved_amount"): 4_000,
    }  # 0.004 -> 0.00
    from contracts.fold import with_totals

    cells = cells_frame(with_totals(own), REGISTRY)
    form = build_forms(cells, META, REGISTRY, ["320412"])[0]
    assert form.values["total.resolved_amount"] == 9_000
    assert rounded(form.values["total.resolved_amount"], MONEY) == Decimal("0.01")


def _covers(sheet, unit: str) -> None:  # type: ignore[no-untyped-def]
    text = sheet.cell(row=G.scope, column=1).value
    assert text.startswith(L.SCOPE)
    for u in REGISTRY.subtree(unit):
        assert f"{u.name}（{u.code}）" in text


FILED_ON = dt.date(2025, 1, 3)


def test_workbook_read_back_cell_by_cell(tmp_path: Path) -> None:
    cells = _story_cells()
    forms = build_forms(cells, META, REGISTRY, ["320400", "320412", "320471"], filed_on=FILED_ON)
    path = write_xlsx(forms, tmp_path / "form.xlsx")
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == ["320400 常州市", "320412 武进区", "320471 常州经开区"]
    agencies = ["常州市人力资源和社会保障局", "常州市武进区人力资源和社会保障局"]
    agencies.append("常州经开区社会保障和卫生健康局")
    for form, sheet, agency in zip(forms, book.worksheets, agencies, strict=True):
        assert sheet.cell(row=G.attachment, column=1).value == "附件2"
        assert sheet.cell(row=G.title, column=1).value == "治理欠薪冬季行动情况"
        assert sheet.cell(row=G.filer, column=1).value == f"填报单位名称（盖章）：{agency}"
        # the filing date the user gives, not the snapshot's creation day (2024-12-31)
        assert sheet.cell(row=G.filed_at, column=1).value == "填报时间：2025年1月3日"
        _covers(sheet, form.unit.code)
        merged = {str(r) for r in sheet.merged_cells.ranges}
        # 甲 spans its two cells and both header rows; 合计 spans the two cells of 甲
        assert {"A2:N2", "A6:B7", "C6:C7", "D6:F6", "G6:I6", "J6:L6", "M6:N6"} <= merged
        assert {"A8:B8", "A9:B9"} <= merged
        top = [sheet.cell(row=G.head_top, column=c).value for c in (1, 3, 4, 7, 10, 13)]
        assert top == ["甲", "序号", "检查用人单位情况", "解决情况", "行政处理处罚", "涉嫌犯罪案件"]
        headings = [sheet.cell(row=G.head_bottom, column=4 + i).value for i in range(len(COLUMNS))]
        assert headings == [  # as the notice prints them, its two typos corrected
            "用人单位户数(户)",
            "涉及职工人数(万人)",
            "其中:农民工人数(万人)",
            "解决欠薪问题数量",
            "涉及人数(万人)",
            "解决欠薪问题涉及金额(万元)",
            "责令改正(件)",
            "行政处理决定(件)",
            "行政处罚决定(件)",
            "移送公安机关(件)",
            "公安机关立案(件)",
        ]
        # the column-number row: 1 over 序号, 2-12 over the figures (the notice's 1 2 … 12)
        numbers = [sheet.cell(row=G.numbers, column=c).value for c in range(1, 15)]
        assert numbers == [None, None, *range(1, 13)]
        for i, row in enumerate(ROWS):
            r = G.first_row + i
            assert sheet.cell(row=r, column=3).value == row.number
            for column in COLUMNS:
                got = sheet.cell(row=r, column=3 + column.number).value
                want = rounded(form.values[row_cell(row.key, column.key)], column.measure)
                assert Decimal(str(got)) == want, (row.key, column.key)
        labels = [
            (
                sheet.cell(row=G.first_row + i, column=1).value,
                sheet.cell(row=G.first_row + i, column=2).value,
            )
            for i in range(len(ROWS))
        ]
        assert labels == [
            ("合计", None),
            ("(工程建设领域)", "建筑业"),
            (None, "制造业"),
            (None, "服务业"),
            (None, "其他"),
        ]
        assert sheet.cell(row=G.items_heading, column=1).value == "其他情况："
        for index in range(7):
            text = sheet.cell(row=G.item_row(index), column=1).value
            assert text.startswith(f"{index + 1}. ")
        sig = sheet.cell(row=G.signature(7), column=1).value
        for who in ("单位负责人：", "处(队)负责人：", "制表人：", "联系电话："):
            assert f"{who}__________" in sig
        assert sheet.cell(row=G.notes(7), column=1).value.startswith("备注：1. 国企项目指")
        assert "分别单独统计" in sheet.cell(row=G.notes(7) + 1, column=1).value
        # the snapshot's own creation time stays in the footer line
        footer = sheet.cell(row=G.source(7), column=1).value
        assert "生成于 2024-12-31T17:30:00+08:00" in footer and META["snapshot_id"] in footer
        for col in "ABCDEFGHIJKLMN":
            assert sheet.column_dimensions[col].width >= 5
    city = book.worksheets[0]
    # the story's figures, as the form shows them (rolled up over Changzhou)
    total = G.first_row
    assert city.cell(row=total, column=4).value == 3  # 3 employers
    assert Decimal(str(city.cell(row=total, column=5).value)) == Decimal("0.0385")  # 385 persons
    assert city.cell(row=total, column=7).value == 3  # resolutions: correction and retraction
    assert Decimal(str(city.cell(row=total, column=9).value)) == Decimal("0.16")  # 1600 yuan
    assert (
        city.cell(row=G.item_row(3), column=1).value
        == "4. 通过法院开展集中执行活动解决欠薪案件 1 件，涉及 0.0007 万人 0.01 万元；"
    )
    assert city.cell(row=G.item_row(0), column=1).value == (
        "1. 检查政府投资项目共 1 个，查实存在欠薪项目 0 个"
        "（拖欠工资 0.00 万元，涉及 0.0000 万人）；"
        "检查国企项目共 0 个，查实存在欠薪项目 0 个"
        "（拖欠工资 0.00 万元，涉及 0.0000 万人）；"
    )


def test_filer_overrides_the_agency_and_filed_on_defaults_to_today() -> None:
    forms = build_forms(_story_cells(), META, REGISTRY, ["320412"], filer="武进区劳动监察大队")
    assert forms[0].filer == "武进区劳动监察大队"
    assert forms[0].filed_on == dt.datetime.now(CST).date()
    assert L.filed_on_text(dt.date(2024, 12, 31)) == "2024年12月31日"
    with pytest.raises(WarehouseError, match="--filer"):
        build_forms(_story_cells(), META, REGISTRY, ["320412"], filer="  ")


def test_a_unit_without_an_agency_prints_its_name() -> None:
    registry = Registry(
        [Unit("100000", "全国", None, False), Unit("320000", "江苏省", "100000", True)]
    )
    own = {("320000", "total.resolved"): 1}
    from contracts.fold import with_totals

    cells = cells_frame(with_totals(own), registry)
    assert build_forms(cells, META, registry, ["320000"])[0].filer == "江苏省"


def test_half_up_in_the_workbook_and_precision(tmp_path: Path) -> None:
    own = {
        ("320412", "manufacturing.resolved_amount"): 25_000,  # 0.025 万元
        ("320412", "manufacturing.resolved_workers"): 5,  # 0.0005 万人
        ("320412", "item5.amount"): 25_000,
    }
    from contracts.fold import with_totals

    forms = build_forms(cells_frame(with_totals(own), REGISTRY), META, REGISTRY, ["320412"])
    sheet = openpyxl.load_workbook(write_xlsx(forms, tmp_path / "a.xlsx")).active
    manufacturing = G.first_row + 2
    assert Decimal(str(sheet.cell(row=manufacturing, column=9).value)) == Decimal("0.03")
    assert sheet.cell(row=manufacturing, column=9).number_format == "0.00"
    assert Decimal(str(sheet.cell(row=manufacturing, column=8).value)) == Decimal("0.0005")
    assert "0.03 万元" in sheet.cell(row=G.item_row(4), column=1).value
    sheet = openpyxl.load_workbook(
        write_xlsx(forms, tmp_path / "b.xlsx", parse_precision("persons=3,money=1"))
    ).active
    assert Decimal(str(sheet.cell(row=manufacturing, column=8).value)) == Decimal("0.001")
    assert sheet.cell(row=manufacturing, column=8).number_format == "0.000"
    assert Decimal(str(sheet.cell(row=manufacturing, column=9).value)) == Decimal("0.0")


def test_item_sentences_use_every_item_cell_once() -> None:
    used = [m for text in L.ITEM_SENTENCES.values() for m in L.PLACEHOLDER.findall(text)]
    assert sorted(used) == sorted(c.id for c in ITEMS)


def test_csv_has_exact_and_rounded_values() -> None:
    forms = build_forms(_story_cells(), META, REGISTRY, ["320400"])
    out = io.StringIO()
    write_csv(forms, out)
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert tuple(rows[0]) == CSV_HEADER
    assert len(rows) == len(ROWS) * len(COLUMNS) + len(ITEMS)
    amount = next(r for r in rows if r["cell"] == "total.resolved_amount")
    assert (amount["exact"], amount["value"], amount["measure"]) == ("160000", "0.16", "万元")


def test_table_shows_the_form() -> None:
    console = Console(record=True, width=220)
    render_table(build_forms(_story_cells(), META, REGISTRY, ["320400"]), console)
    text = console.export_text()
    assert "治理欠薪冬季行动情况" in text and "建筑业（工程建设领域）" in text
    assert "0.0385" in text and "其他情况：" in text
    assert "填报单位名称（盖章）：常州市人力资源和社会保障局" in text


def test_a_narrow_table_is_the_form_transposed_with_every_figure() -> None:
    console = Console(record=True, width=80)
    forms = build_forms(_story_cells(), META, REGISTRY, ["320400"])
    render_table(forms, console)
    text = console.export_text()
    assert all(cell_len(line) <= 80 for line in text.splitlines())
    assert all(line == line.rstrip() for line in text.splitlines())  # off a terminal: plain
    lines = text.splitlines()
    for column in COLUMNS:  # one line per figure column, its five figures on it
        line = next(x for x in lines if x.startswith(f"{column.number} {column.heading}"))
        figures = [
            shown(forms[0].values[row_cell(r.key, column.key)], column.measure, DEFAULT_PRECISION)
            for r in ROWS
        ]
        assert line.split()[-5:] == figures


@pytest.mark.parametrize("width", [40, 60, 80])
def test_the_scope_line_breaks_between_units_only(width: int) -> None:
    console = Console(record=True, width=width)
    render_table(build_forms(_story_cells(), META, REGISTRY, ["320400"]), console)
    lines = console.export_text().splitlines()  # the line is 140 columns: it must wrap
    for unit in REGISTRY.subtree("320400"):
        assert any(f"{unit.name}（{unit.code}）" in line for line in lines), (unit, lines)


def test_unknown_unit_is_a_clear_error() -> None:
    with pytest.raises(WarehouseError, match="320499"):
        build_forms(_story_cells(), META, REGISTRY, ["320499"])
