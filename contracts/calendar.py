"""The campaign calendar: window, cutoffs and due dates, read from a TOML file.

Dates live in the config (``campaign-2024.toml``); this module only knows how to read
them and how to count Chinese working days with ``chinesecalendar`` (State Council
holiday notices, make-up working days 调休 included). A later campaign is a new file.

    >>> campaign = load_campaign()
    >>> [d.due.date().isoformat() for d in campaign.due_dates() if d.cutoff == "final"][-1]
    '2025-02-10'
"""

from __future__ import annotations

import datetime as dt
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import chinese_calendar

from contracts.clock import CST
from contracts.errors import ContractError

__all__ = [
    "CST",
    "DEFAULT_CONFIG",
    "Campaign",
    "CalendarError",
    "Cutoff",
    "Deadline",
    "load_campaign",
    "is_working_day",
    "working_days_after",
    "working_days_between",
]

DEFAULT_CONFIG = Path(__file__).with_name("campaign-2024.toml")
_END_OF_DAY = dt.time(23, 59, 59)


class CalendarError(ContractError, ValueError):
    """The campaign config is wrong, or a date is outside what the holiday data covers."""


@dataclass(frozen=True)
class Cutoff:
    """A reporting cutoff: data with event time at or before ``at``."""

    name: str
    label: str
    at: dt.datetime


@dataclass(frozen=True)
class Deadline:
    """One report due: ``level`` reports to ``to`` the figures through ``cutoff`` by ``due``."""

    level: str
    to: str
    cutoff: str
    cutoff_at: dt.datetime
    due: dt.datetime
    rule: str
    basis: str
    applies_to: str | None


@dataclass(frozen=True)
class _DueRule:
    level: str
    to: str
    cutoff: str
    basis: str
    applies_to: str | None
    fixed: dt.datetime | None = None
    working_days: int | None = None
    time: dt.time = _END_OF_DAY


@dataclass(frozen=True)
class Campaign:
    """A campaign as configured. ``window_end`` is the last second of the window."""

    id: str
    name: str
    window_start: dt.datetime
    window_end: dt.datetime
    cutoffs: dict[str, Cutoff]
    levels: tuple[str, ...]
    level_names: dict[str, str]
    source: Path
    _rules: tuple[_DueRule, ...] = ()

    def in_window(self, when: dt.datetime) -> bool:
        """True if the aware datetime ``when`` falls in the window, both ends included."""
        _require_aware(when, "in_window")
        return self.window_start <= when < self.window_end + dt.timedelta(seconds=1)

    def cutoff(self, name: str) -> Cutoff:
        try:
            return self.cutoffs[name]
        except KeyError:
            known = ", ".join(self.cutoffs)
            raise CalendarError(
                f"cutoff {name!r} is not in {self.source}; known: {known}"
            ) from None

    def due_dates(self) -> tuple[Deadline, ...]:
        """Every report's due time, in level order then cutoff time."""
        out = []
        for rule in self._rules:
            cut = self.cutoffs[rule.cutoff]
            if rule.fixed is not None:
                due, text = rule.fixed, f"fixed {rule.fixed.isoformat()}"
            else:
                assert rule.working_days is not None
                day = working_days_after(cut.at.astimezone(CST).date(), rule.working_days)
                due = dt.datetime.combine(day, rule.time, CST)
                text = f"{rule.working_days} working days after {rule.cutoff}"
            out.append(
                Deadline(
                    rule.level, rule.to, rule.cutoff, cut.at, due, text, rule.basis, rule.applies_to
                )
            )
        order = {level: i for i, level in enumerate(self.levels)}
        return tuple(sorted(out, key=lambda d: (order[d.level], d.cutoff_at, d.due)))


def is_working_day(day: dt.date) -> bool:
    """A working day by the State Council notices (调休 Saturdays/Sundays count)."""
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError as err:
        raise CalendarError(
            f"{day.isoformat()}: chinesecalendar {_lib_version()} has no holiday data for "
            f"{day.year}; upgrade chinesecalendar once the State Council notice is out"
        ) from err


def working_days_after(day: dt.date, n: int) -> dt.date:
    """The ``n``-th working day strictly after ``day`` (``n == 0`` gives ``day`` itself).

    >>> working_days_after(dt.date(2025, 1, 28), 2)
    datetime.date(2025, 2, 6)
    """
    if n < 0:
        raise CalendarError(f"working_days_after: n must be >= 0, got {n}")
    current = day
    while n:
        current += dt.timedelta(days=1)
        if is_working_day(current):
            n -= 1
    return current


def working_days_between(a: dt.date, b: dt.date) -> int:
    """Working days in ``(a, b]``; negative (``-`` those in ``(b, a]``) when ``b < a``.

    So ``working_days_between(d, working_days_after(d, n)) == n``.
    """
    if b < a:
        return -working_days_between(b, a)
    count = 0
    current = a
    while current < b:
        current += dt.timedelta(days=1)
        count += is_working_day(current)
    return count


