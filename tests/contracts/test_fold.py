"""The fold and the tally: which event feeds which cell, and how cells aggregate."""

from __future__ import annotations

from datetime import datetime

from contracts.cells import CELL_BY_ID, CELLS, COLUMNS, ROWS, TOTAL, row_cell
from contracts.clock import CST, epoch_ms
from contracts.fold import Contribution, contributions, rollup, tally
from tests.contracts.eventkit import (
    BOTH_PROJECT,
    BUILDER,
    FACTORY,
    GOV_PROJECT,
    REGISTRY,
    REPAIR,
    event,
    inspected,
    resolved,
)

SINCE = epoch_ms(datetime(2024, 11, 1, tzinfo=CST))
DEC31 = epoch_ms(datetime(2024, 12, 31, 23, 59, 59, tzinfo=CST))


def figures(*events, cutoff=DEC31):  # type: ignore[no-untyped-def]
    return tally((c for e in events for c in contributions(e)), since_ms=SINCE, cutoff_ms=cutoff)


def test_every_contribution_names_a_declared_folded_cell() -> None:
    from tests.contracts.eventkit import raw  # noqa: F401

    for c in contributions(inspected(project=BOTH_PROJECT)) + contributions(resolved(nef=True)):
        assert c.cell in CELL_BY_ID and not c.cell.startswith(f"{TOTAL}.")


def test_project_puts_event_in_construction_whatever_the_industry() -> None:
    f = figures(
        inspected(FACTORY, project=GOV_PROJECT), inspected(FACTORY, at="2024-12-03T09:00:00+08:00")
    )
    assert f[("320412", "construction.employers")] == 1
    assert f[("320412", "manufacturing.employers")] == 1
    assert f[("320412", "total.employers")] == 2  # one employer, once in each row
    assert f[("320412", "item1.gov_projects")] == 1


def test_division_43_is_services() -> None:
    assert figures(inspected(REPAIR))[("320412", "services.employers")] == 1


def test_latest_headcount_depends_on_cutoff_and_event_time_not_arrival() -> None:
    later = inspected(FACTORY, workers=300, migrant=200, at="2025-01-05T09:00:00+08:00")
    earlier_late_arrival = inspected(
        FACTORY, workers=120, migrant=60, at="2024-12-20T09:00:00+08:00"
    )
    first = inspected(FACTORY, workers=100, migrant=50, at="2024-12-01T09:00:00+08:00")
    f = figures(later, first, earlier_late_arrival)
    assert f[("320412", "manufacturing.workers")] == 120
    assert f[("320412", "manufacturing.migrant_workers")] == 60
    assert f[("320412", "manufacturing.employers")] == 1
    jan = epoch_ms(datetime(2025, 1, 28, 23, 59, 59, tzinfo=CST))
    assert (
        figures(later, first, earlier_late_arrival, cutoff=jan)[("320412", "manufacturing.workers")]
        == 300
    )


def test_resolution_channels_feed_items_3_to_5_and_platform_item_2() -> None:
    f = figures(
        resolved(channel="industry_regulator", workers=5, amount="100.50"),
        resolved(channel="inspection", nef=True, workers=2, amount="10"),
        event(
            "dispute.resolved",
            {
                "case_no": "M-1",
                "employer": FACTORY,
                "workers": 3,
                "amount": "30",
                "channel": "arbitration",
                "new_employment_form": False,
            },
        ),
        event(
            "execution.concluded",
            {
                "case_no": "(2024)苏0412执1234号",
                "employer": BUILDER,
                "workers": 7,
                "amount": "70",
                "new_employment_form": False,
            },
            unit="320412",
        ),
    )
    assert f[("320412", "total.resolved")] == 4
    assert f[("320412", "total.resolved_amount")] == 10050 + 1000 + 3000 + 7000
    assert f[("320412", "item5.amount")] == 10050
    assert f[("320412", "item2.cases")] == 1
    assert f[("320412", "item3.workers")] == 3
    assert f[("320412", "item4.cases")] == 1
    assert f[("320412", "construction.resolved")] == 1


