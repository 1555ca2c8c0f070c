"""Which archived events the quality suites count: the Ledger's answer, handed in.

Every case here is one the suites' former rule of their own (first distinct (event_id,
content_hash), and not the target of any supersedes or retracts) got wrong.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest

from contracts.events import Event
from contracts.quality import run_check
from contracts.quality.event_rows import prepare_events
from pipeline.flows.quality_inputs import ledger_answers
from tests.contracts import eventkit as ek
from tests.quality import kit

AT = "2024-12-20T10:00:00+08:00"
LATER = "2024-12-21T10:00:00+08:00"


def _conflicting_resend() -> list[Event]:
    first = ek.inspected(workers=100, at=AT)
    return [first, ek.inspected(workers=999, at=AT, event_id=first.event_id)]


def _conflicting_resend_naming_a_target() -> list[Event]:
    first, other = ek.inspected(workers=100, at=AT), ek.inspected(workers=7, at=AT)
    # refused as a conflict, so its `supersedes` removes nothing
    resend = ek.inspected(workers=5, at=AT, event_id=first.event_id, supersedes=other.event_id)
    return [first, other, resend]


def _correction_chain() -> list[Event]:
    target = ek.inspected(workers=100, at=AT)
    return [
        target,
        ek.inspected(workers=101, at=AT, supersedes=target.event_id),
        ek.inspected(workers=102, at=AT, supersedes=target.event_id),
    ]  # corrects the 101


def _correction_before_its_target() -> list[Event]:
    target = ek.inspected(workers=100, at=AT)
    early = ek.inspected(workers=101, at=AT, supersedes=target.event_id)
    return [early, target, ek.inspected(workers=102, at=AT, supersedes=target.event_id)]


def _retraction_of_a_retraction() -> list[Event]:
    target = ek.inspected(workers=100, at=AT)
    first = ek.retraction(target.event_id, at=AT)
    second = ek.retraction(first.event_id, at=AT)  # reinstates nothing
    resent = ek.retraction(first.event_id, at=LATER, event_id=second.event_id)  # a conflict
    return [target, first, second, resent]


#: case -> (its events in log order, which rows are effective)
CASES: dict[str, tuple[Callable[[], list[Event]], list[bool]]] = {
    "conflicting resend": (_conflicting_resend, [True, False]),
    "conflicting resend naming a target": (
        _conflicting_resend_naming_a_target,
        [True, True, False],
    ),
    "correction chain": (_correction_chain, [False, False, True]),
    "correction before its target": (_correction_before_its_target, [False, False, True]),
    "retraction of a retraction": (_retraction_of_a_retraction, [False, False, True, False]),
}
# A self-superseding event (the Ledger's replace-itself rule) never reaches the archive:
# the parse refuses `supersedes` naming the event's own id (reason supersedes.self).


def _tables(events: list[Event]) -> pl.DataFrame:
    frame = kit.archive_frame(events)
    meta = kit.meta(offsets=kit.end_offsets(frame))
    rows = prepare_events(frame.lazy(), meta, kit.ledger_answer(events)).rows
    # the rows are narrow; the contrast below reads the archive's own columns
    return (
        rows.with_columns(pl.col("topic", "unit", "source").cast(pl.Utf8))
        .join(
            frame.select("topic", "partition", "offset", "supersedes", "retracts", "content_hash"),
            on=["topic", "partition", "offset"],
        )
        .with_columns(
            pl.concat_str("unit", pl.lit("|"), "source", pl.lit("|"), "event_id").alias("key")
        )
        .sort("offset")
    )


def _former_rule(rows: pl.DataFrame) -> list[bool]:
    """The rule prepare_events had before it took the Ledger's answer (for contrast only)."""
    targets = pl.concat([rows["supersedes"].drop_nulls(), rows["retracts"].drop_nulls()])
    return (
        rows.select(
            pl.struct("event_id", "content_hash").is_first_distinct()
            & ~pl.col("event_id").is_in(targets.implode())
        )
        .to_series()
        .to_list()
    )


@pytest.mark.parametrize("case", list(CASES))
def test_effective_rows_are_the_ledgers_active_events_once(case: str) -> None:
    build, expected = CASES[case]
    events = build()
    rows = _tables(events)
    assert rows["effective"].to_list() == expected
    assert _former_rule(rows) != expected  # the case is one the former rule got wrong
    effective = rows.filter("effective")["key"]  # unit|source|event_id: ids are scoped
    assert sorted(effective) == sorted(kit.active_ids(events))


def test_conflicting_resends_are_what_event_id_unique_sees() -> None:
    rows = _tables([e for build, _ in CASES.values() for e in build()])
    conflicts = rows.filter("conflict").select("event_id", "offset").rows()
    assert len(conflicts) == 3  # one per case with a conflicting resend
    received = rows.filter(pl.col("first") | pl.col("conflict"))["event_id"]
    assert set(received.filter(received.is_duplicated())) == {eid for eid, _ in conflicts}


def test_the_warehouse_batch_gives_the_same_active_events(tmp_path: Path) -> None:
    events = [e for build, _ in CASES.values() for e in build()]
    frame = kit.archive_frame(events)
    archive = kit.write_archive(tmp_path, frame)
    meta = kit.meta(offsets=kit.end_offsets(frame))
    answer, expected = ledger_answers(archive, meta, kit.REGISTRY), kit.ledger_answer(events)
    assert sorted(answer.inactive) == sorted(expected.inactive)
    in_order = ["topic", "partition", "offset"]
    assert answer.conflicts.sort(in_order).equals(expected.conflicts.sort(in_order))
    assert not answer.conflicts.is_empty()
    assert answer.open_cases == expected.open_cases


def test_an_archive_without_the_ledgers_answer_is_refused() -> None:
    frame = kit.archive_frame(kit.clean_events())
    snapshot = kit.snapshot_input(kit.cells_from({}), kit.meta(offsets=kit.end_offsets(frame)))
    with pytest.raises(ValueError, match="ledger="):
        run_check(snapshot, archive=frame.lazy())
