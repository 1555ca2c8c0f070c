"""The vectorised archive batch (warehouse.batch) equals the record-by-record Ledger path.

Two property tests carry the proof: the polars tally equals `contracts.fold.tally` on
random contributions, and the vectorised rebuild equals the record-by-record one on
generated campaigns (their own dirt: resends, conflicts, corrections, retractions) with
more dirt drawn on top: correction chains, corrections and retractions that arrive before
their target, retractions of corrections and of retractions, resends and conflicts of
any of these. The rest covers the archive files the batch must still read: files
written before the fold columns existed, rows left unfolded, files folded by other
contracts code, and offset vectors that cut a file.
"""

from __future__ import annotations

import copy
import functools
import itertools
import json
import re
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contracts.cells import CELL_BY_ID, Agg
from contracts.cutoff import parse_cutoff
from contracts.fold import Contribution, open_cases, tally
from contracts.ledger import ACTIVE
from contracts.registry import Registry
from pipeline.generate import GenerateOptions, generate
from tests.warehouse.conftest import Story
from warehouse.archive_files import archive_files, archive_records, write_part
from warehouse.batch import BatchRebuild
from warehouse.errors import ArchiveError
from warehouse.rebuild import LogRecord, Rebuild
from warehouse.replay import Rebuilt, rebuild_from_archive
from warehouse.snapshot import compare
from warehouse.tally import contributions_frame, tally_frame

REGISTRY = Registry.load()
SOURCES = ("inspection", "mediation", "court", "complaint")
TOPICS = [f"t.{s}" for s in SOURCES]
CUTOFFS = ("2024-12-31", "2024-11-30", "2025-01-28")

# --- the polars tally equals contracts.fold.tally ---------------------------------------

_CELLS = sorted(
    {next(c for c in CELL_BY_ID if CELL_BY_ID[c].agg is agg) for agg in Agg}
    | {
        "manufacturing.workers",
        "construction.employers",
        "item1.gov_projects",
        "item6.reception_leads",
        "construction.resolved_amount",
    }
)
_contribution = st.builds(
    Contribution,
    cell=st.sampled_from(_CELLS),
    unit=st.sampled_from(["320400", "320402", "320412"]),
    key=st.sampled_from(["", "k1", "k2", "k3"]),
    at=st.integers(0, 12),
    value=st.integers(-3, 6),
    event_id=st.sampled_from(["a", "b", "c", "d"]),
)


@given(st.lists(_contribution, max_size=60), st.integers(0, 6), st.integers(4, 12))
@settings(max_examples=400, deadline=None)
def test_polars_tally_equals_the_fold_tally(
    items: list[Contribution], since: int, cutoff: int
) -> None:
    # Ties on (at, event_id) with different values are drawn on purpose: both keep the first.
    expected = tally(items, since_ms=since, cutoff_ms=cutoff)
    assert tally_frame(contributions_frame(items), since_ms=since, cutoff_ms=cutoff) == expected


def test_polars_tally_rejects_an_unknown_cell() -> None:
    frame = contributions_frame([Contribution("nowhere.cell", "320400", "", 1, 1, "a")])
    with pytest.raises(KeyError, match="nowhere.cell"):
        tally_frame(frame, since_ms=0, cutoff_ms=2)


# --- generated campaigns with extra dirt: vectorised == record by record ----------------


@functools.cache
def _campaign(seed: int) -> tuple[dict[str, Any], ...]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "c.jsonl"
        generate(GenerateOptions(unit="320400", events=400, seed=seed, out=out))
        objs = []
        for line in out.read_bytes().splitlines():
            try:
                obj = json.loads(line)
            except ValueError:
                continue  # the generator's bad records that are not even JSON
            if isinstance(obj, dict):
                objs.append(obj)
        return tuple(objs)


def _records(lines: list[dict[str, Any] | bytes]) -> list[LogRecord]:
    """Topic by source, partition by unit, offsets in order (like the producer)."""
    offsets: dict[tuple[str, int], int] = defaultdict(int)
    out = []
    for line in lines:
        raw = line if isinstance(line, bytes) else json.dumps(line, ensure_ascii=False).encode()
        source = re.search(rb'"source"\s*:\s*"([a-z]+)"', raw)
        unit = re.search(rb'"unit"\s*:\s*"(\d+)"', raw)
        topic = (
            f"t.{source.group(1).decode()}"
            if source and source.group(1).decode() in SOURCES
            else "t.inspection"
        )
        partition = int(unit.group(1)) % 3 if unit else 0
        out.append(LogRecord(topic, partition, offsets[(topic, partition)], raw))
        offsets[(topic, partition)] += 1
    return out


