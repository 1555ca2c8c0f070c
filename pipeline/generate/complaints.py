"""The complaint source's builder: a lead received, merged, verified and closed."""

from __future__ import annotations

from typing import Any

from pipeline.generate.pools import Pools
from pipeline.generate.rates import OPEN_LEADS_MAX
from pipeline.generate.records import Builder, Built, Lead
from pipeline.generate.state import State
from pipeline.generate.util import pick, pop_random, yuan


class ComplaintBuilder:
    """``complaint`` events; the later steps of a lead return None when no lead is waiting.

    A lead is received (some as duplicates of an earlier one, merged into it later), then
    verified, then closed.
    """

    source = "complaint"

    def __init__(self, state: State, pools: Pools) -> None:
        self.state = state
        self.pools = pools
        self.rng = state.rng

    def builders(self) -> dict[str, Builder]:
        """This source's event types and the method that builds each."""
        return {
            "lead.received": self.lead_received,
            "lead.merged": self.lead_merged,
            "lead.verified": self.lead_verified,
            "lead.closed": self.lead_closed,
        }

    def lead_received(self, t: int) -> Built:
        rng = self.rng
        pools = self.pools
        intake = pick(
            rng,
            (
                ("national_platform", 45),
                ("hotline", 33),
                ("petition", 8),
                ("centralized_reception", 14),
            ),
        )
        received = pools.received_leads
        duplicate_of = rng.choice(received) if received and rng.random() < 0.12 else None
        unit = duplicate_of.unit if duplicate_of else self.state.pick_unit()
        lead_id = f"XS{unit}{self.state.next_seq():09d}"
        payload: dict[str, Any] = {"lead_id": lead_id, "intake": intake}
        if rng.random() < 0.88:
            emp = pools.employer(unit, "arrears")
            payload["employer"] = emp.obj
            if emp.row == "construction" and rng.random() < 0.7:
                payload["project"] = pools.project(unit)
            workers = max(1, min(emp.size, int(rng.paretovariate(1.4) * 2)))
            per_worker = pools.per_worker(emp.row)
        else:
            workers, per_worker = rng.randint(1, 6), rng.randint(2000, 15000) * 100
        payload["workers_claimed"] = workers
        payload["amount_claimed"] = yuan(rng, workers * per_worker)
        if duplicate_of is not None:
            pools.merges.append((lead_id, duplicate_of.lead_id, unit, t))
        elif len(received) < OPEN_LEADS_MAX:
            received.append(Lead(lead_id, unit, t))
        return unit, payload, t

    def lead_merged(self, t: int) -> Built | None:
        if not self.pools.merges:
            return None
        lead_id, into, unit, at = self.pools.merges.popleft()
        return unit, {"lead_id": lead_id, "into_lead_id": into}, self.state.after(at, t)

    def lead_verified(self, t: int) -> Built | None:
        lead = pop_random(self.rng, self.pools.received_leads)
        if lead is None:
            return None
        verdict = pick(
            self.rng,
            (("substantiated", 55), ("unsubstantiated", 25), ("contract_payment_dispute", 20)),
        )
        lead.at = self.state.after(lead.at, t)
        if len(self.pools.verified_leads) < OPEN_LEADS_MAX:
            self.pools.verified_leads.append(lead)
        return lead.unit, {"lead_id": lead.lead_id, "verdict": verdict}, lead.at

    def lead_closed(self, t: int) -> Built | None:
        lead = pop_random(self.rng, self.pools.verified_leads)
        if lead is None:
            return None
        return lead.unit, {"lead_id": lead.lead_id}, self.state.after(lead.at, t)
