"""The ledger: idempotency, conflicts, corrections and retractions, in any arrival order."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta, timezone

from contracts.fold import epoch_ms, tally
from contracts.ledger import Ledger
from tests.contracts.eventkit import FACTORY, REGISTRY, event, inspected, raw, retraction
from contracts.events import parse_event

CST = timezone(timedelta(hours=8))
WINDOW = dict(since_ms=epoch_ms(datetime(2024, 11, 1, tzinfo=CST)),
              cutoff_ms=epoch_ms(datetime(2025, 1, 28, 23, 59, 59, tzinfo=CST)))


def figures_after(events):  # type: ignore[no-untyped-def]
    ledger = Ledger()
    for e in events:
        ledger.apply(e)
    return tally((c for cs in ledger.effective().values() for c in cs), **WINDOW)


def test_exact_resend_is_a_noop_whatever_the_key_order() -> None:
    obj = raw("employer.inspected", {"employer": FACTORY, "workers": 5, "migrant_workers": 1,
                                     "method": "onsite"}, event_id="x1")
    reordered = dict(reversed(list(obj.items())))
    ledger = Ledger()
    assert ledger.apply(parse_event(obj, REGISTRY)).status == "applied"
    assert ledger.apply(parse_event(reordered, REGISTRY)).status == "duplicate"


def test_same_id_different_content_is_a_conflict() -> None:
    ledger = Ledger()
    ledger.apply(inspected(workers=5, event_id="x2"))
    outcome = ledger.apply(inspected(workers=6, event_id="x2"))
    assert outcome.status == "conflict" and "supersedes" in outcome.detail
    assert figures_after([inspected(workers=5, event_id="x2"), inspected(workers=6, event_id="x2")])[
        ("320412", "manufacturing.workers")] == 5


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
