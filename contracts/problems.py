"""The problem ledger (问题清单台账, the notice's §三): one line per employer or project with
substantiated leads or verified arrears, read from a `contracts.casebook.Casebook`; a line
is 销号 when every verified case is resolved and every substantiated lead closed."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

from contracts.calendar import working_days_between
from contracts.casebook import Case, Casebook, Lead, Subject
from contracts.supervision import Rules, day_of

__all__ = ["LedgerLine", "ledger_lines", "OPEN", "CLOSED"]

OPEN, CLOSED = "open", "销号"


@dataclass(frozen=True)
class LedgerLine:
    """One line of the problem ledger: an employer or a project within a unit."""

    unit: str
    kind: str
    id: str
    name: str
    employer_id: str
    leads_received: int  # merged duplicates left out
    leads_substantiated: int
    leads_merged: int
    leads_open: int  # substantiated and not closed
    cases_open: int
    cases_closed: int
    verified_fen: int
    resolved_fen: int
    workers: int
    first_seen: dt.date
    last_action: str
    last_action_on: dt.date
    days_open: int
    working_days_left: int | None  # None once 销号
    status: str
    open_cases: tuple[str, ...]


def ledger_lines(book: Casebook, rules: Rules) -> list[LedgerLine]:
    """One line per (unit, project or employer) with substantiated leads or verified cases;
    open lines first, then by unit, open cases, arrears verified."""
    leads: dict[tuple[str, str, str], list[Lead]] = defaultdict(list)
    cases: dict[tuple[str, str, str], list[Case]] = defaultdict(list)
    names: dict[tuple[str, str, str], str] = {}
    for lead in book.leads:
        if lead.subject is not None:
            key = (lead.unit, *_ident(lead.subject))
            leads[key].append(lead)
            names.setdefault(key, lead.subject.name)
    for case in book.cases:
        key = (case.unit, *_ident(case.subject))
        cases[key].append(case)
        names[key] = case.subject.name  # the verified case's name wins over a complaint's
    cutoff_day = day_of(book.cutoff_ms)
    left = working_days_between(cutoff_day, rules.deadline.date())
    out = []
    for key in sorted(set(leads) | set(cases)):
        unit, kind, ident = key
        ls, cs = leads.get(key, []), cases.get(key, [])
        substantiated = [lead for lead in ls if lead.substantiated]
        if not substantiated and not cs:
            continue
        actions = [a for lead in ls for a in lead.actions] + [a for c in cs for a in c.actions]
        last = max(actions)
        first = min(a.at for a in actions)
        still = sorted(c.case_id for c in cs if c.open)
        lead_open = sum(not lead.closed for lead in substantiated)
        closed = not still and not lead_open
        employers = [c.employer for c in cs] + [lead.employer for lead in ls if lead.employer]
        employer = employers[0].id if employers else ""
        out.append(
            LedgerLine(
                unit,
                kind,
                ident,
                names[key],
                employer,
                sum(not lead.merged for lead in ls),
                len(substantiated),
                sum(lead.merged for lead in ls),
                lead_open,
                len(still),
                len(cs) - len(still),
                sum(c.verified_fen for c in cs),
                sum(c.resolved_fen for c in cs),
                sum(c.workers for c in cs),
                day_of(first),
                last.label,
                day_of(last.at),
                ((day_of(last.at) if closed else cutoff_day) - day_of(first)).days,
                None if closed else left,
                CLOSED if closed else OPEN,
                tuple(still),
            )
        )
    out.sort(key=lambda x: (x.status != OPEN, x.unit, -x.cases_open, -x.verified_fen, x.id))
    return out


def _ident(subject: Subject) -> tuple[str, str]:
    return subject.kind, subject.id
