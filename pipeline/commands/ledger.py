"""`arrears ledger SNAPSHOT|--cutoff D --unit U [--open]`: the problem ledger (问题清单台账), one
line per employer or project with substantiated leads or verified arrears (the notice's §三)."""

from __future__ import annotations

import argparse
from pathlib import Path

from pipeline.commands.hotspots import (
    add_view_arguments,
    check_unit,
    emit,
    found_hotspots,
)
from pipeline.commands.snapshot import Context
from pipeline.flows.supervision import read_owners, views
from warehouse.report.supervision import LEDGER_HEADINGS, ledger_rows, render_ledger


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "ledger",
        help="the problem ledger (问题清单台账): open and closed cases per employer or project",
        description=(
            "One line per employer or construction project (within a unit under --unit) with "
            "substantiated leads or verified arrears: leads received, substantiated and "
            "merged; verified cases open and closed; arrears verified and resolved (万元, "
            "exact in the files); workers; first seen; the last action and its date; days "
            "open; working days left to the campaign's deadline (the campaign file's "
            "[supervision] deadline, counted with the holiday calendar); the hotspot flag; "
            "who follows it (--owners); and its status: open, or 销号 once every verified case "
            "is resolved and every substantiated lead closed. A line's open cases are the "
            "verified cases the no_open_cases quality expectation lists (one rule).\n\n"
            "From a SNAPSHOT the lines are those stored with it; with --cutoff they come from "
            "the whole archive."
        ),
    )
    add_view_arguments(parser, "the lines")
    parser.add_argument("--open", action="store_true", help="only the lines still open")
    parser.add_argument(
        "--owners",
        type=Path,
        metavar="CSV",
        help="who follows each line: CSV with header id,owner (credit code or project id)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    ctx = Context(args)
    check_unit(ctx, args.unit)
    owners = read_owners(args.owners) if args.owners is not None else {}
    v = views(ctx, args.snapshot, args.cutoff, None)
    under = {u.code for u in ctx.registry.subtree(args.unit)}
    lines = [x for x in v.lines if x.unit in under and (x.status == "open" or not args.open)]
    found = found_hotspots(ctx, v.counts, args.unit, v.rules, None)
    hot = {(h.kind, h.id) for items in found.values() for h in items if h.flagged}
    rows = ledger_rows(lines, hot, owners)
    unit = ctx.registry.unit(args.unit)
    still = sum(r["cases_open"] for r in rows)
    title = (
        f"问题清单台账 {unit.name} ({unit.code}) 截至 {v.cutoff.iso()}\n"
        f"{len(rows)} 条, 未结案件 {still} 件, 期限 {v.rules.deadline.date().isoformat()}\n"
        f"from {v.origin}"
    )
    body = {
        "unit": unit.code,
        "cutoff": v.cutoff.iso(),
        "deadline": v.rules.deadline.isoformat(),
        "origin": v.origin,
        "open_lines": sum(r["status"] == "open" for r in rows),
        "open_cases": still,
        "lines": rows,
    }
    return emit(
        args,
        ("问题清单台账", LEDGER_HEADINGS, rows),
        body,
        lambda console: render_ledger(console, rows, title),
    )
