"""Cutoffs: the event-time end of a snapshot, and the window the fold counts."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from contracts.calendar import CST, Campaign, CalendarError, load_campaign
from contracts.fold import epoch_ms
from warehouse.errors import WarehouseError

__all__ = ["Cutoff", "parse_cutoff"]

_END_OF_DAY = dt.time(23, 59, 59)
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


@dataclass(frozen=True)
class Cutoff:
    """Count events with window_start <= occurred_at <= min(at, window_end) (SPEC 4)."""

    at: dt.datetime
    campaign: Campaign

    @property
    def since_ms(self) -> int:
        return epoch_ms(self.campaign.window_start)

    @property
    def cutoff_ms(self) -> int:
        """The last epoch millisecond counted. A cutoff to the second covers all of that
        second (23:59:59 takes an event at 23:59:59.5), as the campaign window's end does
        and as the live tallies' day ends do (`streams.tallies.day_end_ms`)."""
        end = min(self.at, self.campaign.window_end)
        return epoch_ms(end) + (999 if end.microsecond == 0 else 0)

    @property
    def is_day_end(self) -> bool:
        """True for 23:59:59 (+08:00) exactly: the cutoffs the live, by-day tallies can give."""
        return self.at.astimezone(CST).time() == _END_OF_DAY

    @property
    def dir_name(self) -> str:
        """`2024-12-31` for an end-of-day cutoff, else a file-safe timestamp."""
        local = self.at.astimezone(CST)
        if self.is_day_end:
            return local.date().isoformat()
        return local.strftime("%Y-%m-%dT%H%M%S")

    def iso(self) -> str:
        return self.at.astimezone(CST).isoformat()


def parse_cutoff(text: str, campaign: Campaign | None = None) -> Cutoff:
    """`2024-12-31` (end of that day, +08:00), an aware ISO time, or a campaign cutoff name.

    >>> parse_cutoff("2024-12-31").iso()
    '2024-12-31T23:59:59+08:00'
    """
    campaign = campaign or load_campaign()
    text = text.strip()
    if _DATE.fullmatch(text):
        try:
            day = dt.date.fromisoformat(text)
        except ValueError:
            raise WarehouseError(f"--cutoff {text!r} is not a calendar date") from None
        return Cutoff(dt.datetime.combine(day, _END_OF_DAY, CST), campaign)
    if text in campaign.cutoffs:
        return Cutoff(campaign.cutoffs[text].at, campaign)
    try:
        at = dt.datetime.fromisoformat(text)
    except ValueError:
        at = None
    if at is None or at.tzinfo is None:
        known = ", ".join(campaign.cutoffs)
        raise WarehouseError(
            f"--cutoff {text!r} is not a date (YYYY-MM-DD, meaning 23:59:59 +08:00 that day), "
            f"an ISO time with an offset (2024-12-31T18:00:00+08:00) or a campaign cutoff "
            f"({known})")
    return Cutoff(at, campaign)


def load(path: str | None) -> Campaign:
    try:
        return load_campaign(path)
    except CalendarError as err:
        raise WarehouseError(str(err)) from err
