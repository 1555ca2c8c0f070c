"""The form as CSV (one row per figure, exact and rounded) and as a terminal table."""

from __future__ import annotations

import csv
import re
from collections.abc import Sequence
from typing import IO

from rich import box
from rich.cells import cell_len
from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from contracts.cells import CELL_BY_ID, COLUMNS, ITEMS, ROWS, row_cell
from warehouse.report import layout as L
from warehouse.report.form import UnitForm
from warehouse.report.values import DEFAULT_PRECISION, Precision, shown

__all__ = ["CSV_HEADER", "WIDE", "write_csv", "render_table"]

#: The terminal width the form needs as printed (rows down, the 11 figure columns across);
#: narrower, it is transposed: the figure columns down, the five rows across.
WIDE = 180

CSV_HEADER = (
    "unit",
    "unit_name",
    "cutoff",
    "snapshot_id",
    "section",
    "row",
    "row_number",
    "column",
    "cell",
    "label",
    "measure",
    "exact",
    "value",
)


def write_csv(
    forms: Sequence[UnitForm], out: IO[str], precision: Precision = DEFAULT_PRECISION
) -> None:
    """Every on-form figure of every form: `exact` in persons/fen/counts, `value` as shown."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for form in forms:
        head = (form.unit.code, form.unit.name, form.cutoff, form.meta.get("snapshot_id", ""))
        for row in ROWS:
            for column in COLUMNS:
                cell = CELL_BY_ID[row_cell(row.key, column.key)]
                value = form.values[cell.id]
                writer.writerow(
                    (
                        *head,
                        "table",
                        L.row_label(row),
                        row.number,
                        column.number,
                        cell.id,
                        column.heading,
                        cell.measure.unit,
                        value,
                        shown(value, cell.measure, precision),
                    )
                )
        for item in ITEMS:
            value = form.values[item.id]
            writer.writerow(
                (
                    *head,
                    f"item{item.item}",
                    "",
                    "",
                    "",
                    item.id,
                    item.label,
                    item.measure.unit,
                    value,
                    shown(value, item.measure, precision),
                )
            )


def render_table(
    forms: Sequence[UnitForm], console: Console, precision: Precision = DEFAULT_PRECISION
) -> None:
    """The form as a table that fits `console`: as printed when it is WIDE columns or more,
    else transposed; box lines only on a terminal. The supplementary items follow."""
    if not console.is_terminal:  # a file or a pipe: plain lines, no padding at their ends
        with console.capture() as captured:
            _render(forms, console, precision, None)
        stripped = "\n".join(line.rstrip() for line in captured.get().split("\n"))
        console.out(stripped, highlight=False, end="")
        return
    _render(forms, console, precision, box.HEAVY_HEAD)


def _render(
    forms: Sequence[UnitForm], console: Console, precision: Precision, lines: box.Box | None
) -> None:
    for form in forms:
        console.print(Text("\n".join(_title(form, console.width))))
        if console.width >= WIDE:
            console.print(_table(form, precision, lines))
        else:  # no lines: at 80 columns each heading keeps its line beside its figures
            console.print(_transposed(form, precision))
        console.print(Group(*(Text(line) for line in _item_lines(form, precision))))
        console.print()


def _title(form: UnitForm, width: int) -> list[str]:
    """The title lines, the 汇总范围 line broken between units only, never inside a code
    or a name as rich's wrapping of unspaced Chinese would."""
    return [
        f"{L.TITLE}  {form.unit.name}（{form.unit.code}）  截至 {form.cutoff}",
        f"{L.FILER}{form.filer}    {L.FILED_AT}{L.filed_on_text(form.filed_on)}",
        *_between_units(f"{L.SCOPE}{form.covers_text()}", width),
    ]


def _between_units(text: str, width: int) -> list[str]:
    """`text` in lines of at most `width` cells, broken only after a 、 or a ：, the marks
    that end a unit's entry ("天宁区（320402）、"). An entry wider than `width` keeps its
    own line (the console folds it)."""
    lines = [""]
    for entry in re.split(r"(?<=[、：])", text):
        if lines[-1] and cell_len(lines[-1] + entry) > width:
            lines.append("")
        lines[-1] += entry
    return lines


def _transposed(form: UnitForm, precision: Precision) -> Table:
    """The figure columns as rows ("2 涉及职工人数(万人)"), the form's rows as columns;
    at 80 columns every heading stays on one line beside its five figures."""
    table = Table(box=None, pad_edge=False)
    table.add_column(f"{L.HEAD_NUMBER} {L.HEAD_LABEL}", overflow="fold")
    for row in ROWS:
        note = f"\n（{row.note}）" if row.note else ""
        table.add_column(
            f"{row.number} {row.label}{note}", justify="right", overflow="fold", max_width=10
        )
    for column in COLUMNS:
        table.add_row(
            f"{column.number} {L.column_heading(column)}",
            *(
                shown(form.values[row_cell(row.key, column.key)], column.measure, precision)
                for row in ROWS
            ),
        )
    return table


def _table(form: UnitForm, precision: Precision, lines: box.Box | None) -> Table:
    table = Table(show_lines=False, box=lines)
    table.add_column(L.HEAD_LABEL, no_wrap=True)
    table.add_column(L.HEAD_NUMBER, justify="right")
    for column in COLUMNS:
        table.add_column(
            f"{column.number}\n{L.column_heading(column)}",
            justify="right",
            overflow="fold",
            min_width=9,
        )
    for row in ROWS:
        table.add_row(
            L.row_label(row),
            str(row.number),
            *(shown(form.values[row_cell(row.key, c.key)], c.measure, precision) for c in COLUMNS),
        )
    return table


def _item_lines(form: UnitForm, precision: Precision) -> list[str]:
    def fill(cell_id: str) -> str:
        measure = CELL_BY_ID[cell_id].measure
        return f" {shown(form.values[cell_id], measure, precision)} {measure.unit}"

    return [L.ITEMS_HEADING] + [L.render_item(i, fill) for i in sorted(L.ITEM_SENTENCES)]
