"""The engine without Faust: chunks, the journal, redo and offset skipping under simulated crashes.

A "changelog" is a list of writes; a crash keeps a random prefix of it (Kafka
keeps one partition in order), rebuilds the table from that prefix and resumes
from an old position, so records are delivered again. Whatever happens, the
state read through the journal must equal the batch recompute of exactly the
records the journal says are applied.
"""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from contracts.errors import ValidationError
from contracts.events import parse_event
from contracts.fold import rollup
from streams.engine import Chunk, Engine, applied_events, journal_key, next_offsets, with_journal
from streams.tallies import own_figures
from tests.streams.workload import DEC31, FINAL, REGISTRY, TREE, WINDOW, recompute, workload

TOPICS = ("inspection", "mediation", "court", "complaint")


def _logs(n: int, seed: int) -> dict[str, list[bytes]]:
    logs: dict[str, list[bytes]] = {t: [] for t in TOPICS}
    for record in workload(n, seed):
        logs[record.source].append(record.value)
    return logs


def _read(table: dict[str, Any], day: int) -> dict[tuple[str, str], int]:
    return rollup(own_figures(with_journal(table, {0}), {0}, day), TREE)


class Partition:
    """One source partition (four topics) and its changelog, with crashes."""

    def __init__(self, logs: dict[str, list[bytes]], rng: random.Random) -> None:
        self.logs = logs
        self.rng = rng
        self.changelog: list[tuple[str, Any]] = []
        self.table: dict[str, Any] = {}
        self.engine = Engine(REGISTRY, WINDOW)
        self.position = {t: 0 for t in TOPICS}
        self.committed = dict(self.position)
        self.order: list[tuple[str, int]] = []  # first application order of (topic, offset)

    def write(self, key: str, value: Any) -> None:
        self.table[key] = value
        self.changelog.append((key, value))

    def done(self) -> bool:
        return all(self.position[t] >= len(self.logs[t]) for t in TOPICS)

    def batch(self) -> list[tuple[str, int]]:
        """Interleave the topics the way a consumer might."""
        out = []
        for _ in range(self.rng.randint(1, 60)):
            live = [t for t in TOPICS if self.position[t] < len(self.logs[t])]
            if not live:
                break
            t = self.rng.choice(live)
            out.append((t, self.position[t]))
            self.position[t] += 1
        return out

    def process(self, batch: list[tuple[str, int]], chunk_keys: int) -> None:
        self.engine.redo(self.table, 0, self.write)
        chunk = Chunk(self.table, 0)
        held: set[str] = set()
        for topic, offset in batch:
            if topic in held:
                continue
            before = chunk.applied.get(topic, -1)
            record = self.logs[topic][offset]
            verdict = self.engine.handle(chunk, topic, offset, record, unit_key(record))
            if verdict.status == "gap":  # what the worker does: read again from the journal
                held.add(topic)
                self.position[topic] = self.engine.next_offset(chunk, topic)
                continue
            if verdict.status != "skipped":
                assert offset > before
                self.order.append((topic, offset))
            if len(chunk) >= chunk_keys:
                self.engine.finish(chunk, self.write)
                chunk = Chunk(self.table, 0)
        self.engine.finish(chunk, self.write)

    def rebalance_from_a_stale_position(self) -> None:
        """A rebalance where the position comes from Faust, not the journal.

        Faust acks records it skipped unprocessed during a rebalance, so its committed
        offset can be past records never applied; the worker may read from there
        before its own seek to the journal's offsets lands.
        """
        self.engine = Engine(REGISTRY, WINDOW)
        applied = (self.table.get(journal_key(0)) or {}).get("a", {})
        self.position = {
            t: min(len(self.logs[t]), applied.get(t, -1) + 1 + self.rng.randint(0, 4))
            for t in TOPICS
        }

    def crash(self, durable_from: int, rewind: bool) -> None:
        """Lose a random tail of the changelog (never what was flushed before a commit)."""
        keep = self.rng.randint(durable_from, len(self.changelog))
        self.changelog = self.changelog[:keep]
        self.table = dict(self.changelog)
        self.engine = Engine(REGISTRY, WINDOW)
        if rewind:  # what the worker does on assignment: resume where the journal says
            applied = (self.table.get(journal_key(0)) or {}).get("a", {})
            self.position = {t: applied.get(t, -1) + 1 for t in TOPICS}
        else:  # plain at-least-once: resume at the last commit
            self.position = dict(self.committed)

    def applied_values(self) -> list[bytes]:
        applied = (with_journal_dict(self.table)).get(journal_key(0), {}).get("a", {})
        seen = set()
        out = []
        for topic, offset in self.order:
            if offset <= applied.get(topic, -1) and (topic, offset) not in seen:
                seen.add((topic, offset))
                out.append(self.logs[topic][offset])
        return out