def load_campaign(path: str | Path | None = None) -> Campaign:
    """Read a campaign config; ``None`` means the shipped ``campaign-2024.toml``."""
    source = Path(path) if path is not None else DEFAULT_CONFIG
    try:
        with source.open("rb") as fh:
            raw = tomllib.load(fh)
    except FileNotFoundError:
        raise CalendarError(f"campaign config {source} does not exist") from None
    except tomllib.TOMLDecodeError as err:
        raise CalendarError(f"campaign config {source} is not valid TOML: {err}") from None
    return _parse(raw, source)


def _parse(raw: dict[str, Any], source: Path) -> Campaign:
    where = str(source)
    head = _table(raw, "campaign", where)
    start = _aware(head.get("window_start"), f"{where}: campaign.window_start")
    end = _aware(head.get("window_end"), f"{where}: campaign.window_end")
    if end <= start:
        raise CalendarError(f"{where}: campaign.window_end {end} is not after window_start {start}")
    named = {"window_start": start, "window_end": end}

    cutoffs: dict[str, Cutoff] = {}
    for name, body in _table(raw, "cutoffs", where).items():
        at_raw = body.get("at")
        at = (
            named[at_raw]
            if isinstance(at_raw, str) and at_raw in named
            else _aware(
                at_raw,
                f"{where}: cutoffs.{name}.at (a datetime with offset, or window_start/window_end)",
            )
        )
        if not start <= at <= end:
            raise CalendarError(
                f"{where}: cutoffs.{name}.at {at} is outside the window {start} .. {end}"
            )
        cutoffs[name] = Cutoff(name, str(body.get("label", name)), at)

    levels_t = _table(raw, "levels", where)
    levels = tuple(levels_t.get("order", ()))
    if not levels:
        raise CalendarError(f"{where}: levels.order must list the reporting levels, lowest first")
    names = dict(levels_t.get("names", {}))

    rules = tuple(
        _rule(i, body, cutoffs, levels, where) for i, body in enumerate(raw.get("report", []))
    )
    return Campaign(
        id=str(head.get("id", source.stem)),
        name=str(head.get("name", "")),
        window_start=start,
        window_end=end,
        cutoffs=cutoffs,
        levels=levels,
        level_names=names,
        source=source,
        _rules=rules,
    )


def _rule(
    i: int, body: dict[str, Any], cutoffs: dict[str, Cutoff], levels: tuple[str, ...], where: str
) -> _DueRule:
    at = f"{where}: report[{i}]"
    for key in ("level", "to"):
        if body.get(key) not in levels:
            raise CalendarError(
                f"{at}.{key} = {body.get(key)!r}; expected one of {', '.join(levels)}"
            )
    cutoff = body.get("cutoff")
    if cutoff not in cutoffs:
        raise CalendarError(f"{at}.cutoff = {cutoff!r}; expected one of {', '.join(cutoffs)}")
    common = dict(
        level=body["level"],
        to=body["to"],
        cutoff=cutoff,
        basis=str(body.get("basis", "")),
        applies_to=body.get("applies_to"),
    )
    due = body.get("due")
    if isinstance(due, dt.datetime):
        return _DueRule(**common, fixed=_aware(due, f"{at}.due"))
    if isinstance(due, dt.date):
        return _DueRule(**common, fixed=dt.datetime.combine(due, _END_OF_DAY, CST))
    if isinstance(due, dict) and isinstance(due.get("working_days"), int):
        after = due.get("after", cutoff)
        if after != cutoff:
            raise CalendarError(
                f"{at}.due.after = {after!r} must be the report's cutoff {cutoff!r}"
            )
        if due["working_days"] < 0:
            raise CalendarError(f"{at}.due.working_days must be >= 0, got {due['working_days']}")
        time = _END_OF_DAY
        if "time" in due:
            try:
                time = dt.time.fromisoformat(str(due["time"]))
            except ValueError:
                raise CalendarError(f"{at}.due.time = {due['time']!r}; expected HH:MM") from None
        return _DueRule(**common, working_days=due["working_days"], time=time)
    raise CalendarError(
        f"{at}.due = {due!r}; expected a datetime with offset, a date, or "
        '{ working_days = N, after = "<cutoff>" }'
    )


def _table(raw: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    value = raw.get(key)
    if not isinstance(value, dict):
        raise CalendarError(f"{where}: missing table [{key}]")
    return value


def _aware(value: object, what: str) -> dt.datetime:
    if not isinstance(value, dt.datetime) or value.utcoffset() is None:
        raise CalendarError(
            f"{what} = {value!r}; expected a datetime with an offset, "
            "e.g. 2024-11-01T00:00:00+08:00"
        )
    return value.astimezone(CST)


def _require_aware(when: dt.datetime, what: str) -> None:
    if when.tzinfo is None or when.utcoffset() is None:
        raise CalendarError(f"{what}: {when.isoformat()} has no UTC offset; pass an aware datetime")


def _lib_version() -> str:
    return str(getattr(chinese_calendar, "__version__", "?"))
