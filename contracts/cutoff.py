"""The cutoff: the event-time end of a form, a snapshot or a replay, parsed one way everywhere.

`parse_cutoff` reads what every command's `--cutoff` takes: a date (the end of that day,
23:59:59 +08:00), an ISO time with an offset, or a campaign cutoff name (`progress`,
`close-of-business`, `final`, ... from the campaign file).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from contracts.calendar import Campaign, load_campaign
from contracts.clock import CST, epoch_ms, second_end_ms
from contracts.errors import ContractError

__all__ = ["Cutoff", "CutoffError", "parse_cutoff", "parse_moment"]

_END_OF_DAY = dt.time(23, 59, 59)
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


class CutoffError(ContractError, ValueError):
    """A cutoff that is not a date, an aware ISO time or a campaign cutoff name."""


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
        """The last epoch millisecond counted (`contracts.clock.second_end_ms`)."""
        return second_end_ms(min(self.at, self.campaign.window_end))

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


def parse_moment(text: str, campaign: Campaign) -> dt.datetime:
    """The aware datetime `text` names (see `parse_cutoff`)."""
    text = text.strip()
    if _DATE.fullmatch(text):
        try:
            day = dt.date.fromisoformat(text)
        except ValueError:
            raise CutoffError(f"--cutoff {text!r} is not a calendar date") from None
        return dt.datetime.combine(day, _END_OF_DAY, CST)
    if text in campaign.cutoffs:
        return campaign.cutoffs[text].at
    try:
        at = dt.datetime.fromisoformat(text)
    except ValueError:
        at = None
    if at is None or at.tzinfo is None:
        known = ", ".join(campaign.cutoffs)
        raise CutoffError(
            f"--cutoff {text!r} is not a date (YYYY-MM-DD, meaning 23:59:59 +08:00 that day), "
            f"an ISO time with an offset (2024-12-31T18:00:00+08:00) or a campaign cutoff "
            f"({known})"
        )
    return at


def parse_cutoff(text: str | None, campaign: Campaign | None = None) -> Cutoff:
    """`2024-12-31` (end of that day, +08:00), an aware ISO time, or a campaign cutoff name;
    None or "" means the end of the campaign window (the whole campaign so far).

    >>> parse_cutoff("2024-12-31").iso()
    '2024-12-31T23:59:59+08:00'
    """
    campaign = campaign or load_campaign()
    if not text:
        return Cutoff(campaign.window_end, campaign)
    return Cutoff(parse_moment(text, campaign), campaign)
