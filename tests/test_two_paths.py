"""Two paths, one answer, on adversarial logs (SPEC 6).

Hypothesis writes logs full of what source systems get wrong: resends (other key order),
conflicting resends, corrections before their targets, correction chains, retractions of
retractions, corrections and retractions naming another unit's event, one event_id used
by two units, events outside the window, records keyed by another unit or by none, and
arrears cases whose verified events name a project or not, with follow-ups before and
after them (their row is the case's, SPEC 4.1).
The records are split over partitions by key, as Kafka does, and applied three ways:

- the stream workers' engine, one partition at a time, topics interleaved at random, in
  chunks of random size (streams.engine, as a worker applies them);
- the record-by-record rebuild over the whole log (warehouse.rebuild, as `arrears diff`);
- the archive batch (warehouse.batch over the archived fold rows, as `arrears replay
  --from archive` and the quality suites).

All three must give the same cells at every cutoff.
"""

from __future__ import annotations

import json
import random
import tempfile
import zlib
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contracts.cutoff import parse_cutoff
from contracts.fold import Figures
from streams.engine import Chunk, Engine, with_journal
from streams.tallies import own_figures
from tests.contracts.eventkit import BUILDER, FACTORY, GOV_PROJECT, REPAIR
from tests.streams.workload import CAMPAIGN, DEC31, FINAL, REGISTRY, WINDOW
from warehouse.archive_files import archive_end, archive_records
from warehouse.batch import batch_rebuild
from warehouse.rebuild import LogRecord, Rebuild

PARTITIONS = 3
UNITS = ("320402", "320404", "320411", "320412")
IDS = tuple(f"e{i}" for i in range(12))
DAYS = ("2024-10-30", "2024-11-15", "2024-12-31", "2025-01-02", "2025-01-28", "2025-02-03")
EMPLOYERS = (FACTORY, BUILDER, REPAIR)
CASES = ("C-1", "C-2")
TOPIC = {"inspection": "t.inspection", "mediation": "t.mediation"}


def _payload(
    kind: str, workers: int, employer: dict[str, Any], case_id: str = "C-1"
) -> tuple[str, str, dict[str, Any]]:
    if kind in ("verified", "verified_project"):
        payload: dict[str, Any] = {"case_id": case_id, "employer": employer}
        if kind == "verified_project":
            payload["project"] = GOV_PROJECT
        return "inspection", "arrears.verified", {**payload, "workers": workers, "amount": "10.00"}
    if kind == "transfer":
        return "inspection", "case.transferred", {"case_id": case_id, "employer": employer}
    if kind == "inspected":
        return (
            "inspection",
            "employer.inspected",
            {
                "employer": employer,
                "workers": workers,
                "migrant_workers": workers // 2,
                "method": "onsite",
            },
        )
    if kind == "resolved":
        return (
            "inspection",
            "arrears.resolved",
            {
                "case_id": case_id,
                "employer": employer,
                "workers": workers,
                "amount": f"{workers * 1000}.00",
                "channel": "inspection",
                "new_employment_form": False,
            },
        )
    return (
        "mediation",
        "dispute.resolved",
        {
            "case_no": "M-1",
            "employer": employer,
            "workers": workers,
            "amount": f"{workers * 500}.50",
            "channel": "mediation",
            "new_employment_form": False,
        },
    )


