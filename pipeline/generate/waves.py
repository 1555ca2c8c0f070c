"""Lead waves (``--lead-waves N``): a few projects and their builders whose complaint leads
jump in the last window before the progress cutoff, so hotspots and the problem ledger have
something real to find. Off by default: with none asked for, no draw is taken and the
output is byte for byte what it was (tests/pipeline/test_generate.py pins it).

Each wave is a new construction employer and project of a district, with
``many_leads + 2`` leads received in the campaign's supervision window (``window_days``
before the progress cutoff, from the campaign file's ``[supervision]`` table): above 量大
and, from none before, 增幅快. The manifest's ``lead_waves`` names them.
"""

from __future__ import annotations

import bisect
import datetime as dt
from dataclasses import dataclass
from typing import Any

from contracts.clock import CST
from contracts.supervision import load_rules
from pipeline.generate.events import CleanEvents
from pipeline.generate.pools import Pools
from pipeline.generate.rates import OPEN_LEADS_MAX
from pipeline.generate.records import Lead, Line
from pipeline.generate.state import State
from pipeline.generate.util import pick, yuan

_INTAKES = (
    ("national_platform", 50),
    ("hotline", 35),
    ("petition", 5),
    ("centralized_reception", 10),
)


@dataclass
class Wave:
    unit: str
    employer: dict[str, str]
    project: dict[str, Any]
    per_worker: int
    leads: int = 0


class LeadWaves:
    """Which slots become a wave's lead, chosen once at the start."""

    def __init__(self, state: State, pools: Pools, events: CleanEvents) -> None:
        self.state, self.pools, self.events = state, pools, events
        self.slots: dict[int, Wave] = {}
        self.waves: list[Wave] = []
        self.window: tuple[int, int] = (state.cutoff, state.cutoff)
        n = state.options.lead_waves
        if not n:
            return
        rules = load_rules(state.options.campaign_path)
        end = state.cutoff - 3600  # an hour's margin: slots jitter by 90 s
        start = state.cutoff - rules.window_days * 86400 + 3600
        self.window = (start, end)
        rng = state.rng
        leaves = [u.code for u in state.units if not state.registry.children(u.code)]
        for _ in range(n):
            unit = rng.choice(leaves or state.unit_codes)
            employer = pools.new_employer(unit, "construction")
            self.waves.append(
                Wave(unit, employer.obj, pools.new_project(unit), pools.per_worker("construction"))
            )
        every = range(state.options.events)  # slot times rise with the slot: bisect
        first = bisect.bisect_left(every, float(start), key=state.timeline.at)
        last = bisect.bisect_right(every, float(end), key=state.timeline.at)
        slots = list(range(first, last))
        wanted = min(len(slots), n * (rules.many_leads + 2))
        for k, i in enumerate(sorted(rng.sample(slots, wanted))):
            self.slots[i] = self.waves[k % n]

    def line(self, i: int, t: int) -> Line | None:
        """The wave lead of slot ``i`` (None when the slot is not a wave's)."""
        wave = self.slots.get(i)
        if wave is None:
            return None
        rng, state = self.state.rng, self.state
        lead_id = f"XS{wave.unit}{state.next_seq():09d}"
        workers = rng.randint(2, 12)
        payload = {
            "lead_id": lead_id,
            "intake": pick(rng, _INTAKES),
            "employer": wave.employer,
            "project": wave.project,
            "workers_claimed": workers,
            "amount_claimed": yuan(rng, workers * wave.per_worker),
        }
        wave.leads += 1
        if len(self.pools.received_leads) < OPEN_LEADS_MAX:
            self.pools.received_leads.append(Lead(lead_id, wave.unit, t))
        obj = self.events.envelope("complaint", "lead.received", wave.unit, payload, t)
        return self.events.stamp(obj, t)

    def manifest(self) -> dict[str, Any] | None:
        """What the manifest says of the waves (None when none were asked for)."""
        if not self.waves:
            return None
        return {
            "window": [dt.datetime.fromtimestamp(t, CST).isoformat() for t in self.window],
            "waves": [
                {
                    "unit": w.unit,
                    "employer_id": w.employer["id"],
                    "employer_name": w.employer["name"],
                    "project_id": w.project["id"],
                    "project_name": w.project["name"],
                    "leads": w.leads,
                }
                for w in self.waves
            ],
        }
