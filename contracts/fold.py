"""The fold: one event -> its cell contributions, and contributions -> figures.

The streams and the batch recompute both call these functions, so the two
paths cannot drift. Which events count at all (duplicates, corrections,
retractions) is decided by `contracts.ledger` before anything is folded.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from typing import NamedTuple

from contracts import payloads as p
from contracts.cells import (
    CELL_BY_ID,
    COLUMNS,
    FOLDED_CELLS,
    ROWS,
    TOTAL,
    Agg,
    row_cell,
)
from contracts.clock import epoch_ms
from contracts.events import Event
from contracts.industry import row_of_division
from contracts.objects import Employer, Project


class Contribution(NamedTuple):
    """One event's part of one cell (see ARCHITECTURE.md). `at` is epoch ms."""

    cell: str
    unit: str
    key: str
    at: int
    value: int
    event_id: str


#: `Contribution(*fields)` for six fields in its order, without the namedtuple's Python-level
#: `__new__`: 0.14 µs, not 0.37 (the workers make several an event and unpack them again
#: from the ledger). Nothing checks the count, so only for rows made of a Contribution.
make_contribution = functools.partial(tuple.__new__, Contribution)


_ORDER_COLUMN = {
    "rectification": "rectification_orders",
    "handling_decision": "handling_decisions",
    "penalty_decision": "penalty_decisions",
}
#: The cell of verified arrears cases not yet resolved (verified +1, resolved -1, by case_id).
OPEN_CASES = "aux.open_cases"
_CHANNEL_ITEM = {"mediation": 3, "arbitration": 3, "court": 4, "industry_regulator": 5}


#: The row of events about an engineering construction project (SPEC 4.1).
CONSTRUCTION = "construction"


def report_row(employer: Employer, project: Project | None) -> str:
    """SPEC 4.1: a construction project puts the event in 建筑业 whatever the industry."""
    if project is not None:
        return CONSTRUCTION
    return row_of_division(employer.industry.division)


class CaseLink(NamedTuple):
    """What an event says about an arrears case (SPEC 4.1, the row of a case's follow-ups).

    `role` is ON_PROJECT for an `arrears.verified` naming a construction project (its
    follow-ups are 建筑业), OFF_PROJECT for one naming none, FOLLOW_UP for an order,
    transfer, filing or resolution of the case. `case` is the case_id, or the Ledger's
    scoped key of it once `contracts.ledger` holds it.
    """

    case: str
    role: str


ON_PROJECT, OFF_PROJECT, FOLLOW_UP = "on_project", "off_project", "follow_up"
CASE_ROLES = (ON_PROJECT, OFF_PROJECT, FOLLOW_UP)
_FOLLOW_UPS = (p.OrderIssued, p.CaseTransferred, p.CaseFiled, p.ArrearsResolved)


def case_link(event: Event) -> CaseLink | None:
    """The event's tie to its case by `case_id`, or None for an event of no case.

    >>> case_link(order_for_c1)  # doctest: +SKIP
    CaseLink(case='C-1', role='follow_up')
    """
    pl = event.payload
    if isinstance(pl, p.ArrearsVerified):
        return CaseLink(pl.case_id, OFF_PROJECT if pl.project is None else ON_PROJECT)
    if isinstance(pl, _FOLLOW_UPS):
        return CaseLink(pl.case_id, FOLLOW_UP)
    return None


def own_row(items: Iterable[Contribution]) -> str | None:
    """The report row whose table cells `items` feed (None: no table cell).

    An event feeds one row only, so this is the row its fold chose (`report_row`).
    """
    for c in items:
        row = CELL_BY_ID[c.cell].row
        if row is not None:
            return row
    return None


def in_row(items: Iterable[Contribution], row: str) -> tuple[Contribution, ...]:
    """`items` with their table cells moved to `row`; items 1-7 and aux cells stay.

    How a follow-up of a case on a construction project goes to 建筑业 (and back when the
    case stops naming one): the Ledger moves the effective contributions it holds.
    """
    out = []
    for c in items:
        cell = CELL_BY_ID[c.cell]
        if cell.row is not None and cell.row != row:
            c = c._replace(cell=row_cell(row, c.cell.split(".", 1)[1]))
        out.append(c)
    return tuple(out)


