"""Bounded pools of employers and projects that later events draw on again."""

from __future__ import annotations

import bisect
from typing import Any

from contracts.uscc import make_uscc, uscc_check_char
from pipeline.generate.names import (
    _PLACES,
    _PLATFORM_INDUSTRIES,
    _PROJECT_KINDS,
    INDUSTRIES,
    ROW_WEIGHTS,
    ROWS,
    _company_name,
)
from pipeline.generate.records import _Case, _Employer
from pipeline.generate.state import _State
from pipeline.generate.util import _cumulative, _fen_to_yuan


class _Pools(_State):
    """Employers and projects per unit: mostly reused, sometimes new, never more than a cap."""

    def _per_worker(self, row: str) -> int:
        low, high = {
            "construction": (6000, 32000),
            "manufacturing": (3000, 14000),
            "services": (2500, 10000),
            "other": (2000, 9000),
        }[row]
        return self.rng.randint(low, high) * 100 + self.rng.choice((0, 0, 0, 50, 0, 37))

    def _employer(self, unit: str, purpose: str) -> _Employer:
        rng = self.rng
        row = ROWS[bisect.bisect_left(_cumulative(ROW_WEIGHTS[purpose]), rng.random())]
        pool = self.employers.setdefault((unit, row), [])
        if pool and (len(pool) >= self.employer_cap or rng.random() > 0.3):
            if len(pool) < self.employer_cap or rng.random() > 0.02:
                return rng.choice(pool)
            pool[rng.randrange(len(pool))] = emp = self._new_employer(unit, row)
            return emp
        emp = self._new_employer(unit, row)
        pool.append(emp)
        return emp

    def _new_employer(self, unit: str, row: str) -> _Employer:
        rng = self.rng
        division = self.division[unit] if rng.random() > 0.12 else rng.choice(self.elsewhere)
        platform = row == "services" and rng.random() < 0.25
        industry, words = rng.choice(_PLATFORM_INDUSTRIES if platform else INDUSTRIES[row])
        fit = {"12": "services", "52": "services", "93": "other"}
        for _ in range(6):
            uscc = make_uscc(rng, division)
            if fit.get(uscc[:2], row) == row and not (platform and uscc[:2] != "91"):
                break
        else:
            uscc = "91" + uscc[2:17]
            uscc += uscc_check_char(uscc)
        name = _company_name(rng, self.registry, uscc, division, row, rng.choice(words))
        size = {
            "construction": int(rng.paretovariate(1.1) * 25),
            "manufacturing": int(rng.paretovariate(1.2) * 40),
            "services": int(rng.paretovariate(1.3) * 15),
            "other": int(rng.paretovariate(1.5) * 10),
        }[row]
        if uscc[:2] == "92":
            size = min(size, rng.randint(1, 8))
        share = {"construction": 0.88, "manufacturing": 0.5, "services": 0.3, "other": 0.6}[
            row
        ] * rng.uniform(0.7, 1.1)
        return _Employer(
            {"id": uscc, "name": name, "industry": industry},
            row,
            max(1, min(size, 20000)),
            min(share, 1.0),
            platform,
        )

    def _project(self, unit: str) -> dict[str, Any]:
        rng = self.rng
        pool = self.projects.setdefault(unit, [])
        if pool and (len(pool) >= self.project_cap or rng.random() > 0.3):
            return rng.choice(pool)
        pattern, p_gov, p_soe = rng.choice(_PROJECT_KINDS)
        name = pattern.format(p=rng.choice(_PLACES), n=rng.randint(1, 6))
        unit_name = self.registry.unit(unit).name
        project = {
            "id": f"P{unit}{self._year(self.now)}{self._seq():07d}",
            "name": f"{unit_name}{name}",
            "government_investment": rng.random() < p_gov,
            "soe": rng.random() < p_soe,
        }
        pool.append(project)
        return project

    def _case_payload(self, case: _Case, *, amount: int) -> dict[str, Any]:
        payload: dict[str, Any] = {"case_id": case.case_id, "employer": case.employer.obj}
        if case.project is not None:
            payload["project"] = case.project
        payload["workers"] = case.workers
        payload["amount"] = _fen_to_yuan(amount)
        return payload
