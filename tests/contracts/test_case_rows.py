"""The row of a case's follow-ups (SPEC 4.1): an order, transfer, filing or resolution of a
case whose `arrears.verified` named a construction project counts in 建筑业, whatever its
employer's industry and in whatever order the events arrive."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.fold import FOLLOW_UP, OFF_PROJECT, ON_PROJECT, CaseLink, case_link
from contracts.ledger import Ledger
from tests.contracts.eventkit import GOV_PROJECT, REPAIR, follow_up, inspected, retraction, verified
from tests.contracts.test_ledger import _by_record, figures_after

KINDS = ("order", "transferred", "filed", "resolved")
#: The table cells each follow-up feeds, by column.
COLUMNS = ("rectification_orders", "police_transfers", "police_filings", "resolved")


def _rows(figures: dict[tuple[str, str], int], unit: str = "320412") -> dict[str, set[str]]:
    """column -> the rows holding a non-zero value of it."""
    out: dict[str, set[str]] = {c: set() for c in COLUMNS}
    for (u, cell), value in figures.items():
        row, _, column = cell.partition(".")
        if u == unit and column in out and value and row != "total":
            out[column].add(row)
    return out


def _story(case_id: str = "C-1", project: dict | None = GOV_PROJECT, prefix: str = "a"):  # type: ignore[no-untyped-def]
    case = verified(project=project, case_id=case_id, event_id=f"{prefix}-v")
    ups = [follow_up(k, case_id, event_id=f"{prefix}-{k}") for k in KINDS]
    return case, ups


def test_case_link_names_the_case_and_the_role() -> None:
    case, ups = _story()
    assert case_link(case) == CaseLink("C-1", ON_PROJECT)
    assert case_link(verified(case_id="C-2")) == CaseLink("C-2", OFF_PROJECT)
    assert {case_link(u) for u in ups} == {CaseLink("C-1", FOLLOW_UP)}
    assert case_link(inspected()) is None


def test_follow_ups_of_a_case_on_a_project_are_construction_in_every_arrival_order() -> None:
    case, ups = _story()
    for order in itertools.permutations([case, *ups]):
        figures = figures_after(order)
        assert _rows(figures) == {c: {"construction"} for c in COLUMNS}, [e.type for e in order]
        assert figures[("320412", "total.resolved")] == 1


def test_follow_ups_of_a_case_off_any_project_keep_their_employers_row() -> None:
    case, ups = _story(project=None)
    for order in ([case, *ups], [*ups, case]):
        assert _rows(figures_after(order)) == {c: {"manufacturing"} for c in COLUMNS}
    # another industry, another row: the rule is the case's project, not the division
    repair = [follow_up(k, "C-9", employer=REPAIR, event_id=f"r-{k}") for k in KINDS]
    assert _rows(figures_after(repair)) == {c: {"services"} for c in COLUMNS}


def test_a_follow_up_with_no_case_in_the_log_counts_in_its_employers_row() -> None:
    _, ups = _story()
    assert _rows(figures_after(ups)) == {c: {"manufacturing"} for c in COLUMNS}


def test_correcting_or_retracting_the_case_moves_its_follow_ups_back() -> None:
    case, ups = _story()
    dropped = verified(project=None, event_id="a-v2", supersedes="a-v")
    for order in ([case, *ups, dropped], [*ups, dropped, case], [dropped, *ups, case]):
        assert _rows(figures_after(order)) == {c: {"manufacturing"} for c in COLUMNS}
    gone = retraction("a-v", event_id="a-x")
    for order in ([case, *ups, gone], [gone, *ups, case], [*ups, case, gone]):
        assert _rows(figures_after(order)) == {c: {"manufacturing"} for c in COLUMNS}
    # a correction that adds the project, after the follow-ups, moves them in
    plain = verified(project=None, event_id="b-v")
    added = verified(project=GOV_PROJECT, event_id="b-v2", supersedes="b-v")
    assert _rows(figures_after([plain, *ups, added])) == {c: {"construction"} for c in COLUMNS}


def test_a_corrected_or_retracted_follow_up_leaves_the_row_it_was_placed_in() -> None:
    case, ups = _story()
    fixed = follow_up("transferred", event_id="a-t2", supersedes="a-transferred")
    figures = figures_after([*ups, fixed, case, retraction("a-order", event_id="a-x")])
    assert figures[("320412", "construction.police_transfers")] == 1
    assert figures.get(("320412", "construction.rectification_orders"), 0) == 0
    assert figures.get(("320412", "manufacturing.police_transfers"), 0) == 0


def test_the_case_of_another_unit_or_id_moves_nothing() -> None:
    case, _ = _story()
    elsewhere = [follow_up(k, "C-1", unit="320411", event_id=f"o-{k}") for k in KINDS]
    other_id = [follow_up(k, "C-2", event_id=f"i-{k}") for k in KINDS]
    figures = figures_after([case, *elsewhere, *other_id])
    assert _rows(figures) == {c: {"manufacturing"} for c in COLUMNS}
    assert _rows(figures, "320411") == {c: {"manufacturing"} for c in COLUMNS}


def test_a_case_stays_construction_while_one_of_its_verified_events_names_a_project() -> None:
    case, ups = _story()
    second = verified(project=GOV_PROJECT, case_id="C-1", event_id="a-v9")
    figures = figures_after([case, second, *ups, retraction("a-v", event_id="a-x")])
    assert _rows(figures) == {c: {"construction"} for c in COLUMNS}


_CASE_STORY = [
    verified(project=GOV_PROJECT, event_id="k-v"),
    verified(project=None, event_id="k-v2", supersedes="k-v"),
    verified(project=GOV_PROJECT, event_id="k-v3"),
    follow_up("order", event_id="k-o"),
    follow_up("filed", event_id="k-f"),
    follow_up("resolved", event_id="k-r"),
    follow_up("transferred", event_id="k-t", supersedes="k-f"),
    retraction("k-v3", event_id="k-x"),
    retraction("k-o", event_id="k-y"),
    follow_up("order", event_id="k-o"),  # exact resend
]


@given(st.permutations(_CASE_STORY))
@settings(max_examples=300, deadline=None)
def test_every_arrival_order_of_a_case_story_gives_one_answer_through_both_entry_points(
    order,  # type: ignore[no-untyped-def]
) -> None:
    from contracts.fold import tally
    from tests.contracts.test_ledger import WINDOW

    by_event, by_record = Ledger(), Ledger()
    for e in order:
        assert by_event.apply(e) == _by_record(by_record, e)
    assert by_event.entries == by_record.entries and by_event.cases == by_record.cases
    figures = tally((c for cs in by_event.effective().values() for c in cs), **WINDOW)
    assert figures == figures_after(_CASE_STORY)
