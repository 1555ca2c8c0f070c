"""The fault table's ledger comparison: a lost event, a phantom one and one held in another
state are each counted, whatever the event counts say. No broker."""

from __future__ import annotations

from tests.faults.verdict import Verdict, compare_ledgers

ENTRY = {"h": "ab" * 32, "s": "active", "by": None, "c": []}


def test_an_entry_missing_added_or_changed_is_counted() -> None:
    replayed = {"320412|inspection|e-1": ENTRY, "320412|inspection|e-2": ENTRY}
    assert compare_ledgers(replayed, dict(replayed)) == (set(), set(), [])
    workers = {
        "320412|inspection|e-1": dict(ENTRY, s="superseded", by="320412|inspection|e-9"),
        "320412|inspection|e-3": ENTRY,  # an event the log never held
    }
    missing, otherwise, shown = compare_ledgers(replayed, workers)
    assert missing == {"320412|inspection|e-2"}
    assert otherwise == {"320412|inspection|e-1", "320412|inspection|e-3"}
    assert len(shown) == 3 and "not in the workers' changelog" in shown[0]


def test_equal_counts_with_a_differing_ledger_are_not_clean() -> None:
    # one event lost and another counted twice: the counts cancel, the ledger does not
    row = Verdict(
        "f",
        sent=2,
        events=2,
        lost=0,
        double=0,
        cells=10,
        differing=0,
        recovery_s=None,
        entries=2,
        entries_differing=1,
    )
    assert not row.clean
    assert "1 of 2 ledger entries differ" in row.explain()
