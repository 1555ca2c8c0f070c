"""`arrears hotspots SNAPSHOT|--cutoff D --unit U`: where leads are many (量大) or growing
fast (增幅快): units, projects and employers under U (the notice's §三)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console

from contracts.errors import ContractError
from contracts.supervision import Hotspot, Rules, hotspots
from pipeline.commands.snapshot import Context, add_common
from pipeline.errors import CliError, ExitCode
from pipeline.flows.supervision import parse_window, views
from pipeline.output import add_json, print_json
from warehouse.report.supervision import (
    HOTSPOT_HEADINGS,
    hotspot_rows,
    render_hotspots,
    write_rows_csv,
    write_rows_xlsx,
)

WIDTH = 80


def add_view_arguments(parser: argparse.ArgumentParser, what: str) -> None:
    """SNAPSHOT or --cutoff, --unit, --json (of `what`), --out: what hotspots, ledger share."""
    parser.add_argument(
        "snapshot",
        nargs="?",
        metavar="SNAPSHOT",
        help="a snapshot directory, CUTOFF/ID, ID or CUTOFF@latest|LABEL (or give --cutoff)",
    )
    parser.add_argument(
        "--cutoff",
        metavar="DATE",
        help="instead of a snapshot: YYYY-MM-DD, an ISO time with offset or a campaign "
        "cutoff name, computed from the whole archive",
    )
    parser.add_argument("--unit", required=True, metavar="CODE", help="reporting unit, e.g. 320400")
    add_json(parser, f"{what} with every field, exact amounts")
    parser.add_argument(
        "--out",
        type=Path,
        metavar="FILE",
        help="write FILE.xlsx (one sheet, filterable) or FILE.csv",
    )
    add_common(parser)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "hotspots",
        help="rank units, projects and employers by complaint leads (量大, 增幅快)",
        description=(
            "Rank the units, construction projects and employers under --unit by the leads "
            "received in the window ending at the cutoff (every intake; a duplicate merged "
            "into another lead counts once), with the growth on the window before, the share "
            "substantiated and the amounts claimed. A hotspot is flagged 量大 (many leads) or "
            "增幅快 (fast growth) by the thresholds in the campaign file's [supervision] "
            "table (window_days, many_leads, fast_growth_pct, fast_growth_min_leads).\n\n"
            "From a SNAPSHOT the figures are those stored with it (or, for another --window, "
            "the archive at its offsets); with --cutoff they come from the whole archive. "
            "The events count as they do on the form: corrections, retractions and resends "
            "resolved by the same Ledger."
        ),
    )
    add_view_arguments(parser, "the hotspots")
    parser.add_argument("--window", metavar="Nd", help="window length (default: the campaign's)")
    parser.add_argument("--top", type=int, default=10, metavar="N", help="N of each kind")
    parser.add_argument(
        "--by", choices=("leads", "growth"), default="leads", help="rank by leads or growth"
    )
    parser.set_defaults(func=run)


def found_hotspots(
    ctx: Context, counts: Any, unit: str, rules: Rules, top: int | None, by: str = "leads"
) -> dict[str, list[Hotspot]]:
    try:
        return hotspots(counts, ctx.registry, unit, rules, top=top, by=by)
    except ContractError as err:
        raise CliError(str(err), ExitCode.USAGE) from err


def write_out(path: Path, title: str, headings: Any, rows: list[dict[str, Any]]) -> None:
    try:
        if path.suffix == ".xlsx":
            write_rows_xlsx(path, title, headings, rows)
        elif path.suffix == ".csv":
            with path.open("w", encoding="utf-8", newline="") as handle:
                write_rows_csv(handle, headings, rows)
        else:
            raise CliError(f"--out {path}: name a .xlsx or a .csv file", ExitCode.USAGE)
    except OSError as err:
        raise CliError(f"cannot write {path}: {err.strerror or err}") from err
    print(f"wrote {path} ({len(rows)} rows)")


def run(args: argparse.Namespace) -> int:
    if args.top < 1:
        raise CliError(f"--top {args.top}: give at least 1", ExitCode.USAGE)
    ctx = Context(args)
    check_unit(ctx, args.unit)
    window = None if args.window is None else parse_window(args.window)
    v = views(ctx, args.snapshot, args.cutoff, window)
    found = found_hotspots(ctx, v.counts, args.unit, v.rules, args.top, args.by)
    rows = hotspot_rows(found)
    unit = ctx.registry.unit(args.unit)
    title = (
        f"重点线索 {unit.name} ({unit.code}) 截至 {v.cutoff.iso()}\n"
        f"近{v.rules.window_days}日 vs 前{v.rules.window_days}日; 量大 >= {v.rules.many_leads}, "
        f"增幅快 >= +{v.rules.fast_growth_pct}% (>= {v.rules.fast_growth_min_leads} 条)\n"
        f"from {v.origin}"
    )
    body = {
        "unit": unit.code,
        "cutoff": v.cutoff.iso(),
        "window_days": v.rules.window_days,
        "thresholds": {
            "many_leads": v.rules.many_leads,
            "fast_growth_pct": v.rules.fast_growth_pct,
            "fast_growth_min_leads": v.rules.fast_growth_min_leads,
        },
        "origin": v.origin,
        "hotspots": rows,
    }
    return emit(
        args,
        ("重点地区项目企业", HOTSPOT_HEADINGS, rows),
        body,
        lambda console: render_hotspots(console, found, title),
    )


def emit(
    args: argparse.Namespace,
    sheet: tuple[str, Any, list[dict[str, Any]]],
    body: dict[str, Any],
    render: Callable[[Console], None],
) -> int:
    """--out FILE (the sheet's title, headings and rows), --json (body), or the table."""
    if args.out is not None:
        write_out(args.out, *sheet)
    elif args.json:
        print_json(body)
    else:
        render(Console(width=WIDTH, highlight=False))
    return 0


def check_unit(ctx: Context, code: str) -> None:
    """--unit must be in the registry; the registry's message names the known ones."""
    try:
        ctx.registry.unit(code, field="--unit")
    except ContractError as err:
        raise CliError(str(err), ExitCode.USAGE) from err
