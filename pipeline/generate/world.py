"""The slot loop: one line per slot, clean or dirty, in recorded order of the campaign."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from contracts.calendar import Campaign
from contracts.clock import CST
from contracts.registry import Registry
from pipeline.generate.dirt import Dirt
from pipeline.generate.events import CleanEvents
from pipeline.generate.history import History
from pipeline.generate.options import GenerateOptions
from pipeline.generate.pools import Pools
from pipeline.generate.rates import (
    JANUARY_FIX_BOOST,
    P_BAD,
    P_CONFLICT,
    P_CORRECTION,
    P_EXACT_RESEND,
    P_LATE_IN_FIRST_WEEK,
    P_RETRACTION,
)
from pipeline.generate.records import Kind, Line
from pipeline.generate.state import State
from pipeline.generate.waves import LeadWaves


class World:
    """The generator put together: shared state, pools, history, clean events and dirt.

    ``lines()`` walks the campaign slot by slot and yields one line per slot.
    """

    def __init__(self, options: GenerateOptions, registry: Registry, campaign: Campaign) -> None:
        self.state = State(options, registry, campaign)
        self.pools = Pools(self.state)
        self.history = History(self.state)
        self.events = CleanEvents(self.state, self.pools, self.history)
        self.dirt = Dirt(self.state, self.pools, self.history, self.events)
        self.waves = LeadWaves(self.state, self.pools, self.events)

    def lines(self) -> Iterator[tuple[bytes, dt.datetime, Kind]]:
        """(line, recorded at, kind) for each of the ``options.events`` slots, in slot order."""
        state, dirt, clean = self.state, self.dirt, self.events.clean
        rng, timeline, december = state.rng, state.timeline, self.history.december
        start, end, cutoff = state.start, state.end, state.cutoff
        first_week_end = cutoff + 7 * 86400
        for i in range(state.options.events):
            t = int(timeline.at(i) + rng.uniform(-90, 90))
            t = min(max(t, start), end)
            state.now = max(state.now, t)
            wave = self.waves.line(i, t) if self.waves.slots else None
            if wave is not None:
                line, recorded, kind = wave
                yield line, dt.datetime.fromtimestamp(recorded, CST), kind
                continue
            january = cutoff < t <= first_week_end
            boost = JANUARY_FIX_BOOST if january and december else 1
            r = rng.random()
            out: Line | None = None
            if r < P_BAD:
                out = dirt.bad(t)
            elif (r := r - P_BAD) < P_EXACT_RESEND:
                out = dirt.exact_resend()
            elif (r := r - P_EXACT_RESEND) < P_CONFLICT:
                out = dirt.conflict()
            elif (r := r - P_CONFLICT) < P_CORRECTION * boost:
                out = dirt.correction(t, january)
            elif (r := r - P_CORRECTION * boost) < P_RETRACTION * boost:
                out = dirt.retraction(t, january)
            elif january and rng.random() < P_LATE_IN_FIRST_WEEK:
                late_at = rng.randint(cutoff - 6 * 86400, cutoff)
                out = clean(late_at, late=True, recorded=t)
            if out is None:
                out = clean(t)
            line, recorded, kind = out
            yield line, dt.datetime.fromtimestamp(recorded, CST), kind
