"""Builders for valid events in tests: one line per event, override what matters."""

from __future__ import annotations

import copy
import itertools
from typing import Any

from contracts.events import Event, parse_event
from contracts.registry import Registry

REGISTRY = Registry.load()
_ids = itertools.count(1)

#: Valid credit codes (GB 32100 check characters verified by the contracts tests).
BUILDER = {"id": "91320412MA1N2J6P5X", "name": "常州某建设工程有限公司", "industry": "E4710"}
FACTORY = {"id": "91440300708461136T", "name": "常州某机械制造有限公司", "industry": "3411"}
REPAIR = {"id": "914403001922038216", "name": "常州某设备修理有限公司", "industry": "43"}
GOV_PROJECT = {"id": "P-GOV-1", "name": "某安置房项目", "government_investment": True, "soe": False}
BOTH_PROJECT = {
    "id": "P-BOTH-1",
    "name": "某轨道交通项目",
    "government_investment": True,
    "soe": True,
}

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
    "event.retracted": "inspection",
}


def raw(
    type_: str,
    payload: dict[str, Any],
    *,
    unit: str = "320412",
    at: str = "2024-12-02T10:00:00+08:00",
    event_id: str | None = None,
    **envelope: Any,
) -> dict[str, Any]:
    obj = {
        "event_id": event_id or f"e-{next(_ids)}",
        "source": _SOURCE[type_],
        "type": type_,
        "occurred_at": at,
        "unit": unit,
        "payload": copy.deepcopy(payload),
    }
    obj.update(envelope)
    return obj


def event(type_: str, payload: dict[str, Any], **kw: Any) -> Event:
    return parse_event(raw(type_, payload, **kw), REGISTRY)


def inspected(
    employer: dict[str, Any] = FACTORY,
    workers: int = 100,
    migrant: int | None = None,
    project: dict[str, Any] | None = None,
    **kw: Any,
) -> Event:
    payload: dict[str, Any] = {
        "employer": employer,
        "workers": workers,
        "migrant_workers": workers // 2 if migrant is None else migrant,
        "method": "onsite",
    }
    if project is not None:
        payload["project"] = project
    return event("employer.inspected", payload, **kw)


def resolved(
    employer: dict[str, Any] = FACTORY,
    workers: int = 10,
    amount: str = "1000.00",
    channel: str = "inspection",
    nef: bool = False,
    case_id: str = "C-1",
    **kw: Any,
) -> Event:
    return event(
        "arrears.resolved",
        {
            "case_id": case_id,
            "employer": employer,
            "workers": workers,
            "amount": amount,
            "channel": channel,
            "new_employment_form": nef,
        },
        **kw,
    )


def retraction(target: str, **kw: Any) -> Event:
    return event("event.retracted", {"retracts": target, "reason": "entered twice"}, **kw)


def verified(
    employer: dict[str, Any] = FACTORY,
    project: dict[str, Any] | None = None,
    case_id: str = "C-1",
    workers: int = 10,
    **kw: Any,
) -> Event:
    """An `arrears.verified` opening `case_id`; with a project, its follow-ups are 建筑业."""
    payload: dict[str, Any] = {"case_id": case_id, "employer": employer}
    if project is not None:
        payload["project"] = project
    payload.update(workers=workers, amount=f"{workers * 1000}.00")
    return event("arrears.verified", payload, **kw)


def follow_up(
    kind: str, case_id: str = "C-1", employer: dict[str, Any] = FACTORY, **kw: Any
) -> Event:
    """A follow-up of `case_id`: "order", "transferred", "filed" or "resolved"."""
    if kind == "resolved":
        return resolved(employer, case_id=case_id, **kw)
    if kind == "order":
        payload = {
            "case_id": case_id,
            "employer": employer,
            "kind": "rectification",
            "document_no": f"常人社监令〔2024〕{case_id}号",
        }
        return event("order.issued", payload, **kw)
    return event(f"case.{kind}", {"case_id": case_id, "employer": employer}, **kw)
