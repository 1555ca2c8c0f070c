"""`arrears form`: the live form of a unit from the running workers, rolled up over the tree."""

from __future__ import annotations

import argparse
import json
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from rich.console import Console
from rich.table import Table

from contracts.calendar import load_campaign
from contracts.cells import COLUMNS, ITEMS, ROWS, Measure, row_cell
from contracts.errors import ValidationError
from contracts.registry import Registry
from infra.settings import Settings
from pipeline.errors import CliError, ExitCode

_MIN_WIDTH = 200


def register(sub: Any) -> None:
    p = sub.add_parser(
        "form",
        help="print a unit's current form (附件2) from the running stream workers",
        description=(
            "Ask every running `arrears worker` for its partitions' tallies, check that together "
            "they cover every partition, roll up over the unit tree and print the form: the "
            "table (rows x columns, 万人/万元 rounded half up from exact values) and the "
            "supplementary items. Figures are for event time through the end of the cutoff day."
        ),
    )
    p.add_argument("--unit", required=True, metavar="CODE", help="reporting unit, e.g. 320400")
    p.add_argument(
        "--cutoff",
        metavar="DATE",
        help="last event day (2024-12-31, or 2024-12-31T23:59:59+08:00); "
        "default: the end of the campaign window",
    )
    p.add_argument("--json", action="store_true", help="print exact values as JSON instead")
    p.add_argument(
        "--exact", action="store_true", help="show exact values (persons, fen) instead of 万人/万元"
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=30.0,
        metavar="S",
        help="how long to wait for the workers to cover every partition (default 30)",
    )
    p.set_defaults(func=run)


def show(value: int, measure: Measure, exact: bool) -> str:
    """万人/万元 rounded half up (四舍五入) from the exact value; counts as they are."""
    if exact or measure.divisor == 1:
        return f"{value:,}"
    scaled = (Decimal(value) / Decimal(measure.divisor)).quantize(
        Decimal(1).scaleb(-measure.places), rounding=ROUND_HALF_UP
    )
    return f"{scaled:,}"


def run(args: argparse.Namespace) -> int:
    from streams.live import Incomplete, cutoff_and_day, gather, unit_form

    registry = Registry.load()
    try:
        unit = registry.unit(args.unit, field="--unit")
    except ValidationError as err:
        raise CliError(str(err), exit_code=ExitCode.USAGE) from err
    campaign = load_campaign()
    try:
        parsed, day = cutoff_and_day(args.cutoff, campaign)
        cutoff = parsed.at
    except ValueError as err:
        raise CliError(f"--cutoff: {err}", exit_code=ExitCode.USAGE) from err
    settings = Settings.from_env()
    try:
        live = gather(settings, day, timeout=args.timeout)
    except Incomplete as err:
        raise CliError(str(err)) from err
    workers = live.workers
    cells = unit_form(live.own, registry, unit.code)
    if args.json:
        print(
            json.dumps(
                {
                    "unit": unit.code,
                    "name": unit.name,
                    "cutoff": cutoff.isoformat(),
                    "complete": True,
                    "workers": workers,
                    "cells": cells,
                },
                ensure_ascii=False,
                indent=2,
            )
        )
        return 0
    console = Console()
    if console.width < _MIN_WIDTH:  # piped or narrow: keep the headings whole rather than elided
        console = Console(width=_MIN_WIDTH)
    title = (
        f"治理欠薪冬季行动情况  {unit.name} ({unit.code})  截至 {cutoff.date().isoformat()}"
        f"  [dim]rolled up over {len(registry.subtree(unit.code))} unit(s); "
        f"{len(workers)} worker(s)[/dim]"
    )
    table = Table(title=title, show_lines=False)
    table.add_column("序号", justify="right")
    table.add_column("行业")
    for col in COLUMNS:
        unit_label = (
            "人"
            if args.exact and col.measure.unit == "万人"
            else ("元(分)" if args.exact and col.measure.unit == "万元" else col.measure.unit)
        )
        table.add_column(f"{col.number}. {col.heading}\n({unit_label})", justify="right")
    for row in ROWS:
        label = f"{row.label}（{row.note}）" if row.note else row.label
        table.add_row(
            str(row.number),
            label,
            *(
                show(cells.get(row_cell(row.key, col.key), 0), col.measure, args.exact)
                for col in COLUMNS
            ),
        )
    console.print(table)
    items = Table(title="其他情况", show_header=True)
    items.add_column("项")
    items.add_column("指标")
    items.add_column("数值", justify="right")
    items.add_column("单位")
    for item in ITEMS:
        measure_unit = (
            item.measure.unit
            if not args.exact
            else {"万人": "人", "万元": "分"}.get(item.measure.unit, item.measure.unit)
        )
        items.add_row(
            str(item.item),
            item.label,
            show(cells.get(item.id, 0), item.measure, args.exact),
            measure_unit,
        )
    console.print(items)
    return 0
