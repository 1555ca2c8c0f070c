"""The 附件2 workbook: one sheet per unit, in the official layout (openpyxl)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from openpyxl import Workbook
from openpyxl.cell.cell import Cell
from openpyxl.styles import Alignment, Border, Font, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.page import PageMargins
from openpyxl.worksheet.properties import PageSetupProperties
from openpyxl.worksheet.worksheet import Worksheet

from contracts.cells import CELL_BY_ID, COLUMNS, ROWS, row_cell
from warehouse.report import layout as L
from warehouse.report.form import UnitForm
from warehouse.report.values import DEFAULT_PRECISION, Precision, places_of, rounded, shown

__all__ = ["write_xlsx", "Geometry", "GEOMETRY"]


class Geometry:
    """Where things sit on a sheet (1-based rows and columns); tests read the workbook back.

    The 甲 column is two cells wide, as the notice prints it: column A holds
    "(工程建设领域)" beside 建筑业 in column B; 甲 and 合计 span both.
    """

    note_col = 1  # A: "(工程建设领域)"
    label_col = 2  # B: 合计 (spanning A:B), 建筑业, 制造业, ...
    number_col = 3  # C: 序号
    first_col = 4  # D holds column 1 of the table
    last_col = 3 + len(COLUMNS)
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

    def print_area(self, n_items: int) -> str:
        return f"A1:{get_column_letter(self.last_col)}{self.source(n_items)}"


GEOMETRY = Geometry()
_THIN = Side(style="thin")
_BOX = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
_CENTER = Alignment(horizontal="center", vertical="center", wrap_text=True)
_LEFT = Alignment(horizontal="left", vertical="center", wrap_text=True)
_FONT = "宋体"
#: Column widths (Excel units): A "(工程建设领域)", B the row, C 序号, then the figures.
_WIDTHS = (15.0, 8.0, 5.0) + (13.0,) * len(COLUMNS)
#: Page margins in inches (about 15 mm left and right, 18 mm top and bottom).
_MARGINS = PageMargins(left=0.6, right=0.6, top=0.7, bottom=0.7, header=0.3, footer=0.3)


def write_xlsx(
    forms: Sequence[UnitForm], path: Path, precision: Precision = DEFAULT_PRECISION
) -> Path:
    """Write one sheet per form to `path` (via a temp file and a rename).

    Each sheet prints on one A4 landscape page: fit to one page wide and tall,
    centred, the form as the print area and its header rows as print titles.
    """
    book = Workbook()
    book.remove(book.active)
    used: set[str] = set()
    for form in forms:
        sheet = book.create_sheet(_sheet_title(form, used))
        _fill(sheet, form, precision)
        _page_setup(sheet)
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.tmp")
    book.save(temp)
    os.replace(temp, path)
    return path


def _page_setup(sheet: Worksheet) -> None:
    g = GEOMETRY
    setup = sheet.page_setup
    setup.paperSize = sheet.PAPERSIZE_A4
    setup.orientation = sheet.ORIENTATION_LANDSCAPE
    setup.fitToWidth = 1
    setup.fitToHeight = 1
    # without fitToPage, Excel and LibreOffice ignore fitToWidth/fitToHeight
    sheet.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=True)
    sheet.page_margins = _MARGINS
    sheet.print_options.horizontalCentered = True
    sheet.print_area = g.print_area(len(L.ITEM_SENTENCES))
    sheet.print_title_rows = f"{g.head_top}:{g.numbers}"


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
    # CJK characters are about two columns wide in Excel's width unit; keep a margin
    width = sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)
    return max(1, -(-width // int(width_chars * 0.9)))


def _boxed(sheet: Worksheet, row: int, col: int, value: object = None) -> Cell:
    cell = sheet.cell(row=row, column=col)
    if value is not None:
        cell.value = value
    cell.alignment, cell.border = _CENTER, _BOX
    cell.font = Font(name=_FONT, size=10)
    return cell


def _fill(sheet: Worksheet, form: UnitForm, precision: Precision) -> None:
    g = GEOMETRY
    for i, width in enumerate(_WIDTHS, 1):
        sheet.column_dimensions[get_column_letter(i)].width = width
    total_width = sum(_WIDTHS)

    sheet.cell(row=g.attachment, column=1, value=L.ATTACHMENT).font = Font(name=_FONT, size=11)
    _merge_text(
        sheet,
        g.title,
        L.TITLE,
        align=_CENTER,
        font=Font(name="黑体", size=18, bold=True),
        height=32,
    )
    _merge_text(sheet, g.filer, f"{L.FILER}{form.filer}", height=18)
    _merge_text(sheet, g.filed_at, f"{L.FILED_AT}{L.filed_on_text(form.filed_on)}", height=18)
    scope = f"{L.SCOPE}{form.covers_text()}"
    _merge_text(sheet, g.scope, scope, height=15 * _lines_needed(scope, total_width))

    _header(sheet)
    for r_index, row in enumerate(ROWS):
        r = g.first_row + r_index
        if r_index == 0:  # 合计 spans the two cells of 甲
            sheet.merge_cells(
                start_row=r, start_column=g.note_col, end_row=r, end_column=g.label_col
            )
            _boxed(sheet, r, g.note_col, row.label)
            _boxed(sheet, r, g.label_col)
        else:
            _boxed(sheet, r, g.note_col, f"({row.note})" if row.note else None)
            _boxed(sheet, r, g.label_col, row.label)
        _boxed(sheet, r, g.number_col, row.number)
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
            cell.font = Font(name=_FONT, size=10)
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
        f"（{form.meta.get('label') or form.meta.get('source', '')}，"
        f"生成于 {form.meta.get('created_at', '')}）；"
        "数值由精确值四舍五入，合计由各行精确值相加后舍入。"
    )
    _merge_text(
        sheet,
        g.source(n),
        source,
        font=Font(name=_FONT, size=9, italic=True),
        height=14 * _lines_needed(source, total_width),
    )


def _fill_cell(form: UnitForm, cell_id: str, precision: Precision) -> str:
    measure = CELL_BY_ID[cell_id].measure
    return f" {shown(form.values[cell_id], measure, precision)} {measure.unit}"


def _header(sheet: Worksheet) -> None:
    g = GEOMETRY
    sheet.merge_cells(
        start_row=g.head_top, start_column=g.note_col, end_row=g.head_bottom, end_column=g.label_col
    )
    sheet.cell(row=g.head_top, column=g.note_col, value=L.HEAD_LABEL)
    sheet.merge_cells(
        start_row=g.head_top,
        start_column=g.number_col,
        end_row=g.head_bottom,
        end_column=g.number_col,
    )
    sheet.cell(row=g.head_top, column=g.number_col, value=L.HEAD_NUMBER)
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
    # the column-number row: blank under 甲, then 1 (序号) and 2-12 as the notice prints it
    sheet.merge_cells(
        start_row=g.numbers, start_column=g.note_col, end_row=g.numbers, end_column=g.label_col
    )
    for offset, number in enumerate(L.number_row()):
        sheet.cell(row=g.numbers, column=g.number_col + offset, value=number)
    for r in (g.head_top, g.head_bottom, g.numbers):
        for col in range(1, g.last_col + 1):
            cell = sheet.cell(row=r, column=col)
            cell.alignment, cell.border = _CENTER, _BOX
            cell.font = Font(name=_FONT, size=10, bold=r != g.numbers)
    sheet.row_dimensions[g.head_top].height = 22
    sheet.row_dimensions[g.head_bottom].height = 48
