"""The final report's draft (行动结束时 冬季行动总体工作情况, the notice's 工作要求): 开展情况,
取得成效 and 存在问题 filled in from a snapshot's figures and the supervision views, 意见建议
left as headings; written as Markdown or as a Word document (python-docx).

Every figure is the snapshot's exact value rounded as on the form (万人 to 4 places, 万元
to 2, half up); each section lists its figures in a table (项目, 数值, 单位), so a reader
and a test find them in one place. The figures no cell holds (inspections by method,
projects checked, leads by intake, what the open cases owe) are `event_figures`, counted
from the casebook when the snapshot is cut and stored beside it (`summary.parquet`), so
the draft reads the snapshot alone.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from contracts.casebook import Casebook
from contracts.cells import CASES, HOUSEHOLDS, MONEY, PERSONS, PROJECTS, Measure, row_cell
from contracts.registry import Registry, Unit
from contracts.supervision import Hotspot
from warehouse.report.values import shown

__all__ = [
    "Figure",
    "Section",
    "Summary",
    "EVENT_FIGURES_SCHEMA",
    "event_figures",
    "build_summary",
    "write_markdown",
    "write_docx",
]

_METHODS = (("onsite", "现场检查"), ("online", "网络（书面）检查"), ("complaint", "投诉举报检查"))
_INTAKES = (
    ("national_platform", "全国根治欠薪线索反映平台"),
    ("hotline", "12345热线"),
    ("petition", "信访"),
    ("centralized_reception", "集中接访"),
)
_CHANNELS = ((3, "调解仲裁"), (4, "法院集中执行"), (5, "行业主管部门"))
ADVICE = ("（一）健全长效机制", "（二）加强部门协同", "（三）其他意见建议")


@dataclass(frozen=True)
class Figure:
    """One figure of the draft: what it is, its value as shown, its unit; `cell` names the
    snapshot cell it is (None for one counted from the events)."""

    label: str
    value: str
    unit: str
    cell: str | None = None


@dataclass
class Section:
    title: str
    figures: list[Figure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Summary:
    title: str
    preface: str
    sections: list[Section]


#: unit, figure, value: the draft's figures counted from the events, per unit (each one sums
#: over a subtree: distinct within a unit, as the form's distinct cells are).
EVENT_FIGURES_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "unit": pl.String,
    "figure": pl.String,
    "value": pl.Int64,
}


def event_figures(book: Casebook) -> pl.DataFrame:
    """Per unit: employers inspected by method (`inspected.<method>`), projects inspected
    (`projects_checked`), leads received with merged duplicates once (`leads`,
    `leads.<intake>`), and the verified amount (fen) and workers of the cases still open
    (`open_fen`, `open_workers`)."""
    out: Counter[tuple[str, str]] = Counter()
    for unit, method, _ in {(i.unit, i.method, i.employer_id) for i in book.inspections}:
        out[(unit, f"inspected.{method}")] += 1
    for unit, _ in {(i.unit, i.project_id) for i in book.inspections if i.project_id}:
        out[(unit, "projects_checked")] += 1
    for lead in book.leads:
        if not lead.merged:
            out[(lead.unit, "leads")] += 1
            out[(lead.unit, f"leads.{lead.intake}")] += 1
    for case in book.cases:
        if case.open:
            out[(case.unit, "open_fen")] += case.verified_fen
            out[(case.unit, "open_workers")] += case.workers
    rows = sorted((unit, figure, value) for (unit, figure), value in out.items())
    return pl.DataFrame(rows, schema=EVENT_FIGURES_SCHEMA, orient="row")


def _rollup(cells: pl.DataFrame, unit: str) -> dict[str, int]:
    rows = cells.filter((pl.col("unit") == unit) & (pl.col("scope") == "rollup"))
    return dict(zip(rows["cell"].to_list(), rows["value"].to_list(), strict=True))


def build_summary(
    unit: Unit,
    registry: Registry,
    cutoff: str,
    snapshot_id: str,
    cells: pl.DataFrame,
    events: pl.DataFrame,
    found: Mapping[str, Sequence[Hotspot]],
    *,
    previous: pl.DataFrame | None = None,
    previous_id: str | None = None,
    quality: Mapping[str, Any] | None = None,
) -> Summary:
    """The draft for `unit` (its whole subtree) from a snapshot's cells and its
    `event_figures` (EVENT_FIGURES_SCHEMA) at the same cutoff and offsets."""
    v = _rollup(cells, unit.code)
    under = {u.code for u in registry.subtree(unit.code)}
    mine = (
        events.filter(pl.col("unit").is_in(sorted(under))).group_by("figure").agg(pl.sum("value"))
    )
    e: dict[str, int] = dict(zip(mine["figure"].to_list(), mine["value"].to_list(), strict=True))

    def fig(label: str, cell: str, measure: Measure) -> Figure:
        return Figure(label, shown(v.get(cell, 0), measure), measure.unit, cell)

    def count(label: str, value: int, measure: Measure = CASES) -> Figure:
        return Figure(label, shown(value, measure), measure.unit)

    total = "total"
    work = Section("一、开展情况")
    work.figures += [
        fig("检查用人单位", row_cell(total, "employers"), HOUSEHOLDS),
        fig("涉及职工", row_cell(total, "workers"), PERSONS),
        fig("其中：农民工", row_cell(total, "migrant_workers"), PERSONS),
    ]
    work.figures += [
        count(f"其中{name}用人单位", e.get(f"inspected.{k}", 0), HOUSEHOLDS) for k, name in _METHODS
    ]
    work.figures.append(count("接收欠薪线索（重复线索合并计）", e.get("leads", 0)))
    work.figures += [count(f"其中{name}", e.get(f"leads.{k}", 0)) for k, name in _INTAKES]
    work.figures += [
        count("检查工程建设项目", e.get("projects_checked", 0), PROJECTS),
        fig("其中：政府投资项目", "item1.gov_projects", PROJECTS),
        fig("国企项目", "item1.soe_projects", PROJECTS),
    ]

    done = Section("二、取得成效")
    done.figures += [
        fig("解决欠薪问题", row_cell(total, "resolved"), CASES),
        fig("涉及劳动者", row_cell(total, "resolved_workers"), PERSONS),
        fig("涉及金额", row_cell(total, "resolved_amount"), MONEY),
    ]
    by_inspection = [v.get(row_cell(total, k), 0) for k in ("resolved", "resolved_workers")]
    amount = v.get(row_cell(total, "resolved_amount"), 0)
    for item, _ in _CHANNELS:
        by_inspection[0] -= v.get(f"item{item}.cases", 0)
        by_inspection[1] -= v.get(f"item{item}.workers", 0)
        amount -= v.get(f"item{item}.amount", 0)
    done.figures += [
        count("其中劳动保障监察解决", by_inspection[0]),
        count("劳动保障监察解决涉及劳动者", by_inspection[1], PERSONS),
        count("劳动保障监察解决涉及金额", amount, MONEY),
    ]
    for item, name in (*_CHANNELS, (2, "新就业形态")):
        done.figures += [
            fig(f"{name}解决", f"item{item}.cases", CASES),
            fig(f"{name}解决涉及劳动者", f"item{item}.workers", PERSONS),
            fig(f"{name}解决涉及金额", f"item{item}.amount", MONEY),
        ]
    done.figures += [
        fig("责令改正", row_cell(total, "rectification_orders"), CASES),
        fig("行政处理决定", row_cell(total, "handling_decisions"), CASES),
        fig("行政处罚决定", row_cell(total, "penalty_decisions"), CASES),
        fig("移送公安机关", row_cell(total, "police_transfers"), CASES),
        fig("公安机关立案", row_cell(total, "police_filings"), CASES),
        fig("公布欠薪严重违法单位", "item7.published_employers", HOUSEHOLDS),
        fig("列入失信联合惩戒对象名单", "item7.blacklist_listings", CASES),
    ]
    if previous is not None:
        before = _rollup(previous, unit.code)
        for label, key, measure in (
            ("较上次新增解决欠薪问题", row_cell(total, "resolved"), CASES),
            ("较上次新增解决金额", row_cell(total, "resolved_amount"), MONEY),
            ("较上次新增检查用人单位", row_cell(total, "employers"), HOUSEHOLDS),
        ):
            done.figures.append(count(label, v.get(key, 0) - before.get(key, 0), measure))
        done.notes.append(f"比较的上次快照：{previous_id}")

    issues = Section("三、存在问题")
    issues.figures += [
        fig("查实未结欠薪案件", "aux.open_cases", CASES),
        count("未结案件查实欠薪金额", e.get("open_fen", 0), MONEY),
        count("未结案件涉及劳动者", e.get("open_workers", 0), PERSONS),
    ]
    flagged = [
        h for kind in ("unit", "project", "employer") for h in found.get(kind, ()) if h.flagged
    ]
    issues.figures.append(count("线索量大或增幅快的重点地区、项目和企业", len(flagged), PROJECTS))
    for h in flagged[:10]:
        why = "、".join(w for w, on in (("量大", h.many), ("增幅快", h.fast)) if on)
        issues.notes.append(
            f"重点：{h.name or h.id}（近期线索{h.leads}条，上期{h.previous}条，{why}）"
        )
    issues.notes += _quality_notes(quality)

    advice = Section("四、意见建议")
    return Summary(
        f"{unit.filer}治理欠薪冬季行动总体工作情况（草稿）",
        f"数据截至 {cutoff}，覆盖{unit.name}及所辖{len(under) - 1}个单位；"
        f"数字取自快照 {snapshot_id}，按报表规则四舍五入（万人保留4位、万元保留2位）。",
        [work, done, issues, advice],
    )


def _quality_notes(quality: Mapping[str, Any] | None) -> list[str]:
    if quality is None:
        return ["数据质量：该快照尚未运行质量检查（arrears check）。"]
    critical = list(quality.get("critical_failures") or [])
    warnings = list(quality.get("warnings") or [])
    silent = [w for w in [*critical, *warnings] if "recent" in w or "silent" in w]
    out = [f"数据质量：严重问题 {len(critical)} 项，警示 {len(warnings)} 项。"]
    if silent:
        out.append("数据源长时间无数据或单位未报送：" + "、".join(silent))
    if critical or warnings:
        out.append("问题清单：" + "、".join([*critical, *warnings]))
    return out


def write_markdown(summary: Summary, path: Path) -> None:
    lines = [f"# {summary.title}", "", summary.preface, ""]
    for section in summary.sections:
        lines += [f"## {section.title}", ""]
        if section.figures:
            lines += ["| 项目 | 数值 | 单位 |", "|---|---:|---|"]
            lines += [f"| {f.label} | {f.value} | {f.unit} |" for f in section.figures]
            lines.append("")
        lines += [*(f"- {n}" for n in section.notes), ""] if section.notes else []
        if section.title.startswith("四"):
            lines += [*(f"### {h}\n\n（待填写）\n" for h in ADVICE)]
    path.write_text("\n".join(lines).rstrip() + "\n", encoding="utf-8")


def write_docx(summary: Summary, path: Path) -> None:
    from docx import Document

    doc = Document()
    doc.add_heading(summary.title, level=0)
    doc.add_paragraph(summary.preface)
    for section in summary.sections:
        doc.add_heading(section.title, level=1)
        if section.figures:
            table = doc.add_table(rows=1, cols=3)
            table.style = "Table Grid"
            for cell, text in zip(table.rows[0].cells, ("项目", "数值", "单位"), strict=True):
                cell.text = text
            for f in section.figures:
                row = table.add_row().cells
                row[0].text, row[1].text, row[2].text = f.label, f.value, f.unit
        for note in section.notes:
            doc.add_paragraph(note)
        if section.title.startswith("四"):
            for heading in ADVICE:
                doc.add_heading(heading, level=2)
                doc.add_paragraph("（待填写）")
    doc.save(str(path))
