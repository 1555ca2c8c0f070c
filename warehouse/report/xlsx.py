"""The 附件2 workbook: one sheet per unit, in the official layout (openpyxl)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from contracts.cells import CELL_BY_ID, COLUMNS, ROWS, row_cell
from warehouse.report import layout as L
from warehouse.report.form import UnitForm
from warehouse.report.values import DEFAULT_PRECISION, Precision, places_of, rounded, shown

__all__ = ["write_xlsx", "Geometry", "GEOMETRY"]


class Geometry:
    """Where things sit on a sheet (1-based rows); tests read the workbook back with it."""

    first_col = 3  # column C holds column 1 of the table
    last_col = 2 + len(COLUMNS)
    attachment = 1
    title = 2
    filer = 3
    filed_at = 4
    scope = 5
    head_top = 6
    head_bottom = 7
    numbers = 8
    first_row = 9
    items_heading = first_row + len(ROWS) + 1
    first_item = items_heading + 1

    def item_row(self, index: int) -> int:
        return self.first_item + index

    def signature(self, n_items: int) -> int:
        return self.first_item + n_items + 1

    def notes(self, n_items: int) -> int:
        return self.signature(n_items) + 1

    def source(self, n_items: int) -> int:
        return self.notes(n_items) + len(L.NOTES) + 1


GEOMETRY = Geometry()
_THIN = Side(style="thin")
_BOX = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
_CENTER = Alignment(horizontal="center", vertical="center", wrap_text=True)
_LEFT = Alignment(horizontal="left", vertical="center", wrap_text=True)
_FONT = "宋体"


def write_xlsx(
    forms: Sequence[UnitForm], path: Path, precision: Precision = DEFAULT_PRECISION
) -> Path:
    """Write one sheet per form to `path` (via a temp file and a rename)."""
    book = Workbook()
    book.remove(book.active)
    used: set[str] = set()
    for form in forms:
        sheet = book.create_sheet(_sheet_title(form, used))
        _fill(sheet, form, precision)
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.tmp")
    book.save(temp)
    os.replace(temp, path)
    return path


def _sheet_title(form: UnitForm, used: set[str]) -> str:
    base = f"{form.unit.code} {form.unit.name}"
    for bad in "[]:*?/\\":
        base = base.replace(bad, " ")
    title, n = base[:31], 2
    while title in used:
        title = f"{base[:27]} ({n})"
        n += 1
    used.add(title)
    return title


def _merge_text(
    sheet: Worksheet,
    row: int,
    text: str,
    *,
    align: Alignment = _LEFT,
    font: Font | None = None,
    height: float | None = None,
) -> None:
    g = GEOMETRY
    sheet.merge_cells(start_row=row, start_column=1, end_row=row, end_column=g.last_col)
    cell = sheet.cell(row=row, column=1, value=text)
    cell.alignment = align
    cell.font = font or Font(name=_FONT, size=11)
    if height is not None:
        sheet.row_dimensions[row].height = height


def _lines_needed(text: str, width_chars: float) -> int:
    # CJK characters are about two columns wide in Excel's width unit
    width = sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)
    return max(1, -(-width // int(width_chars)))


def _fill(sheet: Worksheet, form: UnitForm, precision: Precision) -> None:
    g = GEOMETRY
    widths = [24.0, 6.0] + [
        max(12.0, min(16.0, 2.2 * len(L.column_heading(c)) / 2)) for c in COLUMNS
    ]
    for i, width in enumerate(widths, 1):
        sheet.column_dimensions[get_column_letter(i)].width = width
    total_width = sum(widths)

    sheet.cell(row=g.attachment, column=1, value=L.ATTACHMENT).font = Font(name=_FONT, size=11)
    _merge_text(
        sheet,
        g.title,
        L.TITLE,
        align=_CENTER,
        font=Font(name="黑体", size=18, bold=True),
        height=32,
    )
    _merge_text(sheet, g.filer, f"{L.FILER}{form.unit.name}（{form.unit.code}）")
    filed = str(form.meta.get("created_at", ""))[:10]
    _merge_text(sheet, g.filed_at, f"{L.FILED_AT}{filed}")
    scope = f"{L.SCOPE}{form.covers_text()}"
    _merge_text(sheet, g.scope, scope, height=15 * _lines_needed(scope, total_width))

    _header(sheet)
    for r_index, row in enumerate(ROWS):
        r = g.first_row + r_index
        label = sheet.cell(row=r, column=1, value=L.row_label(row))
        number = sheet.cell(row=r, column=2, value=row.number)
        for c in (label, number):
            c.alignment, c.border = _CENTER, _BOX
        for column in COLUMNS:
            measure = column.measure
            value = rounded(form.values[row_cell(row.key, column.key)], measure, precision)
            places = places_of(measure, precision)
            cell = sheet.cell(
                row=r,
                column=g.first_col + column.number - 1,
                value=int(value) if places == 0 else float(value),
            )
            cell.number_format = "0" if places == 0 else "0." + "0" * places
            cell.alignment = Alignment(horizontal="right", vertical="center")
            cell.border = _BOX
        sheet.row_dimensions[r].height = 20

    _merge_text(sheet, g.items_heading, L.ITEMS_HEADING, font=Font(name=_FONT, size=11, bold=True))
    for index, item in enumerate(sorted(L.ITEM_SENTENCES)):
        text = L.render_item(item, lambda cid: _fill_cell(form, cid, precision))
        _merge_text(sheet, g.item_row(index), text, height=16 * _lines_needed(text, total_width))
    n = len(L.ITEM_SENTENCES)
    _merge_text(sheet, g.signature(n), L.SIGNATURE, height=24)
    for i, note in enumerate(L.NOTES):
        _merge_text(sheet, g.notes(n) + i, note, font=Font(name=_FONT, size=10))
    source = (
        f"数据截至 {form.cutoff}；快照 {form.meta.get('snapshot_id', '')}"
        f"（{form.meta.get('label') or form.meta.get('source', '')}）；"
        "数值由精确值四舍五入，合计由各行精确值相加后舍入。"
    )
    _merge_text(sheet, g.source(n), source, font=Font(name=_FONT, size=9, italic=True))
    sheet.print_title_rows = f"{g.head_top}:{g.numbers}"
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.fitToWidth = 1


def _fill_cell(form: UnitForm, cell_id: str, precision: Precision) -> str:
    measure = CELL_BY_ID[cell_id].measure
    return f" {shown(form.values[cell_id], measure, precision)} {measure.unit}"


def _header(sheet: Worksheet) -> None:
    g = GEOMETRY
    for col, text in ((1, L.HEAD_LABEL), (2, L.HEAD_NUMBER)):
        sheet.merge_cells(
            start_row=g.head_top, start_column=col, end_row=g.head_bottom, end_column=col
        )
        sheet.cell(row=g.head_top, column=col, value=text)
    for group, columns in L.header_groups():
        first = g.first_col + columns[0].number - 1
        last = g.first_col + columns[-1].number - 1
        if last > first:
            sheet.merge_cells(
                start_row=g.head_top, start_column=first, end_row=g.head_top, end_column=last
            )
        sheet.cell(row=g.head_top, column=first, value=group)
    for column in COLUMNS:
        col = g.first_col + column.number - 1
        sheet.cell(row=g.head_bottom, column=col, value=L.column_heading(column))
        sheet.cell(row=g.numbers, column=col, value=column.number)
    for r in (g.head_top, g.head_bottom, g.numbers):
        for col in range(1, g.last_col + 1):
            cell = sheet.cell(row=r, column=col)
            cell.alignment, cell.border = _CENTER, _BOX
            cell.font = Font(name=_FONT, size=10, bold=r != g.numbers)
    sheet.row_dimensions[g.head_top].height = 22
    sheet.row_dimensions[g.head_bottom].height = 48