def _valid(values: list[bytes]) -> int:
    """Records that parse as events: what `warehouse.rebuild.Rebuild.events` counts."""
    count = 0
    for value in values:
        try:
            parse_event(value, REGISTRY)
        except ValidationError:
            continue
        count += 1
    return count


def with_journal_dict(table: dict[str, Any]) -> dict[str, Any]:
    return dict(with_journal(table, {0}))


@pytest.mark.parametrize("seed", range(1, 11))
def test_crashes_anywhere_leave_exactly_the_applied_records(seed: int) -> None:
    rng = random.Random(seed)
    part = Partition(_logs(900, seed), rng)
    commit_mark = 0
    crashes = 0
    while not part.done():
        part.process(part.batch(), chunk_keys=rng.choice([5, 40, 10_000]))
        if rng.random() < 0.3:  # a commit: everything so far was flushed first
            part.committed = dict(part.position)
            commit_mark = len(part.changelog)
        if rng.random() < 0.25:
            part.crash(commit_mark, rewind=rng.random() < 0.5)
            crashes += 1
            # Even mid-chunk, a reader sees a consistent state: the applied records, no more.
            assert _read(part.table, FINAL) == recompute(part.applied_values(), FINAL)
            # ... and the journal says what that state reflects: offsets and events, once each
            applied = with_journal_dict(part.table).get(journal_key(0), {}).get("a", {})
            assert next_offsets(part.table, 0, TOPICS) == {
                t: applied.get(t, -1) + 1 for t in TOPICS
            }
            assert applied_events(part.table, 0) == _valid(part.applied_values())
            part.order = [
                x
                for x in part.order
                if x[1]
                <= (
                    with_journal_dict(part.table).get(journal_key(0), {}).get("a", {}).get(x[0], -1)
                )
            ]
            commit_mark = min(commit_mark, len(part.changelog))
    assert crashes >= 3
    everything = [v for topic, offset in part.order for v in [part.logs[topic][offset]]]
    assert len(everything) == sum(len(v) for v in part.logs.values())
    for day in (DEC31, FINAL):
        assert _read(part.table, day) == recompute(everything, day)
    assert applied_events(part.table, 0) == _valid(everything)


@pytest.mark.parametrize("seed", range(1, 6))
def test_reading_from_past_unapplied_records_skips_none_of_them(seed: int) -> None:
    rng = random.Random(seed)
    part = Partition(_logs(600, seed), rng)
    stale = 0
    while not part.done():
        part.process(part.batch(), chunk_keys=rng.choice([5, 40, 10_000]))
        if rng.random() < 0.3:
            part.rebalance_from_a_stale_position()
            stale += 1
    assert stale >= 3
    everything = [part.logs[topic][offset] for topic, offset in part.order]
    assert sorted(part.order) == sorted((t, o) for t in TOPICS for o in range(len(part.logs[t])))
    for day in (DEC31, FINAL):
        assert _read(part.table, day) == recompute(everything, day)


def test_a_gap_is_refused_until_met_again_from_the_first_unapplied_offset() -> None:
    logs = _logs(120, 5)["inspection"]
    engine = Engine(REGISTRY, WINDOW)
    chunk = Chunk({}, 0)
    for offset in range(3):
        assert (
            engine.handle(chunk, "inspection", offset, logs[offset], unit_key(logs[offset])).status
            != "gap"
        )
    assert engine.handle(chunk, "inspection", 5, logs[5], unit_key(logs[5])).status == "gap"
    assert chunk.applied["inspection"] == 2 and engine.next_offset(chunk, "inspection") == 3
    # read again from 3: the records in between come, and 5 counts once after them
    for offset in (3, 4, 5):
        assert engine.handle(
            chunk, "inspection", offset, logs[offset], unit_key(logs[offset])
        ).status not in (
            "gap",
            "skipped",
        )
    # a real hole in the log (retention, a transaction marker): met again from there, crossed
    assert engine.handle(chunk, "inspection", 9, logs[9], unit_key(logs[9])).status == "gap"
    assert engine.handle(chunk, "inspection", 9, logs[9], unit_key(logs[9])).status not in (
        "gap",
        "skipped",
    )
    assert chunk.applied["inspection"] == 9