def contributions(event: Event) -> tuple[Contribution, ...]:
    """What `event` adds to the figures of its unit.

    >>> contributions(some_inspection)  # doctest: +SKIP
    (Contribution(cell='manufacturing.employers', unit='320412', key='9132...', ...), ...)
    """
    out: list[Contribution] = []
    at = epoch_ms(event.occurred_at)

    def add(cell_id: str, value: int, key: str = "") -> None:
        out.append(make_contribution((cell_id, event.unit, key, at, value, event.event_id)))

    pl = event.payload
    if isinstance(pl, p.EmployerInspected):
        row = report_row(pl.employer, pl.project)
        add(row_cell(row, "employers"), 1, pl.employer.id)
        add(row_cell(row, "workers"), pl.workers, pl.employer.id)
        add(row_cell(row, "migrant_workers"), pl.migrant_workers, pl.employer.id)
        if pl.project is not None:
            if pl.project.government_investment:
                add("item1.gov_projects", 1, pl.project.id)
            if pl.project.soe:
                add("item1.soe_projects", 1, pl.project.id)
    elif isinstance(pl, p.ArrearsVerified):
        add(OPEN_CASES, 1, pl.case_id)
        if pl.project is not None:
            for flag, prefix in (
                (pl.project.government_investment, "gov"),
                (pl.project.soe, "soe"),
            ):
                if flag:
                    # Arrears are verified (查实) by inspecting the project, so a verified
                    # project is an inspected one too: item 1's "of them" holds by construction.
                    add(f"item1.{prefix}_projects", 1, pl.project.id)
                    add(f"item1.{prefix}_arrears_projects", 1, pl.project.id)
                    add(f"item1.{prefix}_arrears_amount", pl.amount_fen)
                    add(f"item1.{prefix}_arrears_workers", pl.workers)
    elif isinstance(pl, p.ArrearsResolved):
        add(OPEN_CASES, -1, pl.case_id)
        _resolution(
            add,
            report_row(pl.employer, pl.project),
            pl.workers,
            pl.amount_fen,
            pl.channel,
            pl.new_employment_form,
        )
    elif isinstance(pl, p.DisputeResolved):
        _resolution(
            add,
            report_row(pl.employer, None),
            pl.workers,
            pl.amount_fen,
            pl.channel,
            pl.new_employment_form,
        )
    elif isinstance(pl, p.ExecutionConcluded):
        _resolution(
            add,
            report_row(pl.employer, None),
            pl.workers,
            pl.amount_fen,
            "court",
            pl.new_employment_form,
        )
    elif isinstance(pl, p.OrderIssued):
        add(row_cell(report_row(pl.employer, None), _ORDER_COLUMN[pl.kind]), 1)
    elif isinstance(pl, p.CaseTransferred):
        add(row_cell(report_row(pl.employer, None), "police_transfers"), 1)
    elif isinstance(pl, p.CaseFiled):
        add(row_cell(report_row(pl.employer, None), "police_filings"), 1)
    elif isinstance(pl, p.EmployerPublished):
        add("item7.published_employers", 1, pl.employer.id)
    elif isinstance(pl, p.EmployerBlacklisted):
        add("item7.blacklist_listings", 1)
    elif isinstance(pl, p.LeadReceived):
        if pl.intake == "centralized_reception":
            add("item6.reception_leads", 1, pl.lead_id)
    elif isinstance(pl, p.LeadMerged):
        # A merged lead is a duplicate complaint: it no longer counts on its own.
        add("item6.reception_leads", -1, pl.lead_id)
    # lead.verified, lead.closed and event.retracted add nothing: closing a lead is
    # not a resolution (SPEC 4.2), and retractions act through the ledger.
    return tuple(out)


def _resolution(
    add: Callable[..., None],
    row: str,
    workers: int,
    amount_fen: int,
    channel: str,
    new_employment_form: bool,
) -> None:
    """Cols 4-6 of the event's row, plus the supplementary items its channel feeds."""
    add(row_cell(row, "resolved"), 1)
    add(row_cell(row, "resolved_workers"), workers)
    add(row_cell(row, "resolved_amount"), amount_fen)
    targets = [_CHANNEL_ITEM[channel]] if channel in _CHANNEL_ITEM else []
    if new_employment_form:
        targets.append(2)
    for item in targets:
        add(f"item{item}.cases", 1)
        add(f"item{item}.workers", workers)
        add(f"item{item}.amount", amount_fen)


Figures = dict[tuple[str, str], int]  # (unit, cell id) -> exact value


