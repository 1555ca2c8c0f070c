"""`arrears report SNAPSHOT --unit CODE ...`: the official form 附件2 as xlsx, CSV or a table."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

from rich.console import Console

from pipeline.commands.snapshot import Context
from pipeline.errors import CliError, ExitCode
from warehouse.errors import WarehouseError
from warehouse.report import build_forms, parse_precision
from warehouse.report.form import SCOPES, with_children
from warehouse.snapshot import resolve_snapshot


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "report",
        help="render the form 附件2 (治理欠薪冬季行动情况) from a snapshot: xlsx, csv or table",
        description=(
            "Render the official form for each --unit from a snapshot: its own events plus "
            "its whole subtree (the form says which units it covers). Values are rounded half "
            "up (四舍五入) from the exact values, 万人 to 4 places and 万元 to 2 unless "
            "--precision says otherwise; 合计 is rounded from its exact value.\n\n"
            "xlsx: one sheet per unit in the layout of 附件2 (default file "
            "report-<cutoff>-<units>.xlsx). csv: one line per figure with exact and rounded "
            "values (standard output unless --out). table: the form in the terminal."
        ),
    )
    parser.add_argument(
        "snapshot",
        metavar="SNAPSHOT",
        help="a snapshot directory, CUTOFF/ID, ID or CUTOFF@latest|LABEL",
    )
    parser.add_argument(
        "--unit",
        action="append",
        required=True,
        metavar="CODE",
        help="reporting unit code (repeat for more sheets), e.g. 320400",
    )
    parser.add_argument(
        "--children",
        action="store_true",
        help="add a sheet for each direct child of every --unit (after its parent's)",
    )
    parser.add_argument(
        "--scope",
        choices=SCOPES,
        default="rollup",
        help="rollup: each unit with its whole subtree (default); own: its 本级 events alone",
    )
    parser.add_argument(
        "--format",
        choices=("xlsx", "csv", "table"),
        default="table",
        help="xlsx workbook, csv figures, or the form in the terminal",
    )
    parser.add_argument("--out", type=Path, metavar="FILE", help="output file")
    parser.add_argument(
        "--precision",
        metavar="persons=N,money=N",
        help="decimal places for 万人 and 万元 (default persons=4,money=2)",
    )
    parser.add_argument(
        "--root", type=Path, metavar="DIR", help="snapshot root (default: <state dir>/snapshots)"
    )
    parser.add_argument(
        "--filer",
        metavar="TEXT",
        help="填报单位名称 on every sheet (default: each unit's agency from the registry)",
    )
    parser.add_argument(
        "--filed-on",
        metavar="DATE",
        type=filed_on_date,
        help="填报时间, YYYY-MM-DD, printed as 2024年12月31日 (default: today, +08:00)",
    )
    parser.add_argument("--units", metavar="PATH", help="unit registry TOML (default: shipped)")
    parser.set_defaults(func=run)


def filed_on_date(text: str) -> dt.date:
    """argparse type of `--filed-on`: a date YYYY-MM-DD (report and demo)."""
    try:
        return dt.date.fromisoformat(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a date YYYY-MM-DD, e.g. 2024-12-31"
        ) from err


def run(args: argparse.Namespace) -> int:
    ctx = Context(args)
    try:
        precision = parse_precision(args.precision)
    except WarehouseError as err:
        raise CliError(str(err), ExitCode.USAGE) from err
    try:
        snap = resolve_snapshot(args.snapshot, ctx.root)
    except WarehouseError as err:
        raise CliError(str(err), ExitCode.USAGE) from err
    units = list(dict.fromkeys(args.unit))
    try:
        if args.children:
            units = with_children(units, ctx.registry)
        forms = build_forms(
            snap.cells(),
            snap.meta,
            ctx.registry,
            units,
            filer=args.filer,
            filed_on=args.filed_on,
            scope=args.scope,
        )
    except WarehouseError as err:
        raise CliError(str(err), ExitCode.USAGE) from err
    if args.format == "xlsx":
        from warehouse.report.xlsx import write_xlsx

        out = args.out or Path(f"report-{snap.path.parent.name}-{'-'.join(args.unit)}.xlsx")
        try:
            write_xlsx(forms, out, precision)
        except OSError as err:
            raise CliError(f"cannot write {out}: {err.strerror or err}") from err
        print(f"wrote {out} ({len(forms)} sheet(s), snapshot {snap.id})")
        return 0
    from warehouse.report.text import WIDE, render_table, write_csv

    if args.format == "csv":
        if args.out is None:
            write_csv(forms, sys.stdout, precision)
            return 0
        try:
            with args.out.open("w", encoding="utf-8", newline="") as handle:
                write_csv(forms, handle, precision)
        except OSError as err:
            raise CliError(f"cannot write {args.out}: {err.strerror or err}") from err
        print(f"wrote {args.out}")
        return 0
    console = Console()  # the table fits it: transposed when narrow (warehouse.report.text)
    if args.out is not None:
        with args.out.open("w", encoding="utf-8") as handle:
            render_table(forms, Console(file=handle, width=WIDE), precision)
        print(f"wrote {args.out}")
        return 0
    render_table(forms, console, precision)
    return 0