@st.composite
def logs(draw: st.DrawFn) -> list[tuple[str, int, bytes, bytes | None]]:
    """(topic, partition, value, key) in send order."""
    sent: list[dict[str, Any]] = []
    out: list[tuple[str, int, bytes, bytes | None]] = []
    for _ in range(draw(st.integers(1, 40))):
        step = draw(
            st.sampled_from(
                ["new", "new", "resend", "conflict", "correct", "retract", "reuse", "cross"]
            )
        )
        unit = draw(st.sampled_from(UNITS))
        workers = draw(st.integers(1, 60))
        day = draw(st.sampled_from(DAYS))
        kind = draw(
            st.sampled_from(
                ["inspected", "resolved", "dispute", "verified", "verified_project", "transfer"]
            )
        )
        source, type_, payload = _payload(
            kind, workers, draw(st.sampled_from(EMPLOYERS)), draw(st.sampled_from(CASES))
        )
        obj: dict[str, Any] = {
            "event_id": draw(st.sampled_from(IDS)),
            "source": source,
            "type": type_,
            "occurred_at": f"{day}T10:00:00+08:00",
            "unit": unit,
            "payload": payload,
        }
        if step == "resend" and sent:
            obj = dict(reversed(list(draw(st.sampled_from(sent)).items())))
        elif step == "conflict" and sent:
            obj = json.loads(json.dumps(draw(st.sampled_from(sent))))
            if "workers" in obj["payload"]:
                obj["payload"]["workers"] = workers + 100
        elif step in ("correct", "cross"):
            target = draw(st.sampled_from(sent)) if sent and draw(st.booleans()) else None
            obj["supersedes"] = target["event_id"] if target else draw(st.sampled_from(IDS))
            if step == "correct" and target is not None:
                obj["unit"] = target["unit"]
            obj["event_id"] = f"c{len(out)}"
        elif step == "retract":
            target_id = draw(st.sampled_from([o["event_id"] for o in sent] or list(IDS)))
            obj = {
                "event_id": f"r{len(out)}",
                "source": draw(st.sampled_from(["inspection", "mediation"])),
                "type": "event.retracted",
                "occurred_at": f"{day}T11:00:00+08:00",
                "unit": unit,
                "payload": {"retracts": target_id, "reason": "entered twice"},
            }
        elif step == "reuse" and sent:
            obj["event_id"] = draw(st.sampled_from(sent))["event_id"]  # maybe another unit
        if obj.get("supersedes") == obj["event_id"]:
            del obj["supersedes"]
        sent.append(obj)
        key: bytes | None = obj["unit"].encode()
        if draw(st.integers(0, 9)) == 0:
            key = draw(st.sampled_from([None, b"", b"320400", b"320412"]))
        partition = (
            draw(st.integers(0, PARTITIONS - 1)) if key is None else zlib.crc32(key) % PARTITIONS
        )
        value = json.dumps(obj, ensure_ascii=False).encode()
        out.append((TOPIC[obj["source"]], partition, value, key))
    return out


def _streams(log: list[tuple[str, int, bytes, bytes | None]], seed: int, day: int) -> Figures:
    """The workers' engine: each partition on its own, topics interleaved at random."""
    rng = random.Random(seed)
    total: dict[tuple[str, str], int] = {}
    for p in range(PARTITIONS):
        queues = {
            topic: [(v, k) for t, q, v, k in log if t == topic and q == p]
            for topic in TOPIC.values()
        }
        table: dict[str, Any] = {}
        engine = Engine(REGISTRY, WINDOW)
        chunk = Chunk(table, p)
        positions = dict.fromkeys(queues, 0)
        while any(positions[t] < len(queues[t]) for t in queues):
            topic = rng.choice([t for t in queues if positions[t] < len(queues[t])])
            value, key = queues[topic][positions[topic]]
            engine.handle(chunk, topic, positions[topic], value, key)
            positions[topic] += 1
            if rng.random() < 0.3:
                engine.finish(chunk, table.__setitem__)
                chunk = Chunk(table, p)
        engine.finish(chunk, table.__setitem__)
        for cell, value in own_figures(with_journal(table, {p}), {p}, day).items():
            total[cell] = total.get(cell, 0) + value
    return {k: v for k, v in total.items() if v}


def _records(log: list[tuple[str, int, bytes, bytes | None]]) -> list[LogRecord]:
    offsets: dict[tuple[str, int], int] = {}
    records = []
    for topic, partition, value, key in log:
        offset = offsets.get((topic, partition), 0)
        offsets[(topic, partition)] = offset + 1
        records.append(LogRecord(topic, partition, offset, value, key, keyed=True))
    return records


def _nonzero(figures: Figures) -> Figures:
    return {k: v for k, v in figures.items() if v}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(log=logs(), seed=st.integers(0, 2**16))
def test_the_streams_the_rebuild_and_the_batch_agree_on_adversarial_logs(
    log: list[tuple[str, int, bytes, bytes | None]], seed: int
) -> None:
    records = _records(log)
    in_order = sorted(records, key=lambda r: (r.topic, r.partition, r.offset))
    rebuild = Rebuild(REGISTRY)
    rebuild.feed(in_order)
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        archive_records(root, records, REGISTRY)
        batch = batch_rebuild(root, archive_end(root), list(TOPIC.values()), REGISTRY)
        for day, text in ((DEC31, "2024-12-31"), (FINAL, "final")):
            cutoff = parse_cutoff(text, CAMPAIGN)
            by_record = _nonzero(rebuild.own_figures(cutoff))
            assert _nonzero(batch.own_figures(cutoff)) == by_record, text
            assert _streams(log, seed, day) == by_record, text
