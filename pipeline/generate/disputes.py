"""Builders for the mediation and court events: resolved disputes and concluded executions."""

from __future__ import annotations

from typing import Any

from pipeline.generate.names import _PROVINCE_CHAR
from pipeline.generate.pools import _Pools
from pipeline.generate.util import _yuan


class _DisputeEvents(_Pools):
    """``mediation`` and ``court`` events: self-contained, they need no earlier event."""

    def _ev_dispute_resolved(self, t: int) -> tuple[str, dict[str, Any], int]:
        rng = self.rng
        unit = self._unit()
        emp = self._employer(unit, "dispute")
        workers = max(1, min(emp.size, int(rng.paretovariate(1.8))))
        channel = "arbitration" if rng.random() < 0.35 else "mediation"
        year = self._year(t)
        n = self._number(unit, channel, t)
        case_no = (
            f"{self.abbr[unit]}劳人仲案字〔{year}〕第{n}号"
            if channel == "arbitration"
            else f"{self.abbr[unit]}劳调〔{year}〕{n}号"
        )
        payload = {
            "case_no": case_no,
            "employer": emp.obj,
            "workers": workers,
            "amount": _yuan(rng, workers * self._per_worker(emp.row)),
            "channel": channel,
            "new_employment_form": emp.platform,
        }
        return unit, payload, t

    def _ev_execution_concluded(self, t: int) -> tuple[str, dict[str, Any], int]:
        rng = self.rng
        unit = self._unit()
        emp = self._employer(unit, "arrears")
        workers = max(1, min(emp.size, int(rng.paretovariate(1.2) * 2)))
        # court code: 4 digits for a basic court, 2 for a city's, none for the high court
        local = unit[2:] if unit[4:] != "00" else unit[2:4] if unit[2:4] != "00" else ""
        court = _PROVINCE_CHAR.get(unit[:2], "苏") + local
        case_no = f"({self._year(t)}){court}执{self._number(unit, 'court', t)}号"
        payload = {
            "case_no": case_no,
            "employer": emp.obj,
            "workers": workers,
            "amount": _yuan(rng, workers * self._per_worker(emp.row) * 3 // 2),
            "new_employment_form": emp.platform and rng.random() < 0.5,
        }
        return unit, payload, t
