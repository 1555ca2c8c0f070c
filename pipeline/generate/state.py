"""The generator's state (units, time, pools, counters) and the small helpers every builder uses."""

from __future__ import annotations

import bisect
import datetime as dt
import json
import random
from collections import Counter, deque
from typing import Any

from contracts.calendar import Campaign
from contracts.clock import CST
from contracts.registry import Registry, Unit
from pipeline.generate.names import _PROVINCE_CHAR, ROWS
from pipeline.generate.options import GenerateOptions
from pipeline.generate.rates import (
    _COMPACT,
    _RETRACTABLE,
    DECEMBER_MAX,
    EMPLOYERS_TOTAL,
    OPEN_LEADS_MAX,
    PROJECTS_TOTAL,
    RECENT_MAX,
)
from pipeline.generate.records import _Case, _Employer, _Lead, _Sent
from pipeline.generate.timeline import _Timeline
from pipeline.generate.util import _cumulative


class _State:
    """The generator's state: units, window, pools, counters; and the helpers all builders use."""

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
        self.timeline = _Timeline(campaign, options.events)
        rng = self.rng
        self.unit_codes = [u.code for u in self.units]
        leaves = {u.code for u in self.units if not registry.children(u.code)}
        weights = [rng.uniform(0.6, 1.6) if u.code in leaves else 0.25 for u in self.units]
        self.unit_cum = _cumulative(weights)
        self.division = {u.code: self._official(u) for u in self.units}
        self.abbr = {u.code: self._abbr(u) for u in self.units}
        self.elsewhere = [u.code for u in registry if u.official and u.code[2:] != "0000"]
        cap = max(50, EMPLOYERS_TOTAL // (len(self.units) * len(ROWS)))
        self.employer_cap = cap
        self.employers: dict[tuple[str, str], list[_Employer]] = {}
        self.project_cap = max(20, PROJECTS_TOTAL // len(self.units))
        self.projects: dict[str, list[dict[str, Any]]] = {}
        self.open_cases: list[_Case] = []
        self.to_file: list[_Case] = []
        self.received_leads: list[_Lead] = []
        self.verified_leads: list[_Lead] = []
        self.merges: deque[tuple[str, str, str, int]] = deque(maxlen=OPEN_LEADS_MAX)
        self.recent: deque[_Sent] = deque(maxlen=RECENT_MAX)
        self.fixable: deque[_Sent] = deque(maxlen=RECENT_MAX)
        self.december: list[_Sent] = []
        self.december_seen = 0
        self.seq = 0
        self.numbers: Counter[tuple[str, str, int]] = Counter()
        self.bad_order: list[str] = []
        self.now = self.start
        self._dumps = json.JSONEncoder(ensure_ascii=False, separators=_COMPACT).encode

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
            return _PROVINCE_CHAR.get(unit.code[:2], unit.name[:1])
        if city.code == unit.code:
            return city.name[:1]
        return city.name[:1] + unit.name.removeprefix(city.name.removesuffix("市"))[:1]

    # -- small helpers --

    def _encode(self, obj: dict[str, Any]) -> bytes:
        return self._dumps(obj).encode()

    def _remember(self, obj: dict[str, Any], occurred: int, recorded: int) -> None:
        sent = _Sent(obj, occurred, recorded)
        self.recent.append(sent)
        if obj["type"] in _RETRACTABLE:
            self.fixable.append(sent)
            # late-December events: a reservoir sample for the January corrections
            if self.cutoff - 10 * 86400 < occurred <= self.cutoff:
                self.december_seen += 1
                if len(self.december) < DECEMBER_MAX:
                    self.december.append(sent)
                else:
                    k = self.rng.randrange(self.december_seen)
                    if k < DECEMBER_MAX:
                        self.december[k] = sent

    def _seq(self) -> int:
        self.seq += 1
        return self.seq

    def _event_id(self, source: str, unit: str) -> str:
        return f"{source[:4]}-{unit}-s{self.options.seed}-{self._seq():010d}"

    def _case_id(self, unit: str, t: int) -> str:
        return f"{unit}-JC-{self._year(t)}-{self._seq():08d}"

    def _number(self, unit: str, kind: str, t: int) -> int:
        key = (unit, kind, self._year(t))
        self.numbers[key] += 1
        return self.numbers[key]

    def _year(self, t: int) -> int:
        return dt.datetime.fromtimestamp(t, CST).year

    def _after(self, earlier: int, t: int) -> int:
        """A time at or after ``t`` and at least a minute after ``earlier``, in the window."""
        return min(max(t, earlier + 60), self.end)

    def _delay(self, type_: str) -> int:
        rng = self.rng
        if type_.startswith("lead."):
            return rng.randint(5, 900)
        if type_ == "execution.concluded":
            return rng.randint(3600, 3 * 86400)
        if rng.random() < 0.1:  # entered the next day
            return rng.randint(12 * 3600, 40 * 3600)
        return int(min(rng.expovariate(1 / 7200), 86400)) + 30

    def _unit(self) -> str:
        return self.unit_codes[bisect.bisect_left(self.unit_cum, self.rng.random())]
