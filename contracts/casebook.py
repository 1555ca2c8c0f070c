"""The supervision facts behind a cutoff: every lead and every verified case, as the effective
events tell them (§三 问题清单台账 and the lead hotspots read these, `contracts.supervision`).

The caller hands in the events the Ledger holds effective (corrections, retractions and
resends already resolved, exactly as for the form), as `Fact`s: an event's type, unit, time,
id and its payload as the contract's JSON. Every record read here validated when it was
archived or replayed, so it is read back (`read_fact`), not validated again: that is a tenth
of `parse_event`'s cost, which grew with the campaign. Whether a verified case is still open
is `contracts.fold.open_cases`, the one rule behind the `aux.open_cases` cell and the list
the `no_open_cases` expectation prints; the caller hands in its answer (`still_open`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from contracts import _parse as p
from contracts.clock import epoch_ms
from contracts.events import Event, upcast
from contracts.fold import OpenCase
from contracts.records import quick_load, strict_load

__all__ = [
    "SUPERVISED_TYPES",
    "INSPECTED",
    "Fact",
    "fact_of",
    "read_fact",
    "Subject",
    "Action",
    "Inspection",
    "Lead",
    "Case",
    "Casebook",
    "build_casebook",
]

INSPECTED = "employer.inspected"
#: The event types the supervision views read; every other type is left out early.
SUPERVISED_TYPES = frozenset(
    {
        INSPECTED,
        "lead.received",
        "lead.merged",
        "lead.verified",
        "lead.closed",
        "arrears.verified",
        "arrears.resolved",
        "order.issued",
        "case.transferred",
        "case.filed",
    }
)

_LEAD_STEPS = frozenset({"lead.merged", "lead.verified", "lead.closed"})
_CASE_STEPS = frozenset({"arrears.resolved", "order.issued", "case.transferred", "case.filed"})
#: How a ledger line names an event as its last action.
_ACTION = {
    "lead.received": "线索受理",
    "lead.merged": "线索合并",
    "lead.verified": "线索核实",
    "lead.closed": "线索办结",
    "arrears.verified": "欠薪查实",
    "arrears.resolved": "欠薪解决",
    "case.transferred": "移送公安",
    "case.filed": "公安立案",
}
_ORDER_ACTION = {
    "rectification": "责令改正",
    "handling_decision": "行政处理决定",
    "penalty_decision": "行政处罚决定",
}


class Fact(NamedTuple):
    """An effective event as the casebook reads it: `payload` is its JSON payload (upcast)."""

    type: str
    unit: str
    at: int  # occurred_at, epoch ms
    event_id: str
    payload: Mapping[str, Any]


def fact_of(event: Event) -> Fact:
    """The fact of a parsed event."""
    payload = upcast(event.raw)["payload"]
    return Fact(event.type, event.unit, epoch_ms(event.occurred_at), event.event_id, payload)


def read_fact(record: bytes) -> Fact:
    """The fact of a record known to be a valid event (archived, or read by a replay that
    validated it), decoded as `parse_event` decodes it, without validating it again:
    `fact_of(parse_event(record, registry)) == read_fact(record)`."""
    loaded = quick_load(record)
    data = upcast(loaded if loaded is not None else strict_load(record))
    at = epoch_ms(p.timestamp(data["occurred_at"], "occurred_at"))
    return Fact(data["type"], data["unit"], at, data["event_id"], data["payload"])


class Subject(NamedTuple):
    """What a ledger line or a hotspot is about: a construction project or an employer."""

    kind: str  # "project" | "employer"
    id: str  # the project's id, or the employer's credit code
    name: str


class Action(NamedTuple):
    """One event in a lead's or a case's history: epoch ms, event_id, what it did."""

    at: int
    event_id: str
    label: str


class Inspection(NamedTuple):
    """An employer inspected (the final report's 开展情况): by which method, on which project."""

    unit: str
    employer_id: str
    method: str  # onsite | online | complaint
    project_id: str | None


@dataclass
class Lead:
    """A complaint lead: received, perhaps merged into another (a duplicate), verified, closed."""

    unit: str
    lead_id: str
    received_at: int
    intake: str
    employer: Subject | None
    project: Subject | None
    workers_claimed: int
    claimed_fen: int
    merged: bool = False
    verdict: str | None = None
    closed: bool = False
    actions: list[Action] = field(default_factory=list)

    @property
    def subject(self) -> Subject | None:
        return self.project or self.employer

    @property
    def substantiated(self) -> bool:
        """Verified as substantiated and not a merged duplicate (counted once, in its target)."""
        return self.verdict == "substantiated" and not self.merged


@dataclass
class Case:
    """A verified arrears case (查实) and its follow-ups, by case_id within its unit."""

    unit: str
    case_id: str
    verified_at: int
    employer: Subject
    project: Subject | None
    workers: int
    verified_fen: int
    open: bool
    resolved_fen: int = 0
    resolved_workers: int = 0
    actions: list[Action] = field(default_factory=list)

    @property
    def subject(self) -> Subject:
        return self.project or self.employer


@dataclass(frozen=True)
class Casebook:
    """The leads and verified cases of the effective events with since <= at <= cutoff."""

    leads: tuple[Lead, ...]
    cases: tuple[Case, ...]
    since_ms: int
    cutoff_ms: int
    inspections: tuple[Inspection, ...] = ()


def _employer(e: Mapping[str, Any]) -> Subject:
    return Subject("employer", e["id"], e["name"])


def _project(pr: Mapping[str, Any] | None) -> Subject | None:
    return None if pr is None else Subject("project", pr["id"], pr["name"])


def _label(fact: Fact) -> str:
    if fact.type == "order.issued":
        return _ORDER_ACTION[fact.payload["kind"]]
    return _ACTION[fact.type]


def _action(fact: Fact) -> Action:
    return Action(fact.at, fact.event_id, _label(fact))


def build_casebook(
    facts: Iterable[Fact],
    *,
    since_ms: int,
    cutoff_ms: int,
    still_open: Iterable[OpenCase],
) -> Casebook:
    """Leads and verified cases from the effective events' facts (any order) in [since,
    cutoff].

    A lead's verdict is its latest `lead.verified` (by event time, then event_id); a case's
    figures are those of its latest effective `arrears.verified` (a correction replaced the
    earlier one in the Ledger already), its resolutions summed; it is open if it is among
    `still_open`: `contracts.fold.open_cases` over the same effective events (a batch's
    `BatchRebuild.open_cases`).
    """
    chosen = sorted(
        (f for f in facts if f.type in SUPERVISED_TYPES and since_ms <= f.at <= cutoff_ms),
        key=lambda f: (f.at, f.event_id),
    )
    leads: dict[tuple[str, str], Lead] = {}
    lead_facts: dict[tuple[str, str], list[Fact]] = defaultdict(list)
    verified: dict[tuple[str, str], Fact] = {}
    case_facts: dict[tuple[str, str], list[Fact]] = defaultdict(list)
    inspections = []
    for f in chosen:
        pl = f.payload
        if f.type == INSPECTED:
            project = pl.get("project")
            project_id = None if project is None else project["id"]
            inspections.append(Inspection(f.unit, pl["employer"]["id"], pl["method"], project_id))
        elif f.type == "lead.received":
            key = (f.unit, pl["lead_id"])
            employer = pl.get("employer")
            leads.setdefault(
                key,
                Lead(
                    f.unit,
                    pl["lead_id"],
                    f.at,
                    pl["intake"],
                    None if employer is None else _employer(employer),
                    _project(pl.get("project")),
                    pl["workers_claimed"],
                    p.fen(pl["amount_claimed"], "amount_claimed"),
                ),
            )
            lead_facts[key].append(f)
        elif f.type in _LEAD_STEPS:
            lead_facts[(f.unit, pl["lead_id"])].append(f)
        elif f.type == "arrears.verified":
            verified[(f.unit, pl["case_id"])] = f  # sorted: the latest wins
            case_facts[(f.unit, pl["case_id"])].append(f)
        elif f.type in _CASE_STEPS:
            case_facts[(f.unit, pl["case_id"])].append(f)

    for key, lead in leads.items():
        for f in lead_facts[key]:
            lead.actions.append(_action(f))
            if f.type == "lead.merged":
                lead.merged = True
            elif f.type == "lead.verified":
                lead.verdict = f.payload["verdict"]
            elif f.type == "lead.closed":
                lead.closed = True

    open_keys = {(c.unit, c.case_id) for c in still_open}
    cases = []
    for key, vf in verified.items():
        pl = vf.payload
        case = Case(
            vf.unit,
            pl["case_id"],
            vf.at,
            _employer(pl["employer"]),
            _project(pl.get("project")),
            pl["workers"],
            p.fen(pl["amount"], "amount"),
            open=key in open_keys,
        )
        for f in case_facts[key]:
            case.actions.append(_action(f))
            if f.type == "arrears.resolved":
                case.resolved_fen += p.fen(f.payload["amount"], "amount")
                case.resolved_workers += f.payload["workers"]
        cases.append(case)
    return Casebook(
        tuple(sorted(leads.values(), key=lambda lead: (lead.unit, lead.lead_id))),
        tuple(sorted(cases, key=lambda c: (c.unit, c.case_id))),
        since_ms,
        cutoff_ms,
        tuple(inspections),
    )
