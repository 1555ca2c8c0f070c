"""The labour inspection source's builder: inspections and the life of an arrears case."""

from __future__ import annotations

from typing import Any

from pipeline.generate.names import PROVINCE_CHAR
from pipeline.generate.pools import Pools
from pipeline.generate.rates import (
    CASE_ON_PROJECT_CONSTRUCTION,
    CASE_ON_PROJECT_OTHER,
    OPEN_CASES_MAX,
    POLICE_FILING_SHARE,
)
from pipeline.generate.records import Builder, Built, Case
from pipeline.generate.state import State
from pipeline.generate.util import fen_to_yuan, pick, pop_random

_ORDER_WORD = {"rectification": "令", "handling_decision": "处", "penalty_decision": "罚"}


class InspectionBuilder:
    """``inspection`` events; each returns (unit, payload, occurred) or None if its pool is empty.

    A case is verified (``arrears.verified`` opens it, on a construction project for most
    construction employers and a few others), may get orders, a publication or a
    blacklisting, and ends resolved or transferred to the police, who later file it.
    """

    source = "inspection"

    def __init__(self, state: State, pools: Pools) -> None:
        self.state = state
        self.pools = pools
        self.rng = state.rng

    def builders(self) -> dict[str, Builder]:
        """This source's event types and the method that builds each."""
        return {
            "employer.inspected": self.employer_inspected,
            "arrears.verified": self.arrears_verified,
            "arrears.resolved": self.arrears_resolved,
            "order.issued": self.order_issued,
            "case.transferred": self.case_transferred,
            "case.filed": self.case_filed,
            "employer.published": self.employer_published,
            "employer.blacklisted": self.employer_blacklisted,
        }

    def employer_inspected(self, t: int) -> Built:
        rng = self.rng
        unit = self.state.pick_unit()
        emp = self.pools.employer(unit, "inspection")
        payload: dict[str, Any] = {"employer": emp.obj}
        if emp.row == "construction" and rng.random() < 0.75 or rng.random() < 0.03:
            payload["project"] = self.pools.project(unit)
        workers = max(1, round(emp.size * rng.uniform(0.93, 1.05)))
        migrant = min(workers, round(workers * emp.migrant_share * rng.uniform(0.9, 1.1)))
        payload.update(
            workers=workers,
            migrant_workers=migrant,
            method=pick(rng, (("onsite", 55), ("online", 30), ("complaint", 15))),
        )
        return unit, payload, t

    def arrears_verified(self, t: int) -> Built | None:
        rng = self.rng
        pools = self.pools
        if len(pools.open_cases) >= OPEN_CASES_MAX:
            return self.arrears_resolved(t)
        unit = self.state.pick_unit()
        emp = pools.employer(unit, "arrears")
        share = CASE_ON_PROJECT_CONSTRUCTION if emp.row == "construction" else CASE_ON_PROJECT_OTHER
        project = pools.project(unit) if rng.random() < share else None
        workers = max(1, min(emp.size, int(rng.paretovariate(1.3) * 3)))
        amount = workers * pools.per_worker(emp.row)
        case = Case(self.state.case_id(unit, t), unit, emp, project, workers, amount, t)
        pools.open_cases.append(case)
        return unit, _case_payload(case, amount=amount), t

    def arrears_resolved(self, t: int) -> Built | None:
        case = pop_random(self.rng, self.pools.open_cases)
        if case is None:
            return None
        payload = _case_payload(case, amount=case.amount_fen)
        payload["channel"] = "industry_regulator" if self.rng.random() < 0.25 else "inspection"
        payload["new_employment_form"] = case.employer.platform
        return case.unit, payload, self.state.after(case.at, t)

    def order_issued(self, t: int) -> Built | None:
        state = self.state
        if not self.pools.open_cases:
            return None
        case = self.rng.choice(self.pools.open_cases)
        kind = pick(
            self.rng, (("rectification", 60), ("handling_decision", 25), ("penalty_decision", 15))
        )
        at = state.after(case.at, t)
        number = state.number(case.unit, kind, at)
        doc = f"{state.abbr[case.unit]}人社监{_ORDER_WORD[kind]}〔{state.year(at)}〕{number}号"
        payload = {
            "case_id": case.case_id,
            "employer": case.employer.obj,
            "kind": kind,
            "document_no": doc,
        }
        return case.unit, payload, at

    def case_transferred(self, t: int) -> Built | None:
        case = pop_random(self.rng, self.pools.open_cases)
        if case is None:
            return None
        at = self.state.after(case.at, t)
        if self.rng.random() < POLICE_FILING_SHARE:
            case.at = at
            self.pools.to_file.append(case)
        return case.unit, {"case_id": case.case_id, "employer": case.employer.obj}, at

    def case_filed(self, t: int) -> Built | None:
        case = pop_random(self.rng, self.pools.to_file)
        if case is None:
            return None
        return (
            case.unit,
            {"case_id": case.case_id, "employer": case.employer.obj},
            self.state.after(case.at, t),
        )

    def employer_published(self, t: int) -> Built | None:
        if not self.pools.open_cases:
            return None
        case = self.rng.choice(self.pools.open_cases)
        return case.unit, {"employer": case.employer.obj}, self.state.after(case.at, t)

    def employer_blacklisted(self, t: int) -> Built | None:
        state = self.state
        if not self.pools.open_cases:
            return None
        case = self.rng.choice(self.pools.open_cases)
        at = state.after(case.at, t)
        prov = PROVINCE_CHAR.get(case.unit[:2], "")
        number = state.number(case.unit[:2], "list", at)
        listing = f"{prov}人社欠薪失信〔{state.year(at)}〕{number}号"
        return case.unit, {"employer": case.employer.obj, "listing_no": listing}, at


def _case_payload(case: Case, *, amount: int) -> dict[str, Any]:
    """The payload fields an arrears case's events share, with ``amount`` in fen as yuan."""
    payload: dict[str, Any] = {"case_id": case.case_id, "employer": case.employer.obj}
    if case.project is not None:
        payload["project"] = case.project
    payload["workers"] = case.workers
    payload["amount"] = fen_to_yuan(amount)
    return payload
