"""`arrears form`: the live form of a unit from the running workers, rolled up over the tree.

The figures come from the workers (`streams.live.gather`); the form around them is
`arrears report`'s (`warehouse.report`: the same table, item sentences, rounding and
`--precision`), only the source differs.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from rich.console import Console

from contracts.calendar import load_campaign
from contracts.cells import CELLS
from contracts.errors import ValidationError
from contracts.registry import Registry
from infra.admin import bootstrap_servers
from infra.errors import InfraError
from infra.settings import Settings
from pipeline.errors import CliError, ExitCode
from pipeline.output import add_json, print_json, warn
from streams.live import Incomplete, cutoff_and_day, gather, unit_form
from warehouse.errors import WarehouseError
from warehouse.kafka_log import log_end, source_topics
from warehouse.offsets import behind
from warehouse.report import UnitForm, parse_precision
from warehouse.report.text import render_table, write_csv


def register(sub: Any) -> None:
    p = sub.add_parser(
        "form",
        help="print a unit's current form (附件2) from the running stream workers",
        description=(
            "Ask every running `arrears worker` for its partitions' tallies, check that together "
            "they cover every partition, roll up over the unit tree and print the form as "
            "`arrears report` does: the table (万人 to 4 places, 万元 to 2, rounded half up "
            "from exact values, unless --precision says otherwise) and the supplementary "
            "items. Figures are for event time through the end of the cutoff day."
        ),
    )
    p.add_argument("--unit", required=True, metavar="CODE", help="reporting unit, e.g. 320400")
    p.add_argument(
        "--cutoff",
        metavar="DATE",
        help="last event day (2024-12-31, or 2024-12-31T23:59:59+08:00); "
        "default: the end of the campaign window",
    )
    add_json(p, "exact values, whether complete, the workers")
    p.add_argument(
        "--format",
        choices=("table", "csv"),
        default="table",
        help="table: the form in the terminal (default); csv: one line per figure with its "
        "exact and its shown value (the CSV of `arrears report`)",
    )
    p.add_argument(
        "--exact",
        action="store_true",
        help="show the exact values (persons, fen) beside the shown ones: --format csv",
    )
    p.add_argument(
        "--precision",
        metavar="persons=N,money=N",
        help="decimal places for 万人 and 万元 (default persons=4,money=2)",
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=30.0,
        metavar="S",
        help="how long to wait for the workers to cover every partition (default 30)",
    )
    p.add_argument(
        "--allow-partial",
        action="store_true",
        help="when some partitions have no ready worker after --timeout (a worker paused, "
        "unreachable or recovering), print the others' figures, marked partial, instead of "
        "failing; the units on the missing partitions are then short",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    registry = Registry.load()
    try:
        unit = registry.unit(args.unit, field="--unit")
    except ValidationError as err:
        raise CliError(str(err), exit_code=ExitCode.USAGE) from err
    try:
        precision = parse_precision(args.precision)
    except WarehouseError as err:
        raise CliError(str(err), exit_code=ExitCode.USAGE) from err
    campaign = load_campaign()
    try:
        parsed, day = cutoff_and_day(args.cutoff, campaign)
        cutoff = parsed.at
    except ValueError as err:
        raise CliError(f"--cutoff: {err}", exit_code=ExitCode.USAGE) from err
    settings = Settings.from_env()
    try:
        live = gather(
            settings,
            day,
            timeout=args.timeout,
            allow_partial=args.allow_partial,
            on_wait=warn,
        )
    except Incomplete as err:
        raise CliError(str(err)) from err
    workers = live.workers
    cells = unit_form(live.own, registry, unit.code)
    # What the workers have not applied yet: the figures are complete only at the log's end.
    try:
        end = log_end(bootstrap_servers(settings), source_topics(settings))
    except (InfraError, WarehouseError) as err:
        raise CliError(
            f"cannot read the log's end to tell whether the form is complete: {err}"
        ) from err
    lagging = (
        behind(end, live.offsets)
        if not live.missing
        else behind(
            {
                t: {p: o for p, o in parts.items() if p not in live.missing}
                for t, parts in end.items()
            },
            live.offsets,
        )
    )
    partial = (
        f"partial: partition(s) {', '.join(map(str, live.missing))} unowned or unreachable"
        + (f" ({'; '.join(live.absent)})" if live.absent else "")
        if live.missing
        else ""
    )
    if args.json:
        print_json(
            {
                "unit": unit.code,
                "name": unit.name,
                "cutoff": cutoff.isoformat(),
                "complete": lagging == 0 and not live.missing,
                "records_behind_log_end": lagging,
                "missing_partitions": list(live.missing),
                "workers": workers,
                "cells": cells,
            }
        )
        return 0
    form = UnitForm(
        unit,
        registry.subtree(unit.code),
        {cell.id: cells.get(cell.id, 0) for cell in CELLS},  # a cell nobody touched is 0
        {"cutoff": cutoff.isoformat(), "source": "live", "workers": workers},
    )
    if args.exact or args.format == "csv":
        write_csv([form], sys.stdout, precision)
        _warn_incomplete(partial, lagging)
        return 0
    console = Console()  # the table fits it: transposed when narrow (warehouse.report.text)
    render_table([form], console, precision)
    console.print(
        f"[dim]live: {len(workers)} worker(s) ({', '.join(workers)}), "
        f"events through the end of {cutoff.date().isoformat()}[/dim]"
    )
    _warn_incomplete(partial, lagging)
    return 0


def _warn_incomplete(partial: str, lagging: int) -> None:
    """On stderr, whatever the format: figures printed short or behind the log say so."""
    if partial:
        warn(f"not complete: {partial}")
    if lagging:
        warn(
            f"not complete: the workers are {lagging:,} records behind the log's end; "
            "wait for them, or cut a snapshot --from kafka"
        )