_ops = st.lists(
    st.tuples(
        st.sampled_from(["correct", "retract", "resend", "conflict"]),
        st.integers(0, 10**6),
        st.integers(0, 10**6),
    ),
    max_size=40,
)


def _dirty(objs: list[dict[str, Any]], ops: list[tuple[str, int, int]]) -> list[dict[str, Any]]:
    """Apply `ops`: each picks an event already in the list (originals, corrections,
    retractions alike) and inserts a new line at a drawn position, before or after it."""
    lines = [copy.deepcopy(o) for o in objs]
    for n, (op, pick, where) in enumerate(ops):
        target = lines[pick % len(lines)]
        new = copy.deepcopy(target)
        if op == "correct":
            if target["type"] == "event.retracted":
                continue  # a retraction is retracted, not corrected
            new["event_id"], new["supersedes"] = f"x-c{n}", target["event_id"]
            new["occurred_at"] = new["occurred_at"][:17] + f"{n % 60:02d}" + new["occurred_at"][19:]
        elif op == "retract":
            new = {k: target[k] for k in ("source", "unit", "occurred_at")}
            new.update(
                event_id=f"x-r{n}",
                type="event.retracted",
                payload={"retracts": target["event_id"], "reason": "drawn"},
            )
        elif op == "conflict":
            new["recorded_at"] = f"2025-01-0{1 + n % 9}T08:00:00+08:00"
        lines.insert(where % (len(lines) + 1), new)
    return lines


def _rebuilds(root: Path) -> tuple[Rebuilt, Rebuilt]:
    slow = rebuild_from_archive(root, TOPICS, None, REGISTRY, vectorised=False)
    fast = rebuild_from_archive(root, TOPICS, None, REGISTRY)
    return slow, fast


def _assert_same(slow: Rebuilt, fast: Rebuilt) -> None:
    for cutoff in CUTOFFS:
        c = parse_cutoff(cutoff)
        assert compare(slow.cells(c), fast.cells(c)) == [], cutoff
        everything = itertools.chain.from_iterable(slow.rebuild.ledger.effective().values())
        held = open_cases(everything, since_ms=c.since_ms, cutoff_ms=c.cutoff_ms)
        assert fast.rebuild.open_cases(c) == held, cutoff
    assert fast.rebuild.events == slow.rebuild.events
    assert fast.rebuild.invalid == slow.rebuild.invalid
    assert +fast.rebuild.outcomes == +slow.rebuild.outcomes
    assert fast.offsets == slow.offsets
    assert isinstance(fast.rebuild, BatchRebuild) and isinstance(slow.rebuild, Rebuild)
    active = {
        eid
        for eid, e in slow.rebuild.ledger.entries.items()
        if e["s"] == ACTIVE and e["h"] is not None
    }
    # the record-by-record Ledger holds an entry for every key of the log: the keys the
    # batch does not hold inactive are exactly the active ones
    inactive = set(slow.rebuild.ledger.entries) - active
    assert set(fast.rebuild.inactive_ids().to_list()) == inactive


@given(st.integers(1, 3), _ops)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_vectorised_rebuild_equals_the_ledger_path(
    seed: int, ops: list[tuple[str, int, int]]
) -> None:
    lines = _dirty(list(_campaign(seed)), ops)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        archive_records(root, _records(lines), REGISTRY)
        slow, fast = _rebuilds(root)
        _assert_same(slow, fast)
        assert fast.rebuild.refolded == 0  # read from the fold columns, not re-parsed


def test_the_generated_dirt_reaches_the_ledger(tmp_path: Path) -> None:
    lines = _dirty(
        list(_campaign(1)),
        [("correct", 5, 2), ("correct", 402, 900), ("retract", 7, 0), ("conflict", 9, 10**5)],
    )
    archive_records(tmp_path, _records(lines), REGISTRY)
    slow, fast = _rebuilds(tmp_path)
    _assert_same(slow, fast)
    outcomes = fast.rebuild.outcomes
    assert outcomes["duplicate"] and outcomes["conflict"] and outcomes["inactive"]
    assert 0 < fast.rebuild.involved < fast.rebuild.events / 2


# --- archive files the batch must still read ---------------------------------------------


def test_an_upto_that_cuts_files_gives_the_ledger_answer(story: Story) -> None:
    slow = rebuild_from_archive(story.archive, TOPICS, story.o1, REGISTRY, vectorised=False)
    fast = rebuild_from_archive(story.archive, TOPICS, story.o1, REGISTRY)
    _assert_same(slow, fast)
    assert (
        fast.rebuild.events
        < rebuild_from_archive(story.archive, TOPICS, None, REGISTRY).rebuild.events
    )


