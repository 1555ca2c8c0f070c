"""The hotspots and the problem ledger as rows (json, csv, xlsx) and as 80-column terminal
tables; money exact in 万元 (fen / 1,000,000) in the files, rounded half up on screen."""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.properties import PageSetupProperties
from rich.console import Console
from rich.table import Table

from contracts.cells import MONEY
from contracts.problems import LedgerLine
from contracts.supervision import Hotspot
from warehouse.report.values import shown

__all__ = [
    "HOTSPOT_HEADINGS",
    "LEDGER_HEADINGS",
    "exact_wan",
    "hotspot_rows",
    "ledger_rows",
    "write_rows_csv",
    "write_rows_xlsx",
    "render_hotspots",
    "render_ledger",
]

KIND_NAMES = {"unit": "地区", "project": "项目", "employer": "企业"}

#: (key, heading) of the hotspots' columns, in order.
HOTSPOT_HEADINGS = (
    ("kind", "类别"),
    ("rank", "排名"),
    ("id", "代码"),
    ("name", "名称"),
    ("units", "单位"),
    ("leads", "本期线索"),
    ("previous", "上期线索"),
    ("growth_pct", "增幅(%)"),
    ("substantiated", "查实线索"),
    ("substantiated_pct", "查实占比(%)"),
    ("claimed_wan", "反映金额(万元)"),
    ("workers_claimed", "反映人数"),
    ("many", "量大"),
    ("fast", "增幅快"),
    ("hotspot", "重点"),
)
LEDGER_HEADINGS = (
    ("unit", "单位"),
    ("kind", "类别"),
    ("id", "统一社会信用代码/项目编号"),
    ("name", "名称"),
    ("leads_received", "线索数"),
    ("leads_substantiated", "查实线索"),
    ("leads_merged", "合并线索"),
    ("cases_open", "未结案件"),
    ("cases_closed", "已结案件"),
    ("verified_wan", "查实欠薪(万元)"),
    ("resolved_wan", "已解决(万元)"),
    ("workers", "涉及人数"),
    ("first_seen", "首次发现"),
    ("last_action", "最近处置"),
    ("last_action_on", "处置日期"),
    ("days_open", "已用天数"),
    ("working_days_left", "距期限工作日"),
    ("hotspot", "重点"),
    ("owner", "跟踪责任人"),
    ("status", "状态"),
    ("open_cases", "未结案件编号"),
)


def exact_wan(fen: int) -> str:
    """Fen as 万元, exactly (six places): 12,345 fen is "0.012345"."""
    return f"{Decimal(int(fen)).scaleb(-6):f}"


