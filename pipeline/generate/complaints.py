"""Builders for the complaint events: a lead received, merged, verified and closed."""

from __future__ import annotations

from typing import Any

from pipeline.generate.pools import _Pools
from pipeline.generate.rates import OPEN_LEADS_MAX
from pipeline.generate.records import _Lead
from pipeline.generate.util import _pick, _pop_random, _yuan


class _ComplaintEvents(_Pools):
    """``complaint`` events; the later steps of a lead return None when no lead is waiting."""

    def _ev_lead_received(self, t: int) -> tuple[str, dict[str, Any], int]:
        rng = self.rng
        intake = _pick(
            rng,
            (
                ("national_platform", 45),
                ("hotline", 33),
                ("petition", 8),
                ("centralized_reception", 14),
            ),
        )
        duplicate_of = (
            rng.choice(self.received_leads) if self.received_leads and rng.random() < 0.12 else None
        )
        unit = duplicate_of.unit if duplicate_of else self._unit()
        lead_id = f"XS{unit}{self._seq():09d}"
        payload: dict[str, Any] = {"lead_id": lead_id, "intake": intake}
        if rng.random() < 0.88:
            emp = self._employer(unit, "arrears")
            payload["employer"] = emp.obj
            if emp.row == "construction" and rng.random() < 0.7:
                payload["project"] = self._project(unit)
            workers = max(1, min(emp.size, int(rng.paretovariate(1.4) * 2)))
            per_worker = self._per_worker(emp.row)
        else:
            workers, per_worker = rng.randint(1, 6), rng.randint(2000, 15000) * 100
        payload["workers_claimed"] = workers
        payload["amount_claimed"] = _yuan(rng, workers * per_worker)
        if duplicate_of is not None:
            self.merges.append((lead_id, duplicate_of.lead_id, unit, t))
        elif len(self.received_leads) < OPEN_LEADS_MAX:
            self.received_leads.append(_Lead(lead_id, unit, t))
        return unit, payload, t

    def _ev_lead_merged(self, t: int) -> tuple[str, dict[str, Any], int] | None:
        if not self.merges:
            return None
        lead_id, into, unit, at = self.merges.popleft()
        return unit, {"lead_id": lead_id, "into_lead_id": into}, self._after(at, t)

    def _ev_lead_verified(self, t: int) -> tuple[str, dict[str, Any], int] | None:
        lead = _pop_random(self.rng, self.received_leads)
        if lead is None:
            return None
        verdict = _pick(
            self.rng,
            (("substantiated", 55), ("unsubstantiated", 25), ("contract_payment_dispute", 20)),
        )
        lead.at = self._after(lead.at, t)
        if len(self.verified_leads) < OPEN_LEADS_MAX:
            self.verified_leads.append(lead)
        return lead.unit, {"lead_id": lead.lead_id, "verdict": verdict}, lead.at

    def _ev_lead_closed(self, t: int) -> tuple[str, dict[str, Any], int] | None:
        lead = _pop_random(self.rng, self.verified_leads)
        if lead is None:
            return None
        return lead.unit, {"lead_id": lead.lead_id}, self._after(lead.at, t)
