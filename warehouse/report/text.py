"""The form as CSV (one row per figure, exact and rounded) and as a terminal table."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from typing import IO

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from contracts.cells import CELL_BY_ID, COLUMNS, ITEMS, ROWS, row_cell
from warehouse.report import layout as L
from warehouse.report.form import UnitForm
from warehouse.report.values import DEFAULT_PRECISION, Precision, shown

__all__ = ["CSV_HEADER", "write_csv", "render_table"]

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
    for form in forms:
        console.print(_table(form, precision))
        console.print(Group(*(Text(line) for line in _item_lines(form, precision))))
        console.print()


def _table(form: UnitForm, precision: Precision) -> Table:
    title = (
        f"{L.TITLE}  {form.unit.name}（{form.unit.code}）  截至 {form.cutoff}\n"
        f"{L.FILER}{form.filer}    {L.FILED_AT}{L.filed_on_text(form.filed_on)}\n"
        f"{L.SCOPE}{form.covers_text()}"
    )
    table = Table(title=title, title_justify="left", show_lines=False)
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
