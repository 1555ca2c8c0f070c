"""The cell table: every figure of 附件2 declared once, as data.

The fold, the snapshot schema, the workbook layout and the quality suites all
read this table; a new column is one edit here.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from contracts.industry import ROW_KEYS


class Agg(Enum):
    """How a cell's contributions become its value (see ARCHITECTURE.md, the fold)."""

    SUM = "sum"
    DISTINCT = "distinct"  # keys whose summed value is positive
    LATEST = "latest"  # per key the value with the greatest (at, event_id), summed over keys


@dataclass(frozen=True)
class Measure:
    """What a value counts and how the form shows it: value / divisor, to `places`."""

    unit: str
    divisor: int
    places: int


HOUSEHOLDS = Measure("户", 1, 0)
CASES = Measure("件", 1, 0)
PROJECTS = Measure("个", 1, 0)
PERSONS = Measure("万人", 10_000, 4)  # kept as persons
MONEY = Measure("万元", 1_000_000, 2)  # kept as fen


@dataclass(frozen=True)
class Row:
    key: str
    number: int  # 序号
    label: str
    note: str = ""


@dataclass(frozen=True)
class Column:
    number: int
    key: str
    heading: str
    group: str  # the upper level of the two-level header
    measure: Measure
    agg: Agg


@dataclass(frozen=True)
class Cell:
    """One figure of a unit's form. `id` is what snapshots and contributions carry."""

    id: str
    label: str
    measure: Measure
    agg: Agg
    row: str | None = None
    column: int | None = None
    item: int | None = None
    on_form: bool = True


TOTAL = "total"

ROWS: tuple[Row, ...] = (
    Row(TOTAL, 1, "合计"),
    Row("construction", 2, "建筑业", "工程建设领域"),
    Row("manufacturing", 3, "制造业"),
    Row("services", 4, "服务业"),
    Row("other", 5, "其他"),
)
assert tuple(r.key for r in ROWS[1:]) == ROW_KEYS, "rows must match contracts.industry"

COLUMNS: tuple[Column, ...] = (
    Column(1, "employers", "用人单位户数", "检查用人单位情况", HOUSEHOLDS, Agg.DISTINCT),
    Column(2, "workers", "涉及职工人数", "检查用人单位情况", PERSONS, Agg.LATEST),
    Column(3, "migrant_workers", "其中:农民工人数", "检查用人单位情况", PERSONS, Agg.LATEST),
    Column(4, "resolved", "解决欠薪问题数量", "解决情况", CASES, Agg.SUM),
    Column(5, "resolved_workers", "涉及人数", "解决情况", PERSONS, Agg.SUM),
    Column(6, "resolved_amount", "解决欠薪问题涉及金额", "解决情况", MONEY, Agg.SUM),
    Column(7, "rectification_orders", "责令改正", "行政处理处罚", CASES, Agg.SUM),
    Column(8, "handling_decisions", "行政处理决定", "行政处理处罚", CASES, Agg.SUM),
    Column(9, "penalty_decisions", "行政处罚决定", "行政处理处罚", CASES, Agg.SUM),
    Column(10, "police_transfers", "移送公安机关", "涉嫌犯罪案件", CASES, Agg.SUM),
    Column(11, "police_filings", "公安机关立案", "涉嫌犯罪案件", CASES, Agg.SUM),
)


def row_cell(row: str, column: str) -> str:
    """Cell id of a table cell, e.g. row_cell("construction", "workers")."""
    return f"{row}.{column}"


def _item(item: int, key: str, label: str, measure: Measure, agg: Agg = Agg.SUM) -> Cell:
    return Cell(f"item{item}.{key}", label, measure, agg, item=item)


#: The supplementary items (其他情况), in the order the form prints them.
ITEMS: tuple[Cell, ...] = (
    _item(1, "gov_projects", "检查政府投资项目", PROJECTS, Agg.DISTINCT),
    _item(1, "gov_arrears_projects", "查实存在欠薪的政府投资项目", PROJECTS, Agg.DISTINCT),
    _item(1, "gov_arrears_amount", "政府投资项目拖欠工资", MONEY),
    _item(1, "gov_arrears_workers", "政府投资项目欠薪涉及人数", PERSONS),
    _item(1, "soe_projects", "检查国企项目", PROJECTS, Agg.DISTINCT),
    _item(1, "soe_arrears_projects", "查实存在欠薪的国企项目", PROJECTS, Agg.DISTINCT),
    _item(1, "soe_arrears_amount", "国企项目拖欠工资", MONEY),
    _item(1, "soe_arrears_workers", "国企项目欠薪涉及人数", PERSONS),
    _item(2, "cases", "解决新就业形态拖欠劳动报酬案件", CASES),
    _item(2, "workers", "新就业形态案件涉及人数", PERSONS),
    _item(2, "amount", "新就业形态案件涉及金额", MONEY),
    _item(3, "cases", "调解组织和仲裁机构解决欠薪案件", CASES),
    _item(3, "workers", "调解仲裁案件涉及人数", PERSONS),
    _item(3, "amount", "调解仲裁结案金额", MONEY),
    _item(4, "cases", "法院集中执行解决欠薪案件", CASES),
    _item(4, "workers", "集中执行案件涉及人数", PERSONS),
    _item(4, "amount", "集中执行案件涉及金额", MONEY),
    _item(5, "cases", "行业主管部门解决欠薪问题", CASES),
    _item(5, "workers", "行业主管部门解决涉及人数", PERSONS),
    _item(5, "amount", "行业主管部门解决涉及金额", MONEY),
    _item(6, "reception_leads", "集中接访接收欠薪线索", CASES, Agg.DISTINCT),
    _item(7, "published_employers", "公布欠薪严重违法单位", HOUSEHOLDS, Agg.DISTINCT),
    _item(7, "blacklist_listings", "列入欠薪失信联合惩戒对象名单", CASES),
)

#: Figures the pipeline tracks that the form does not print (quality checks use them).
AUX: tuple[Cell, ...] = (
    Cell("aux.open_cases", "查实未结欠薪案件", CASES, Agg.DISTINCT, on_form=False),
)

TABLE_CELLS: tuple[Cell, ...] = tuple(
    Cell(
        row_cell(r.key, c.key),
        f"{r.label} {c.heading}",
        c.measure,
        c.agg,
        row=r.key,
        column=c.number,
    )
    for r in ROWS
    for c in COLUMNS
)

#: Every cell, in form order: the table row by row, then the items, then aux.
CELLS: tuple[Cell, ...] = TABLE_CELLS + ITEMS + AUX
CELL_BY_ID: dict[str, Cell] = {c.id: c for c in CELLS}

#: Cells the fold writes to directly (合计 is derived from the rows).
FOLDED_CELLS: frozenset[str] = frozenset(c.id for c in CELLS if c.row != TOTAL)


def cell(cell_id: str) -> Cell:
    try:
        return CELL_BY_ID[cell_id]
    except KeyError:
        raise KeyError(
            f"unknown cell {cell_id!r}; cells are declared in contracts/cells.py"
        ) from None
