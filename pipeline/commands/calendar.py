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

_MIN_WIDTH = 112


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
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    today = _parse_today(args.today)
    try:
        campaign = load_campaign(args.config)
        rows = _rows(campaign, today)
    except CalendarError as err:
        raise CliError(str(err), exit_code=ExitCode.USAGE if args.config else 1) from err
    console = Console()
    if console.width < _MIN_WIDTH:  # piped output: keep the dates whole rather than elided
        console = Console(width=_MIN_WIDTH)
    console.print(_table(campaign, today, rows))
    notes = [(d, text) for d in campaign.due_dates() for text in deadline_notes(d, campaign)]
    if notes:
        console.print("notes:")
    for d, text in notes:
        console.print(f"- {d.level} → {d.to} {d.cutoff}: {text}")
    return 0


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


def _rows(campaign: Campaign, today: dt.date) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    for d in campaign.due_dates():
        due_day = d.due.date()
        left = working_days_between(today, due_day)
        if today > due_day:
            status = f"overdue ({-left})"
        elif today == due_day:
            status = "due today"
        else:
            status = str(left)
        rows.append(
            (
                f"{d.level} → {d.to}",
                d.cutoff,
                d.cutoff_at.strftime("%Y-%m-%d %H:%M:%S"),
                d.due.strftime("%Y-%m-%d %H:%M"),
                "fixed" if d.rule.startswith("fixed") else f"+{d.rule.split()[0]} working days",
                status,
            )
        )
    return rows


def _table(campaign: Campaign, today: dt.date, rows: list[tuple[str, ...]]) -> Table:
    title = (
        f"{campaign.name}  window {campaign.window_start:%Y-%m-%d %H:%M} .. "
        f"{campaign.window_end:%Y-%m-%d %H:%M:%S} (+08:00)  today {today.isoformat()}"
    )
    table = Table(title=title, title_justify="left")
    for col in ("report", "cutoff", "data through", "due", "rule"):
        table.add_column(col, no_wrap=True)
    table.add_column("working days left", justify="right")
    for row in rows:
        table.add_row(*row)
    return table
