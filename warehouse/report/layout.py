"""The wording of 附件2 around the figures: title, lines, item sentences, signature, notes.

The figures themselves (rows, columns, headings, units, item cells) come from
`contracts.cells`; this module holds only the form's prose. An item sentence
names its cells as `{cell id}`; each is rendered as "<number> <unit>" with the
unit from the cell table.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable

from contracts.cells import COLUMNS, ITEMS, Column, Row

__all__ = [
    "ATTACHMENT",
    "TITLE",
    "FILER",
    "FILED_AT",
    "SCOPE",
    "HEAD_LABEL",
    "HEAD_NUMBER",
    "ITEMS_HEADING",
    "ITEM_SENTENCES",
    "SIGNATURE",
    "NOTES",
    "row_label",
    "column_heading",
    "filed_on_text",
    "number_row",
    "UNITLESS_COLUMNS",
    "header_groups",
    "render_item",
    "PLACEHOLDER",
]

ATTACHMENT = "附件2"
TITLE = "治理欠薪冬季行动情况"
FILER = "填报单位名称（盖章）："
FILED_AT = "填报时间："
SCOPE = "汇总范围："
HEAD_LABEL = "甲"
HEAD_NUMBER = "序号"
ITEMS_HEADING = "其他情况："

#: item number -> sentence; `{cell id}` becomes "<value> <unit>".
ITEM_SENTENCES: dict[int, str] = {
    1: (
        "检查政府投资项目共{item1.gov_projects}，查实存在欠薪项目{item1.gov_arrears_projects}"
        "（拖欠工资{item1.gov_arrears_amount}，涉及{item1.gov_arrears_workers}）；"
        "检查国企项目共{item1.soe_projects}，查实存在欠薪项目{item1.soe_arrears_projects}"
        "（拖欠工资{item1.soe_arrears_amount}，涉及{item1.soe_arrears_workers}）；"
    ),
    2: "解决新就业形态拖欠劳动报酬案件{item2.cases}，涉及{item2.workers}{item2.amount}；",
    3: (
        "通过劳动人事争议调解组织和仲裁机构解决欠薪案件{item3.cases}，涉及{item3.workers}，"
        "结案金额{item3.amount}；"
    ),
    4: "通过法院开展集中执行活动解决欠薪案件{item4.cases}，涉及{item4.workers}{item4.amount}；",
    5: "行业主管部门解决欠薪问题{item5.cases}，涉及{item5.workers}{item5.amount}；",
    6: "集中接访接收欠薪线索{item6.reception_leads}；",
    7: (
        "公布欠薪严重违法单位数：{item7.published_employers}，"
        "列入欠薪失信联合惩戒对象名单管理{item7.blacklist_listings}。"
    ),
}
assert sorted(ITEM_SENTENCES) == sorted({c.item for c in ITEMS if c.item is not None}), (
    "every supplementary item of contracts.cells needs a sentence"
)

SIGNATURE = (
    "单位负责人：__________    处(队)负责人：__________    "
    "制表人：__________    联系电话：__________"
)
NOTES = (
    "备注：1. 国企项目指中央和地方监管的国有（含国有控股）企业作为建设单位的工程项目（标段）；",
    "      2. 政府投资项目和国企项目有重合的分别单独统计。",
)
PLACEHOLDER = re.compile(r"\{([A-Za-z0-9_.]+)\}")


#: Columns whose heading the notice prints without a unit (解决欠薪问题数量; its unit is 件).
UNITLESS_COLUMNS = frozenset({"resolved"})


def filed_on_text(day: dt.date) -> str:
    """ "2024年12月31日": the date as the form is filled in by hand.

    >>> filed_on_text(dt.date(2025, 1, 3))
    '2025年1月3日'
    """
    return f"{day.year}年{day.month}月{day.day}日"


def number_row() -> list[int]:
    """The column-number row as the notice prints it: 1 over 序号, 2-12 over columns 1-11.

    The notice's line "合计 1 2 … 12" is read as this row (twelve numbers for the twelve
    numbered columns: 序号 and the eleven figures) printed on the 合计 line; see the README.
    """
    return [1] + [column.number + 1 for column in COLUMNS]


def row_label(row: Row) -> str:
    """ "建筑业（工程建设领域）" for a row with a note, else its label."""
    return f"{row.label}（{row.note}）" if row.note else row.label


def column_heading(column: Column) -> str:
    """ "涉及职工人数(万人)": the heading with its unit, as the form prints it.

    The notice prints 解决欠薪问题数量 without its unit (件); so does the form.
    """
    if column.key in UNITLESS_COLUMNS:
        return column.heading
    return f"{column.heading}({column.measure.unit})"


def header_groups() -> list[tuple[str, list[Column]]]:
    """The upper header level: consecutive columns sharing a group, in column order."""
    groups: list[tuple[str, list[Column]]] = []
    for column in COLUMNS:
        if groups and groups[-1][0] == column.group:
            groups[-1][1].append(column)
        else:
            groups.append((column.group, [column]))
    return groups


def render_item(item: int, fill: Callable[[str], str]) -> str:
    """Item `item`'s sentence, numbered, with each `{cell}` replaced by `fill(cell_id)`."""
    return f"{item}. " + PLACEHOLDER.sub(lambda m: fill(m.group(1)), ITEM_SENTENCES[item])