def _pct(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def hotspot_rows(found: Mapping[str, Sequence[Hotspot]]) -> list[dict[str, Any]]:
    """One dict per hotspot (keys of HOTSPOT_HEADINGS), kinds in order, ranked within each."""
    rows = []
    for kind, items in found.items():
        for rank, h in enumerate(items, 1):
            rows.append(
                {
                    "kind": kind,
                    "rank": rank,
                    "id": h.id,
                    "name": h.name,
                    "units": ",".join(h.units),
                    "leads": h.leads,
                    "previous": h.previous,
                    "growth_pct": _pct(h.growth_pct),
                    "substantiated": h.substantiated,
                    "substantiated_pct": _pct(h.substantiated_pct),
                    "claimed_wan": exact_wan(h.claimed_fen),
                    "claimed_fen": h.claimed_fen,
                    "workers_claimed": h.workers_claimed,
                    "many": h.many,
                    "fast": h.fast,
                    "hotspot": h.flagged,
                }
            )
    return rows


def ledger_rows(
    lines: Sequence[LedgerLine], hot: set[tuple[str, str]], owners: Mapping[str, str]
) -> list[dict[str, Any]]:
    """One dict per ledger line (keys of LEDGER_HEADINGS); `hot` holds the (kind, id) of the
    flagged hotspots, `owners` maps an employer's credit code or a project's id to who
    follows it (the project's own entry before its employer's)."""
    rows = []
    for x in lines:
        rows.append(
            {
                "unit": x.unit,
                "kind": x.kind,
                "id": x.id,
                "name": x.name,
                "employer_id": x.employer_id,
                "leads_received": x.leads_received,
                "leads_substantiated": x.leads_substantiated,
                "leads_merged": x.leads_merged,
                "leads_open": x.leads_open,
                "cases_open": x.cases_open,
                "cases_closed": x.cases_closed,
                "verified_wan": exact_wan(x.verified_fen),
                "resolved_wan": exact_wan(x.resolved_fen),
                "verified_fen": x.verified_fen,
                "resolved_fen": x.resolved_fen,
                "workers": x.workers,
                "first_seen": x.first_seen.isoformat(),
                "last_action": x.last_action,
                "last_action_on": x.last_action_on.isoformat(),
                "days_open": x.days_open,
                "working_days_left": x.working_days_left,
                "hotspot": (x.kind, x.id) in hot,
                "owner": owners.get(x.id) or owners.get(x.employer_id) or "",
                "status": x.status,
                "open_cases": list(x.open_cases),
            }
        )
    return rows


def _cell(value: Any) -> Any:
    if isinstance(value, bool):
        return "是" if value else ""
    if isinstance(value, list):
        return " ".join(str(v) for v in value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return "" if value is None else value


def write_rows_csv(
    handle: IO[str], headings: Sequence[tuple[str, str]], rows: Sequence[Mapping[str, Any]]
) -> None:
    """CSV with the keys as its header line (machine-readable), values as in the xlsx."""
    writer = csv.writer(handle, lineterminator="\n")
    writer.writerow([key for key, _ in headings])
    for row in rows:
        writer.writerow([_cell(row[key]) for key, _ in headings])


def write_rows_xlsx(
    path: Path,
    title: str,
    headings: Sequence[tuple[str, str]],
    rows: Sequence[Mapping[str, Any]],
) -> None:
    """One sheet: a title line, the Chinese headings with a filter, the rows; prints on A4
    landscape, one page wide, the heading row repeated on every page."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = title[:31]
    sheet.cell(1, 1, title).font = Font(bold=True, size=13)
    for col, (_, heading) in enumerate(headings, 1):
        cell = sheet.cell(2, col, heading)
        cell.font = Font(bold=True)
        cell.alignment = Alignment(wrap_text=True, vertical="center")
    for r, row in enumerate(rows, 3):
        for col, (key, _) in enumerate(headings, 1):
            sheet.cell(r, col, _cell(row[key]))
    last = get_column_letter(len(headings))
    sheet.auto_filter.ref = f"A2:{last}{max(2, len(rows) + 2)}"
    sheet.freeze_panes = "A3"
    for col, (key, heading) in enumerate(headings, 1):
        wide = max([len(heading) * 2] + [len(str(_cell(r[key]))) for r in rows[:200]])
        sheet.column_dimensions[get_column_letter(col)].width = min(max(6, wide + 1), 40)
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0
    sheet.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=True)
    sheet.print_title_rows = "2:2"
    sheet.print_area = f"A1:{last}{len(rows) + 2}"
    book.save(path)


def _growth(pct: float | None, leads: int) -> str:
    if pct is None:
        return "新增" if leads else ""
    return f"{pct:.0f}"


def _flags(many: bool, fast: bool) -> str:
    return " ".join(flag for flag, on in (("量大", many), ("增幅快", fast)) if on)


def render_hotspots(console: Console, found: Mapping[str, Sequence[Hotspot]], title: str) -> None:
    """The hotspots, one table per kind, fitting 80 columns (names cut to fit)."""
    console.print(title, highlight=False)
    for kind, items in found.items():
        table = Table(title=f"{KIND_NAMES[kind]} (ranked)", title_justify="left", expand=False)
        table.add_column("#", justify="right")
        table.add_column("名称", max_width=16, overflow="ellipsis", no_wrap=True)
        table.add_column("本期", justify="right")
        table.add_column("上期", justify="right")
        table.add_column("增幅%", justify="right")
        table.add_column("查实%", justify="right")
        table.add_column("万元", justify="right")
        table.add_column("重点", no_wrap=True)
        for rank, h in enumerate(items, 1):
            growth = h.growth_pct
            share = h.substantiated_pct
            table.add_row(
                str(rank),
                h.name or h.id,
                str(h.leads),
                str(h.previous),
                "新增"
                if growth is None and h.leads
                else ("" if growth is None else f"{growth:.0f}"),
                "" if share is None else f"{share:.0f}",
                shown(h.claimed_fen, MONEY),
                _flags(h.many, h.fast),
            )
        if not items:
            table.add_row("", "(none)", "", "", "", "", "", "")
        console.print(table)


def render_ledger(console: Console, rows: Sequence[Mapping[str, Any]], title: str) -> None:
    """The ledger's lines in 80 columns: the essentials; the files carry every column."""
    console.print(title, highlight=False)
    table = Table(expand=False)
    table.add_column("单位")
    table.add_column("名称", max_width=18, overflow="ellipsis", no_wrap=True)
    table.add_column("未结", justify="right")
    table.add_column("已结", justify="right")
    table.add_column("查实万元", justify="right")
    table.add_column("天数", justify="right")
    table.add_column("余工日", justify="right")
    table.add_column("状态", no_wrap=True)
    for row in rows:
        name = ("*" if row["hotspot"] else "") + (row["name"] or row["id"])
        left = row["working_days_left"]
        table.add_row(
            row["unit"],
            name,
            str(row["cases_open"]),
            str(row["cases_closed"]),
            shown(int(row["verified_fen"]), MONEY),
            str(row["days_open"]),
            "" if left is None else str(left),
            row["status"],
        )
    if not rows:
        table.add_row("", "(none)", "", "", "", "", "", "")
    console.print(table)
    console.print("* a hotspot (量大 or 增幅快)", highlight=False)
