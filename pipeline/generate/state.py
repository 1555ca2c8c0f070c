"""The run's shared state: seeded randomness, units, the window's times, ids and counters."""

from __future__ import annotations

import bisect
import datetime as dt
import random
from collections import Counter

from contracts.calendar import Campaign
from contracts.clock import CST
from contracts.registry import Registry, Unit
from pipeline.generate.names import PROVINCE_CHAR
from pipeline.generate.options import GenerateOptions
from pipeline.generate.timeline import Timeline
from pipeline.generate.util import cumulative

#: The divisions an employer registered outside its unit may carry, in the order they are
#: drawn from: the official units of the registry as shipped before it covered all of
#: Jiangsu (issue 14). A list of its own, so a larger registry leaves the output unchanged.
ELSEWHERE: tuple[str, ...] = (
    *(f"32{n:02d}00" for n in range(1, 14)),
    *("320402", "320404", "320411", "320412", "320413", "320481"),
)


class State:
    """What every part of the generator shares: one ``rng``, the units, times, ids, counters.

    All randomness of a run comes from ``rng``, seeded once: the order of its draws is the
    output, so a change of the order of calls anywhere changes the bytes written.
    """

    def __init__(self, options: GenerateOptions, registry: Registry, campaign: Campaign) -> None:
        self.options = options
        self.registry = registry
        self.rng = random.Random(options.seed)
        self.units: tuple[Unit, ...] = registry.subtree(options.unit)
        self.campaign = campaign
        self.start = int(campaign.window_start.timestamp())
        self.end = int(campaign.window_end.timestamp())
        progress = campaign.cutoffs.get("progress")
        self.progress_cutoff = progress.at if progress else campaign.window_end
        self.cutoff = int(self.progress_cutoff.timestamp())
        self.timeline = Timeline(campaign, options.events)
        rng = self.rng
        self.unit_codes = [u.code for u in self.units]
        leaves = {u.code for u in self.units if not registry.children(u.code)}
        weights = [rng.uniform(0.6, 1.6) if u.code in leaves else 0.25 for u in self.units]
        self.unit_cum = cumulative(weights)
        #: per unit: the official division its employers' USCCs mostly carry
        self.division = {u.code: self._official(u) for u in self.units}
        #: per unit: the short name its document numbers begin with (常武 for 武进区 of 常州市)
        self.abbr = {u.code: self._abbr(u) for u in self.units}
        #: divisions elsewhere, for the employers registered there (the generator's own list)
        self.elsewhere = list(ELSEWHERE)
        self.seq = 0
        self.numbers: Counter[tuple[str, str, int]] = Counter()
        #: the latest slot time so far (epoch seconds)
        self.now = self.start

    # -- setup helpers --

    def _official(self, unit: Unit) -> str:
        current: Unit | None = unit
        while current is not None and not current.official:
            current = self.registry.unit(current.parent) if current.parent else None
        return current.code if current is not None else "110000"

    def _abbr(self, unit: Unit) -> str:
        chain = [unit, *self.registry.ancestors(unit.code)]
        city = next((u for u in chain if u.code[4:] == "00" and u.code[2:] != "0000"), None)
        if city is None:
            return PROVINCE_CHAR.get(unit.code[:2], unit.name[:1])
        if city.code == unit.code:
            return city.name[:1]
        return city.name[:1] + unit.name.removeprefix(city.name.removesuffix("市"))[:1]

    # -- ids, numbers and times --

    def next_seq(self) -> int:
        """The next number of the run-wide sequence that ids are made unique with."""
        self.seq += 1
        return self.seq

    def event_id(self, source: str, unit: str) -> str:
        return f"{source[:4]}-{unit}-s{self.options.seed}-{self.next_seq():010d}"

    def case_id(self, unit: str, t: int) -> str:
        return f"{unit}-JC-{self.year(t)}-{self.next_seq():08d}"

    def number(self, unit: str, kind: str, t: int) -> int:
        """The next document number of this kind for this unit in the year of ``t``."""
        key = (unit, kind, self.year(t))
        self.numbers[key] += 1
        return self.numbers[key]

    def year(self, t: int) -> int:
        return dt.datetime.fromtimestamp(t, CST).year

    def after(self, earlier: int, t: int) -> int:
        """A time at or after ``t`` and at least a minute after ``earlier``, in the window."""
        return min(max(t, earlier + 60), self.end)

    def delay(self, type_: str) -> int:
        """Seconds from occurred to recorded for an event of this type."""
        rng = self.rng
        if type_.startswith("lead."):
            return rng.randint(5, 900)
        if type_ == "execution.concluded":
            return rng.randint(3600, 3 * 86400)
        if rng.random() < 0.1:  # entered the next day
            return rng.randint(12 * 3600, 40 * 3600)
        return int(min(rng.expovariate(1 / 7200), 86400)) + 30

    def pick_unit(self) -> str:
        """A unit of the subtree, by its weight (leaves busier than the offices above them)."""
        return self.unit_codes[bisect.bisect_left(self.unit_cum, self.rng.random())]
