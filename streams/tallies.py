"""Running tallies as day-indexed deltas, so any end-of-day cutoff is a prefix sum.

The streams keep, per partition, unit and cell, a map `day -> delta`: the
change of the cell's value on that event day (+08:00). A cell's value through
day D is the sum of the deltas of the days <= D, which is exactly what
`contracts.fold.tally` computes from the effective contributions with
`since <= at <= end of D`:

- SUM: the delta of a day is the sum of that day's contribution values;
- DISTINCT: per key, the indicator "summed value > 0" is a step function of
  the day; its steps are added to the cell's deltas;
- LATEST: per key, the value of the latest contribution by (at, event_id)
  through day D is a step function of D; its steps are added likewise.

Per-key state (DISTINCT: `day -> summed value`; LATEST: the sorted candidate
list) lets a removal (correction, retraction) or a late, earlier event move
the steps: the old steps are subtracted and the new ones added.

Contributions outside the campaign window never count for any cutoff inside
it (`tally` drops `at < since`), so they are not kept.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable, Mapping, MutableMapping
from datetime import datetime
from typing import Any, NamedTuple

from contracts.calendar import Campaign
from contracts.cells import CELL_BY_ID, Agg
from contracts.clock import CST, epoch_ms
from contracts.fold import Contribution, Figures, with_totals

__all__ = ["DAY_MS", "Window", "event_day", "day_end_ms", "agg_key", "fold_into", "own_figures"]

DAY_MS = 86_400_000
_CST_MS = 8 * 3_600_000

Values = MutableMapping[str, Any]  # key -> JSON-friendly value (a chunk's overlay of a table)


def event_day(at_ms: int) -> int:
    """Days since 1970-01-01 of the +08:00 calendar day of epoch millisecond `at_ms`."""
    return (at_ms + _CST_MS) // DAY_MS


def day_end_ms(day: int) -> int:
    """The last millisecond of `day` (+08:00): the `cutoff_ms` that `tally` takes for it."""
    return (day + 1) * DAY_MS - _CST_MS - 1


class Window(NamedTuple):
    """The campaign window in epoch ms, both ends included (`until` is the last ms)."""

    since_ms: int
    until_ms: int

    @classmethod
    def of(cls, campaign: Campaign) -> Window:
        return cls(epoch_ms(campaign.window_start), epoch_ms(campaign.window_end) + 999)

    def cutoff_day(self, cutoff: datetime) -> int:
        """The day whose end `cutoff` is; the live tallies have day resolution.

        A cutoff is the end of a +08:00 day (23:59:59, any fraction) inside the window.
        """
        local = cutoff.astimezone(CST)
        if (local.hour, local.minute, local.second) != (23, 59, 59):
            raise ValueError(
                f"cutoff {cutoff.isoformat()}: the live tallies are by event day, so a cutoff is "
                "the end of a day (23:59:59+08:00); give a date such as 2024-12-31, or use "
                "replay for a cutoff inside a day"
            )
        day = event_day(epoch_ms(local))
        if not event_day(self.since_ms) <= day <= event_day(self.until_ms):
            raise ValueError(f"cutoff {cutoff.isoformat()} is outside the campaign window")
        return day


def agg_key(partition: int, unit: str, cell_id: str) -> str:
    return f"A|{partition}|{unit}|{cell_id}"


def _key_state(partition: int, c: Contribution) -> str:
    return f"K|{partition}|{c.unit}|{c.cell}|{c.key}"


def _distinct_steps(sums: Mapping[str, int]) -> dict[int, int]:
    """Steps of "summed value so far > 0" over the days."""
    out: dict[int, int] = {}
    total = shown = 0
    for day in sorted(sums, key=int):
        total += sums[day]
        now = 1 if total > 0 else 0
        if now != shown:
            out[int(day)] = now - shown
            shown = now
    return out


def _latest_steps(candidates: list[list[Any]]) -> dict[int, int]:
    """Steps of "value of the latest candidate so far"; `candidates` sorted by (at, event_id)."""
    by_day: dict[int, int] = {}
    for at, _, value in candidates:
        by_day[event_day(at)] = value  # the last one of a day wins: the list is sorted
    out: dict[int, int] = {}
    shown = 0
    for day, value in by_day.items():
        if value != shown:
            out[day] = value - shown
            shown = value
    return out


def _bump(deltas: dict[str, int], day: int, amount: int) -> None:
    if amount:
        d = str(day)
        value = deltas.get(d, 0) + amount
        if value:
            deltas[d] = value
        else:
            deltas.pop(d, None)


def fold_into(values: Values, partition: int, c: Contribution, sign: int, window: Window) -> None:
    """Add (`sign` = 1) or remove (-1) one contribution. `values` returns private copies."""
    if not window.since_ms <= c.at <= window.until_ms:
        return
    agg = CELL_BY_ID[c.cell].agg
    key = agg_key(partition, c.unit, c.cell)
    deltas: dict[str, int] = values.get(key) or {}
    day = event_day(c.at)
    if agg is Agg.SUM:
        _bump(deltas, day, sign * c.value)
    else:
        skey = _key_state(partition, c)
        if agg is Agg.DISTINCT:
            sums: dict[str, int] = values.get(skey) or {}
            before = _distinct_steps(sums)
            _bump(sums, day, sign * c.value)
            after = _distinct_steps(sums)
            values[skey] = sums
        else:
            candidates: list[list[Any]] = values.get(skey) or []
            before = _latest_steps(candidates)
            entry = [c.at, c.event_id, c.value]
            if sign > 0:
                bisect.insort(candidates, entry, key=lambda x: (x[0], x[1]))
            else:
                candidates.remove(entry)
            after = _latest_steps(candidates)
            values[skey] = candidates
        for step_day in before.keys() | after.keys():
            _bump(deltas, step_day, after.get(step_day, 0) - before.get(step_day, 0))
    values[key] = deltas


def own_figures(
    items: Iterable[tuple[str, Any]], partitions: set[int] | frozenset[int], cutoff_day: int
) -> Figures:
    """Each unit's own figures through `cutoff_day` from the `A|...` entries of `partitions`.

    Equal to `contracts.fold.tally(effective contributions, since_ms=window start,
    cutoff_ms=day_end_ms(cutoff_day))`, 合计 included.
    """
    own: dict[tuple[str, str], int] = defaultdict(int)
    for key, deltas in items:
        if not key.startswith("A|"):
            continue
        _, part, unit, cell_id = key.split("|", 3)
        if int(part) not in partitions or not deltas:
            continue
        own[(unit, cell_id)] += sum(v for d, v in deltas.items() if int(d) <= cutoff_day)
    return with_totals(own)
