"""The mediation and court sources' builders: resolved disputes and concluded executions."""

from __future__ import annotations

from pipeline.generate.names import PROVINCE_CHAR
from pipeline.generate.pools import Pools
from pipeline.generate.records import Builder, Built
from pipeline.generate.state import State
from pipeline.generate.util import yuan


class MediationBuilder:
    """``mediation`` events: self-contained, they need no earlier event."""

    source = "mediation"

    def __init__(self, state: State, pools: Pools) -> None:
        self.state = state
        self.pools = pools
        self.rng = state.rng

    def builders(self) -> dict[str, Builder]:
        """This source's event types and the method that builds each."""
        return {"dispute.resolved": self.dispute_resolved}

    def dispute_resolved(self, t: int) -> Built:
        rng = self.rng
        state = self.state
        unit = state.pick_unit()
        emp = self.pools.employer(unit, "dispute")
        workers = max(1, min(emp.size, int(rng.paretovariate(1.8))))
        channel = "arbitration" if rng.random() < 0.35 else "mediation"
        year = state.year(t)
        n = state.number(unit, channel, t)
        case_no = (
            f"{state.abbr[unit]}劳人仲案字〔{year}〕第{n}号"
            if channel == "arbitration"
            else f"{state.abbr[unit]}劳调〔{year}〕{n}号"
        )
        payload = {
            "case_no": case_no,
            "employer": emp.obj,
            "workers": workers,
            "amount": yuan(rng, workers * self.pools.per_worker(emp.row)),
            "channel": channel,
            "new_employment_form": emp.platform,
        }
        return unit, payload, t


class CourtBuilder:
    """``court`` events: self-contained, they need no earlier event."""

    source = "court"

    def __init__(self, state: State, pools: Pools) -> None:
        self.state = state
        self.pools = pools
        self.rng = state.rng

    def builders(self) -> dict[str, Builder]:
        """This source's event types and the method that builds each."""
        return {"execution.concluded": self.execution_concluded}

    def execution_concluded(self, t: int) -> Built:
        rng = self.rng
        state = self.state
        unit = state.pick_unit()
        emp = self.pools.employer(unit, "arrears")
        workers = max(1, min(emp.size, int(rng.paretovariate(1.2) * 2)))
        # court code: 4 digits for a basic court, 2 for a city's, none for the high court
        local = unit[2:] if unit[4:] != "00" else unit[2:4] if unit[2:4] != "00" else ""
        court = PROVINCE_CHAR.get(unit[:2], "苏") + local
        case_no = f"({state.year(t)}){court}执{state.number(unit, 'court', t)}号"
        payload = {
            "case_no": case_no,
            "employer": emp.obj,
            "workers": workers,
            "amount": yuan(rng, workers * self.pools.per_worker(emp.row) * 3 // 2),
            "new_employment_form": emp.platform and rng.random() < 0.5,
        }
        return unit, payload, t
