"""Bounded pools of the entities later events draw on: employers, projects, cases and leads."""

from __future__ import annotations

import bisect
from collections import deque
from typing import Any

from contracts.uscc import make_uscc, uscc_check_char
from pipeline.generate.names import (
    INDUSTRIES,
    PLACES,
    PLATFORM_INDUSTRIES,
    PROJECT_KINDS,
    ROW_WEIGHTS,
    ROWS,
    company_name,
)
from pipeline.generate.rates import EMPLOYERS_TOTAL, OPEN_LEADS_MAX, PROJECTS_TOTAL
from pipeline.generate.records import Case, Employer, Lead
from pipeline.generate.state import State
from pipeline.generate.util import cumulative


class Pools:
    """Employers and projects per unit (mostly reused, sometimes new, never more than a cap),
    and the open cases and leads whose later steps are still to come.

    The case and lead lists are filled and emptied by the source builders; their bounds are
    kept there (``OPEN_CASES_MAX``, ``OPEN_LEADS_MAX``).
    """

    def __init__(self, state: State) -> None:
        self.state = state
        self.rng = state.rng
        units = len(state.units)
        self.employer_cap = max(50, EMPLOYERS_TOTAL // (units * len(ROWS)))
        self.employers: dict[tuple[str, str], list[Employer]] = {}
        self.project_cap = max(20, PROJECTS_TOTAL // units)
        self.projects: dict[str, list[dict[str, Any]]] = {}
        #: verified arrears cases, not yet resolved or transferred
        self.open_cases: list[Case] = []
        #: cases transferred to the police, not yet filed
        self.to_file: list[Case] = []
        #: leads received, not yet verified; leads verified, not yet closed
        self.received_leads: list[Lead] = []
        self.verified_leads: list[Lead] = []
        #: duplicate leads to merge: (lead_id, into_lead_id, unit, received at)
        self.merges: deque[tuple[str, str, str, int]] = deque(maxlen=OPEN_LEADS_MAX)

    def per_worker(self, row: str) -> int:
        """What one worker of an employer of this report row is owed, in fen."""
        low, high = {
            "construction": (6000, 32000),
            "manufacturing": (3000, 14000),
            "services": (2500, 10000),
            "other": (2000, 9000),
        }[row]
        return self.rng.randint(low, high) * 100 + self.rng.choice((0, 0, 0, 50, 0, 37))

    def employer(self, unit: str, purpose: str) -> Employer:
        """An employer of ``unit`` for an event of this purpose (a key of ``ROW_WEIGHTS``)."""
        rng = self.rng
        row = ROWS[bisect.bisect_left(cumulative(ROW_WEIGHTS[purpose]), rng.random())]
        pool = self.employers.setdefault((unit, row), [])
        if pool and (len(pool) >= self.employer_cap or rng.random() > 0.3):
            if len(pool) < self.employer_cap or rng.random() > 0.02:
                return rng.choice(pool)
            pool[rng.randrange(len(pool))] = emp = self.new_employer(unit, row)
            return emp
        emp = self.new_employer(unit, row)
        pool.append(emp)
        return emp

    def new_employer(self, unit: str, row: str) -> Employer:
        """A new employer of ``unit`` in report row ``row`` (not put in the pool)."""
        rng = self.rng
        state = self.state
        division = state.division[unit] if rng.random() > 0.12 else rng.choice(state.elsewhere)
        platform = row == "services" and rng.random() < 0.25
        industry, words = rng.choice(PLATFORM_INDUSTRIES if platform else INDUSTRIES[row])
        fit = {"12": "services", "52": "services", "93": "other"}
        for _ in range(6):
            uscc = make_uscc(rng, division)
            if fit.get(uscc[:2], row) == row and not (platform and uscc[:2] != "91"):
                break
        else:
            uscc = "91" + uscc[2:17]
            uscc += uscc_check_char(uscc)
        name = company_name(rng, state.registry, uscc, division, row, rng.choice(words))
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
        return Employer(
            {"id": uscc, "name": name, "industry": industry},
            row,
            max(1, min(size, 20000)),
            min(share, 1.0),
            platform,
        )

    def project(self, unit: str) -> dict[str, Any]:
        """A construction project of ``unit``, as the JSON object events carry."""
        rng = self.rng
        pool = self.projects.setdefault(unit, [])
        if pool and (len(pool) >= self.project_cap or rng.random() > 0.3):
            return rng.choice(pool)
        project = self.new_project(unit)
        pool.append(project)
        return project

    def new_project(self, unit: str) -> dict[str, Any]:
        """A new construction project of ``unit`` (not put in the pool)."""
        rng = self.rng
        state = self.state
        pattern, p_gov, p_soe = rng.choice(PROJECT_KINDS)
        name = pattern.format(p=rng.choice(PLACES), n=rng.randint(1, 6))
        unit_name = state.registry.unit(unit).name
        project = {
            "id": f"P{unit}{state.year(state.now)}{state.next_seq():07d}",
            "name": f"{unit_name}{name}",
            "government_investment": rng.random() < p_gov,
            "soe": rng.random() < p_soe,
        }
        return project
