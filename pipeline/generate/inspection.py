"""Builders for the labour inspection events: inspections and the life of an arrears case."""

from __future__ import annotations

from typing import Any

from pipeline.generate.names import _PROVINCE_CHAR
from pipeline.generate.pools import _Pools
from pipeline.generate.rates import OPEN_CASES_MAX, POLICE_FILING_SHARE
from pipeline.generate.records import _Case
from pipeline.generate.util import _pick, _pop_random


class _InspectionEvents(_Pools):
    """``inspection`` events; each returns (unit, payload, occurred) or None if its pool is empty."""

    def _ev_employer_inspected(self, t: int) -> tuple[str, dict[str, Any], int]:
        rng = self.rng
        unit = self._unit()
        emp = self._employer(unit, "inspection")
        payload: dict[str, Any] = {"employer": emp.obj}
        if emp.row == "construction" and rng.random() < 0.75 or rng.random() < 0.03:
            payload["project"] = self._project(unit)
        workers = max(1, round(emp.size * rng.uniform(0.93, 1.05)))
        migrant = min(workers, round(workers * emp.migrant_share * rng.uniform(0.9, 1.1)))
        payload.update(
            workers=workers,
            migrant_workers=migrant,
            method=_pick(rng, (("onsite", 55), ("online", 30), ("complaint", 15))),
        )
        return unit, payload, t

    def _ev_arrears_verified(self, t: int) -> tuple[str, dict[str, Any], int] | None:
        rng = self.rng
        if len(self.open_cases) >= OPEN_CASES_MAX:
            return self._ev_arrears_resolved(t)
        unit = self._unit()
        emp = self._employer(unit, "arrears")
        project = self._project(unit) if emp.row == "construction" and rng.random() < 0.85 else None
        workers = max(1, min(emp.size, int(rng.paretovariate(1.3) * 3)))
        amount = workers * self._per_worker(emp.row)
        case = _Case(self._case_id(unit, t), unit, emp, project, workers, amount, t)
        self.open_cases.append(case)
        return unit, self._case_payload(case, amount=amount), t

    def _ev_arrears_resolved(self, t: int) -> tuple[str, dict[str, Any], int] | None:
        case = _pop_random(self.rng, self.open_cases)
        if case is None:
            return None
        payload = self._case_payload(case, amount=case.amount_fen)
        payload["channel"] = "industry_regulator" if self.rng.random() < 0.25 else "inspection"
        payload["new_employment_form"] = case.employer.platform
        return case.unit, payload, self._after(case.at, t)

    def _ev_order_issued(self, t: int) -> tuple[str, dict[str, Any], int] | None:
        if not self.open_cases:
            return None
        case = self.rng.choice(self.open_cases)
        kind = _pick(
            self.rng, (("rectification", 60), ("handling_decision", 25), ("penalty_decision", 15))
        )
        word = {"rectification": "令", "handling_decision": "处", "penalty_decision": "罚"}[kind]
        at = self._after(case.at, t)
        doc = f"{self.abbr[case.unit]}人社监{word}〔{self._year(at)}〕{self._number(case.unit, kind, at)}号"
        payload = {
            "case_id": case.case_id,
            "employer": case.employer.obj,
            "kind": kind,
            "document_no": doc,
        }
        return case.unit, payload, at

    def _ev_case_transferred(self, t: int) -> tuple[str, dict[str, Any], int] | None:
        case = _pop_random(self.rng, self.open_cases)
        if case is None:
            return None
        at = self._after(case.at, t)
        if self.rng.random() < POLICE_FILING_SHARE:
            case.at = at
            self.to_file.append(case)
        return case.unit, {"case_id": case.case_id, "employer": case.employer.obj}, at

    def _ev_case_filed(self, t: int) -> tuple[str, dict[str, Any], int] | None:
        case = _pop_random(self.rng, self.to_file)
        if case is None:
            return None
        return (
            case.unit,
            {"case_id": case.case_id, "employer": case.employer.obj},
            self._after(case.at, t),
        )

    def _ev_employer_published(self, t: int) -> tuple[str, dict[str, Any], int] | None:
        if not self.open_cases:
            return None
        case = self.rng.choice(self.open_cases)
        return case.unit, {"employer": case.employer.obj}, self._after(case.at, t)

    def _ev_employer_blacklisted(self, t: int) -> tuple[str, dict[str, Any], int] | None:
        if not self.open_cases:
            return None
        case = self.rng.choice(self.open_cases)
        at = self._after(case.at, t)
        prov = _PROVINCE_CHAR.get(case.unit[:2], "")
        listing = (
            f"{prov}人社欠薪失信〔{self._year(at)}〕{self._number(case.unit[:2], 'list', at)}号"
        )
        return case.unit, {"employer": case.employer.obj, "listing_no": listing}, at