def test_files_from_before_the_fold_columns_are_folded_on_read(story: Story) -> None:
    expected = rebuild_from_archive(story.archive, TOPICS, None, REGISTRY, vectorised=False)
    for f in archive_files(story.archive):  # rewrite as the archiver did before: no fold
        table = pq.read_table(f.path).drop_columns(["retracts", "contributions"])
        pq.write_table(table.replace_schema_metadata(None), f.path)
    fast = rebuild_from_archive(story.archive, TOPICS, None, REGISTRY)
    _assert_same(expected, fast)
    assert fast.rebuild.refolded == fast.rebuild.events > 0


def test_rows_left_unfolded_are_folded_on_read(story: Story) -> None:
    expected = rebuild_from_archive(story.archive, TOPICS, None, REGISTRY, vectorised=False)
    first = archive_files(story.archive)[0]
    table = pl.read_parquet(first.path)
    table = table.with_columns(
        pl.lit(None).alias("contributions").cast(table["contributions"].dtype)
    )
    write_part(
        story.root / "other", "x", "2024-12-01", first.topic, first.partition, table.to_dicts()
    )
    written = next((story.root / "other").rglob("*.parquet"))
    written.replace(first.path)  # same rows, fold columns empty, current fingerprint
    fast = rebuild_from_archive(story.archive, TOPICS, None, REGISTRY)
    _assert_same(expected, fast)
    assert fast.rebuild.refolded == table.height


def test_files_folded_by_other_contracts_code_are_folded_again(
    story: Story, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = rebuild_from_archive(story.archive, TOPICS, None, REGISTRY, vectorised=False)
    monkeypatch.setattr("warehouse.archive_rows.fold_fingerprint", lambda: "another fold")
    fast = rebuild_from_archive(story.archive, TOPICS, None, REGISTRY)
    _assert_same(expected, fast)
    assert fast.rebuild.refolded == fast.rebuild.events


def test_an_offset_archived_twice_is_an_error(story: Story) -> None:
    first = archive_files(story.archive)[0]
    elsewhere = story.archive / "source=x" / "date=2099-01-01"
    elsewhere.mkdir(parents=True)
    copy_path = (
        elsewhere / f"part-{first.topic}-{first.partition}-{first.first}-{first.first}.parquet"
    )
    pq.write_table(pq.read_table(first.path).slice(0, 1), copy_path)
    with pytest.raises(ArchiveError, match="more than once"):
        rebuild_from_archive(story.archive, TOPICS, None, REGISTRY)


# --- the row of a case's follow-ups (SPEC 4.1) -------------------------------------------


def _case_lines(case_id: str, employer: dict[str, Any], *, case_last: bool) -> list[bytes]:
    from tests.contracts.eventkit import GOV_PROJECT, raw

    case = raw(
        "arrears.verified",
        {
            "case_id": case_id,
            "employer": employer,
            "project": GOV_PROJECT,
            "workers": 3,
            "amount": "900.00",
        },
        event_id=f"{case_id}-v",
    )
    ups = [
        raw(
            "case.transferred", {"case_id": case_id, "employer": employer}, event_id=f"{case_id}-t"
        ),
        raw("case.filed", {"case_id": case_id, "employer": employer}, event_id=f"{case_id}-f"),
    ]
    lines = [*ups, case] if case_last else [case, *ups]
    return [json.dumps(o, ensure_ascii=False).encode() for o in lines]


def test_a_case_on_a_project_takes_its_follow_ups_to_construction_in_the_batch(
    tmp_path: Path,
) -> None:
    from tests.contracts.eventkit import BUILDER, FACTORY

    lines = _case_lines("C-f", FACTORY, case_last=True) + _case_lines(
        "C-b", BUILDER, case_last=False
    )
    archive_records(tmp_path, _records(lines), REGISTRY)
    slow, fast = _rebuilds(tmp_path)
    _assert_same(slow, fast)
    cells = fast.cells(parse_cutoff("2024-12-31"))
    own = {
        (r["cell"]): r["value"]
        for r in cells.to_dicts()
        if r["unit"] == "320412" and r["scope"] == "own"
    }
    assert own["construction.police_transfers"] == own["construction.police_filings"] == 2
    assert own["manufacturing.police_transfers"] == own["manufacturing.police_filings"] == 0
    # only the manufacturer's case can move anything: the builder's rows count as folded
    assert fast.rebuild.involved == 3