def test_orders_police_items_6_and_7() -> None:
    f = figures(
        event(
            "order.issued",
            {
                "case_id": "C",
                "employer": FACTORY,
                "kind": "penalty_decision",
                "document_no": "常人社罚〔2024〕1号",
            },
        ),
        event("case.transferred", {"case_id": "C", "employer": FACTORY}),
        event("case.filed", {"case_id": "C", "employer": FACTORY}),
        event("employer.published", {"employer": FACTORY}),
        event("employer.published", {"employer": FACTORY}),
        event("employer.blacklisted", {"employer": FACTORY, "listing_no": "L1"}),
        event(
            "lead.received",
            {
                "lead_id": "L-1",
                "intake": "centralized_reception",
                "workers_claimed": 3,
                "amount_claimed": "100",
            },
        ),
        event(
            "lead.received",
            {
                "lead_id": "L-2",
                "intake": "centralized_reception",
                "workers_claimed": 3,
                "amount_claimed": "100",
            },
        ),
        event("lead.merged", {"lead_id": "L-2", "into_lead_id": "L-1"}),
        event(
            "lead.received",
            {"lead_id": "L-3", "intake": "hotline", "workers_claimed": 3, "amount_claimed": "100"},
        ),
    )
    assert f[("320412", "manufacturing.penalty_decisions")] == 1
    assert f[("320412", "manufacturing.police_transfers")] == 1
    assert f[("320412", "manufacturing.police_filings")] == 1
    assert f[("320412", "item7.published_employers")] == 1
    assert f[("320412", "item7.blacklist_listings")] == 1
    assert f[("320412", "item6.reception_leads")] == 1


def test_project_both_gov_and_soe_counts_in_each() -> None:
    verified = event(
        "arrears.verified",
        {
            "case_id": "V1",
            "employer": BUILDER,
            "project": BOTH_PROJECT,
            "workers": 40,
            "amount": "5000",
        },
    )
    f = figures(inspected(BUILDER, project=BOTH_PROJECT), verified)
    for prefix in ("gov", "soe"):
        assert f[("320412", f"item1.{prefix}_projects")] == 1
        assert f[("320412", f"item1.{prefix}_arrears_projects")] == 1
        assert f[("320412", f"item1.{prefix}_arrears_amount")] == 500000
        assert f[("320412", f"item1.{prefix}_arrears_workers")] == 40
    assert f[("320412", "aux.open_cases")] == 1
    done = resolved(BUILDER, case_id="V1")
    assert (
        figures(inspected(BUILDER, project=BOTH_PROJECT), verified, done)[
            ("320412", "aux.open_cases")
        ]
        == 0
    )


def test_verified_project_counts_as_inspected() -> None:
    verified = event(
        "arrears.verified",
        {
            "case_id": "V2",
            "employer": BUILDER,
            "project": GOV_PROJECT,
            "workers": 4,
            "amount": "50",
        },
    )
    f = figures(verified)
    assert f[("320412", "item1.gov_projects")] == 1
    assert f[("320412", "item1.gov_arrears_projects")] == 1
    assert f.get(("320412", "item1.soe_projects"), 0) == 0


def test_window_and_cutoff_bounds() -> None:
    before = inspected(at="2024-10-31T23:59:59+08:00")
    at_cutoff = inspected(BUILDER, at="2024-12-31T23:59:59+08:00")
    after = inspected(REPAIR, at="2025-01-01T00:00:00+08:00")
    f = figures(before, at_cutoff, after)
    assert f[("320412", "total.employers")] == 1
    assert f[("320412", "construction.employers")] == 1


def test_total_row_is_sum_of_rows_exactly() -> None:
    f = figures(inspected(FACTORY), inspected(BUILDER), inspected(REPAIR))
    for col in COLUMNS:
        rows = sum(f.get(("320412", row_cell(r.key, col.key)), 0) for r in ROWS if r.key != TOTAL)
        assert f[("320412", row_cell(TOTAL, col.key))] == rows


def test_rollup_city_is_own_plus_children() -> None:
    tree = {u.code: u.parent for u in REGISTRY}
    own = figures(inspected(unit="320412"), inspected(unit="320471"), inspected(unit="320400"))
    up = rollup(own, tree)
    assert up[("320412", "manufacturing.employers")] == 1
    assert up[("320400", "manufacturing.employers")] == 3  # distinct per unit, then summed
    assert up[("320000", "manufacturing.employers")] == 3
    assert up[("320402", "manufacturing.employers")] == 0  # silent units appear with zeros
    assert len({c for _, c in up}) == len(CELLS)


def test_latest_tie_breaks_on_event_id() -> None:
    a = Contribution("other.workers", "320412", "E", 5, 10, "a")
    b = Contribution("other.workers", "320412", "E", 5, 20, "b")
    assert tally([b, a], since_ms=0, cutoff_ms=10)[("320412", "other.workers")] == 20
    assert tally([a, b], since_ms=0, cutoff_ms=10)[("320412", "other.workers")] == 20
