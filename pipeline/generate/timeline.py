"""The volume curve: slot ``i`` of ``n`` -> an event time rising toward the Spring Festival."""

from __future__ import annotations

import bisect
import datetime as dt

from contracts.calendar import Campaign, is_working_day
from contracts.clock import CST


class Timeline:
    """Slot ``i`` of ``n`` -> an event time: hourly buckets weighted by a rising curve."""

    HOUR_WEIGHTS = (
        1,
        0.5,
        0.3,
        0.3,
        0.3,
        0.5,
        1,
        3,
        8,
        10,
        10,
        9,
        4,
        5,
        10,
        10,
        9,
        7,
        4,
        3,
        2,
        2,
        1.5,
        1,
    )

    def __init__(self, campaign: Campaign, n: int) -> None:
        start = campaign.window_start.astimezone(CST)
        self.start = int(start.timestamp())
        self.end = int(campaign.window_end.timestamp())
        days = (campaign.window_end.date() - start.date()).days + 1
        cum, total = [], 0.0
        for d in range(days):
            day = start.date() + dt.timedelta(days=d)
            growth = 1.0 + 2.5 * (d / max(days - 1, 1)) ** 2
            day_weight = growth * (1.0 if is_working_day(day) else 0.3)
            for h in range(24):
                total += day_weight * self.HOUR_WEIGHTS[h]
                cum.append(total)
        self.cum = [c / total for c in cum]
        self.n = max(n, 1)

    def at(self, i: int) -> float:
        q = (i + 0.5) / self.n
        k = bisect.bisect_left(self.cum, q)
        lo = self.cum[k - 1] if k else 0.0
        frac = (q - lo) / ((self.cum[k] - lo) or 1.0)
        return self.start + (k + frac) * 3600.0
