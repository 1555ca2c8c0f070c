"""The supervision facts behind a cutoff: every lead and every verified case, as the effective
events tell them (§三 问题清单台账 and the lead hotspots read these, `contracts.supervision`).

The caller hands in the events the Ledger holds effective (corrections, retractions and
resends already resolved, exactly as for the form); this module only reads them. Whether
a verified case is still open is `contracts.fold.open_cases`, the one rule behind the
`aux.open_cases` cell and the list the `no_open_cases` expectation prints; a batch hands
in its answer (`still_open`), else it is asked here of the events' contributions.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import NamedTuple

from contracts import payloads as p
from contracts.clock import epoch_ms
from contracts.events import Event
from contracts.fold import OpenCase, contributions, open_cases
from contracts.objects import Employer, Project

__all__ = [
    "SUPERVISED_TYPES",
    "INSPECTED",
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


def _employer(e: Employer) -> Subject:
    return Subject("employer", e.id, e.name)


def _project(pr: Project | None) -> Subject | None:
    return None if pr is None else Subject("project", pr.id, pr.name)


def _label(event: Event) -> str:
    if isinstance(event.payload, p.OrderIssued):
        return _ORDER_ACTION[event.payload.kind]
    return _ACTION[event.type]


def build_casebook(
    events: Iterable[Event],
    *,
    since_ms: int,
    cutoff_ms: int,
    still_open: Iterable[OpenCase] | None = None,
) -> Casebook:
    """Leads and verified cases from the effective events (any order) in [since, cutoff].

    A lead's verdict is its latest `lead.verified` (by event time, then event_id); a case's
    figures are those of its latest effective `arrears.verified` (a correction replaced the
    earlier one in the Ledger already), its resolutions summed; it is open if
    `contracts.fold.open_cases` says so: `still_open` when the caller has it (a batch's
    `BatchRebuild.open_cases`, over the same effective events), else over `events`.
    """
    chosen = sorted(
        (
            e
            for e in events
            if e.type in SUPERVISED_TYPES and since_ms <= epoch_ms(e.occurred_at) <= cutoff_ms
        ),
        key=lambda e: (epoch_ms(e.occurred_at), e.event_id),
    )
    leads: dict[tuple[str, str], Lead] = {}
    lead_events: dict[tuple[str, str], list[Event]] = defaultdict(list)
    verified: dict[tuple[str, str], Event] = {}
    case_events: dict[tuple[str, str], list[Event]] = defaultdict(list)
    inspections = []
    for e in chosen:
        pl = e.payload
        if isinstance(pl, p.EmployerInspected):
            project = None if pl.project is None else pl.project.id
            inspections.append(Inspection(e.unit, pl.employer.id, pl.method, project))
        elif isinstance(pl, p.LeadReceived):
            leads.setdefault(
                (e.unit, pl.lead_id),
                Lead(
                    e.unit,
                    pl.lead_id,
                    epoch_ms(e.occurred_at),
                    pl.intake,
                    None if pl.employer is None else _employer(pl.employer),
                    _project(pl.project),
                    pl.workers_claimed,
                    pl.amount_claimed_fen,
                ),
            )
            lead_events[(e.unit, pl.lead_id)].append(e)
        elif isinstance(pl, p.LeadMerged | p.LeadVerified | p.LeadClosed):
            lead_events[(e.unit, pl.lead_id)].append(e)
        elif isinstance(pl, p.ArrearsVerified):
            verified[(e.unit, pl.case_id)] = e  # sorted: the latest wins
            case_events[(e.unit, pl.case_id)].append(e)
        elif isinstance(pl, p.ArrearsResolved | p.OrderIssued | p.CaseTransferred | p.CaseFiled):
            case_events[(e.unit, pl.case_id)].append(e)

    for key, lead in leads.items():
        for e in lead_events[key]:
            lead.actions.append(Action(epoch_ms(e.occurred_at), e.event_id, _label(e)))
            if isinstance(e.payload, p.LeadMerged):
                lead.merged = True
            elif isinstance(e.payload, p.LeadVerified):
                lead.verdict = e.payload.verdict
            elif isinstance(e.payload, p.LeadClosed):
                lead.closed = True

    if still_open is None:
        still_open = open_cases(
            (c for es in case_events.values() for e in es for c in contributions(e)),
            since_ms=since_ms,
            cutoff_ms=cutoff_ms,
        )
    open_keys = {(c.unit, c.case_id) for c in still_open}
    cases = []
    for key, ve in verified.items():
        assert isinstance(ve.payload, p.ArrearsVerified)
        case = Case(
            ve.unit,
            ve.payload.case_id,
            epoch_ms(ve.occurred_at),
            _employer(ve.payload.employer),
            _project(ve.payload.project),
            ve.payload.workers,
            ve.payload.amount_fen,
            open=key in open_keys,
        )
        for e in case_events[key]:
            case.actions.append(Action(epoch_ms(e.occurred_at), e.event_id, _label(e)))
            if isinstance(e.payload, p.ArrearsResolved):
                case.resolved_fen += e.payload.amount_fen
                case.resolved_workers += e.payload.workers
        cases.append(case)
    return Casebook(
        tuple(sorted(leads.values(), key=lambda lead: (lead.unit, lead.lead_id))),
        tuple(sorted(cases, key=lambda c: (c.unit, c.case_id))),
        since_ms,
        cutoff_ms,
        tuple(inspections),
    )
