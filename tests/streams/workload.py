"""A seeded stream of source records with every hard case, and the independent recompute.

`workload(n, seed)` gives records (source, unit key, value bytes) in the order a
producer sends them: inspections of a pool of employers (so distinct counts and
latest headcounts matter), every other event type, resends (key order shuffled),
conflicts, corrections and retractions (some sent before their target), events
outside the window and invalid records. A correction or retraction travels in
the same topic and under the same unit as its target, as the feed requires.

`recompute(values, cutoff_day)` is the batch answer the streams must equal:
contracts' Ledger in log order, then `tally` and `rollup`.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from contracts.calendar import load_campaign
from contracts.errors import ValidationError
from contracts.events import parse_event
from contracts.fold import Figures, rollup, tally
from contracts.ledger import Ledger
from contracts.registry import Registry
from contracts.uscc import make_uscc
from streams.tallies import Window, day_end_ms, event_day

REGISTRY = Registry.load()
CAMPAIGN = load_campaign()
WINDOW = Window.of(CAMPAIGN)
TREE = {u.code: u.parent for u in REGISTRY}
UNITS = ("320402", "320404", "320411", "320412", "320413", "320481", "320471", "320400", "320100")
INDUSTRIES = ("E4710", "3411", "43", "5430", "0111", "C3442", "7210", "4820", "1310")
DEC31 = event_day(
    int(
        __import__("datetime").datetime.fromisoformat("2024-12-31T12:00:00+08:00").timestamp()
        * 1000
    )
)
FINAL = event_day(WINDOW.until_ms)

_SOURCE = {
    "employer.inspected": "inspection",
    "arrears.verified": "inspection",
    "arrears.resolved": "inspection",
    "order.issued": "inspection",
    "case.transferred": "inspection",
    "case.filed": "inspection",
    "employer.published": "inspection",
    "employer.blacklisted": "inspection",
    "dispute.resolved": "mediation",
    "execution.concluded": "court",
    "lead.received": "complaint",
    "lead.merged": "complaint",
    "lead.verified": "complaint",
    "lead.closed": "complaint",
}
_WEIGHTS = {
    "employer.inspected": 30,
    "arrears.verified": 5,
    "arrears.resolved": 8,
    "order.issued": 6,
    "case.transferred": 3,
    "case.filed": 2,
    "employer.published": 2,
    "employer.blacklisted": 2,
    "dispute.resolved": 8,
    "execution.concluded": 6,
    "lead.received": 9,
    "lead.merged": 3,
    "lead.verified": 2,
    "lead.closed": 2,
}


@dataclass(frozen=True)
class Record:
    source: str
    unit: str
    value: bytes


def _encode(obj: dict[str, Any], rng: random.Random | None = None) -> bytes:
    if rng is not None:  # a resend: same JSON value, different key order and spacing
        items = list(obj.items())
        rng.shuffle(items)
        return json.dumps(dict(items), ensure_ascii=False, indent=1).encode()
    return json.dumps(obj, ensure_ascii=False).encode()


class _Maker:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.seq = 0
        self.employers = {
            u: [
                {
                    "id": make_uscc(rng, u if u != "320471" else "320400"),
                    "name": f"常州某公司{u}-{i}",
                    "industry": rng.choice(INDUSTRIES),
                }
                for i in range(12)
            ]
            for u in UNITS
        }
        self.projects = [
            {
                "id": f"P-{i}",
                "name": f"某项目{i}",
                "government_investment": i % 2 == 0,
                "soe": i % 3 == 0,
            }
            for i in range(10)
        ]
        self.leads: dict[str, list[str]] = {u: [] for u in UNITS}

    def when(self) -> str:
        r = self.rng.random()
        if r < 0.04:
            day = self.rng.randint(1, 25)
            hour, minute = self.rng.randint(0, 23), self.rng.randint(0, 59)
            return f"2024-10-{day:02d}T{hour:02d}:{minute:02d}:00+08:00"
        if r < 0.07:
            return f"2025-02-0{self.rng.randint(1, 9)}T09:00:00+08:00"
        base = 1730390400 + self.rng.randint(0, 89 * 86400 - 1)  # 2024-11-01T00:00+08:00
        # whole seconds, plus boundary instants now and then
        if self.rng.random() < 0.05:
            base = base - base % 86400 + 86400 - 28800 - 1  # 23:59:59 +08:00 of that day
        from datetime import datetime, timedelta, timezone

        return datetime.fromtimestamp(base, timezone(timedelta(hours=8))).isoformat()

    def employer(self, unit: str) -> dict[str, Any]:
        return dict(self.rng.choice(self.employers[unit]))

    def payload(self, type_: str, unit: str) -> dict[str, Any]:
        rng = self.rng
        emp = self.employer(unit)
        project = dict(rng.choice(self.projects)) if rng.random() < 0.3 else None
        workers = rng.randint(0, 400)
        amount = f"{rng.randint(0, 900000)}.{rng.randint(0, 99):02d}"
        case = f"C-{unit}-{rng.randint(1, 60)}"
        if type_ == "employer.inspected":
            p: dict[str, Any] = {
                "employer": emp,
                "workers": workers,
                "migrant_workers": rng.randint(0, workers),
                "method": rng.choice(["onsite", "online", "complaint"]),
            }
        elif type_ == "arrears.verified":
            p = {"case_id": case, "employer": emp, "workers": workers, "amount": amount}
            if project is not None:  # the case's follow-ups are then 建筑业 (SPEC 4.1)
                p["project"] = project
        elif type_ == "arrears.resolved":
            p = {
                "case_id": case,
                "employer": emp,
                "workers": workers,
                "amount": amount,
                "channel": rng.choice(["inspection", "industry_regulator"]),
                "new_employment_form": rng.random() < 0.2,
            }
        elif type_ == "order.issued":
            return {
                "case_id": case,
                "employer": emp,
                "document_no": f"D{rng.randint(1, 9999)}",
                "kind": rng.choice(["rectification", "handling_decision", "penalty_decision"]),
            }
        elif type_ in ("case.transferred", "case.filed"):
            return {"case_id": case, "employer": emp}
        elif type_ == "employer.published":
            return {"employer": emp}
        elif type_ == "employer.blacklisted":
            return {"employer": emp, "listing_no": f"L{rng.randint(1, 999)}"}
        elif type_ == "dispute.resolved":
            return {
                "case_no": f"M{rng.randint(1, 99999)}",
                "employer": emp,
                "workers": workers,
                "amount": amount,
                "channel": rng.choice(["mediation", "arbitration"]),
                "new_employment_form": rng.random() < 0.2,
            }
        elif type_ == "execution.concluded":
            return {
                "case_no": f"(2024)苏0412执{rng.randint(1, 9999)}号",
                "employer": emp,
                "workers": workers,
                "amount": amount,
                "new_employment_form": rng.random() < 0.1,
            }
        elif type_ == "lead.received":
            lead = f"L-{unit}-{rng.randint(1, 80)}"
            self.leads[unit].append(lead)
            p = {
                "lead_id": lead,
                "workers_claimed": workers,
                "amount_claimed": amount,
                "intake": rng.choice(
                    [
                        "national_platform",
                        "hotline",
                        "petition",
                        "centralized_reception",
                        "centralized_reception",
                    ]
                ),
            }
            if rng.random() < 0.5:
                p["employer"] = emp
        elif type_ == "lead.merged":
            return {
                "lead_id": f"L-{unit}-{rng.randint(1, 80)}",
                "into_lead_id": f"L-{unit}-{rng.randint(1, 80)}",
            }
        elif type_ == "lead.verified":
            return {
                "lead_id": f"L-{unit}-{rng.randint(1, 80)}",
                "verdict": rng.choice(["substantiated", "unsubstantiated"]),
            }
        else:
            return {"lead_id": f"L-{unit}-{rng.randint(1, 80)}"}
        if project is not None and type_ != "lead.received":
            p["project"] = project
        return p

    def event(self, type_: str | None = None, unit: str | None = None) -> dict[str, Any]:
        rng = self.rng
        type_ = type_ or rng.choices(list(_WEIGHTS), weights=list(_WEIGHTS.values()))[0]
        unit = unit or rng.choice(UNITS)
        self.seq += 1
        return {
            "event_id": f"w{self.seq}",
            "source": _SOURCE[type_],
            "type": type_,
            "occurred_at": self.when(),
            "unit": unit,
            "payload": self.payload(type_, unit),
        }


def workload(n: int, seed: int = 7) -> list[Record]:
    """About `n` records (a few more when a correction chain is added)."""
    rng = random.Random(seed)
    make = _Maker(rng)
    out: list[Record] = []
    emitted: list[dict[str, Any]] = []
    while len(out) < n:
        r = rng.random()
        if r < 0.05 and emitted:  # exact resend
            obj = rng.choice(emitted)
            out.append(Record(obj["source"], obj["unit"], _encode(obj, rng)))
        elif r < 0.06 and emitted:  # conflict: same id, different content, no supersedes
            obj = json.loads(json.dumps(rng.choice(emitted)))
            obj["occurred_at"] = make.when()
            obj.pop("supersedes", None)
            out.append(Record(obj["source"], obj["unit"], _encode(obj)))
        elif r < 0.11 and emitted:  # correction of an earlier event (or of the head of a chain)
            target = rng.choice(emitted)
            fix = make.event(target["type"], target["unit"])
            fix["supersedes"] = target["event_id"]
            fix["source"] = target["source"]
            emitted.append(fix)
            out.append(Record(fix["source"], fix["unit"], _encode(fix)))
        elif r < 0.14 and emitted:  # retraction
            target = rng.choice(emitted)
            make.seq += 1
            ret = {
                "event_id": f"w{make.seq}",
                "source": target["source"],
                "type": "event.retracted",
                "occurred_at": make.when(),
                "unit": target["unit"],
                "payload": {"retracts": target["event_id"], "reason": "录入错误"},
            }
            out.append(Record(ret["source"], ret["unit"], _encode(ret)))
        elif r < 0.17:  # correction or retraction that arrives before its target
            base = make.event()
            if rng.random() < 0.5:
                fix = make.event(base["type"], base["unit"])
                fix["supersedes"] = base["event_id"]
                fix["source"] = base["source"]
            else:
                make.seq += 1
                fix = {
                    "event_id": f"w{make.seq}",
                    "source": base["source"],
                    "type": "event.retracted",
                    "occurred_at": make.when(),
                    "unit": base["unit"],
                    "payload": {"retracts": base["event_id"], "reason": "重复录入"},
                }
            out.append(Record(fix["source"], fix["unit"], _encode(fix)))
            out.append(Record(base["source"], base["unit"], _encode(base)))
            emitted.append(base)
        elif r < 0.18:  # invalid records
            unit = rng.choice(UNITS)
            bad = rng.choice(
                [
                    b"not json at all",
                    b'{"event_id": 1}',
                    _encode({**make.event(), "unit": "320499"}),
                    _encode({**make.event(), "occurred_at": "2024-12-02T10:00:00"}),
                ]
            )
            out.append(Record(rng.choice(sorted(set(_SOURCE.values()))), unit, bad))
        else:
            obj = make.event()
            emitted.append(obj)
            out.append(Record(obj["source"], obj["unit"], _encode(obj)))
    return out


def recompute(values: Iterable[bytes], cutoff_day: int) -> Figures:
    """Every unit's rolled-up figures through `cutoff_day`, from records in log order."""
    ledger = Ledger()
    for value in values:
        try:
            event = parse_event(value, REGISTRY)
        except ValidationError:
            continue
        ledger.apply(event)
    contributions = [c for cs in ledger.effective().values() for c in cs]
    own = tally(contributions, since_ms=WINDOW.since_ms, cutoff_ms=day_end_ms(cutoff_day))
    return rollup(own, TREE)