def test_a_partly_written_chunk_is_completed_by_redo() -> None:
    logs = _logs(200, 11)
    table: dict[str, Any] = {}
    log: list[tuple[str, Any]] = []

    def write(key: str, value: Any) -> None:
        table[key] = value
        log.append((key, value))

    engine = Engine(REGISTRY, WINDOW)
    chunk = Chunk(table, 0)
    for offset, value in enumerate(logs["inspection"]):
        engine.handle(chunk, "inspection", offset, value, unit_key(value))
    engine.finish(chunk, write)
    assert log[0][0] == journal_key(0) and len(log) > 10
    half = dict(log[: len(log) // 2])  # the journal and half of the keys survived
    fresh = Engine(REGISTRY, WINDOW)
    assert fresh.redo(half, 0, half.__setitem__)
    assert half == table
    assert not fresh.redo(half, 0, half.__setitem__)  # once per process and journal


def test_a_journal_from_before_the_event_count_leaves_it_unknown() -> None:
    old = {journal_key(0): {"a": {"inspection": 4}, "w": {}}}
    assert applied_events(old, 0) is None and applied_events({}, 0) == 0
    chunk = Chunk(old, 0)
    engine = Engine(REGISTRY, WINDOW)
    record = _logs(20, 3)["inspection"][5]
    engine.handle(chunk, "inspection", 5, record, unit_key(record))
    written: dict[str, Any] = {}
    engine.finish(chunk, written.__setitem__)
    assert "n" not in written[journal_key(0)]  # never a count that misses the older records
    assert next_offsets(written, 0, ["inspection", "court"]) == {"inspection": 6, "court": 0}


def unit_key(record: bytes | None) -> bytes:
    """The key a source system gives a record: its unit."""
    try:
        unit = json.loads(record or b"").get("unit")
    except (ValueError, AttributeError):
        return b""
    return unit.encode() if isinstance(unit, str) else b""


def test_a_record_not_keyed_by_its_unit_is_rejected_as_every_path_rejects_it() -> None:
    from warehouse.archive_files import event_row
    from warehouse.rebuild import LogRecord, Rebuild

    record = _logs(120, 5)["inspection"][0]
    assert record is not None
    unit = unit_key(record)
    for key in (None, b"", b"320400" if unit != b"320400" else b"320402"):
        engine = Engine(REGISTRY, WINDOW)
        verdict = engine.handle(Chunk({}, 0), "inspection", 0, record, key)
        assert verdict.status == "rejected" and verdict.error is not None
        assert verdict.error.reason == "key.not_unit"
        rebuild = Rebuild(REGISTRY)
        rebuild.add(LogRecord("inspection", 0, 0, record, key, keyed=True))
        assert rebuild.invalid == 1 and rebuild.events == 0
        assert event_row("inspection", 0, 0, record, REGISTRY, key=key, keyed=True) is None
    assert (
        Engine(REGISTRY, WINDOW).handle(Chunk({}, 0), "inspection", 0, record, unit).error is None
    )


@pytest.mark.parametrize(
    "value",
    [
        {"20031": 2, "20032": -1},
        [[1730390400000, "insp-1", 3], [1730390500000, "insp-2", 4]],
        {"h": "ab", "s": "active", "by": None, "c": [["a.b", "320412", "k", 1, 2, "e"]]},
        [[1, [2, {"x": [3]}]], {"y": {"z": []}}, 5],
    ],
)
def test_a_chunk_reads_a_private_copy_of_any_value(value: Any) -> None:
    table = {"K|0|x": json.loads(json.dumps(value))}
    read = Chunk(table, 0).get("K|0|x")
    assert read == value

    def mutate(node: Any) -> None:  # change every list and dict found, at every depth
        items = node.values() if isinstance(node, dict) else node
        for item in list(items):
            if isinstance(item, dict | list):
                mutate(item)
        if isinstance(node, dict):
            node["added"] = 1
        else:
            node.append("added")

    mutate(read)
    assert table["K|0|x"] == value


def test_a_chunk_is_freed_when_dropped_with_no_pass_of_the_cyclic_collector() -> None:
    import gc
    import weakref

    logs = _logs(40, 3)["inspection"]
    engine, table = Engine(REGISTRY, WINDOW), {}
    chunk = Chunk(table, 0)
    for offset in range(2):
        engine.handle(chunk, "inspection", offset, logs[offset], unit_key(logs[offset]))
    engine.finish(chunk, table.__setitem__)
    watch = weakref.ref(chunk)
    gc.disable()
    try:
        del chunk
        nxt = Chunk(table, 0)  # the next chunk takes the engine's Ledger over
        engine.handle(nxt, "inspection", 2, logs[2], unit_key(logs[2]))
        assert watch() is None  # no reference cycle holds it (a frozen worker would keep it)
    finally:
        gc.enable()
