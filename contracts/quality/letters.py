"""Which dead letters a check counts: the ones that concern its cutoff.

A dead letter whose record has an event time (`occurred_at` with an offset) concerns every
cutoff at or after that time, as an event would: the figures are cumulative. One without
(not JSON, no `occurred_at`, or one that is not an aware time) could belong to any cutoff,
so it is attributed to the cutoff at which it was rejected: the reporting period its
`rejected_at` falls in (`rejection_period`). A line refused in January is then January's
(the final cutoff's), not also the December checks'. A letter whose rejection time cannot
be read either is counted by every check: nobody can tell.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable

import pandas as pd
import polars as pl

from contracts.calendar import Campaign
from contracts.clock import epoch_ms, second_end_ms

__all__ = ["campaign_cutoffs_ms", "dead_letters_frame", "letters_for_cutoff", "rejection_period"]

_OCCURRED = re.compile(r'"occurred_at"\s*:\s*"([^"]+)"')

#: The columns of a dead-letter frame the suite sees, in order, when present.
_COLUMNS = ("id", "where", "reason", "message", "rejected_at", "status")


def campaign_cutoffs_ms(campaign: Campaign) -> list[int]:
    """The campaign's cutoffs, each as the last millisecond it covers, in time order."""
    return sorted(second_end_ms(c.at) for c in campaign.cutoffs.values())


def rejection_period(cutoff_ms: int, cutoffs_ms: Iterable[int]) -> tuple[int | None, int | None]:
    """(after, through) in epoch ms: a check for `cutoff_ms` counts the letters without an
    event time rejected after `after` and at or before `through` (None: no bound).

    The period runs from the campaign cutoff before `cutoff_ms` (`cutoffs_ms`, each the
    last millisecond of its second) to `cutoff_ms`; at or after the campaign's last cutoff
    it has no end, since no later report will count them.

    >>> rejection_period(31, [31, 59])  # the first cutoff: everything rejected through it
    (None, 31)
    >>> rejection_period(59, [31, 59])  # the last: everything rejected after the one before
    (31, None)
    >>> rejection_period(20, [31, 59])  # a cutoff between the campaign's own
    (None, 20)
    """
    known = sorted(set(cutoffs_ms))
    earlier = [c for c in known if c < cutoff_ms]
    after = earlier[-1] if earlier else None
    through = None if not known or cutoff_ms >= known[-1] else cutoff_ms
    return after, through


def letters_for_cutoff(
    letters: pl.DataFrame, cutoff_ms: int, cutoffs_ms: Iterable[int]
) -> pl.DataFrame:
    """The dead letters that concern the cutoff (see the module), with all their columns."""
    if letters.is_empty():
        return letters
    period = rejection_period(cutoff_ms, cutoffs_ms)
    n = letters.height
    originals = letters["original"].to_list() if "original" in letters.columns else [None] * n
    rejected = letters["rejected_at"].to_list() if "rejected_at" in letters.columns else [None] * n
    keep = [
        _concerns(original, at, cutoff_ms, period)
        for original, at in zip(originals, rejected, strict=True)
    ]
    return letters.filter(pl.Series(keep, dtype=pl.Boolean))


def dead_letters_frame(
    letters: pl.DataFrame, cutoff_ms: int, cutoffs_ms: Iterable[int]
) -> pd.DataFrame:
    """The suite's frame: the letters that concern the cutoff, with `where` (file:line)."""
    if letters.is_empty():
        return pd.DataFrame({"id": [], "where": [], "reason": [], "message": [], "status": []})
    frame = letters_for_cutoff(letters, cutoff_ms, cutoffs_ms)
    if "where" not in frame.columns:
        file = pl.col("file").cast(pl.Utf8) if "file" in frame.columns else pl.lit(None)
        line = pl.col("line").cast(pl.Utf8) if "line" in frame.columns else pl.lit(None)
        frame = frame.with_columns(
            pl.when(file.is_null())
            .then(pl.lit("-"))
            .when(line.is_null())
            .then(file)
            .otherwise(pl.concat_str([file, pl.lit(":"), line]))
            .alias("where")
        )
    return frame.select([c for c in _COLUMNS if c in frame.columns]).to_pandas()


def _concerns(
    original: object, rejected_at: object, cutoff_ms: int, period: tuple[int | None, int | None]
) -> bool:
    occurred = _event_time_ms(original)
    if occurred is not None:
        return occurred <= cutoff_ms
    at = _aware_ms(rejected_at, whole_second=False)
    if at is None:
        return True
    after, through = period
    return (after is None or at > after) and (through is None or at <= through)


def _event_time_ms(original: object) -> int | None:
    if not isinstance(original, str):
        return None
    match = _OCCURRED.search(original)
    return None if match is None else _aware_ms(match.group(1))


def _aware_ms(text: object, *, whole_second: bool = True) -> int | None:
    """An ISO 8601 time with an offset in epoch ms (an event time given to the second covers
    all of it, as a cutoff does); None when it is not one."""
    if not isinstance(text, str):
        return None
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.utcoffset() is None:
        return None
    return second_end_ms(moment) if whole_second else epoch_ms(moment)
