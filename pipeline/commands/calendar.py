"""`arrears calendar`: each report's cutoff, due time and working days left."""

from __future__ import annotations

import argparse
import datetime as dt
from typing import Any

from rich.console import Console
from rich.table import Table

from contracts.calendar import (
    CalendarError,
    Campaign,
    Deadline,
    is_working_day,
    load_campaign,
    working_days_between,
)
from contracts.clock import CST
from pipeline.errors import CliError, ExitCode
from pipeline.output import add_json, print_json, table_box

#: Below this width the table drops its "rule" column and the years of its dates.
_WIDE = 112


def register(sub: Any) -> None:
    p = sub.add_parser(
        "calendar",
        help="show the campaign window, cutoffs and report due dates (working days left)",
        description=(
            "Print, per reporting level, each cutoff, its due time and the working days left "
            "from today (chinesecalendar, make-up working days included), then a note for "
            "each due date that falls on a non-working day or before its own data cutoff, "
            "and what that means."
        ),
    )
    p.add_argument(
        "--today", metavar="YYYY-MM-DD", help="count from this date (default: today in +08:00)"
    )
    p.add_argument(
        "--config",
        metavar="PATH",
        help="campaign config TOML (default: the shipped campaign-2024.toml)",
    )
    add_json(p, "the window and one object per report")
    p.add_argument(
        "--snapshot",
        metavar="SNAPSHOT",
        help="also say how many verified cases the snapshot's problem ledger holds open, "
        "against the working days left to the campaign's deadline ([supervision] deadline)",
    )
    p.add_argument(
        "--unit", metavar="CODE", help="with --snapshot: count under this unit (default: all)"
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    today = _parse_today(args.today)
    try:
        campaign = load_campaign(args.config)
        reports = _reports(campaign, today)
    except CalendarError as err:
        raise CliError(str(err), exit_code=ExitCode.USAGE if args.config else 1) from err
    if args.json:
        print_json(
            {
                "campaign": campaign.name,
                "window_start": campaign.window_start.isoformat(),
                "window_end": campaign.window_end.isoformat(),
                "today": today.isoformat(),
                "reports": reports,
            }
        )
        return 0
    console = Console()
    console.print(_table(campaign, today, reports, wide=console.width >= _WIDE, console=console))
    notes = [(d, text) for d in campaign.due_dates() for text in deadline_notes(d, campaign)]
    if notes:
        console.print("notes:")
    for d, text in notes:
        console.print(f"- {d.level} → {d.to} {d.cutoff}: {text}")
    if args.snapshot is not None:
        console.print(_open_cases(args, today), highlight=False)
    return 0


def _open_cases(args: argparse.Namespace, today: dt.date) -> str:
    """The snapshot ledger's open verified cases and the working days left to the deadline."""
    from contracts.errors import ContractError
    from contracts.supervision import load_rules
    from infra.settings import Settings
    from warehouse.errors import WarehouseError
    from warehouse.snapshot import resolve_snapshot
    from warehouse.supervision import LEDGER_FILE

    try:
        rules = load_rules(args.config)
        snap = resolve_snapshot(args.snapshot, Settings.from_env().state_dir / "snapshots")
        ledger = snap.table(LEDGER_FILE)
    except (ContractError, WarehouseError) as err:
        raise CliError(str(err), exit_code=ExitCode.USAGE) from err
    if ledger is None:
        raise CliError(
            f"snapshot {snap.id} stores no problem ledger (cut before it existed, or from the "
            "live workers); use `arrears ledger SNAPSHOT --unit CODE` instead",
            exit_code=ExitCode.USAGE,
        )
    rows = ledger.to_dicts()
    if args.unit is not None:
        from contracts.registry import Registry

        try:
            under = {u.code for u in Registry.load().subtree(args.unit)}
        except ContractError as err:
            raise CliError(str(err), exit_code=ExitCode.USAGE) from err
        rows = [r for r in rows if r["unit"] in under]
    still = sum(int(r["cases_open"]) for r in rows)
    deadline = rules.deadline.date()
    left = working_days_between(today, deadline)
    return (
        f"open verified cases in snapshot {snap.id} ({args.unit or 'all units'}, cutoff "
        f"{snap.cutoff}): {still} on {sum(r['cases_open'] > 0 for r in rows)} ledger lines; "
        f"{left} working days from {today.isoformat()} to the deadline {deadline.isoformat()} "
        "(every verified case closed before the Spring Festival)"
    )


def deadline_notes(d: Deadline, campaign: Campaign) -> list[str]:
    """What a person should know of a due date: a non-working day, or before its cutoff."""
    out = []
    if d.due < d.cutoff_at:
        out.append(
            f"due {d.due:%Y-%m-%d %H:%M}, before its data cutoff {d.cutoff_at:%H:%M:%S}: "
            f"the form sent then cannot hold the events of "
            f"{d.due:%H:%M}-{d.cutoff_at:%H:%M:%S}, nor those recorded late; cut it when it "
            f"is sent (`snapshot --label close-of-business`), and what comes after reaches "
            f"{campaign.level_names.get(d.to, d.to)} in a restated snapshot of the same "
            f"cutoff (`arrears diff` names the changes)"
        )
    day = d.due.date()
    if not is_working_day(day):
        before = day - dt.timedelta(days=1)
        while not is_working_day(before):
            before -= dt.timedelta(days=1)
        out.append(
            f"due {day.isoformat()}, a non-working day (holiday or weekend; chinesecalendar): "
            f"the bureaus are closed that day, so send by {before.isoformat()}, the last "
            f"working day before it"
        )
    return out


def _parse_today(raw: str | None) -> dt.date:
    if raw is None:
        return dt.datetime.now(CST).date()
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise CliError(
            f"--today {raw!r} is not a date; expected YYYY-MM-DD, e.g. 2024-12-31",
            exit_code=ExitCode.USAGE,
        ) from None


def _reports(campaign: Campaign, today: dt.date) -> list[dict[str, Any]]:
    """One report per reporting level and cutoff, as `calendar --json` prints it."""
    reports: list[dict[str, Any]] = []
    for d in campaign.due_dates():
        due_day = d.due.date()
        left = working_days_between(today, due_day)
        if today > due_day:
            status = "overdue"
        elif today == due_day:
            status = "due today"
        else:
            status = "open"
        reports.append(
            {
                "level": d.level,
                "to": d.to,
                "cutoff": d.cutoff,
                "data_through": d.cutoff_at.isoformat(),
                "due": d.due.isoformat(),
                "rule": d.rule,
                "working_days_left": left,
                "status": status,
            }
        )
    return reports


def _left(report: dict[str, Any]) -> str:
    left = int(report["working_days_left"])
    if report["status"] == "overdue":
        return f"overdue ({-left})"
    return "due today" if report["status"] == "due today" else str(left)


def _table(
    campaign: Campaign,
    today: dt.date,
    reports: list[dict[str, Any]],
    *,
    wide: bool,
    console: Console,
) -> Table:
    title = (
        f"{campaign.name}  window {campaign.window_start:%Y-%m-%d %H:%M} .. "
        f"{campaign.window_end:%Y-%m-%d %H:%M:%S} (+08:00)  today {today.isoformat()}"
    )
    table = Table(title=title, title_justify="left", box=table_box(console))
    # Narrow: no years (the title has them), so every column stays whole at 80 columns.
    through = "%Y-%m-%d %H:%M:%S" if wide else "%m-%d %H:%M:%S"
    due = "%y-%m-%d %H:%M"
    columns = ["report", "cutoff", "data through", "due"] + (["rule"] if wide else [])
    for col in columns:
        table.add_column(col, no_wrap=True)
    table.add_column("working days left" if wide else "days left", justify="right")
    for r in reports:
        rule = str(r["rule"])
        row = [
            f"{r['level']} → {r['to']}",
            str(r["cutoff"]),
            dt.datetime.fromisoformat(r["data_through"]).strftime(through),
            dt.datetime.fromisoformat(r["due"]).strftime("%Y-%m-%d %H:%M" if wide else due),
        ]
        if wide:
            row.append("fixed" if rule.startswith("fixed") else f"+{rule.split()[0]} working days")
        table.add_row(*row, _left(r))
    return table
