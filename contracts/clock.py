"""China Standard Time and epoch milliseconds: the one statement of each."""

from __future__ import annotations

import datetime as dt

__all__ = ["CST", "epoch_ms", "now_cst", "second_end_ms"]

#: China Standard Time (+08:00); every timestamp is normalised to it.
CST = dt.timezone(dt.timedelta(hours=8), "CST")


def now_cst() -> dt.datetime:
    return dt.datetime.now(CST)


def epoch_ms(moment: dt.datetime) -> int:
    return int(moment.timestamp() * 1000)


def second_end_ms(moment: dt.datetime) -> int:
    """The last epoch millisecond a cutoff covers: one given to the second covers all of
    that second (23:59:59 takes an event at 23:59:59.5), as the campaign window's end does
    and as the live tallies' day ends do (`streams.tallies.day_end_ms`).

    >>> second_end_ms(dt.datetime(2024, 12, 31, 23, 59, 59, tzinfo=CST)) % 1000
    999
    """
    return epoch_ms(moment) + (999 if moment.microsecond == 0 else 0)
