"""The ledger: idempotency, conflicts, corrections and retractions, in any arrival order."""

from __future__ import annotations

import itertools
from datetime import datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.clock import CST, epoch_ms
from contracts.events import parse_event
from contracts.fold import tally
from contracts.ledger import Ledger, scoped
from tests.contracts.eventkit import FACTORY, REGISTRY, event, inspected, raw, retraction

WINDOW = dict(
    since_ms=epoch_ms(datetime(2024, 11, 1, tzinfo=CST)),
    cutoff_ms=epoch_ms(datetime(2025, 1, 28, 23, 59, 59, tzinfo=CST)),
)


def figures_after(events):  # type: ignore[no-untyped-def]
    ledger = Ledger()
    for e in events:
        ledger.apply(e)
    return tally((c for cs in ledger.effective().values() for c in cs), **WINDOW)


def test_exact_resend_is_a_noop_whatever_the_key_order() -> None:
    obj = raw(
        "employer.inspected",
        {"employer": FACTORY, "workers": 5, "migrant_workers": 1, "method": "onsite"},
        event_id="x1",
    )
    reordered = dict(reversed(list(obj.items())))
    ledger = Ledger()
    assert ledger.apply(parse_event(obj, REGISTRY)).status == "applied"
    assert ledger.apply(parse_event(reordered, REGISTRY)).status == "duplicate"


def test_same_id_different_content_is_a_conflict() -> None:
    ledger = Ledger()
    ledger.apply(inspected(workers=5, event_id="x2"))
    outcome = ledger.apply(inspected(workers=6, event_id="x2"))
    assert outcome.status == "conflict" and "supersedes" in outcome.detail
    assert (
        figures_after([inspected(workers=5, event_id="x2"), inspected(workers=6, event_id="x2")])[
            ("320412", "manufacturing.workers")
        ]
        == 5
    )


def test_correction_in_either_order_gives_the_same_figures() -> None:
    original = inspected(workers=100, event_id="o1")
    correction = inspected(workers=130, event_id="o1-c1", supersedes="o1")
    for order in ([original, correction], [correction, original]):
        f = figures_after(order)
        assert f[("320412", "manufacturing.workers")] == 130
        assert f[("320412", "manufacturing.employers")] == 1


def test_retraction_in_either_order_removes_the_event() -> None:
    target = inspected(workers=100, event_id="r1")
    for order in itertools.permutations([target, retraction("r1"), inspected(workers=7)]):
        assert figures_after(order)[("320412", "manufacturing.workers")] == 7


def test_two_corrections_of_the_same_event_do_not_double_count() -> None:
    a = inspected(workers=1, event_id="a")
    b = inspected(workers=2, event_id="b", supersedes="a")
    c = inspected(workers=3, event_id="c", supersedes="a")
    from contracts.fold import contributions  # noqa: F401

    for order in itertools.permutations([a, b, c]):
        f = figures_after(order)
        assert f[("320412", "manufacturing.employers")] == 1, order


def test_every_arrival_order_of_a_small_story_agrees() -> None:
    events = [
        inspected(workers=10, event_id="s1"),
        inspected(workers=20, event_id="s2", supersedes="s1"),
        event("employer.published", {"employer": FACTORY}, event_id="s3"),
        retraction("s3", event_id="s4"),
        inspected(workers=20, event_id="s2", supersedes="s1"),  # exact resend
    ]
    results = {tuple(sorted(figures_after(o).items())) for o in itertools.permutations(events)}
    assert len(results) == 1
    (only,) = results
    assert dict(only)[("320412", "manufacturing.workers")] == 20
    assert dict(only).get(("320412", "item7.published_employers"), 0) == 0


# --- the two entry points: apply(event) delegates to apply_record, one set of rules ---------


def _by_record(ledger: Ledger, e):  # type: ignore[no-untyped-def]
    from contracts.fold import CaseLink, case_link, contributions
    from contracts.payloads import EventRetracted

    retracts = e.payload.retracts if isinstance(e.payload, EventRetracted) else None
    link = case_link(e)
    return ledger.apply_record(  # apply keys every id by the event's unit
        scoped(e.unit, e.source, e.event_id),
        e.content_hash,
        supersedes=None if e.supersedes is None else scoped(e.unit, e.source, e.supersedes),
        retracts=None if retracts is None else scoped(e.unit, e.source, retracts),
        contributions=contributions(e),
        case=None if link is None else CaseLink(scoped(e.unit, e.source, link.case), link.role),
    )


_STORY = [
    inspected(workers=10, event_id="p1"),
    inspected(workers=20, event_id="p2", supersedes="p1"),
    inspected(workers=30, event_id="p3", supersedes="p1"),  # corrects the current correction
    inspected(workers=40, event_id="p1"),  # conflict
    inspected(workers=11, event_id="p4"),
    event("employer.published", {"employer": FACTORY}, event_id="p5"),
    retraction("p5", event_id="p6"),
    retraction("p6", event_id="p7"),  # a retraction of a retraction reinstates nothing
    retraction("p2", event_id="p8"),
    inspected(workers=10, event_id="p1"),  # exact resend
]


@given(st.permutations(_STORY))
@settings(max_examples=200, deadline=None)
def test_apply_and_apply_record_agree_in_any_order(order) -> None:  # type: ignore[no-untyped-def]
    by_event, by_record = Ledger(), Ledger()
    for e in order:
        assert by_event.apply(e) == _by_record(by_record, e)
    assert by_event.entries == by_record.entries
    assert by_event.effective() == by_record.effective()


def test_apply_record_folds_only_what_it_adds() -> None:
    calls = []

    def fold():  # type: ignore[no-untyped-def]
        calls.append(1)
        return ()

    ledger = Ledger()
    ledger.apply_record("f1", "h1", supersedes=None, retracts=None, contributions=fold)
    ledger.apply_record("f1", "h1", supersedes=None, retracts=None, contributions=fold)
    ledger.apply_record("f1", "h2", supersedes=None, retracts=None, contributions=fold)
    assert (
        ledger.apply_record("x", "h3", supersedes=None, retracts="f1", contributions=fold).status
        == "applied"
    )
    assert len(calls) == 2 and ledger.entries["f1"]["s"] == "retracted"