class OpenCase(NamedTuple):
    """A verified arrears case still open at a cutoff, and the verification that opened it."""

    unit: str
    case_id: str
    verified_by: str  # the event_id of its latest effective arrears.verified


def open_cases(items: Iterable[Contribution], *, since_ms: int, cutoff_ms: int) -> list[OpenCase]:
    """The verified cases still open at the cutoff, by unit and case_id.

    The one rule for an open case, whoever asks (the problem ledger, the `no_open_cases`
    expectation's list, the calendar and the verdict page through them): the DISTINCT
    aggregation of `OPEN_CASES` that `tally` applies, so a case is open while its
    contributions with since <= at <= cutoff sum to a positive value. Which events count
    (corrections, retractions, resends) the Ledger has decided before: `items` are the
    effective events' contributions, whichever path folded them.

    >>> open_cases(contributions(verified_c1), since_ms=0, cutoff_ms=2**62)  # doctest: +SKIP
    [OpenCase(unit='320412', case_id='C-1', verified_by='v-1')]
    """
    net: dict[tuple[str, str], int] = defaultdict(int)
    verified: dict[tuple[str, str], tuple[int, str]] = {}
    for c in items:
        if c.cell == OPEN_CASES and since_ms <= c.at <= cutoff_ms:
            case = (c.unit, c.key)
            net[case] += c.value
            if c.value > 0:
                verified[case] = max(verified.get(case, (c.at, c.event_id)), (c.at, c.event_id))
    return [
        OpenCase(unit, case_id, verified[(unit, case_id)][1])
        for (unit, case_id), value in sorted(net.items())
        if value > 0
    ]


def tally(items: Iterable[Contribution], *, since_ms: int, cutoff_ms: int) -> Figures:
    """Each unit's own figures from the effective contributions with since <= at <= cutoff.

    Only cells with a non-zero value or any contribution appear; 合计 is the sum of
    the four rows' exact values.
    """
    sums: dict[tuple[str, str], int] = defaultdict(int)
    keyed: dict[tuple[str, str, str], int] = defaultdict(int)
    latest: dict[tuple[str, str, str], tuple[int, str, int]] = {}
    for c in items:
        if c.at < since_ms or c.at > cutoff_ms:
            continue
        agg = CELL_BY_ID[c.cell].agg
        if agg is Agg.SUM:
            sums[(c.unit, c.cell)] += c.value
        elif agg is Agg.DISTINCT:
            keyed[(c.unit, c.cell, c.key)] += c.value
        else:
            k = (c.unit, c.cell, c.key)
            mark = (c.at, c.event_id, c.value)
            if k not in latest or mark[:2] > latest[k][:2]:
                latest[k] = mark
    figures: Figures = dict(sums)
    for (unit, cell_id, _), total in keyed.items():
        figures[(unit, cell_id)] = figures.get((unit, cell_id), 0) + (1 if total > 0 else 0)
    for (unit, cell_id, _), (_, _, value) in latest.items():
        figures[(unit, cell_id)] = figures.get((unit, cell_id), 0) + value
    return with_totals(figures)


def with_totals(figures: Mapping[tuple[str, str], int]) -> Figures:
    """Add the 合计 row of every unit: the exact sum of the four rows."""
    out = {k: v for k, v in figures.items() if not k[1].startswith(f"{TOTAL}.")}
    for unit in {u for u, _ in out}:
        for col in COLUMNS:
            out[(unit, row_cell(TOTAL, col.key))] = sum(
                out.get((unit, row_cell(r.key, col.key)), 0) for r in ROWS if r.key != TOTAL
            )
    return out


def rollup(own: Mapping[tuple[str, str], int], tree: Mapping[str, str | None]) -> Figures:
    """Each unit's figures plus all its descendants' (`tree`: unit -> parent).

    Every unit of `tree` appears with every cell (zeros included). Distinct counts
    are distinct within each unit and then summed up the tree (SPEC 4).
    """
    cells = sorted(FOLDED_CELLS | {row_cell(TOTAL, c.key) for c in COLUMNS})
    totals: Figures = {(u, c): 0 for u in tree for c in cells}
    for (unit, cell_id), value in own.items():
        seen: set[str] = set()
        node: str | None = unit
        while node is not None and node not in seen:
            seen.add(node)
            if (node, cell_id) in totals:
                totals[(node, cell_id)] += value
            elif node in tree:
                totals[(node, cell_id)] = value
            node = tree.get(node)
    return totals
